//! Signals: what tells a link's state, and the one answer to "does this
//! event concern that signal". The engine's matching ([`signal_matches`]),
//! its index of links by device ([`SignalKey`]) and the sources' watch
//! filters are all derived from here, so they cannot disagree.

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
