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

#[allow(unused_imports)]
use crate::Error;
