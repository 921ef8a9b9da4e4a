//! Zero-copy transfers on Linux: `sendfile(2)` from a file to a socket and `splice(2)` between
//! two sockets through a pipe. Both wait for readiness with tokio (`writable()`/`readable()` +
//! `try_io`), fall back to plain reads and writes where the kernel refuses (`EINVAL`,
//! `ENOSYS`, ...) and on other platforms. TLS connections always take the buffered path (rustls
//! encrypts in user space): use [`Connection::send_file`](crate::Connection::send_file),
//! [`Connection::splice_to`](crate::Connection::splice_to) and
//! [`Connection::echo`](crate::Connection::echo), which choose for you.
//!
//! `sendfile` and `splice` cannot pass `MSG_NOSIGNAL`: writing to a peer that has gone away
//! raises `SIGPIPE`, which Rust programs ignore by default (the error comes back as `EPIPE`).
//! A host program that restores the default `SIGPIPE` action must not use these functions.

use std::fs::File;
use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::TcpStream;

use crate::Connection;

/// Buffer size of the read/write fallbacks, and the pipe capacity used by `splice`.
const CHUNK: usize = 64 * 1024;

/// Sends `len` bytes of `file` from `offset` to `to` with `sendfile(2)`; returns the bytes sent
/// (fewer than `len` when the file ends first). The file's own position is not used or moved.
/// The source must be a regular file or a memfd; for anything else the kernel refuses and the
/// data goes through a buffer instead.
///
/// Regular-file reads in the fallback block the thread briefly (page cache); that is what
/// `sendfile` does too.
///
/// # Example
///
/// ```no_run
/// # async fn f(tcp: tokio::net::TcpStream) -> std::io::Result<()> {
/// let file = std::fs::File::open("big.bin")?;
/// let len = file.metadata()?.len();
/// let sent = tcpserver::zero_copy::send_file(&tcp, &file, 0, len).await?;
/// assert_eq!(sent, len);
/// # Ok(()) }
/// ```
pub async fn send_file(to: &TcpStream, file: &File, offset: u64, len: u64) -> io::Result<u64> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let mut pos = offset;
        let end = offset.saturating_add(len);
        while pos < end {
            let chunk = usize::try_from(end - pos)
                .unwrap_or(usize::MAX)
                .min(1 << 30);
            let res = to.try_io(Interest::WRITABLE, || {
                crate::sys::sendfile(to.as_raw_fd(), file.as_raw_fd(), &mut pos, chunk)
            });
            match res {
                Ok(0) => return Ok(pos - offset),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => to.writable().await?,
                Err(e) if crate::sys::is_unsupported(&e) => {
                    tracing::debug!(error = %e, "sendfile refused, copying through a buffer");
                    let rest = send_file_fallback(to, file, pos, end - pos).await?;
                    return Ok(pos - offset + rest);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(pos - offset)
    }
    #[cfg(not(target_os = "linux"))]
    {
        send_file_fallback(to, file, offset, len).await
    }
}

/// Reads from `file` at `offset` (or sequentially, for descriptors that cannot seek).
fn read_file(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        match file.read_at(buf, offset) {
            Err(e) if e.raw_os_error() == Some(libc::ESPIPE) => io::Read::read(&mut &*file, buf),
            other => other,
        }
    }
    #[cfg(not(unix))]
    {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = file;
        f.seek(SeekFrom::Start(offset))?;
        f.read(buf)
    }
}

async fn write_all_raw(to: &TcpStream, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        to.writable().await?;
        match to.try_write(data) {
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads a range of a file in chunks through one buffer (the fallbacks of `send_file`).
struct FileChunks<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
    start: u64,
    buf: Vec<u8>,
}

impl<'a> FileChunks<'a> {
    fn new(file: &'a File, offset: u64, len: u64) -> Self {
        FileChunks {
            file,
            pos: offset,
            end: offset.saturating_add(len),
            start: offset,
            buf: vec![0u8; CHUNK],
        }
    }

    /// The next chunk, or `None` at the end of the range or of the file.
    fn next_chunk(&mut self) -> io::Result<Option<&[u8]>> {
        if self.pos >= self.end {
            return Ok(None);
        }
        let want = usize::try_from(self.end - self.pos)
            .unwrap_or(CHUNK)
            .min(CHUNK);
        let n = read_file(self.file, self.pos, &mut self.buf[..want])?;
        self.pos += n as u64;
        Ok((n > 0).then(|| &self.buf[..n]))
    }

    fn sent(&self) -> u64 {
        self.pos - self.start
    }
}

async fn send_file_fallback(to: &TcpStream, file: &File, offset: u64, len: u64) -> io::Result<u64> {
    let mut chunks = FileChunks::new(file, offset, len);
    while let Some(chunk) = chunks.next_chunk()? {
        write_all_raw(to, chunk).await?;
    }
    Ok(chunks.sent())
}

/// `send_file` through the connection's own (TLS) writer.
pub(crate) async fn send_file_buffered(
    conn: &mut Connection,
    file: &File,
    offset: u64,
    len: u64,
) -> io::Result<u64> {
    let mut chunks = FileChunks::new(file, offset, len);
    while let Some(chunk) = chunks.next_chunk()? {
        conn.write_all(chunk).await?;
    }
    conn.flush().await?;
    Ok(chunks.sent())
}

/// Echo through the connection's own (TLS) reader and writer.
pub(crate) async fn echo_buffered(conn: &mut Connection) -> io::Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = conn.read(&mut buf).await?;
        if n == 0 {
            return Ok(total);
        }
        conn.write_all(&buf[..n]).await?;
        conn.flush().await?;
        total += n as u64;
    }
}

/// Copies everything `from` receives to `to` until `from` reaches end of stream, with
/// `splice(2)` through a pipe: the bytes never enter user space. `from` and `to` may be the
/// same stream (an echo server). Returns the bytes copied; `to` is not shut down at the end.
/// Where the kernel refuses splicing, the copy goes through a buffer.
///
/// # Example
///
/// ```no_run
/// # async fn f(client: tokio::net::TcpStream) -> std::io::Result<()> {
/// let upstream = tokio::net::TcpStream::connect("127.0.0.1:6379").await?;
/// // One direction of a TCP proxy:
/// tcpserver::zero_copy::splice(&client, &upstream).await?;
/// # Ok(()) }
/// ```
pub async fn splice(from: &TcpStream, to: &TcpStream) -> io::Result<u64> {
    #[cfg(target_os = "linux")]
    {
        match crate::sys::Pipe::new() {
            Ok(pipe) => splice_pipe(from, to, &pipe).await,
            Err(e) => {
                tracing::debug!(error = %e, "no pipe for splice, copying through a buffer");
                copy_fallback(from, to).await
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        copy_fallback(from, to).await
    }
}

#[cfg(target_os = "linux")]
async fn splice_pipe(from: &TcpStream, to: &TcpStream, pipe: &crate::sys::Pipe) -> io::Result<u64> {
    use std::os::fd::AsRawFd;
    let (from_fd, to_fd) = (from.as_raw_fd(), to.as_raw_fd());
    let (pipe_r, pipe_w) = (pipe.read.as_raw_fd(), pipe.write.as_raw_fd());
    let mut total = 0u64;
    loop {
        // Fill the pipe only when it is empty: a pipe counts its room in pages, so a partly
        // filled one can refuse with EAGAIN, which we could not tell from an empty socket.
        // From an empty pipe, EAGAIN always comes from the socket.
        let mut in_pipe = match from.try_io(Interest::READABLE, || {
            crate::sys::splice(from_fd, pipe_w, CHUNK)
        }) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                from.readable().await?;
                continue;
            }
            Err(e) if crate::sys::is_unsupported(&e) => {
                tracing::debug!(error = %e, "splice refused, copying through a buffer");
                return Ok(total + copy_fallback(from, to).await?);
            }
            Err(e) => return Err(e),
        };
        // Drain it; the pipe holds data, so EAGAIN here comes from the socket.
        while in_pipe > 0 {
            match to.try_io(Interest::WRITABLE, || {
                crate::sys::splice(pipe_r, to_fd, in_pipe)
            }) {
                Ok(n) => {
                    in_pipe -= n;
                    total += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => to.writable().await?,
                Err(e) => return Err(e),
            }
        }
    }
}

/// Proxies between two TCP streams in both directions at once with [`splice`], until both
/// directions reached end of stream. When one side stops sending, the other side's write half
/// is shut down (half-close passed through), so protocols that close one direction first still
/// work. Returns the bytes copied `(a to b, b to a)`; the first error ends both directions.
///
/// # Example
///
/// ```no_run
/// # async fn f(client: tokio::net::TcpStream) -> std::io::Result<()> {
/// let upstream = tokio::net::TcpStream::connect("127.0.0.1:6379").await?;
/// let (sent, received) = tcpserver::zero_copy::splice_bidirectional(&client, &upstream).await?;
/// # let _ = (sent, received); Ok(()) }
/// ```
pub async fn splice_bidirectional(a: &TcpStream, b: &TcpStream) -> io::Result<(u64, u64)> {
    tokio::try_join!(splice_then_close(a, b), splice_then_close(b, a))
}

/// One direction of [`splice_bidirectional`]: copy, then shut down `to`'s write half.
async fn splice_then_close(from: &TcpStream, to: &TcpStream) -> io::Result<u64> {
    let n = splice(from, to).await?;
    match socket2::SockRef::from(to).shutdown(std::net::Shutdown::Write) {
        Err(e) if e.kind() != io::ErrorKind::NotConnected => Err(e),
        _ => Ok(n),
    }
}

/// Plain read/write copy between two sockets (the fallback of [`splice`]).
async fn copy_fallback(from: &TcpStream, to: &TcpStream) -> io::Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        from.readable().await?;
        let n = match from.try_read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        };
        write_all_raw(to, &buf[..n]).await?;
        total += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The read/write fallback of `splice`, which the kernel never forces on TCP sockets.
    #[tokio::test]
    async fn copy_fallback_moves_bytes() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let data: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
        let expect = data.clone();
        let client = tokio::spawn(async move {
            let mut c = TcpStream::connect(addr).await.unwrap();
            let (mut r, mut w) = c.split();
            let write = async {
                w.write_all(&data).await.unwrap();
                w.shutdown().await.unwrap();
            };
            let mut got = Vec::new();
            let read = r.read_to_end(&mut got);
            let (_, n) = tokio::join!(write, read);
            n.unwrap();
            got
        });
        let (s, _) = l.accept().await.unwrap();
        let n = copy_fallback(&s, &s).await.unwrap();
        drop(s);
        assert_eq!(n as usize, expect.len());
        assert_eq!(client.await.unwrap(), expect);
    }
}
