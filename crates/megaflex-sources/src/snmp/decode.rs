//! SNMP notifications (v1 traps, v2c traps and informs, v3 with USM) decoded
//! into one form: a trap OID and varbinds, v1 mapped to v2 per RFC 3584.
//! The BER is read in `pdu.rs` (`decode_community`, `inform_response_v2c`),
//! which builds these types: this file imports nothing of it.

use std::net::Ipv4Addr;

/// `snmpTrapOID.0`.
pub const SNMP_TRAP_OID: &str = "1.3.6.1.6.3.1.1.4.1.0";
/// `sysUpTime.0`.
pub const SYS_UP_TIME: &str = "1.3.6.1.2.1.1.3.0";
/// `snmpTrapAddress.0` (RFC 3584).
pub const SNMP_TRAP_ADDRESS: &str = "1.3.6.1.6.3.18.1.3.0";
/// `snmpTrapCommunity.0` (RFC 3584).
pub const SNMP_TRAP_COMMUNITY: &str = "1.3.6.1.6.3.18.1.4.0";
/// `snmpTrapEnterprise.0` (RFC 3584).
pub const SNMP_TRAP_ENTERPRISE: &str = "1.3.6.1.6.3.1.1.4.3.0";

/// Protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// SNMPv1.
    V1,
    /// SNMPv2c.
    V2c,
    /// SNMPv3.
    V3,
}

impl Version {
    /// `V1`, `V2c`, `V3` (the event's `version` attribute).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1 => "V1",
            Self::V2c => "V2c",
            Self::V3 => "V3",
        }
    }
}

/// A varbind value in printable form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// INTEGER.
    Int(i64),
    /// OCTET STRING (lossy UTF-8; binary shown as hex).
    Str(String),
    /// OBJECT IDENTIFIER, dotted.
    Oid(String),
    /// IpAddress.
    Ip(Ipv4Addr),
    /// Counter32, Gauge32, Unsigned32, Counter64.
    Unsigned(u64),
    /// TimeTicks (1/100 s).
    Ticks(u32),
    /// Opaque, NULL, noSuchObject...
    Other(String),
}

impl Value {
    /// As an integer, if it is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Self::Int(i) => Some(*i),
            Self::Unsigned(u) => i64::try_from(*u).ok(),
            Self::Ticks(t) => Some(i64::from(*t)),
            _ => None,
        }
    }
    /// As text.
    pub fn as_text(&self) -> String {
        match self {
            Self::Int(i) => i.to_string(),
            Self::Str(s) | Self::Oid(s) | Self::Other(s) => s.clone(),
            Self::Ip(ip) => ip.to_string(),
            Self::Unsigned(u) => u.to_string(),
            Self::Ticks(t) => t.to_string(),
        }
    }
}

/// A decoded notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Version.
    pub version: Version,
    /// Community (v1, v2c).
    pub community: Option<String>,
    /// USM user (v3).
    pub user: Option<String>,
    /// Agent address stated in a v1 trap.
    pub agent_addr: Option<Ipv4Addr>,
    /// The notification's OID (v2 form), dotted.
    pub trap_oid: String,
    /// sysUpTime.0 in hundredths of a second.
    pub uptime_ticks: Option<u32>,
    /// Every varbind, `sysUpTime.0` and `snmpTrapOID.0` included, in order.
    pub varbinds: Vec<(String, Value)>,
    /// For an inform: its request id (a Response must be sent back).
    pub inform_request_id: Option<i32>,
}

impl Notification {
    /// The first varbind whose OID starts with `prefix` (and `.` or end).
    pub fn find(&self, prefix: &str) -> Option<(&str, &Value)> {
        self.varbinds
            .iter()
            .find(|(oid, _)| oid.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('.')))
            .map(|(o, v)| (o.as_str(), v))
    }
}

/// Why a datagram is not a notification we accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not BER, or not an SNMP message.
    #[error("not an SNMP message: {0}")]
    Malformed(String),
    /// A PDU that is not a notification (a GET, a response...).
    #[error("not a notification ({0})")]
    NotNotification(&'static str),
    /// Version other than 1, 2c, 3.
    #[error("unsupported SNMP version {0}")]
    Version(i64),
}

/// The version field, read without decoding the rest (BER SEQUENCE { INTEGER ... }).
pub fn peek_version(buf: &[u8]) -> Result<i64, DecodeError> {
    let bad = |m: &str| DecodeError::Malformed(m.to_owned());
    if buf.first() != Some(&0x30) {
        return Err(bad("does not start with a SEQUENCE"));
    }
    let mut i = 1;
    let len_byte = *buf.get(i).ok_or_else(|| bad("truncated"))?;
    i += 1;
    if len_byte & 0x80 != 0 {
        i += usize::from(len_byte & 0x7f);
    }
    if buf.get(i) != Some(&0x02) {
        return Err(bad("no version INTEGER"));
    }
    let n = usize::from(*buf.get(i + 1).ok_or_else(|| bad("truncated"))?);
    if n == 0 || n > 4 {
        return Err(bad("bad version length"));
    }
    let bytes = buf.get(i + 2..i + 2 + n).ok_or_else(|| bad("truncated"))?;
    Ok(bytes.iter().fold(0i64, |acc, b| (acc << 8) | i64::from(*b)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snmp::pdu::{decode_community, inform_response_v2c};

    /// An inform as Net-SNMP's snmpinform sends it (captured on loopback).
    const INFORM: &str = "30530201010403707562a6490204378e5f13020100020100303b300f06082b06010201010300430306d9263017060a2b06010603010104010006092b0601060301010503300f060a2b060102010202010107020107";

    #[test]
    fn long_inform_decodes() {
        let buf = hex::decode("3081a202010104107333637265742d636f6d6d756e697479a6818a020468181ef1020100020100307c300f06082b06010201010300430306e7e03017060a2b06010603010104010006092b0601060301010503300f060a2b060102010202010107020107300f060a2b060102010202010707020102300f060a2b060102010202010807020102301d060b2b060102011f0101010107040e54656e47696745302f302f302f37").unwrap();
        let n = decode_community(&buf).unwrap();
        assert_eq!(n.inform_request_id, Some(0x6818_1ef1));
        assert!(inform_response_v2c(&buf).is_some());
    }

    #[test]
    fn inform_decodes_and_gets_a_matching_response() {
        let buf = hex::decode(INFORM).unwrap();
        let n = decode_community(&buf).unwrap();
        assert_eq!(n.version, Version::V2c);
        assert_eq!(n.community.as_deref(), Some("pub"));
        assert_eq!(n.trap_oid, "1.3.6.1.6.3.1.1.5.3");
        assert_eq!(n.inform_request_id, Some(0x378e5f13));
        assert_eq!(n.find("1.3.6.1.2.1.2.2.1.1").map(|(_, v)| v.clone()), Some(Value::Int(7)));
        let resp = inform_response_v2c(&buf).unwrap();
        // Same message with the PDU tag changed from InformRequest (a6) to Response (a2).
        let mut expected = buf.clone();
        let at = INFORM.find("a649").unwrap() / 2;
        expected[at] = 0xa2;
        assert_eq!(hex::encode(&resp), hex::encode(&expected));
    }
}
