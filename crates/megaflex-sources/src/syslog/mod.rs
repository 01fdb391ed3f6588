//! Syslog: parsing, vendor classification, TCP framing and the UDP, TCP and TLS source.

pub mod classify;
pub mod framing;
mod handler;
pub mod parse;
mod server;
mod stream;
pub mod tls;
mod udp;
pub mod watch;

pub use handler::event_from;
pub use server::{Listen, ListenError, SyslogConfig, SyslogSource};
pub use stream::StreamLimits;
