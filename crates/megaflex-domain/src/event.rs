//! The canonical event: what every source produces, whatever the vendor.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use megaport_types::EpochMillis;
use serde::{Deserialize, Serialize};

/// Longest raw message kept on an event, in bytes.
pub const RAW_MAX_BYTES: usize = 2048;

/// Which source produced an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// Syslog over UDP or TCP.
    Syslog,
    /// SNMP trap or inform.
    SnmpTrap,
    /// HTTP webhook (Alertmanager, generic JSON).
    Webhook,
    /// Replayed from a file.
    Replay,
}

/// What the event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// An interface (line protocol or physical link).
    Link,
    /// A BGP session.
    BgpPeer,
    /// A monitoring alert.
    Alert,
    /// Anything else (kept for replay and user patterns, not acted on).
    Other,
}

/// The state the event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventState {
    /// Link or session up.
    Up,
    /// Link or session down.
    Down,
    /// Alert firing.
    Firing,
    /// Alert resolved.
    Resolved,
    /// Not a state change.
    Unknown,
}

impl EventState {
    /// Down or firing: the bad direction.
    pub fn is_bad(self) -> bool {
        matches!(self, Self::Down | Self::Firing)
    }

    /// Up or resolved: the good direction.
    pub fn is_good(self) -> bool {
        matches!(self, Self::Up | Self::Resolved)
    }
}

impl fmt::Display for EventState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Up => "up",
            Self::Down => "down",
            Self::Firing => "firing",
            Self::Resolved => "resolved",
            Self::Unknown => "unknown",
        })
    }
}

/// Who sent it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Device {
    /// Hostname from the message (syslog HOSTNAME, `sysName`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Agent or sender address as the message states it (SNMP agent-addr).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Alert labels (webhook).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// One canonical event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Process-unique, increasing id.
    pub id: u64,
    /// When the source received it.
    pub received_at: EpochMillis,
    /// Which source.
    pub source: SourceKind,
    /// UDP/TCP/HTTP peer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<SocketAddr>,
    /// The device.
    pub device: Device,
    /// Link, BGP peer, alert, other.
    pub kind: EventKind,
    /// Interface name or ifIndex, peer address, alert fingerprint.
    pub entity: String,
    /// Up, down, firing, resolved.
    pub state: EventState,
    /// An operator did it (admin shutdown), as opposed to a failure.
    #[serde(default)]
    pub administrative: bool,
    /// Vendor details: mnemonic, reason, VRF, AS, ... Keys are mostly
    /// static names, so they are borrowed rather than allocated per event.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<Cow<'static, str>, String>,
    /// The message as received (at most [`RAW_MAX_BYTES`]).
    pub raw: String,
}

impl Event {
    /// A new event with a fresh id; attributes empty, not administrative.
    // Each argument is a field every event must have; a builder would only hide that.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        source: SourceKind,
        received_at: EpochMillis,
        peer: Option<SocketAddr>,
        device: Device,
        kind: EventKind,
        entity: String,
        state: EventState,
        raw: &str,
    ) -> Self {
        Self {
            id: next_event_id(),
            received_at,
            source,
            peer,
            device,
            kind,
            entity,
            state,
            administrative: false,
            attributes: BTreeMap::new(),
            raw: bounded_raw(raw),
        }
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A fresh event id.
pub fn next_event_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// `raw` cut to at most [`RAW_MAX_BYTES`] at a character boundary.
pub fn bounded_raw(raw: &str) -> String {
    let mut end = raw.len().min(RAW_MAX_BYTES);
    while !raw.is_char_boundary(end) {
        end -= 1;
    }
    raw[..end].to_owned()
}
