//! v1 and v2c messages and SNMPv2 PDUs read straight from the datagram into
//! a [`Notification`], with the hand-written BER reader. *Why not rasn*: it
//! builds a typed tree first (a `Vec<u32>` per OID, the community, every
//! varbind) that is then turned into text; reading into the text directly
//! is what the v2c trap path spends its time on (docs/BENCHMARKS.md).
//! `tests` check the two agree.

use std::net::Ipv4Addr;

use super::ber::{
    self, BerError, COUNTER32, COUNTER64, END_OF_MIB_VIEW, GAUGE32, INTEGER, IP_ADDRESS, NO_SUCH_INSTANCE,
    NO_SUCH_OBJECT, NULL, OCTET_STRING, OID, OPAQUE, Reader, SEQUENCE, TIME_TICKS,
};
use super::decode::{
    DecodeError, Notification, SNMP_TRAP_ADDRESS, SNMP_TRAP_COMMUNITY, SNMP_TRAP_ENTERPRISE, SNMP_TRAP_OID,
    SYS_UP_TIME, Value, Version,
};

/// PDU tags (context-specific, constructed).
pub const GET_REQUEST: u8 = 0xa0;
/// Response-PDU.
pub const RESPONSE: u8 = 0xa2;
/// SNMPv1 Trap-PDU.
pub const V1_TRAP: u8 = 0xa4;
/// InformRequest-PDU.
pub const INFORM_REQUEST: u8 = 0xa6;
/// SNMPv2-Trap-PDU.
pub const V2_TRAP: u8 = 0xa7;
/// Report-PDU.
pub const REPORT: u8 = 0xa8;

fn malformed(e: BerError) -> DecodeError {
    DecodeError::Malformed(e.to_string())
}

/// The dotted text of OID contents. Written as bytes and checked as UTF-8
/// once: per-arc formatting was the largest cost of a v2c trap (callgrind).
pub fn oid_text(contents: &[u8]) -> Result<String, BerError> {
    if contents.is_empty() {
        return Err(BerError("empty OID"));
    }
    if contents.last().is_some_and(|b| b & 0x80 != 0) {
        return Err(BerError("OID ends inside an arc"));
    }
    let mut out = Vec::with_capacity(contents.len() * 4 + 8);
    // Nearly every OID is under 1.3.6.1 (internet).
    let (mut first, rest) = match contents {
        [0x2b, 0x06, 0x01, rest @ ..] => {
            out.extend_from_slice(b"1.3.6.1");
            (false, rest)
        }
        _ => (true, contents),
    };
    let mut arc: u64 = 0;
    for &b in rest {
        // Most arcs are one byte: no accumulation needed.
        if arc == 0 && b < 0x80 && !first {
            out.push(b'.');
            push_small(&mut out, b);
            continue;
        }
        if arc == 0 && b == 0x80 {
            return Err(BerError("OID arc with a leading 0x80"));
        }
        arc = (arc << 7) | u64::from(b & 0x7f);
        if arc > u64::from(u32::MAX) {
            return Err(BerError("OID arc too large"));
        }
        if b & 0x80 != 0 {
            continue;
        }
        if first {
            let (x, y) = match arc {
                0..40 => (0, arc),
                40..80 => (1, arc - 40),
                _ => (2, arc - 80),
            };
            push_decimal(&mut out, x);
            out.push(b'.');
            push_decimal(&mut out, y);
            first = false;
        } else {
            out.push(b'.');
            push_decimal(&mut out, arc);
        }
        arc = 0;
    }
    String::from_utf8(out).map_err(|_| BerError("OID text"))
}

fn push_small(out: &mut Vec<u8>, b: u8) {
    if b >= 100 {
        out.extend_from_slice(&[b'0' + b / 100, b'0' + b / 10 % 10, b'0' + b % 10]);
    } else if b >= 10 {
        out.extend_from_slice(&[b'0' + b / 10, b'0' + b % 10]);
    } else {
        out.push(b'0' + b);
    }
}

/// `v` in decimal, appended (what `write!` does, without the formatter).
pub fn push_decimal_str(out: &mut String, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(&digits[i..]).unwrap_or_default());
}

fn push_decimal(out: &mut Vec<u8>, mut v: u64) {
    if v < 10 {
        out.push(b'0' + v as u8);
        return;
    }
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    while v > 0 {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.extend_from_slice(&digits[i..]);
}

/// OCTET STRING as text: UTF-8 without control characters, else hex.
pub fn octets_text(o: &[u8]) -> String {
    match std::str::from_utf8(o) {
        Ok(s) if s.chars().all(|c| !c.is_control() || c == '\n' || c == '\t') => s.to_owned(),
        _ => hex::encode(o),
    }
}

fn unsigned(c: &[u8]) -> Result<u64, BerError> {
    // Unsigned types are INTEGER-encoded: a leading zero byte keeps the top bit clear.
    let c = match c {
        [0, rest @ ..] if !rest.is_empty() => rest,
        _ => c,
    };
    if c.is_empty() || c.len() > 8 {
        return Err(BerError("bad unsigned value"));
    }
    Ok(c.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

fn ip(c: &[u8]) -> Result<Ipv4Addr, BerError> {
    <[u8; 4]>::try_from(c).map(Ipv4Addr::from).map_err(|_| BerError("IpAddress is not 4 bytes"))
}

/// A varbind value.
fn value(tag: u8, c: &[u8]) -> Result<Value, BerError> {
    Ok(match tag {
        INTEGER => match ber::int_value(c) {
            Ok(i) => Value::Int(i),
            // Wider than 64 bits: kept, as the bytes.
            Err(_) if !c.is_empty() => Value::Other(hex::encode(c)),
            Err(e) => return Err(e),
        },
        OCTET_STRING => Value::Str(octets_text(c)),
        OID => Value::Oid(oid_text(c)?),
        IP_ADDRESS => Value::Ip(ip(c)?),
        COUNTER32 | GAUGE32 | COUNTER64 => Value::Unsigned(unsigned(c)?),
        TIME_TICKS => Value::Ticks(u32::try_from(unsigned(c)?).map_err(|_| BerError("TimeTicks too large"))?),
        OPAQUE => Value::Other(hex::encode(c)),
        NULL => Value::Other("null".into()),
        NO_SUCH_OBJECT => Value::Other("noSuchObject".into()),
        NO_SUCH_INSTANCE => Value::Other("noSuchInstance".into()),
        END_OF_MIB_VIEW => Value::Other("endOfMibView".into()),
        _ => return Err(BerError("unknown varbind value type")),
    })
}

/// A VarBindList's contents, appended to `out`.
fn varbinds(list: &[u8], out: &mut Vec<(String, Value)>) -> Result<(), BerError> {
    let mut r = Reader::new(list);
    while !r.is_empty() {
        let mut vb = r.sequence()?;
        let name = oid_text(vb.expect(OID)?)?;
        let (tag, c) = vb.tlv()?;
        out.push((name, value(tag, c)?));
    }
    Ok(())
}

/// A PDU's request-id and VarBindList contents.
pub fn pdu_fields(content: &[u8]) -> Result<(i32, &[u8]), BerError> {
    let mut p = Reader::new(content);
    let request_id = i32::try_from(p.integer()?).map_err(|_| BerError("request-id out of range"))?;
    let _error_status = p.integer()?;
    let _error_index = p.integer()?;
    Ok((request_id, p.expect(SEQUENCE)?))
}

/// An SNMPv2 PDU (trap or inform; anything else is `NotNotification`) to a notification.
pub fn notification_from_pdu(version: Version, tag: u8, content: &[u8]) -> Result<Notification, DecodeError> {
    let inform = match tag {
        V2_TRAP => false,
        INFORM_REQUEST => true,
        REPORT => return Err(DecodeError::NotNotification("report")),
        RESPONSE => return Err(DecodeError::NotNotification("response")),
        _ => return Err(DecodeError::NotNotification("request")),
    };
    let (request_id, list) = pdu_fields(content).map_err(malformed)?;
    let mut vbs = Vec::with_capacity(8);
    varbinds(list, &mut vbs).map_err(malformed)?;
    let trap_oid = vbs
        .iter()
        .find(|(o, _)| o == SNMP_TRAP_OID)
        .and_then(|(_, v)| if let Value::Oid(o) = v { Some(o.clone()) } else { None })
        .ok_or_else(|| DecodeError::Malformed("no snmpTrapOID.0 varbind".into()))?;
    let uptime_ticks = vbs.iter().find(|(o, _)| o == SYS_UP_TIME).and_then(|(_, v)| v.as_i64()).map(|t| t as u32);
    Ok(Notification {
        version,
        community: None,
        user: None,
        agent_addr: None,
        trap_oid,
        uptime_ticks,
        varbinds: vbs,
        inform_request_id: inform.then_some(request_id),
    })
}

/// An SNMPv1 Trap-PDU mapped to v2 form (RFC 3584 section 3.1).
fn v1_trap(community: String, content: &[u8]) -> Result<Notification, BerError> {
    let mut t = Reader::new(content);
    let enterprise = oid_text(t.expect(OID)?)?;
    let agent = ip(t.expect(IP_ADDRESS)?)?;
    let generic = t.integer()?;
    let specific = t.integer()?;
    let time_stamp = u32::try_from(unsigned(t.expect(TIME_TICKS)?)?).map_err(|_| BerError("TimeTicks too large"))?;
    let list = t.expect(SEQUENCE)?;
    let trap_oid = if (0..6).contains(&generic) {
        format!("1.3.6.1.6.3.1.1.5.{}", generic + 1)
    } else {
        format!("{enterprise}.0.{specific}")
    };
    let mut vbs = Vec::with_capacity(8);
    vbs.push((SYS_UP_TIME.to_owned(), Value::Ticks(time_stamp)));
    vbs.push((SNMP_TRAP_OID.to_owned(), Value::Oid(trap_oid.clone())));
    varbinds(list, &mut vbs)?;
    vbs.push((SNMP_TRAP_ADDRESS.to_owned(), Value::Ip(agent)));
    vbs.push((SNMP_TRAP_COMMUNITY.to_owned(), Value::Str(community.clone())));
    vbs.push((SNMP_TRAP_ENTERPRISE.to_owned(), Value::Oid(enterprise)));
    Ok(Notification {
        version: Version::V1,
        community: Some(community),
        user: None,
        agent_addr: Some(agent),
        trap_oid,
        uptime_ticks: Some(time_stamp),
        varbinds: vbs,
        inform_request_id: None,
    })
}

/// The fields of a v1 or v2c message, borrowed from the datagram.
#[derive(Debug, Clone, Copy)]
pub struct CommunityMessage<'a> {
    /// 0 for v1, 1 for v2c.
    pub version: i64,
    /// The community.
    pub community: &'a [u8],
    /// The PDU's tag.
    pub tag: u8,
    /// The PDU's contents.
    pub content: &'a [u8],
}

/// Splits a v1 or v2c message.
pub fn community_message(buf: &[u8]) -> Result<CommunityMessage<'_>, DecodeError> {
    let mut msg = Reader::new(buf).sequence().map_err(malformed)?;
    let version = msg.integer().map_err(malformed)?;
    let community = msg.octets().map_err(malformed)?;
    let (tag, content) = msg.tlv().map_err(malformed)?;
    Ok(CommunityMessage { version, community, tag, content })
}

/// Decodes a v1 or v2c datagram.
pub fn decode_community(buf: &[u8]) -> Result<Notification, DecodeError> {
    let CommunityMessage { version, community, tag, content } = community_message(buf)?;
    match version {
        0 if tag == V1_TRAP => v1_trap(octets_text(community), content).map_err(malformed),
        0 => Err(DecodeError::NotNotification("v1 request")),
        1 => {
            let mut n = notification_from_pdu(Version::V2c, tag, content)?;
            n.community = Some(octets_text(community));
            Ok(n)
        }
        3 => Err(DecodeError::Malformed("SNMPv3 needs the USM decoder".into())),
        v => Err(DecodeError::Version(v)),
    }
}

/// The v2c Response to an inform: same community, request id and varbinds.
pub fn inform_response_v2c(buf: &[u8]) -> Option<Vec<u8>> {
    let CommunityMessage { version, community, tag, content } = community_message(buf).ok()?;
    if version != 1 || tag != INFORM_REQUEST {
        return None;
    }
    let (request_id, list) = pdu_fields(content).ok()?;
    let mut head = Vec::with_capacity(community.len() + 16);
    ber::put_int(&mut head, INTEGER, 1);
    ber::put(&mut head, OCTET_STRING, community);
    let mut fields = Vec::with_capacity(12);
    ber::put_int(&mut fields, INTEGER, i64::from(request_id));
    ber::put_int(&mut fields, INTEGER, 0);
    ber::put_int(&mut fields, INTEGER, 0);
    let pdu = ber::constructed(RESPONSE, &[&fields, &ber::constructed(SEQUENCE, &[list])]);
    Some(ber::constructed(SEQUENCE, &[&head, &pdu]))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rasn::types::ObjectIdentifier;
    use rasn_smi::v2::{ApplicationSyntax, ObjectSyntax, SimpleSyntax};
    use rasn_snmp::{v1, v2, v2c};

    use super::*;

    fn oid(arcs: &[u32]) -> ObjectIdentifier {
        ObjectIdentifier::new_unchecked(arcs.to_vec().into())
    }

    fn dotted(arcs: &[u32]) -> String {
        arcs.iter().map(u32::to_string).collect::<Vec<_>>().join(".")
    }

    /// A value as rasn encodes it, and what we must read back.
    fn arb_value() -> impl Strategy<Value = (v2::VarBindValue, Value)> {
        let v = |s| v2::VarBindValue::Value(s);
        prop_oneof![
            any::<i64>().prop_map(move |i| (v(ObjectSyntax::Simple(SimpleSyntax::Integer(i.into()))), Value::Int(i))),
            "[a-zA-Z0-9/ .-]{0,40}".prop_map(move |s: String| (
                v(ObjectSyntax::Simple(SimpleSyntax::String(s.clone().into_bytes().into()))),
                Value::Str(s)
            )),
            proptest::collection::vec(any::<u8>(), 1..8).prop_map(move |b| (
                v(ObjectSyntax::Simple(SimpleSyntax::String(b.clone().into()))),
                Value::Str(octets_text(&b))
            )),
            any::<u32>().prop_map(move |t| (
                v(ObjectSyntax::ApplicationWide(ApplicationSyntax::Ticks(rasn_smi::v1::TimeTicks(t)))),
                Value::Ticks(t)
            )),
            any::<u32>().prop_map(move |c| (
                v(ObjectSyntax::ApplicationWide(ApplicationSyntax::Counter(rasn_smi::v1::Counter(c)))),
                Value::Unsigned(u64::from(c))
            )),
            any::<u64>().prop_map(move |c| (
                v(ObjectSyntax::ApplicationWide(ApplicationSyntax::BigCounter(rasn_smi::v2::Counter64(c)))),
                Value::Unsigned(c)
            )),
            any::<[u8; 4]>().prop_map(move |ip| (
                v(ObjectSyntax::ApplicationWide(ApplicationSyntax::Address(rasn_smi::v1::IpAddress(ip.into())))),
                Value::Ip(Ipv4Addr::from(ip))
            )),
            Just((v2::VarBindValue::NoSuchInstance, Value::Other("noSuchInstance".into()))),
        ]
    }

    fn arb_oid() -> impl Strategy<Value = Vec<u32>> {
        let arc = prop_oneof![0u32..200, any::<u32>()];
        let any_oid = (0u32..3, 0u32..40, proptest::collection::vec(arc.clone(), 0..12)).prop_map(|(a, b, rest)| {
            let mut arcs = vec![a, b];
            arcs.extend(rest);
            arcs
        });
        // Most real OIDs are under 1.3.6.1, which has its own fast path.
        let internet = proptest::collection::vec(arc, 0..12).prop_map(|rest| {
            let mut arcs = vec![1, 3, 6, 1];
            arcs.extend(rest);
            arcs
        });
        prop_oneof![any_oid, internet]
    }

    proptest! {
        /// Whatever rasn encodes, our reader reads back the same varbinds.
        #[test]
        fn agrees_with_rasn(request_id in any::<i32>(), inform in any::<bool>(), community in "[a-z]{1,12}",
                            vbs in proptest::collection::vec((arb_oid(), arb_value()), 0..8)) {
            let trap_oid = [1u32, 3, 6, 1, 6, 3, 1, 1, 5, 3];
            let mut variable_bindings = vec![v2::VarBind {
                name: oid(&[1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0]),
                value: v2::VarBindValue::Value(ObjectSyntax::Simple(SimpleSyntax::ObjectId(oid(&trap_oid)))),
            }];
            variable_bindings.extend(vbs.iter().map(|(o, (v, _))| v2::VarBind { name: oid(o), value: v.clone() }));
            let pdu = v2::Pdu { request_id, error_status: 0, error_index: 0, variable_bindings };
            let data = if inform { v2::Pdus::InformRequest(v2::InformRequest(pdu)) } else { v2::Pdus::Trap(v2::Trap(pdu)) };
            let msg = v2c::Message { version: 1.into(), community: community.clone().into_bytes().into(), data };
            let buf = rasn::ber::encode(&msg).unwrap();
            let n = decode_community(&buf).unwrap();
            prop_assert_eq!(n.community.as_deref(), Some(community.as_str()));
            prop_assert_eq!(&n.trap_oid, &dotted(&trap_oid));
            prop_assert_eq!(n.inform_request_id, inform.then_some(request_id));
            prop_assert_eq!(n.varbinds.len(), vbs.len() + 1);
            for ((o, (_, want)), (got_oid, got)) in vbs.iter().zip(&n.varbinds[1..]) {
                prop_assert_eq!(got_oid, &dotted(o));
                prop_assert_eq!(got, want);
            }
            if inform {
                // The Response decodes (with rasn) to the same request id and varbinds.
                let resp: v2c::Message<v2::Pdus> = rasn::ber::decode(&inform_response_v2c(&buf).unwrap()).unwrap();
                let v2::Pdus::Response(r) = resp.data else { panic!("not a Response") };
                prop_assert_eq!(r.0.request_id, request_id);
                prop_assert_eq!(r.0.variable_bindings.len(), vbs.len() + 1);
            }
        }

        /// Any bytes: an error or a notification, never a panic.
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_community(&bytes);
            let _ = inform_response_v2c(&bytes);
        }
    }

    #[test]
    fn v1_trap_maps_to_v2_form() {
        let trap = v1::Trap {
            enterprise: oid(&[1, 3, 6, 1, 4, 1, 9, 1, 1]),
            agent_addr: rasn_smi::v1::NetworkAddress::Internet(rasn_smi::v1::IpAddress([10, 0, 0, 1].into())),
            generic_trap: 2.into(),
            specific_trap: 0.into(),
            time_stamp: rasn_smi::v1::TimeTicks(77),
            variable_bindings: vec![v1::VarBind {
                name: oid(&[1, 3, 6, 1, 2, 1, 2, 2, 1, 1, 3]),
                value: rasn_smi::v1::ObjectSyntax::Simple(rasn_smi::v1::SimpleSyntax::Number(3.into())),
            }],
        };
        let msg = v1::Message { version: 0.into(), community: b"public".to_vec().into(), data: v1::Pdus::Trap(trap) };
        let n = decode_community(&rasn::ber::encode(&msg).unwrap()).unwrap();
        assert_eq!((n.version, n.trap_oid.as_str(), n.uptime_ticks), (Version::V1, "1.3.6.1.6.3.1.1.5.3", Some(77)));
        assert_eq!(n.agent_addr, Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(n.find("1.3.6.1.2.1.2.2.1.1").map(|(_, v)| v.clone()), Some(Value::Int(3)));
        assert_eq!(n.find(SNMP_TRAP_ENTERPRISE).map(|(_, v)| v.as_text()), Some("1.3.6.1.4.1.9.1.1".into()));
    }

    #[test]
    fn oid_text_edges() {
        assert_eq!(oid_text(&[0x2b, 0x06, 0x01, 0x04, 0x01, 0xbf, 0x08]).unwrap(), "1.3.6.1.4.1.8072");
        assert_eq!(oid_text(&[0x8f, 0xff, 0xff, 0xff, 0x7f]).unwrap(), "2.4294967215");
        assert_eq!(oid_text(&[0x00]).unwrap(), "0.0");
        assert!(oid_text(&[0x2b, 0x86]).is_err(), "ends inside an arc");
        assert!(oid_text(&[0x2b, 0x90, 0x80, 0x80, 0x80, 0x80, 0x01]).is_err(), "arc > u32");
        assert!(oid_text(&[]).is_err());
    }
}
