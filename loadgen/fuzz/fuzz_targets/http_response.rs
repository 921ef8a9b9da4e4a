//! Fuzzes loadgen's response parser (`loadgen::attack::response::ResponseParser`) against the
//! properties in `loadgen/fuzz/src/response_props.rs` (no panic, consumed within the buffer,
//! one read and many small reads agree).

#![no_main]

#[path = "../src/response_props.rs"]
mod response_props;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| response_props::check(data));
