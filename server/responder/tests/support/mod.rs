//! Helpers for the responder's tests: start a responder in-process ([`start`]), raw HTTP/1.1
//! clients and the response parser (`http.rs`), and, included by path from the library's test
//! support, the waiting helpers (`harness.rs`: [`PATIENCE`], [`eventually`], [`runtime`]), TLS
//! certificates and clients (`tls.rs`) and the malformed-request corpus (`corpus.rs`).

#![allow(dead_code)] // each test binary uses a different subset

use std::net::SocketAddr;

use clap::Parser;
use tcpserver_responder::{Responder, ResponderArgs};

#[path = "../../../tests/support/corpus.rs"]
pub mod corpus;
#[path = "../../../tests/support/harness.rs"]
mod harness;
mod http;
#[path = "../../../tests/support/tls.rs"]
mod tls;

#[allow(unused_imports)] // not every test uses every helper
pub use harness::*;
#[allow(unused_imports)]
pub use http::*;
#[allow(unused_imports)]
pub use tls::*;

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
