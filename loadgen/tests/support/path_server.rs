//! [`TestServer`]: a small HTTP/1.1 test server whose behaviour is chosen by the request path, including ways to
//! misbehave on purpose. One thread per connection (tests use few connections).
//!
//! Paths: `/ok` (200, Content-Length), `/chunked` (200, chunked), `/close` (200, close-delimited
//! body), `/500`, `/404`, `/301`, `/garbage` (not HTTP), `/early` (closes without answering),
//! `/stall` (never answers), `/big` (200 with a 1 MiB body).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A running test server; stops accepting when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    /// Requests received (complete heads).
    pub requests: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl TestServer {
    /// A plain HTTP test server.
    pub fn start() -> TestServer {
        Self::start_with(None)
    }

    /// An HTTPS test server with a self-signed certificate for `localhost`.
    pub fn start_tls() -> TestServer {
        let key = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("cert");
        let cert = key.cert.der().clone();
        let pkey = rustls::pki_types::PrivateKeyDer::try_from(key.signing_key.serialize_der())
            .expect("key");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], pkey)
        .expect("server config");
        Self::start_with(Some(Arc::new(config)))
    }

    fn start_with(tls: Option<Arc<rustls::ServerConfig>>) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind test server");
        let addr = listener.local_addr().expect("local addr");
        let requests = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let _ = conn.set_nodelay(true);
                let r = r.clone();
                match &tls {
                    None => {
                        std::thread::spawn(move || serve(conn, &r));
                    }
                    Some(config) => {
                        let Ok(session) = rustls::ServerConnection::new(config.clone()) else {
                            continue;
                        };
                        std::thread::spawn(move || {
                            serve(rustls::StreamOwned::new(session, conn), &r)
                        });
                    }
                }
            }
        });
        TestServer {
            addr,
            requests,
            stop,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop.
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve(mut conn: impl Read + Write, requests: &AtomicU64) {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        // Read one request (head and Content-Length body).
        let request = loop {
            match super::parse_request(&buf) {
                Ok(Some(request)) if buf.len() >= request.len => break request,
                Ok(_) => match conn.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                },
                Err(_) => return,
            }
        };
        buf.drain(..request.len);
        requests.fetch_add(1, Ordering::Relaxed);
        let (close, path) = (request.close, request.path);
        let conn_hdr = if close { "Connection: close\r\n" } else { "" };
        let reply = |status: &str, body: &str| {
            format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\n{conn_hdr}\r\n{body}",
                body.len()
            )
        };
        let out: Vec<u8> = match path.as_str() {
            "/ok" => reply("200 OK", "hello").into_bytes(),
            "/500" => reply("500 Internal Server Error", "oops").into_bytes(),
            "/404" => reply("404 Not Found", "").into_bytes(),
            "/301" => reply("301 Moved Permanently", "").into_bytes(),
            "/chunked" => format!(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n{conn_hdr}\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n"
            )
            .into_bytes(),
            "/big" => {
                let mut v = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n{conn_hdr}\r\n", 1 << 20)
                    .into_bytes();
                v.resize(v.len() + (1 << 20), b'x');
                v
            }
            "/close" => {
                let _ = conn.write_all(b"HTTP/1.1 200 OK\r\n\r\nclose-delimited body");
                let _ = conn.flush();
                return;
            }
            "/garbage" => b"this is not HTTP at all\r\n\r\n".to_vec(),
            "/early" => return,
            "/stall" => {
                // Hold the connection until the client gives up.
                let _ = conn.read(&mut chunk);
                return;
            }
            _ => reply("404 Not Found", "").into_bytes(),
        };
        if conn.write_all(&out).and_then(|_| conn.flush()).is_err() || close {
            return;
        }
    }
}
