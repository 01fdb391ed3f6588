//! The megaflex daemon as a library.
//!
//! So far: the receiving side. [`source`] turns what network gear and
//! monitoring send (syslog over UDP and TCP, ...) into a few canonical
//! [`event::Event`]s the rest of the engine reasons about. Parsing and
//! classification are pure functions apart from the sockets, so they are
//! tested table-driven and fuzzed without a network.
#![deny(missing_docs)]

pub mod circuits;
pub mod config;
pub mod engine;
pub mod event;
pub mod incident;
pub mod links;
pub mod net;
pub mod reconcile;
pub mod servicenow;
pub mod source;
pub mod store;
