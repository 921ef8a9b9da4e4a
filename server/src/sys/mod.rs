//! Operating-system specific code, chosen once with `cfg`: Linux gets the real socket options and
//! zero-copy system calls, other platforms a fallback that reports [`Error::Unsupported`]
//! (options) or copies through user space (zero-copy).

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub(crate) use linux::*;

#[cfg(not(target_os = "linux"))]
mod fallback;
#[cfg(not(target_os = "linux"))]
pub(crate) use fallback::*;

use socket2::Socket;

use crate::Error;

/// Sets `SO_REUSEPORT` (Unix only).
pub(crate) fn set_reuse_port(socket: &Socket) -> Result<(), Error> {
    #[cfg(unix)]
    {
        socket
            .set_reuse_port(true)
            .map_err(|source| Error::SocketOption {
                option: "SO_REUSEPORT",
                source,
            })
    }
    #[cfg(not(unix))]
    {
        let _ = socket;
        Err(Error::Unsupported("SO_REUSEPORT"))
    }
}
