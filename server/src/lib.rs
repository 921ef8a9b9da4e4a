//! tcpserver (skeleton)
