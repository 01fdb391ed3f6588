//! Event sources. Parsing is pure and apart from sockets; the socket tasks
//! only frame, stamp and forward. Every source runs as a task with a
//! shutdown token, drains on stop, and counts what it does in
//! [`metrics::SourceMetrics`]; runtime errors are logged (rate-limited) and
//! counted, never returned or panicked on.

pub mod metrics;
pub mod snmp;
pub mod syslog;
pub mod webhook;
