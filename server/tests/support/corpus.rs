//! The malformed-request corpus: broken HTTP/1.1 requests, each with what a correct server does.
//!
//! Plain data (no dependency on the crate under test), shared by the reliability tests and by the
//! fuzz seed generator (`server/fuzz`, which `include!`s this file).

/// What a correct server must do with a [`Case`] (after the client half-closes its side).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Invalid message: no 2xx, at most one (error) response, then the connection closes.
    Reject,
    /// Broken body framing (RFC 9112 6.1/6.3/7.1): at most one response, then close; a request
    /// smuggled after the body is never answered.
    OneThenClose,
    /// RFC 9112 lets a recipient be lenient here (bare LF, spaces, obs-fold): any answer is fine,
    /// but no panic, and the connection closes after the client's half-close.
    Tolerated,
}

/// One broken request.
#[derive(Debug, Clone)]
pub struct Case {
    /// Short unique name (also the fuzz seed file name).
    pub name: &'static str,
    /// The bytes sent on a fresh connection.
    pub bytes: Vec<u8>,
    /// What a correct server does.
    pub expect: Expect,
}

/// A request head with the given request line and header lines (each without CRLF).
fn head(request_line: &str, headers: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(request_line.as_bytes());
    out.extend_from_slice(b"\r\n");
    for h in headers {
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// `GET / HTTP/1.1` with `Host` and the given extra header lines.
fn get_with(headers: &[&str]) -> Vec<u8> {
    let mut all = vec!["Host: localhost"];
    all.extend_from_slice(headers);
    head("GET / HTTP/1.1", &all)
}

/// `POST / HTTP/1.1` with `Host`, `Transfer-Encoding: chunked` and the given raw body, followed by
/// a request that must never be answered if the server handles the broken body correctly.
fn chunked_post(body: &[u8]) -> Vec<u8> {
    let mut out = head(
        "POST / HTTP/1.1",
        &["Host: localhost", "Transfer-Encoding: chunked"],
    );
    out.extend_from_slice(body);
    out
}

/// A request that a server must not answer when it follows a broken message on the same connection.
pub const SMUGGLED: &[u8] = b"GET /smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n";

fn with_smuggled(mut bytes: Vec<u8>) -> Vec<u8> {
    bytes.extend_from_slice(SMUGGLED);
    bytes
}

fn raw(bytes: &[u8]) -> Vec<u8> {
    bytes.to_vec()
}

/// Deterministic pseudo-random bytes (xorshift), for the garbage cases.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

/// A TLS 1.3 ClientHello record (as sent by a TLS client connecting to the plain-text port).
pub fn tls_client_hello() -> Vec<u8> {
    let mut hello = Vec::new();
    hello.extend_from_slice(&[0x03, 0x03]); // legacy version TLS 1.2
    hello.extend_from_slice(&[0x42; 32]); // random
    hello.push(32); // session id
    hello.extend_from_slice(&[0x24; 32]);
    hello.extend_from_slice(&[0x00, 0x06, 0x13, 0x01, 0x13, 0x02, 0x13, 0x03]); // cipher suites
    hello.extend_from_slice(&[0x01, 0x00]); // compression: null
    let sni = b"localhost";
    let mut ext = Vec::new();
    // server_name
    ext.extend_from_slice(&[0x00, 0x00]);
    ext.extend_from_slice(&((sni.len() + 5) as u16).to_be_bytes());
    ext.extend_from_slice(&((sni.len() + 3) as u16).to_be_bytes());
    ext.push(0);
    ext.extend_from_slice(&(sni.len() as u16).to_be_bytes());
    ext.extend_from_slice(sni);
    // supported_versions: TLS 1.3
    ext.extend_from_slice(&[0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04]);
    hello.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    hello.extend_from_slice(&ext);
    let mut handshake = vec![0x01]; // ClientHello
    handshake.extend_from_slice(&(hello.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&hello);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

/// The corpus: at least 50 broken requests.
pub fn corpus() -> Vec<Case> {
    use Expect::*;
    let big = "a".repeat(100_000);
    let mut cases = vec![
        // --- request line ---
        case("empty_lines_only", raw(b"\r\n\r\n\r\n"), Reject),
        case("many_empty_lines", b"\r\n".repeat(50_000), Reject),
        case("http09_no_version", raw(b"GET /\r\n\r\n"), Reject),
        case("missing_target", raw(b"GET HTTP/1.1\r\n\r\n"), Reject),
        case("method_only", raw(b"GET\r\n\r\n"), Reject),
        case("version_lowercase", get_line("GET / http/1.1"), Reject),
        case("version_letters", get_line("GET / HTTP/1.x"), Reject),
        case("version_three_digits", get_line("GET / HTTP/1.10"), Reject),
        case("version_2_0", get_line("GET / HTTP/2.0"), Reject),
        case("version_missing_minor", get_line("GET / HTTP/1"), Reject),
        case("version_garbage", get_line("GET / FTP/1.1"), Reject),
        case("leading_space", get_line(" GET / HTTP/1.1"), Reject),
        case("method_separator_char", get_line("GE(T / HTTP/1.1"), Reject),
        case("method_nul", get_line("G\0T / HTTP/1.1"), Reject),
        case("target_nul", get_line("GET /\0 HTTP/1.1"), Reject),
        case(
            "target_control_char",
            get_line("GET /\x01 HTTP/1.1"),
            Reject,
        ),
        case("target_del", get_line("GET /\x7f HTTP/1.1"), Reject),
        case("target_with_space", get_line("GET /a b HTTP/1.1"), Reject),
        case(
            "trailing_garbage_after_version",
            get_line("GET / HTTP/1.1 x"),
            Reject,
        ),
        case(
            "request_line_bare_cr",
            raw(b"GET / HTTP/1.1\rHost: localhost\r\r"),
            Reject,
        ),
        case(
            "request_line_100k",
            get_line(&format!("GET /{big} HTTP/1.1")),
            Reject,
        ),
        case(
            "request_line_1m_no_newline",
            [b"GET /".as_slice(), &b"a".repeat(1 << 20)].concat(),
            Reject,
        ),
        case(
            "http2_preface",
            raw(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
            Reject,
        ),
        // --- not HTTP at all ---
        case("tls_client_hello", tls_client_hello(), Reject),
        case("noise_4k", noise(4096, 0x9e37_79b9_7f4a_7c15), Reject),
        case("noise_64k", noise(65_536, 0xdead_beef_cafe_f00d), Reject),
        case("all_nul_1k", vec![0u8; 1024], Reject),
        case("all_ff_1k", vec![0xffu8; 1024], Reject),
        case("ssh_banner", raw(b"SSH-2.0-OpenSSH_9.6\r\n"), Reject),
        case("smtp_helo", raw(b"HELO example.com\r\n\r\n"), Reject),
        case(
            "websocket_frame",
            raw(b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"),
            Reject,
        ),
        // --- header syntax ---
        case("header_no_colon", get_with(&["X-Test value"]), Reject),
        case(
            "header_space_before_colon",
            get_with(&["X-Test : value"]),
            Reject,
        ),
        case("header_empty_name", get_with(&[": value"]), Reject),
        case(
            "header_name_separator",
            get_with(&["X(Test): value"]),
            Reject,
        ),
        case("header_name_nul", get_with(&["X-\0Test: value"]), Reject),
        case("header_value_nul", get_with(&["X-Test: va\0lue"]), Reject),
        case(
            "header_value_control",
            get_with(&["X-Test: va\x01lue"]),
            Reject,
        ),
        case("header_value_del", get_with(&["X-Test: va\x7flue"]), Reject),
        case(
            "header_value_bare_cr",
            get_with(&["X-Test: va\rlue"]),
            Reject,
        ),
        case(
            "header_value_100k",
            get_with(&[&format!("X-Big: {big}")]),
            Reject,
        ),
        case(
            "header_name_100k",
            get_with(&[&format!("{big}: 1")]),
            Reject,
        ),
        case(
            "headers_200",
            get_with(
                &many_headers(200, 8)
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>(),
            ),
            Tolerated,
        ),
        case(
            "headers_10000",
            get_with(
                &many_headers(10_000, 8)
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>(),
            ),
            Reject,
        ),
        case(
            "head_1m_never_ends",
            [
                b"GET / HTTP/1.1\r\n".as_slice(),
                &b"X-Endless: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"
                    .repeat(16_384),
            ]
            .concat(),
            Reject,
        ),
        // --- Content-Length ---
        case(
            "content_length_conflicting",
            post_cl(&["Content-Length: 5", "Content-Length: 6"], b"hello!"),
            Reject,
        ),
        case(
            "content_length_list_conflicting",
            post_cl(&["Content-Length: 5, 6"], b"hello!"),
            Reject,
        ),
        case(
            "content_length_negative",
            post_cl(&["Content-Length: -1"], b""),
            Reject,
        ),
        case(
            "content_length_not_a_number",
            post_cl(&["Content-Length: abc"], b"abc"),
            Reject,
        ),
        case(
            "content_length_plus_sign",
            post_cl(&["Content-Length: +5"], b"hello"),
            Reject,
        ),
        case(
            "content_length_hex",
            post_cl(&["Content-Length: 0x5"], b"hello"),
            Reject,
        ),
        case(
            "content_length_overflow",
            post_cl(&["Content-Length: 99999999999999999999999999"], b"x"),
            Reject,
        ),
        case(
            "content_length_empty",
            post_cl(&["Content-Length: "], b""),
            Reject,
        ),
        case(
            "content_length_inner_space",
            post_cl(&["Content-Length: 1 0"], b"0123456789"),
            Reject,
        ),
        case(
            "content_length_body_truncated",
            post_cl(&["Content-Length: 100"], b"only a few bytes"),
            OneThenClose,
        ),
        // --- Transfer-Encoding ---
        case(
            "te_and_content_length",
            with_smuggled(post_cl(
                &["Content-Length: 5", "Transfer-Encoding: chunked"],
                b"0\r\n\r\n",
            )),
            OneThenClose,
        ),
        case(
            "te_unknown_coding",
            post_cl(&["Transfer-Encoding: gzip"], b"hello"),
            Reject,
        ),
        case(
            "te_chunked_not_last",
            post_cl(
                &["Transfer-Encoding: chunked, gzip"],
                b"5\r\nhello\r\n0\r\n\r\n",
            ),
            Reject,
        ),
        case(
            "te_chunked_twice",
            post_cl(&["Transfer-Encoding: chunked, chunked"], b"0\r\n\r\n"),
            Reject,
        ),
        case(
            "te_bogus_value",
            post_cl(&["Transfer-Encoding: xchunked"], b"0\r\n\r\n"),
            Reject,
        ),
        case(
            "te_in_http10",
            with_smuggled(
                [
                    head(
                        "POST / HTTP/1.0",
                        &["Host: localhost", "Transfer-Encoding: chunked"],
                    )
                    .as_slice(),
                    b"0\r\n\r\n",
                ]
                .concat(),
            ),
            OneThenClose,
        ),
        // --- chunked bodies ---
        case(
            "chunk_size_not_hex",
            with_smuggled(chunked_post(b"zz\r\nhello\r\n0\r\n\r\n")),
            OneThenClose,
        ),
        case(
            "chunk_size_overflow",
            with_smuggled(chunked_post(
                b"ffffffffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
            )),
            OneThenClose,
        ),
        case(
            "chunk_size_negative",
            with_smuggled(chunked_post(b"-5\r\nhello\r\n0\r\n\r\n")),
            OneThenClose,
        ),
        case(
            "chunk_size_empty",
            with_smuggled(chunked_post(b"\r\nhello\r\n0\r\n\r\n")),
            OneThenClose,
        ),
        case(
            "chunk_data_longer_than_size",
            with_smuggled(chunked_post(b"5\r\nhelloXX\r\n0\r\n\r\n")),
            OneThenClose,
        ),
        case(
            "chunk_data_shorter_than_size",
            with_smuggled(chunked_post(b"9\r\nhello\r\n0\r\n\r\n")),
            OneThenClose,
        ),
        case(
            "chunk_missing_final",
            chunked_post(b"5\r\nhello\r\n"),
            OneThenClose,
        ),
        case(
            "chunk_extension_100k",
            with_smuggled(chunked_post(
                [b"5;".as_slice(), big.as_bytes(), b"\r\nhello\r\n0\r\n\r\n"]
                    .concat()
                    .as_slice(),
            )),
            OneThenClose,
        ),
        case(
            "chunk_trailer_invalid",
            with_smuggled(chunked_post(b"5\r\nhello\r\n0\r\nBad Trailer\r\n\r\n")),
            OneThenClose,
        ),
        case(
            "chunk_size_nul",
            with_smuggled(chunked_post(b"5\0\r\nhello\r\n0\r\n\r\n")),
            OneThenClose,
        ),
        case(
            "chunk_endless_sizes",
            chunked_post(&b"1\r\nx\r\n".repeat(200_000)),
            OneThenClose,
        ),
        // --- lenient by RFC 9112: any answer, no panic ---
        case(
            "bare_lf_line_endings",
            raw(b"GET / HTTP/1.1\nHost: localhost\n\n"),
            Tolerated,
        ),
        case("double_spaces", get_line("GET  /  HTTP/1.1"), Tolerated),
        case("obs_fold", get_with(&["X-Folded: a", " b"]), Tolerated),
        case(
            "missing_host_http11",
            raw(b"GET / HTTP/1.1\r\n\r\n"),
            Tolerated,
        ),
        case("duplicate_host", get_with(&["Host: other"]), Tolerated),
        case(
            "target_non_ascii",
            get_line("GET /\u{e9}t\u{e9} HTTP/1.1"),
            Tolerated,
        ),
    ];
    cases.sort_by_key(|c| c.name);
    cases
}

fn case(name: &'static str, bytes: Vec<u8>, expect: Expect) -> Case {
    Case {
        name,
        bytes,
        expect,
    }
}

/// A request line plus `Host` and the empty line.
fn get_line(request_line: &str) -> Vec<u8> {
    head(request_line, &["Host: localhost"])
}

fn post_cl(headers: &[&str], body: &[u8]) -> Vec<u8> {
    let mut all = vec!["Host: localhost"];
    all.extend_from_slice(headers);
    let mut out = head("POST / HTTP/1.1", &all);
    out.extend_from_slice(body);
    out
}

fn many_headers(count: usize, value_len: usize) -> Vec<String> {
    (0..count)
        .map(|i| format!("X-H{i}: {}", "v".repeat(value_len)))
        .collect()
}
