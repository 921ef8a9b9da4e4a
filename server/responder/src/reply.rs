//! The `200 OK` reply, pre-encoded: per request only the date and the body are added.

use crate::body::BodyEncoder;
use tcpserver::http::{ResponseHead, Status, http_date};

/// Fixed bodies at least this long are not copied into the output buffer: the last reply of a
/// batch is written with `writev` from the body itself (below this, copying is cheaper).
const DEFER_AT: usize = 4096;

/// The reply to every request. Its head is encoded once with [`ResponseHead`], up to the `Date`
/// value, in a keep-alive and a close variant.
#[derive(Debug)]
pub(crate) struct Reply {
    /// `[close, keep-alive]` heads, each ending with `Date: `.
    heads: [Box<[u8]>; 2],
    body: BodyEncoder,
    /// The fixed body, when large enough to be written without copying.
    deferrable: Option<Box<[u8]>>,
}

impl Reply {
    pub(crate) fn new(body: BodyEncoder) -> Self {
        let head = |keep_alive: bool| {
            let mut head = Vec::new();
            ResponseHead::new(Status::OK)
                .content_type("text/plain")
                .content_length(body.len() as u64)
                .keep_alive(keep_alive)
                .date(false)
                .encode(&mut head);
            // Move the blank line behind a trailing `Date` header.
            head.truncate(head.len() - 2);
            head.extend_from_slice(b"Date: ");
            head.into_boxed_slice()
        };
        let deferrable = body.fixed().filter(|b| b.len() >= DEFER_AT).map(Box::from);
        Reply {
            heads: [head(false), head(true)],
            body,
            deferrable,
        }
    }

    /// Appends one reply (without body for HEAD requests) to `out`. Returns true if the body was
    /// left out to be written from [`deferred_body`](Self::deferred_body) right after `out`.
    pub(crate) fn append(&self, out: &mut Vec<u8>, keep_alive: bool, head_only: bool) -> bool {
        out.extend_from_slice(&self.heads[usize::from(keep_alive)]);
        out.extend_from_slice(&http_date());
        out.extend_from_slice(b"\r\n\r\n");
        if head_only {
            return false;
        }
        if self.deferrable.is_some() {
            return true;
        }
        self.body.append(out);
        false
    }

    /// The body that [`append`](Self::append) left out.
    pub(crate) fn deferred_body(&self) -> &[u8] {
        self.deferrable.as_deref().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_bytes_as_the_encoder() {
        let reply = Reply::new(BodyEncoder::new(b"hello".to_vec(), false));
        for keep_alive in [false, true] {
            let mut fast = Vec::new();
            assert!(!reply.append(&mut fast, keep_alive, false));
            let text = String::from_utf8(fast).unwrap();
            let connection = if keep_alive { "keep-alive" } else { "close" };
            assert!(text.starts_with(&format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\
                 Connection: {connection}\r\nDate: "
            )));
            assert!(text.ends_with(" GMT\r\n\r\nhello"), "{text}");
        }
        let mut head = Vec::new();
        assert!(!reply.append(&mut head, true, true));
        assert!(head.ends_with(b" GMT\r\n\r\n"));
    }

    #[test]
    fn large_fixed_bodies_are_deferred() {
        let reply = Reply::new(BodyEncoder::new(vec![b'a'; DEFER_AT], false));
        let mut out = Vec::new();
        assert!(reply.append(&mut out, true, false));
        assert!(out.ends_with(b"\r\n\r\n"));
        assert_eq!(reply.deferred_body(), vec![b'a'; DEFER_AT]);
        let aes = Reply::new(BodyEncoder::new(vec![b'a'; DEFER_AT], true));
        assert!(
            !aes.append(&mut out, true, false),
            "encrypted bodies differ per request"
        );
    }
}
