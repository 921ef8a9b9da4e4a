//! Writes the fuzz seed corpus: every case of the malformed-request corpus plus a few valid
//! requests, one file each, into `corpus/http_request/` (or the directory given as argument).
//!
//! Each seed starts with the two selector bytes of the `http_request` target (limits: default;
//! split point: 42), followed by the request bytes.

#[allow(dead_code)]
#[path = "../../tests/support/corpus.rs"]
mod corpus;

use std::path::PathBuf;

const VALID: &[(&str, &[u8])] = &[
    ("valid_get", b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"),
    (
        "valid_pipelined",
        b"GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    ),
    (
        "valid_post_length",
        b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
    ),
    (
        "valid_post_chunked",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\n",
    ),
    (
        "valid_http10_keep_alive",
        b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    ),
    (
        "valid_expect_continue",
        b"PUT /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
    ),
    ("valid_head", b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"),
];

fn main() -> std::io::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("corpus/http_request"));
    std::fs::create_dir_all(&dir)?;
    let mut written = 0;
    for case in corpus::corpus() {
        // libFuzzer's -max_len defaults to 4 KiB for new inputs; seeds may be larger, but keep
        // the huge cases short enough to be useful as mutation starting points.
        let bytes = &case.bytes[..case.bytes.len().min(64 * 1024)];
        std::fs::write(dir.join(case.name), seed(bytes))?;
        written += 1;
    }
    for (name, bytes) in VALID {
        std::fs::write(dir.join(name), seed(bytes))?;
        written += 1;
    }
    eprintln!("wrote {written} seeds to {}", dir.display());
    Ok(())
}

/// The target's selector bytes followed by `bytes`.
fn seed(bytes: &[u8]) -> Vec<u8> {
    [&[0u8, 42][..], bytes].concat()
}
