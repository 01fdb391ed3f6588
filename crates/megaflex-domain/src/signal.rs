//! Signals: what tells a link's state, and the one answer to "does this
//! event concern that signal". Three views are derived here, side by side,
//! so they cannot drift apart (the tests check each against the others):
//! - [`signal_matches`]: the exact rule, used by links;
//! - [`SignalKey`] ([`Signal::key`], [`event_keys`]): the runtime's index of
//!   links by the device they listen to, so an event is matched against a
//!   few links instead of all;
//! - [`Signal::syslog_watch`]: what a syslog source must pass on (a superset
//!   of the exact rule), so messages no link watches are dropped before an
//!   event is built.

use serde::Deserialize;

use crate::event::{Event, EventKind, SourceKind};

/// A signal of a link.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Signal {
    /// A syslog link message from `host` about `interface`.
    Syslog {
        /// Hostname as the device sends it (or its address).
        host: String,
        /// Interface name as the device sends it.
        interface: String,
    },
    /// A BGP session from syslog or SNMP.
    Bgp {
        /// Hostname or address of the device.
        host: String,
        /// Peer address.
        peer: String,
    },
    /// An SNMP link trap.
    Snmp {
        /// Agent address.
        agent: String,
        /// ifIndex.
        #[serde(default)]
        if_index: Option<u32>,
        /// ifName, instead of the index.
        #[serde(default)]
        if_name: Option<String>,
    },
    /// An alert with these labels (alertname at least).
    Alert {
        /// Alert name.
        alertname: String,
        /// Other labels that must match.
        #[serde(default)]
        labels: std::collections::BTreeMap<String, String>,
    },
}

/// Whether `event` is about what `signal` watches.
pub fn signal_matches(signal: &Signal, event: &Event) -> bool {
    let host_is = |h: &str| {
        event.device.hostname.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(h))
            || event.device.address.as_deref() == Some(h)
    };
    match signal {
        Signal::Syslog { host, interface } => {
            event.source == SourceKind::Syslog
                && event.kind == EventKind::Link
                && host_is(host)
                && event.entity.eq_ignore_ascii_case(interface)
        }
        Signal::Bgp { host, peer } => event.kind == EventKind::BgpPeer && host_is(host) && event.entity == *peer,
        Signal::Snmp { agent, if_index, if_name } => {
            event.source == SourceKind::SnmpTrap
                && event.kind == EventKind::Link
                && event.device.address.as_deref() == Some(agent.as_str())
                && (if_index.is_some_and(|i| event.entity == i.to_string())
                    || if_name
                        .as_deref()
                        .is_some_and(|n| event.attributes.get("if_name").is_some_and(|v| v.eq_ignore_ascii_case(n))))
        }
        Signal::Alert { alertname, labels } => {
            event.kind == EventKind::Alert
                && event.device.labels.get("alertname") == Some(alertname)
                && labels.iter().all(|(k, v)| event.device.labels.get(k) == Some(v))
        }
    }
}

/// The part of a signal an event is indexed by: the kind of source and the
/// device, lower-cased (or the alert name). An event can only match a
/// signal whose key is among the event's [`event_keys`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SignalKey(String);

impl Signal {
    /// This signal's index key.
    pub fn key(&self) -> SignalKey {
        SignalKey(match self {
            Self::Syslog { host, .. } => format!("s|{}", host.to_ascii_lowercase()),
            Self::Bgp { host, .. } => format!("b|{}", host.to_ascii_lowercase()),
            Self::Snmp { agent, .. } => format!("n|{}", agent.to_ascii_lowercase()),
            Self::Alert { alertname, .. } => format!("a|{alertname}"),
        })
    }

    /// What a syslog source must forward for this signal: the event kind,
    /// the host (name or address) and the entity (interface or peer), all
    /// compared without case. `None` for signals syslog never carries.
    pub fn syslog_watch(&self) -> Option<(EventKind, &str, &str)> {
        match self {
            Self::Syslog { host, interface } => Some((EventKind::Link, host, interface)),
            Self::Bgp { host, peer } => Some((EventKind::BgpPeer, host, peer)),
            Self::Snmp { .. } | Self::Alert { .. } => None,
        }
    }
}

/// The index keys an event could match (its hostname and its address).
pub fn event_keys(e: &Event) -> Vec<SignalKey> {
    let hosts = || e.device.hostname.iter().chain(e.device.address.iter()).map(|h| h.to_ascii_lowercase());
    let keys: Vec<String> = match (e.kind, e.source) {
        (EventKind::Alert, _) => e.device.labels.get("alertname").map(|a| format!("a|{a}")).into_iter().collect(),
        (EventKind::BgpPeer, _) => hosts().map(|h| format!("b|{h}")).collect(),
        (EventKind::Link, SourceKind::SnmpTrap) => {
            e.device.address.iter().map(|a| format!("n|{}", a.to_ascii_lowercase())).collect()
        }
        (EventKind::Link, _) => hosts().map(|h| format!("s|{h}")).collect(),
        (EventKind::Other, _) => Vec::new(),
    };
    keys.into_iter().map(SignalKey).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use megaport_types::EpochMillis;

    use super::*;
    use crate::event::{Device, EventState};

    fn signals() -> Vec<Signal> {
        vec![
            Signal::Syslog { host: "Core-B1".into(), interface: "Te0/1/0".into() },
            Signal::Bgp { host: "core-b1".into(), peer: "10.9.9.9".into() },
            Signal::Snmp { agent: "10.0.0.7".into(), if_index: Some(3), if_name: None },
            Signal::Snmp { agent: "10.0.0.7".into(), if_index: None, if_name: Some("ge-0/0/1".into()) },
            Signal::Alert { alertname: "PrimaryDown".into(), labels: BTreeMap::from([("site".into(), "bne".into())]) },
        ]
    }

    fn event(source: SourceKind, kind: EventKind, host: Option<&str>, addr: &str, entity: &str) -> Event {
        let mut labels = BTreeMap::new();
        if kind == EventKind::Alert {
            labels.insert("alertname".to_owned(), entity.to_owned());
            labels.insert("site".to_owned(), "bne".to_owned());
        }
        let device = Device { hostname: host.map(Into::into), address: Some(addr.into()), labels };
        let mut e =
            Event::new(source, EpochMillis::from_millis(0), None, device, kind, entity.into(), EventState::Down, "");
        if entity == "ge-0/0/1" {
            e.attributes.insert("if_name".into(), "GE-0/0/1".into());
        }
        e
    }

    fn events() -> Vec<Event> {
        let mut out = Vec::new();
        for (source, kind) in [
            (SourceKind::Syslog, EventKind::Link),
            (SourceKind::Syslog, EventKind::BgpPeer),
            (SourceKind::SnmpTrap, EventKind::Link),
            (SourceKind::Webhook, EventKind::Alert),
            (SourceKind::Syslog, EventKind::Other),
        ] {
            for host in [Some("core-b1"), Some("CORE-B1"), Some("edge-9"), None] {
                for addr in ["10.0.0.7", "10.0.0.1", "Core-B1"] {
                    for entity in ["Te0/1/0", "te0/1/0", "10.9.9.9", "3", "ge-0/0/1", "PrimaryDown", "Gi9"] {
                        out.push(event(source, kind, host, addr, entity));
                    }
                }
            }
        }
        out
    }

    /// The three views agree: whatever matches exactly is found through the
    /// index, and (for syslog) passes the watch filter.
    #[test]
    fn the_index_and_the_watch_never_lose_an_exact_match() {
        let mut matched = 0;
        for e in events() {
            let keys = event_keys(&e);
            for s in signals() {
                if !signal_matches(&s, &e) {
                    continue;
                }
                matched += 1;
                assert!(keys.contains(&s.key()), "{s:?} matches {e:?} but its key is not among {keys:?}");
                if e.source == SourceKind::Syslog {
                    let (kind, host, entity) = s.syslog_watch().expect("a syslog event matched a non-syslog signal");
                    let on = |h: &str| h.eq_ignore_ascii_case(host);
                    assert!(
                        kind == e.kind
                            && entity.eq_ignore_ascii_case(&e.entity)
                            && (e.device.hostname.as_deref().is_some_and(on)
                                || e.device.address.as_deref().is_some_and(on)),
                        "the watch filter would drop {e:?}, which {s:?} matches"
                    );
                }
            }
        }
        // Every signal kind matched something: the table exercises them all.
        assert!(matched >= 5, "only {matched} matches");
    }
}
