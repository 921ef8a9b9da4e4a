//! Fuzzes the sans-I/O request parser (`tcpserver::http::parse_request`) and body decoder
//! (`BodyDecoder`) against the properties in `server/tests/support/http_props.rs`
//! (not just "does not panic": incremental parsing must agree with one-shot parsing).

#![no_main]

#[path = "../../tests/support/http_props.rs"]
mod http_props;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| http_props::check(data));
