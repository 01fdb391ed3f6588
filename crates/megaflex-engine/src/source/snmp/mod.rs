//! SNMP traps and informs: v1 (mapped to v2 form per RFC 3584), v2c, v3 USM.

pub mod classify;
pub mod decode;
pub mod usm;
