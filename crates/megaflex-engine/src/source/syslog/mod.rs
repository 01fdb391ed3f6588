//! Syslog: parsing, vendor classification, TCP framing and the UDP/TCP source.

pub mod classify;
pub mod framing;
pub mod parse;
mod server;
mod udp;
pub mod watch;

pub use server::{Listen, SyslogConfig, SyslogSource, event_from};
