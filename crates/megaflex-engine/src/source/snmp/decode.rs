//! SNMP notifications (v1 traps, v2c traps and informs, v3 with USM) decoded
//! into one form: a trap OID and varbinds, v1 mapped to v2 per RFC 3584.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use rasn::types::{ObjectIdentifier, OctetString};
use rasn_smi::{v1 as smi1, v2 as smi2};
use rasn_snmp::{v1, v2, v2c};

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

/// Dotted text of an OID.
pub fn oid_text(oid: &ObjectIdentifier) -> String {
    let mut s = String::with_capacity(oid.len() * 3);
    for (i, arc) in oid.iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        let _ = write!(s, "{arc}");
    }
    s
}

fn octets_text(o: &OctetString) -> String {
    match std::str::from_utf8(o) {
        Ok(s) if s.chars().all(|c| !c.is_control() || c == '\n' || c == '\t') => s.to_owned(),
        _ => hex::encode(o),
    }
}

fn ip4(o: &rasn::types::FixedOctetString<4>) -> Ipv4Addr {
    let b: &[u8] = &o[..];
    Ipv4Addr::new(b[0], b[1], b[2], b[3])
}

fn int_i64(i: &rasn::types::Integer) -> i64 {
    i64::try_from(i).unwrap_or(i64::MAX)
}

fn value_v1(v: &smi1::ObjectSyntax) -> Value {
    match v {
        smi1::ObjectSyntax::Simple(s) => match s {
            smi1::SimpleSyntax::Number(i) => Value::Int(int_i64(i)),
            smi1::SimpleSyntax::String(o) => Value::Str(octets_text(o)),
            smi1::SimpleSyntax::Object(o) => Value::Oid(oid_text(o)),
            smi1::SimpleSyntax::Empty => Value::Other("null".into()),
        },
        smi1::ObjectSyntax::ApplicationWide(a) => match a {
            smi1::ApplicationSyntax::Address(smi1::NetworkAddress::Internet(ip)) => Value::Ip(ip4(&ip.0)),
            smi1::ApplicationSyntax::Counter(c) => Value::Unsigned(u64::from(c.0)),
            smi1::ApplicationSyntax::Gauge(g) => Value::Unsigned(u64::from(g.0)),
            smi1::ApplicationSyntax::Ticks(t) => Value::Ticks(t.0),
            smi1::ApplicationSyntax::Arbitrary(o) => Value::Other(hex::encode(o.as_ref())),
        },
    }
}

fn value_v2(v: &v2::VarBindValue) -> Value {
    match v {
        v2::VarBindValue::Value(smi2::ObjectSyntax::Simple(s)) => match s {
            smi2::SimpleSyntax::Integer(i) => Value::Int(int_i64(i)),
            smi2::SimpleSyntax::String(o) => Value::Str(octets_text(o)),
            smi2::SimpleSyntax::ObjectId(o) => Value::Oid(oid_text(o)),
        },
        v2::VarBindValue::Value(smi2::ObjectSyntax::ApplicationWide(a)) => match a {
            smi2::ApplicationSyntax::Address(ip) => Value::Ip(ip4(&ip.0)),
            smi2::ApplicationSyntax::Counter(c) => Value::Unsigned(u64::from(c.0)),
            smi2::ApplicationSyntax::Ticks(t) => Value::Ticks(t.0),
            smi2::ApplicationSyntax::Arbitrary(o) => Value::Other(hex::encode(o.as_ref())),
            smi2::ApplicationSyntax::BigCounter(c) => Value::Unsigned(c.0),
            smi2::ApplicationSyntax::Unsigned(u) => Value::Unsigned(u64::from(u.0)),
        },
        v2::VarBindValue::Unspecified => Value::Other("null".into()),
        v2::VarBindValue::NoSuchObject => Value::Other("noSuchObject".into()),
        v2::VarBindValue::NoSuchInstance => Value::Other("noSuchInstance".into()),
        v2::VarBindValue::EndOfMibView => Value::Other("endOfMibView".into()),
    }
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

/// Maps a v1 trap to v2 form (RFC 3584 section 3.1).
pub(crate) fn v1_to_v2(community: String, trap: &v1::Trap) -> Notification {
    let enterprise = oid_text(&trap.enterprise);
    let generic = int_i64(&trap.generic_trap);
    let specific = int_i64(&trap.specific_trap);
    let trap_oid = if (0..6).contains(&generic) {
        format!("1.3.6.1.6.3.1.1.5.{}", generic + 1)
    } else {
        format!("{enterprise}.0.{specific}")
    };
    let agent = match &trap.agent_addr {
        smi1::NetworkAddress::Internet(ip) => ip4(&ip.0),
    };
    let mut varbinds = vec![
        (SYS_UP_TIME.to_owned(), Value::Ticks(trap.time_stamp.0)),
        (SNMP_TRAP_OID.to_owned(), Value::Oid(trap_oid.clone())),
    ];
    varbinds.extend(trap.variable_bindings.iter().map(|vb| (oid_text(&vb.name), value_v1(&vb.value))));
    varbinds.push((SNMP_TRAP_ADDRESS.to_owned(), Value::Ip(agent)));
    varbinds.push((SNMP_TRAP_COMMUNITY.to_owned(), Value::Str(community.clone())));
    varbinds.push((SNMP_TRAP_ENTERPRISE.to_owned(), Value::Oid(enterprise)));
    Notification {
        version: Version::V1,
        community: Some(community),
        user: None,
        agent_addr: Some(agent),
        trap_oid,
        uptime_ticks: Some(trap.time_stamp.0),
        varbinds,
        inform_request_id: None,
    }
}

/// A v2 PDU (trap or inform) to a notification.
pub(crate) fn from_v2_pdu(version: Version, pdu: &v2::Pdus) -> Result<Notification, DecodeError> {
    let (p, inform) = match pdu {
        v2::Pdus::Trap(t) => (&t.0, false),
        v2::Pdus::InformRequest(i) => (&i.0, true),
        v2::Pdus::Report(_) => return Err(DecodeError::NotNotification("report")),
        v2::Pdus::Response(_) => return Err(DecodeError::NotNotification("response")),
        _ => return Err(DecodeError::NotNotification("request")),
    };
    let varbinds: Vec<(String, Value)> =
        p.variable_bindings.iter().map(|vb| (oid_text(&vb.name), value_v2(&vb.value))).collect();
    let trap_oid = varbinds
        .iter()
        .find(|(o, _)| o == SNMP_TRAP_OID)
        .and_then(|(_, v)| if let Value::Oid(o) = v { Some(o.clone()) } else { None })
        .ok_or_else(|| DecodeError::Malformed("no snmpTrapOID.0 varbind".into()))?;
    let uptime_ticks = varbinds.iter().find(|(o, _)| o == SYS_UP_TIME).and_then(|(_, v)| v.as_i64()).map(|t| t as u32);
    Ok(Notification {
        version,
        community: None,
        user: None,
        agent_addr: None,
        trap_oid,
        uptime_ticks,
        varbinds,
        inform_request_id: inform.then_some(p.request_id),
    })
}

/// Decodes a v1 or v2c datagram.
pub fn decode_community(buf: &[u8]) -> Result<Notification, DecodeError> {
    match peek_version(buf)? {
        0 => {
            let msg: v1::Message<v1::Pdus> =
                rasn::ber::decode(buf).map_err(|e| DecodeError::Malformed(e.to_string()))?;
            let community = octets_text(&msg.community);
            match &msg.data {
                v1::Pdus::Trap(t) => Ok(v1_to_v2(community, t)),
                _ => Err(DecodeError::NotNotification("v1 request")),
            }
        }
        1 => {
            let msg: v2c::Message<v2::Pdus> =
                rasn::ber::decode(buf).map_err(|e| DecodeError::Malformed(e.to_string()))?;
            let mut n = from_v2_pdu(Version::V2c, &msg.data)?;
            n.community = Some(octets_text(&msg.community));
            Ok(n)
        }
        3 => Err(DecodeError::Malformed("SNMPv3 needs the USM decoder".into())),
        v => Err(DecodeError::Version(v)),
    }
}

/// The v2c Response to an inform: same request id and varbinds.
pub fn inform_response_v2c(buf: &[u8]) -> Option<Vec<u8>> {
    let msg: v2c::Message<v2::Pdus> = rasn::ber::decode(buf).ok()?;
    let v2::Pdus::InformRequest(req) = msg.data else { return None };
    let resp = v2c::Message {
        version: msg.version,
        community: msg.community,
        data: v2::Pdus::Response(v2::Response(v2::Pdu { error_status: 0, error_index: 0, ..req.0 })),
    };
    rasn::ber::encode(&resp).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

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
