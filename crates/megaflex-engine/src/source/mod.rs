//! Event sources. Parsing is pure and apart from sockets; the socket tasks
//! only frame, stamp and forward.

pub mod syslog;
