//! Helpers for the reliability tests: raw clients, a tiny response parser, the corpus checker.

#![allow(dead_code)] // each test binary uses a different subset

pub mod corpus;

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use corpus::{Case, Expect};

/// Generous bound for anything the server must do on a loaded 2-core machine.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// One parsed response.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// What the server did with some bytes after the client half-closed.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The responses, in order.
    pub responses: Vec<Response>,
    /// Bytes after the last complete response (unparsable or cut off).
    pub trailing: Vec<u8>,
    /// The connection ended (EOF or reset) before the deadline.
    pub closed: bool,
    /// It ended with a reset (or our write hit a closed socket).
    pub reset: bool,
}

/// Connects, writes `bytes` (the server may close early: write errors are fine), half-closes
/// and reads until the server closes or `deadline` passes.
pub async fn exchange(addr: SocketAddr, bytes: &[u8], deadline: Duration) -> io::Result<Outcome> {
    let mut stream = timeout(deadline, TcpStream::connect(addr))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
    let (mut reader, mut writer) = stream.split();
    let mut received = Vec::new();
    let mut outcome = Outcome::default();
    // Write and read at the same time: a server that answers early and closes must not make a
    // large write block forever.
    let write = async {
        let result = writer.write_all(bytes).await;
        let _ = writer.shutdown().await;
        result
    };
    let read = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) => return Ok::<bool, io::Error>(false),
                Ok(n) => received.extend_from_slice(&buf[..n]),
                Err(e) if is_reset(&e) => return Ok(true),
                Err(e) => return Err(e),
            }
        }
    };
    let both = async {
        let (w, r) = tokio::join!(write, read);
        (w, r)
    };
    match timeout(deadline, both).await {
        Ok((w, r)) => {
            outcome.closed = true;
            outcome.reset = r? || w.is_err();
        }
        Err(_) => outcome.closed = false,
    }
    let (responses, trailing) = parse_responses(&received);
    outcome.responses = responses;
    outcome.trailing = trailing;
    Ok(outcome)
}

fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// Splits a byte stream into complete responses and what is left (unparsable or cut off).
pub fn parse_responses(mut data: &[u8]) -> (Vec<Response>, Vec<u8>) {
    let mut out = Vec::new();
    while let Some((response, used)) = parse_one(data) {
        out.push(response);
        data = &data[used..];
        if data.is_empty() {
            break;
        }
    }
    (out, data.to_vec())
}

/// Parses the first complete response in `data` (Content-Length or chunked framing; without
/// either, the body runs to the end of `data`): the response and the bytes it used.
pub fn parse_one(data: &[u8]) -> Option<(Response, usize)> {
    let head_end = find(data, b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut parts = lines.next()?.splitn(3, ' ');
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let status = parts.next()?.parse::<u16>().ok()?;
    let mut content_length = None;
    let mut chunked = false;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                content_length = value.parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            }
        }
    }
    let rest = &data[head_end..];
    let (body, used) = if chunked {
        dechunk(rest)?
    } else if let Some(len) = content_length {
        (rest.get(..len)?.to_vec(), len)
    } else if (100..200).contains(&status) || status == 204 || status == 304 {
        (Vec::new(), 0)
    } else {
        (rest.to_vec(), rest.len())
    };
    Some((Response { status, body }, head_end + used))
}

fn dechunk(mut data: &[u8]) -> Option<(Vec<u8>, usize)> {
    let total = data.len();
    let mut body = Vec::new();
    loop {
        let line_end = find(data, b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size_text = size_text.split(';').next()?.trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            // Trailers (if any) end with an empty line.
            let end = if data.starts_with(b"\r\n") {
                2
            } else {
                find(data, b"\r\n\r\n")? + 4
            };
            return Some((body, total - data.len() + end));
        }
        body.extend_from_slice(data.get(..size)?);
        if data.get(size..size + 2)? != b"\r\n" {
            return None;
        }
        data = &data[size + 2..];
    }
}

/// Position of `needle` in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Checks an outcome against what the case expects; `Err` explains the violation.
pub fn check(case: &Case, outcome: &Outcome) -> Result<(), String> {
    if !outcome.closed {
        return Err(format!(
            "connection still open {PATIENCE:?} after the client half-closed ({} responses)",
            outcome.responses.len()
        ));
    }
    let statuses: Vec<u16> = outcome.responses.iter().map(|r| r.status).collect();
    match case.expect {
        Expect::Reject => {
            if statuses.len() > 1 || statuses.iter().any(|s| !is_rejection(*s)) {
                return Err(format!(
                    "expected an error status or a close, got statuses {statuses:?}"
                ));
            }
        }
        Expect::OneThenClose => {
            if statuses.len() > 1 {
                return Err(format!(
                    "broken framing: expected at most one response then close, got {statuses:?} \
                     (the request after the broken body was answered: request smuggling)"
                ));
            }
        }
        Expect::Tolerated => {}
    }
    Ok(())
}

/// 4xx, or the 5xx that name an unsupported feature (501 Not Implemented, 505 Version Not
/// Supported).
pub fn is_rejection(status: u16) -> bool {
    (400..500).contains(&status) || status == 501 || status == 505
}

/// A well-behaved keep-alive client: sends `rounds` GET requests on one connection, checks
/// each answer is `200` with a non-empty body.
pub async fn good_client(addr: SocketAddr, rounds: usize) -> Result<(), String> {
    let run = async {
        let mut stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("good client connect: {e}"))?;
        let mut buf = Vec::new();
        for round in 0..rounds {
            stream
                .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
                .await
                .map_err(|e| format!("good client write #{round}: {e}"))?;
            let response = read_one_response(&mut stream, &mut buf)
                .await
                .map_err(|e| format!("good client read #{round}: {e}"))?;
            if response.status != 200 || response.body.is_empty() {
                return Err(format!(
                    "good client #{round}: status {} body {:?}",
                    response.status,
                    String::from_utf8_lossy(&response.body)
                ));
            }
        }
        Ok(())
    };
    timeout(PATIENCE, run)
        .await
        .map_err(|_| "good client timed out".to_string())?
}

/// Reads exactly one response from a keep-alive stream; leftovers stay in `buf`.
pub async fn read_one_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<Response> {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some((response, used)) = parse_framed(buf) {
            buf.drain(..used);
            return Ok(response);
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "closed after {} bytes: {:?}",
                    buf.len(),
                    String::from_utf8_lossy(buf)
                ),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Like [`parse_one`], but only for explicitly framed responses (a keep-alive stream can not
/// use close-delimited bodies).
fn parse_framed(buf: &[u8]) -> Option<(Response, usize)> {
    let head_end = find(buf, b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    if !head.contains("content-length:") && !head.contains("transfer-encoding:") {
        return None;
    }
    parse_one(buf)
}

/// Raises the soft RLIMIT_NOFILE to the hard limit; `true` if at least `need` descriptors are
/// then allowed.
pub fn raise_nofile(need: u64) -> bool {
    // SAFETY: getrlimit/setrlimit on a local, fully initialised struct.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return false;
        }
        if lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        }
        lim.rlim_cur >= need
    }
}

/// A 2-worker multi-thread runtime for a test.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("test runtime")
}

/// Polls `cond` every 10 ms until it holds or `within` passes.
pub async fn eventually(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + within;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cond()
}
