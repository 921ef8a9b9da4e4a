//! Per-thread recycling of connection buffers.
//!
//! With keep-alive off every request is a new connection; allocating and zeroing its read
//! buffer (and allocating the output buffer) would cost more than parsing the request. Finished
//! connections return their buffers to a small per-thread free list instead.

use std::cell::RefCell;

/// Size of a fresh read buffer: a batch of pipelined small requests fits.
pub(crate) const READ_BUF: usize = 4096;
/// Free buffer pairs kept per thread.
const POOL_MAX: usize = 512;
/// Output buffers that grew beyond this are freed rather than kept.
const KEEP_OUT: usize = 64 * 1024;

/// The read and output buffers of one connection.
pub(crate) struct Buffers {
    /// Always `len() == capacity` (initialized once), at least [`READ_BUF`].
    pub(crate) read: Vec<u8>,
    /// Empty between batches.
    pub(crate) out: Vec<u8>,
}

thread_local! {
    static POOL: RefCell<Vec<Buffers>> = const { RefCell::new(Vec::new()) };
}

impl Buffers {
    /// Buffers from this thread's free list, or new ones.
    pub(crate) fn take() -> Buffers {
        POOL.with(|pool| pool.borrow_mut().pop())
            .unwrap_or_else(|| Buffers {
                read: vec![0; READ_BUF],
                out: Vec::with_capacity(READ_BUF),
            })
    }

    /// Returns buffers to this thread's free list (oversized ones are shrunk or dropped).
    pub(crate) fn give(mut self) {
        if self.read.len() != READ_BUF || self.out.capacity() > KEEP_OUT {
            self.read.truncate(READ_BUF);
            self.read.shrink_to_fit();
            self.out = Vec::with_capacity(READ_BUF);
        }
        self.out.clear();
        // `try_with`: during thread teardown the pool may be gone; then just free.
        let _ = POOL.try_with(|pool| {
            let mut pool = pool.borrow_mut();
            if pool.len() < POOL_MAX {
                pool.push(self);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_recycled_and_reset() {
        let mut b = Buffers::take();
        assert_eq!(b.read.len(), READ_BUF);
        b.out.extend_from_slice(b"leftover");
        let ptr = b.out.as_ptr();
        b.give();
        let mut b = Buffers::take();
        assert!(b.out.is_empty());
        assert_eq!(b.out.as_ptr(), ptr, "the same allocation comes back");
        // A grown read buffer comes back at its normal size.
        b.read.resize(READ_BUF * 4, 1);
        b.give();
        assert_eq!(Buffers::take().read.len(), READ_BUF);
    }
}
