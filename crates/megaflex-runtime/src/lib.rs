//! The megaflex runtime: the daemon (`megaflex run`) as a library. It wires
//! the pieces the other crates define: events from [`megaflex_sources`]
//! drive the links and circuits of [`megaflex_domain`] in one core task,
//! update jobs call Megaport through the `megaport` client, a writer task
//! keeps the audit trail in [`megaflex_store`], and the ServiceNow outbox is
//! delivered through [`servicenow_table`]. Configuration is parsed and
//! validated once here ([`config`]).
#![deny(missing_docs)]

pub mod actuator;
pub mod clock;
pub mod config;
pub mod core;
pub mod cycle;
mod daemon;
pub mod http;
pub mod http_auth;
pub mod ledger;
pub mod outbox;
pub mod replay;
pub mod sources;
pub mod status;
mod unsent;
pub mod writer;

pub use daemon::*;
