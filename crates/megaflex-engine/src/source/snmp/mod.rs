//! SNMP traps and informs: v1 (mapped to v2 form per RFC 3584), v2c (informs
//! answered), v3 USM; wrong communities and failed authentication are
//! counted and dropped.

pub mod classify;
pub mod decode;
mod server;
pub mod usm;

pub use server::{SnmpTrapConfig, SnmpTrapSource};
