//! SNMP traps and informs: v1 (mapped to v2 form per RFC 3584), v2c (informs
//! answered), v3 USM (discovery, timeliness, informs answered); wrong
//! communities, failed authentication and replays are counted and dropped.

pub mod ber;
pub mod classify;
pub mod decode;
mod handler;
pub mod pdu;
mod server;
mod udp;
pub mod usm;
pub mod v3;

pub use handler::{SnmpTrapConfig, random_engine_id};
pub use server::SnmpTrapSource;
