//! Raw HTTP/1.1 clients of the responder's tests, blocking and async, and the one response
//! parser they share (heads and chunk sizes parsed by `httparse`), plus the verdict on a
//! malformed-request corpus case.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use httparse::Status;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

use super::PATIENCE;
use super::corpus::{Case, Expect};

/// One parsed response.
#[derive(Debug, Clone)]
pub struct Response {
    /// `1` for HTTP/1.1, `0` for HTTP/1.0.
    pub version: u8,
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

/// Parses the response at the start of a keep-alive stream (`head_only` for the answer to a
/// HEAD request): `Ok(None)` while it is incomplete (also while a body without a length could
/// still be running), `Err` if the bytes are not a valid response.
pub fn parse_response(data: &[u8], head_only: bool) -> Result<Option<(Response, usize)>, String> {
    parse(data, head_only, false)
}

/// Splits everything a server sent before it closed into complete responses and what is left
/// (unparsable or cut off). A response without a length runs to the end.
pub fn parse_closed(mut data: &[u8]) -> (Vec<Response>, Vec<u8>) {
    let mut out = Vec::new();
    while !data.is_empty() {
        let Ok(Some((response, used))) = parse(data, false, true) else {
            break;
        };
        out.push(response);
        data = &data[used..];
    }
    (out, data.to_vec())
}

/// Like [`parse_closed`], failing the test on leftovers.
pub fn parse_all(data: &[u8]) -> Vec<Response> {
    let (responses, rest) = parse_closed(data);
    assert!(
        rest.is_empty(),
        "incomplete or invalid response: {:?}",
        String::from_utf8_lossy(&rest)
    );
    responses
}

fn parse(data: &[u8], head_only: bool, closed: bool) -> Result<Option<(Response, usize)>, String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut head = httparse::Response::new(&mut headers);
    let head_len = match head.parse(data) {
        Ok(Status::Complete(n)) => n,
        Ok(Status::Partial) => return Ok(None),
        Err(e) => return Err(format!("response head: {e}")),
    };
    let status = head.code.unwrap_or_default();
    let mut response = Response {
        version: head.version.unwrap_or_default(),
        status,
        headers: Vec::with_capacity(head.headers.len()),
        body: Vec::new(),
    };
    for h in head.headers.iter() {
        let value = std::str::from_utf8(h.value).map_err(|_| "non-UTF-8 header value")?;
        response
            .headers
            .push((h.name.to_string(), value.to_string()));
    }
    let rest = &data[head_len..];
    let no_body = head_only || (100..200).contains(&status) || status == 204 || status == 304;
    let chunked = response
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let body_len = if no_body {
        0
    } else if chunked {
        match dechunk(rest)? {
            Some((body, used)) => {
                response.body = body;
                return Ok(Some((response, head_len + used)));
            }
            None => return Ok(None),
        }
    } else if let Some(len) = response.header("content-length") {
        len.parse::<usize>()
            .map_err(|_| format!("Content-Length {len:?}"))?
    } else if closed {
        rest.len()
    } else {
        return Ok(None);
    };
    let Some(body) = rest.get(..body_len) else {
        return Ok(None);
    };
    response.body = body.to_vec();
    Ok(Some((response, head_len + body_len)))
}

/// Decodes a chunked body at the start of `data`: the body and the bytes used (trailers
/// included), `None` while incomplete.
fn dechunk(data: &[u8]) -> Result<Option<(Vec<u8>, usize)>, String> {
    let mut body = Vec::new();
    let mut pos = 0;
    loop {
        let (line_len, size) = match httparse::parse_chunk_size(&data[pos..]) {
            Ok(Status::Complete(parsed)) => parsed,
            Ok(Status::Partial) => return Ok(None),
            Err(_) => return Err("invalid chunk size".into()),
        };
        pos += line_len;
        if size == 0 {
            let mut trailers = [httparse::EMPTY_HEADER; 16];
            return match httparse::parse_headers(&data[pos..], &mut trailers) {
                Ok(Status::Complete((len, _))) => Ok(Some((body, pos + len))),
                Ok(Status::Partial) => Ok(None),
                Err(e) => Err(format!("trailers: {e}")),
            };
        }
        let size = usize::try_from(size).map_err(|_| "chunk size")?;
        let Some(chunk) = data.get(pos..pos + size) else {
            return Ok(None);
        };
        body.extend_from_slice(chunk);
        pos += size;
        match data.get(pos..pos + 2) {
            None => return Ok(None),
            Some(b"\r\n") => pos += 2,
            Some(_) => return Err("chunk data not followed by CRLF".into()),
        }
    }
}

// ---- blocking clients ----

/// A blocking client socket with generous timeouts.
pub fn connect(addr: SocketAddr) -> std::net::TcpStream {
    let stream = std::net::TcpStream::connect(addr).expect("connect");
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
pub fn read_to_close(stream: &mut std::net::TcpStream) -> Vec<u8> {
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

/// Reads exactly `head_only.len()` HTTP/1.1 responses (`head_only[i]` for answers to HEAD) and
/// checks that nothing follows them.
pub fn read_responses(stream: &mut std::net::TcpStream, head_only: &[bool]) -> Vec<Response> {
    let mut buf = Vec::new();
    let mut chunk = [0; 65536];
    let mut out = Vec::new();
    let mut pos = 0;
    while out.len() < head_only.len() {
        match parse_response(&buf[pos..], head_only[out.len()]) {
            Ok(Some((r, n))) => {
                assert_eq!(r.version, 1, "not an HTTP/1.1 response: {r:?}");
                out.push(r);
                pos += n;
            }
            Ok(None) => {
                let k = stream.read(&mut chunk).expect("read");
                assert!(k > 0, "closed after {} responses", out.len());
                buf.extend_from_slice(&chunk[..k]);
            }
            Err(e) => panic!("{e}: {:?}", String::from_utf8_lossy(&buf[pos..])),
        }
    }
    assert_eq!(pos, buf.len(), "no extra bytes");
    out
}

// ---- async clients ----

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
    let mut stream = timeout(deadline, tokio::net::TcpStream::connect(addr))
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
    match timeout(deadline, async { tokio::join!(write, read) }).await {
        Ok((w, r)) => {
            outcome.closed = true;
            outcome.reset = r? || w.is_err();
        }
        Err(_) => outcome.closed = false,
    }
    (outcome.responses, outcome.trailing) = parse_closed(&received);
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
        let mut stream = tokio::net::TcpStream::connect(addr)
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
pub async fn read_one_response(
    stream: &mut tokio::net::TcpStream,
    buf: &mut Vec<u8>,
) -> io::Result<Response> {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match parse_response(buf, false) {
            Ok(Some((response, used))) => {
                buf.drain(..used);
                return Ok(response);
            }
            Ok(None) => {}
            Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
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
