//! tcpserver (in progress)

#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "responder")]
pub mod responder;
