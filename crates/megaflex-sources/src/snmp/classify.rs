//! Notifications to canonical events: IF-MIB linkDown/linkUp and BGP4-MIB
//! (RFC 4273, the deprecated RFC 1657 OIDs, and Cisco's CISCO-BGP4-MIB).

use super::decode::{Notification, Value};
use megaflex_domain::event::{EventKind, EventState};

const LINK_DOWN: &str = "1.3.6.1.6.3.1.1.5.3";
const LINK_UP: &str = "1.3.6.1.6.3.1.1.5.4";
const IF_INDEX: &str = "1.3.6.1.2.1.2.2.1.1";
const IF_DESCR: &str = "1.3.6.1.2.1.2.2.1.2";
const IF_ADMIN_STATUS: &str = "1.3.6.1.2.1.2.2.1.7";
const IF_OPER_STATUS: &str = "1.3.6.1.2.1.2.2.1.8";
const IF_NAME: &str = "1.3.6.1.2.1.31.1.1.1.1";
const CISCO_LOC_IF_REASON: &str = "1.3.6.1.4.1.9.2.2.1.1.20";

const BGP_ESTABLISHED: [&str; 2] = ["1.3.6.1.2.1.15.0.1", "1.3.6.1.2.1.15.7.1"];
const BGP_BACKWARD: [&str; 2] = ["1.3.6.1.2.1.15.0.2", "1.3.6.1.2.1.15.7.2"];
const CBGP_FSM_STATE_CHANGE: &str = "1.3.6.1.4.1.9.9.187.0.1";
const CBGP_BACKWARD: &str = "1.3.6.1.4.1.9.9.187.0.2";
const BGP_PEER_STATE: &str = "1.3.6.1.2.1.15.3.1.2";
const BGP_PEER_REMOTE_ADDR: &str = "1.3.6.1.2.1.15.3.1.7";
const BGP_PEER_LAST_ERROR: &str = "1.3.6.1.2.1.15.3.1.14";
const CBGP_PEER2_STATE: &str = "1.3.6.1.4.1.9.9.187.1.2.5.1.3";

/// What a notification means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnmpClassified {
    /// Link or BGP peer.
    pub kind: EventKind,
    /// ifIndex (as text) for links, peer address for BGP.
    pub entity: String,
    /// Up or down.
    pub state: EventState,
    /// An operator did it (ifAdminStatus down).
    pub administrative: bool,
    /// Details: if_name, if_descr, if_admin_status, reason, ...
    pub attributes: Vec<(&'static str, String)>,
}

fn suffix<'a>(oid: &'a str, prefix: &str) -> Option<&'a str> {
    oid.strip_prefix(prefix)?.strip_prefix('.')
}

fn status_name(v: Option<i64>) -> String {
    match v {
        Some(1) => "up".into(),
        Some(2) => "down".into(),
        Some(3) => "testing".into(),
        Some(4) => "unknown".into(),
        Some(5) => "dormant".into(),
        Some(6) => "notPresent".into(),
        Some(7) => "lowerLayerDown".into(),
        Some(n) => n.to_string(),
        None => String::new(),
    }
}

fn link(n: &Notification, state: EventState) -> Option<SnmpClassified> {
    let from_var = n.find(IF_INDEX).and_then(|(_, v)| v.as_i64()).map(|i| i.to_string());
    // The instance suffix of ifAdminStatus/ifOperStatus is the ifIndex too.
    let from_suffix = [IF_ADMIN_STATUS, IF_OPER_STATUS, IF_DESCR, IF_NAME]
        .iter()
        .find_map(|p| n.find(p).and_then(|(oid, _)| suffix(oid, p)).map(str::to_owned));
    let if_index = from_var.or(from_suffix)?;
    let text = |p: &str| n.find(p).map(|(_, v)| v.as_text()).unwrap_or_default();
    let admin = n.find(IF_ADMIN_STATUS).and_then(|(_, v)| v.as_i64());
    let mut attributes = vec![
        ("if_name", text(IF_NAME)),
        ("if_descr", text(IF_DESCR)),
        ("if_admin_status", status_name(admin)),
        ("if_oper_status", status_name(n.find(IF_OPER_STATUS).and_then(|(_, v)| v.as_i64()))),
        ("reason", text(CISCO_LOC_IF_REASON)),
    ];
    attributes.retain(|(_, v)| !v.is_empty());
    let administrative = state == EventState::Down
        && (admin == Some(2) || text(CISCO_LOC_IF_REASON).to_ascii_lowercase().contains("administratively"));
    Some(SnmpClassified { kind: EventKind::Link, entity: if_index, state, administrative, attributes })
}

/// The peer's IPv4 address from a BGP varbind: the value of bgpPeerRemoteAddr,
/// or the last four arcs of a bgpPeerTable / cbgpPeer2Table instance.
fn bgp_peer(n: &Notification) -> Option<String> {
    if let Some((_, Value::Ip(ip))) = n.find(BGP_PEER_REMOTE_ADDR) {
        return Some(ip.to_string());
    }
    let (oid, _) =
        n.find(BGP_PEER_STATE).or_else(|| n.find(CBGP_PEER2_STATE)).or_else(|| n.find(BGP_PEER_LAST_ERROR))?;
    let arcs: Vec<&str> = oid.split('.').collect();
    (arcs.len() >= 4).then(|| arcs[arcs.len() - 4..].join("."))
}

fn bgp(n: &Notification, state: Option<EventState>) -> Option<SnmpClassified> {
    let peer = bgp_peer(n)?;
    let peer_state = n.find(BGP_PEER_STATE).or_else(|| n.find(CBGP_PEER2_STATE)).and_then(|(_, v)| v.as_i64());
    // idle(1) connect(2) active(3) opensent(4) openconfirm(5) established(6)
    let state = state.unwrap_or(match peer_state {
        Some(6) => EventState::Up,
        Some(_) => EventState::Down,
        None => EventState::Unknown,
    });
    let mut attributes = vec![("trap_oid", n.trap_oid.clone())];
    if let Some(s) = peer_state {
        attributes.push(("peer_state", s.to_string()));
    }
    if let Some((_, v)) = n.find(BGP_PEER_LAST_ERROR) {
        attributes.push(("last_error", v.as_text()));
    }
    Some(SnmpClassified { kind: EventKind::BgpPeer, entity: peer, state, administrative: false, attributes })
}

/// Classifies a notification, or `None` when it is not a link or BGP event.
pub fn classify(n: &Notification) -> Option<SnmpClassified> {
    let oid = n.trap_oid.as_str();
    match oid {
        LINK_DOWN => link(n, EventState::Down),
        LINK_UP => link(n, EventState::Up),
        o if BGP_ESTABLISHED.contains(&o) => bgp(n, Some(EventState::Up)),
        o if BGP_BACKWARD.contains(&o) || o == CBGP_BACKWARD => bgp(n, Some(EventState::Down)),
        CBGP_FSM_STATE_CHANGE => bgp(n, None),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snmp::decode::Version;

    fn n(trap_oid: &str, varbinds: Vec<(&str, Value)>) -> Notification {
        Notification {
            version: Version::V2c,
            community: Some("public".into()),
            user: None,
            agent_addr: None,
            trap_oid: trap_oid.into(),
            uptime_ticks: None,
            varbinds: varbinds.into_iter().map(|(o, v)| (o.to_owned(), v)).collect(),
            inform_request_id: None,
        }
    }

    #[test]
    fn bgp4_mib_rfc4273_and_rfc1657() {
        let down = n(
            "1.3.6.1.2.1.15.0.2",
            vec![
                ("1.3.6.1.2.1.15.3.1.14.192.0.2.1", Value::Str("0604".into())),
                ("1.3.6.1.2.1.15.3.1.2.192.0.2.1", Value::Int(1)),
            ],
        );
        let c = classify(&down).unwrap();
        assert_eq!((c.kind, c.entity.as_str(), c.state), (EventKind::BgpPeer, "192.0.2.1", EventState::Down));
        let up =
            n("1.3.6.1.2.1.15.7.1", vec![("1.3.6.1.2.1.15.3.1.7.192.0.2.9", Value::Ip("192.0.2.9".parse().unwrap()))]);
        assert_eq!(classify(&up).unwrap().state, EventState::Up);
    }

    #[test]
    fn cisco_cbgp_state_change_reads_the_peer_state() {
        let t = n("1.3.6.1.4.1.9.9.187.0.1", vec![("1.3.6.1.4.1.9.9.187.1.2.5.1.3.1.4.10.0.0.2", Value::Int(6))]);
        let c = classify(&t).unwrap();
        assert_eq!((c.entity.as_str(), c.state), ("10.0.0.2", EventState::Up));
        let t = n("1.3.6.1.4.1.9.9.187.0.1", vec![("1.3.6.1.4.1.9.9.187.1.2.5.1.3.1.4.10.0.0.2", Value::Int(1))]);
        assert_eq!(classify(&t).unwrap().state, EventState::Down);
    }

    #[test]
    fn cisco_link_trap_reason_and_other_traps() {
        let t = n(
            "1.3.6.1.6.3.1.1.5.3",
            vec![
                ("1.3.6.1.2.1.2.2.1.1.5", Value::Int(5)),
                ("1.3.6.1.2.1.2.2.1.2.5", Value::Str("GigabitEthernet0/5".into())),
                ("1.3.6.1.4.1.9.2.2.1.1.20.5", Value::Str("administratively down".into())),
            ],
        );
        let c = classify(&t).unwrap();
        assert_eq!((c.entity.as_str(), c.state, c.administrative), ("5", EventState::Down, true));
        assert!(c.attributes.contains(&("if_descr", "GigabitEthernet0/5".into())));
        assert_eq!(classify(&n("1.3.6.1.6.3.1.1.5.1", vec![])), None, "coldStart is not a link event");
    }
}
