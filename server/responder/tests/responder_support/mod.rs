//! Helpers for the responder tests: start a responder in-process, raw-socket exchanges, a tiny
//! response parser.

#![allow(dead_code)] // each test binary uses a different subset

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use clap::Parser;
use tcpserver_responder::{Responder, ResponderArgs};

/// Generous bound for anything the server must do on a loaded 2-core machine.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A responder serving on 127.0.0.1:0, halted when dropped.
pub struct Running {
    pub addr: SocketAddr,
    pub responder: Option<Responder>,
}

impl Running {
    /// The TLS certificate the responder presents.
    pub fn certificate(&self) -> rustls::pki_types::CertificateDer<'static> {
        self.responder
            .as_ref()
            .and_then(|r| r.certificate().cloned())
            .expect("a TLS responder")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(responder) = self.responder.take() {
            responder.handle().halt();
            let _ = responder.wait();
        }
    }
}

/// Starts a responder with `flags` (plus `--listen 127.0.0.1:0 --threads 1` unless given).
pub fn start(flags: &[&str]) -> Running {
    start_on("127.0.0.1:0", flags)
}

/// Starts a responder on `listen` with `flags` (plus `--threads 1` unless given).
pub fn start_on(listen: &str, flags: &[&str]) -> Running {
    let mut argv = vec!["responder", "--listen", listen];
    if !flags.contains(&"--threads") {
        argv.extend(["--threads", "1"]);
    }
    argv.extend_from_slice(flags);
    let args = ResponderArgs::try_parse_from(argv).expect("valid flags");
    let responder = Responder::start(args).expect("responder starts");
    Running {
        addr: responder.local_addr(),
        responder: Some(responder),
    }
}

/// A current-thread tokio runtime for async clients.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A blocking client socket with generous timeouts.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.set_write_timeout(Some(PATIENCE)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// Writes `request` and reads until the server closes (EOF or reset); returns the bytes read.
pub fn exchange_to_close(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = connect(addr);
    let _ = stream.write_all(request);
    read_to_close(&mut stream)
}

/// Reads until EOF or reset.
pub fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0; 16384];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return out,
            Err(e) => panic!("read failed after {} bytes: {e}", out.len()),
        }
    }
}

/// One parsed response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parses one response (with Content-Length framing) from the start of `buf`; `head_only` for
/// answers to HEAD. Returns the response and its length, or `None` if incomplete.
pub fn parse_response(buf: &[u8], head_only: bool) -> Option<(Response, usize)> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..head_end]).expect("ASCII head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    assert!(status_line.starts_with("HTTP/1.1 "), "{status_line:?}");
    let status = status_line[9..12].parse().expect("status code");
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (n, v) = l.split_once(':').expect("header line");
            (n.to_string(), v.trim().to_string())
        })
        .collect();
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    let len: usize = if head_only {
        0
    } else {
        response
            .header("content-length")
            .map_or(0, |v| v.parse().expect("length"))
    };
    if buf.len() < head_end + len {
        return None;
    }
    response.body = buf[head_end..head_end + len].to_vec();
    Some((response, head_end + len))
}

/// Parses all complete responses in `buf` (none to HEAD requests); panics on leftovers.
pub fn parse_all(mut buf: &[u8]) -> Vec<Response> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let (r, n) = parse_response(buf, false)
            .unwrap_or_else(|| panic!("incomplete response: {:?}", String::from_utf8_lossy(buf)));
        out.push(r);
        buf = &buf[n..];
    }
    out
}

/// Reads exactly `n` responses (bodies framed by Content-Length; `head_only[i]` for HEAD).
pub fn read_responses(stream: &mut TcpStream, head_only: &[bool]) -> Vec<Response> {
    let mut buf = Vec::new();
    let mut chunk = [0; 65536];
    let mut out = Vec::new();
    let mut pos = 0;
    while out.len() < head_only.len() {
        match parse_response(&buf[pos..], head_only[out.len()]) {
            Some((r, n)) => {
                out.push(r);
                pos += n;
            }
            None => {
                let k = stream.read(&mut chunk).expect("read");
                assert!(k > 0, "closed after {} responses", out.len());
                buf.extend_from_slice(&chunk[..k]);
            }
        }
    }
    assert_eq!(pos, buf.len(), "no extra bytes");
    out
}
