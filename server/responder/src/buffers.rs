//! Per-thread pools of read and output buffers, used most-recently-freed first.
//!
//! A connection holds buffers only while it works on a batch (or keeps a partial request): it
//! takes them when data arrives and gives them back once the batch is answered. So idle
//! keep-alive connections hold no buffer memory, and consecutive batches on a thread reuse the
//! same few buffers, which stay in the CPU cache, like the single static buffer of an epoll loop
//! in C. With keep-alive off it also saves the allocation and zeroing of a read buffer per
//! request.

use std::cell::RefCell;

/// Size of a read buffer: a batch of pipelined small requests fits.
pub(crate) const READ_BUF: usize = 4096;
/// Free buffers kept per thread and kind.
const POOL_MAX: usize = 512;
/// Output buffers that grew beyond this are freed rather than kept.
const KEEP_OUT: usize = 64 * 1024;

thread_local! {
    static READ: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    static OUT: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// A read buffer of `READ_BUF` initialized bytes.
pub(crate) fn take_read() -> Vec<u8> {
    READ.with(|pool| pool.borrow_mut().pop())
        .unwrap_or_else(|| vec![0; READ_BUF])
}

/// Returns a read buffer (its contents are garbage from now on); grown ones are freed.
pub(crate) fn give_read(buf: Vec<u8>) {
    if buf.len() == READ_BUF {
        put(&READ, buf);
    }
}

/// An empty output buffer.
pub(crate) fn take_out() -> Vec<u8> {
    OUT.with(|pool| pool.borrow_mut().pop())
        .unwrap_or_else(|| Vec::with_capacity(READ_BUF))
}

/// Returns an output buffer; grown ones are freed.
pub(crate) fn give_out(mut buf: Vec<u8>) {
    if buf.capacity() != 0 && buf.capacity() <= KEEP_OUT {
        buf.clear();
        put(&OUT, buf);
    }
}

fn put(pool: &'static std::thread::LocalKey<RefCell<Vec<Vec<u8>>>>, buf: Vec<u8>) {
    // `try_with`: during thread teardown the pool may be gone; then the buffer is just freed.
    let _ = pool.try_with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.len() < POOL_MAX {
            pool.push(buf);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_recycled_last_in_first_out() {
        let a = take_read();
        assert_eq!(a.len(), READ_BUF);
        let ptr = a.as_ptr();
        give_read(a);
        let again = take_read();
        assert_eq!(again.as_ptr(), ptr, "the hot buffer comes back");
        give_read(again);

        let mut out = take_out();
        out.extend_from_slice(b"leftover");
        let ptr = out.as_ptr();
        give_out(out);
        let out = take_out();
        assert!(out.is_empty());
        assert_eq!(out.as_ptr(), ptr);

        // Grown buffers are not kept.
        let mut big = take_read();
        big.resize(READ_BUF * 4, 1);
        give_read(big);
        assert_eq!(take_read().len(), READ_BUF);
        give_out(Vec::with_capacity(KEEP_OUT * 2));
        assert!(take_out().capacity() <= KEEP_OUT);
    }
}
