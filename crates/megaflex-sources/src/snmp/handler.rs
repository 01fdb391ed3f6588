//! The per-datagram work of the trap receiver: decode (community or USM),
//! answer informs and discovery, classify, build the event, hand events over
//! in batches. Apart from the listener (`server.rs`), so the receiver thread
//! depends on it and the server on both, with no loop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use megaflex_domain::event::{Device, Event, EventKind, EventState, SourceKind, next_event_id};
use megaport_types::EpochMillis;
use tokio::sync::mpsc;

use super::classify::classify;
use super::decode::{DecodeError, Notification, SNMP_TRAP_ADDRESS, Value, peek_version};
use super::pdu::{decode_community, inform_response_v2c, push_decimal_str};
use super::usm::UsmUser;
use super::v3::{Usm, UsmError};
use crate::metrics::{Counter, RateLimitedLog, SourceMetrics};
use crate::peer_text::PeerText;

/// Settings of the trap listener.
#[derive(Debug, Clone)]
pub struct SnmpTrapConfig {
    /// UDP address (162 in production; a high port needs no privileges).
    pub listen: SocketAddr,
    /// Accepted v1/v2c communities; empty accepts none (v3 only).
    pub communities: Vec<String>,
    /// v3 users: informs are authenticated with keys localised to
    /// `engine_id`, traps with keys localised to the user's sender engine.
    pub users: Vec<UsmUser>,
    /// megaflex's SNMP engine ID (authoritative for informs).
    pub engine_id: Vec<u8>,
    /// megaflex's engineBoots: the daemon counts restarts in the store.
    pub engine_boots: u32,
    /// Kernel receive buffer to ask for, in bytes.
    pub recv_buffer_bytes: usize,
    /// Forward notifications that are neither link nor BGP as `Other` events.
    pub forward_unclassified: bool,
}

impl SnmpTrapConfig {
    /// Defaults: community `public`, 8 MiB receive buffer, a random engine
    /// ID in its first boot (the daemon uses the store's instead).
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            communities: vec!["public".into()],
            users: Vec::new(),
            engine_id: random_engine_id(),
            engine_boots: 1,
            recv_buffer_bytes: 8 << 20,
            forward_unclassified: false,
        }
    }
}

/// An engine ID in RFC 3411 form: enterprise bit set, enterprise 0,
/// format 5 (octets, administratively assigned), 8 random bytes. *Why not
/// Net-SNMP's enterprise 8072*: it would pass megaflex off as a Net-SNMP agent.
pub fn random_engine_id() -> Vec<u8> {
    use std::hash::BuildHasher;
    let r = std::collections::hash_map::RandomState::new().hash_one(std::time::SystemTime::now());
    let mut id = vec![0x80, 0, 0, 0, 5];
    id.extend_from_slice(&r.to_be_bytes());
    id
}

/// Handles the datagrams of one source; owned by its receiver thread.
pub(super) struct Handler {
    config: SnmpTrapConfig,
    usm: Usm,
    pub(super) events: mpsc::Sender<Event>,
    pub(super) metrics: Arc<SourceMetrics>,
    log: RateLimitedLog,
    /// Events of the datagrams handled since the last `flush`.
    ready: Vec<Event>,
    peer_text: PeerText,
}

impl Handler {
    pub(super) fn new(
        config: SnmpTrapConfig,
        usm: Usm,
        events: mpsc::Sender<Event>,
        metrics: Arc<SourceMetrics>,
    ) -> Self {
        Self {
            config,
            usm,
            events,
            metrics,
            log: RateLimitedLog::new(Duration::from_secs(10)),
            ready: Vec::new(),
            peer_text: PeerText::default(),
        }
    }

    pub(super) fn warn(&mut self, what: &str, peer: SocketAddr, detail: &str) {
        if let Some(n) = self.log.allow() {
            tracing::warn!(%peer, suppressed = n, "{what}: {detail}");
        }
    }

    /// The notification, or the counter it is dropped under; and what to answer.
    fn decode(
        &mut self,
        buf: &[u8],
        peer: SocketAddr,
        now: Instant,
    ) -> (Result<Notification, Counter>, Option<Vec<u8>>) {
        let version = match peek_version(buf) {
            Ok(v) => v,
            Err(_) => return (Err(Counter::Malformed), None),
        };
        if version == 3 {
            let out = self.usm.process(buf, now);
            let result = match out.result {
                Ok(n) => Ok(n),
                Err(UsmError::Decode(DecodeError::NotNotification(_))) => Err(Counter::Unclassified),
                Err(UsmError::Decode(_)) => Err(Counter::Malformed),
                // Answered with a Report: the sender's normal first step, not a fault.
                Err(UsmError::Discovery) => Err(Counter::Parsed),
                Err(other) => {
                    self.warn("SNMPv3 notification refused", peer, &other.to_string());
                    Err(Counter::Auth)
                }
            };
            return (result, out.reply);
        }
        let n = match decode_community(buf) {
            Ok(n) => n,
            Err(DecodeError::NotNotification(_)) => return (Err(Counter::Unclassified), None),
            Err(_) => return (Err(Counter::Malformed), None),
        };
        let community = n.community.as_deref().unwrap_or_default();
        if !self.config.communities.iter().any(|c| c == community) {
            self.warn("trap with a wrong community dropped", peer, "community not configured");
            return (Err(Counter::Auth), None);
        }
        // An inform is acknowledged whether or not we act on it.
        let reply = if n.inform_request_id.is_some() { inform_response_v2c(buf) } else { None };
        (Ok(n), reply)
    }

    /// Handles one datagram: its event (if any) waits for `flush`; the
    /// returned bytes (a Response or Report) go back to `peer`.
    pub(super) fn handle(
        &mut self,
        buf: &[u8],
        peer: SocketAddr,
        now: EpochMillis,
        instant: Instant,
    ) -> Option<Vec<u8>> {
        let (n, reply) = match self.decode(buf, peer, instant) {
            (Ok(n), reply) => (n, reply),
            (Err(c), reply) => {
                self.metrics.inc(c);
                return reply;
            }
        };
        self.metrics.inc(Counter::Parsed);
        if let Some(event) = self.event(n, peer, now) {
            self.ready.push(event);
        }
        reply
    }

    fn event(&mut self, n: Notification, peer: SocketAddr, now: EpochMillis) -> Option<Event> {
        let m = &self.metrics;
        let classified = classify(&n);
        let (kind, entity, state, administrative, extra) = match classified {
            Some(c) => {
                m.inc(Counter::Classified);
                (c.kind, c.entity, c.state, c.administrative, c.attributes)
            }
            None if self.config.forward_unclassified => {
                (EventKind::Other, n.trap_oid.clone(), EventState::Unknown, false, Vec::new())
            }
            None => {
                m.inc(Counter::Unclassified);
                return None;
            }
        };
        let agent = match (n.agent_addr, n.find(SNMP_TRAP_ADDRESS)) {
            (Some(a), _) => a.to_string(),
            (None, Some((_, v))) => v.as_text(),
            (None, None) => self.peer_text.of(peer.ip()).to_owned(),
        };
        let mut raw = String::with_capacity(n.varbinds.iter().map(|(o, _)| o.len() + 16).sum());
        for (o, v) in &n.varbinds {
            raw.push_str(o);
            raw.push('=');
            push_value(&mut raw, v);
            raw.push(' ');
        }
        let mut attributes: std::collections::BTreeMap<std::borrow::Cow<'static, str>, String> =
            extra.into_iter().map(|(k, v)| (std::borrow::Cow::Borrowed(k), v)).collect();
        attributes.insert("version".into(), n.version.as_str().to_owned());
        if let Some(u) = n.user {
            attributes.insert("user".into(), u);
        }
        attributes.insert("trap_oid".into(), n.trap_oid);
        Some(Event {
            id: next_event_id(),
            received_at: now,
            source: SourceKind::SnmpTrap,
            peer: Some(peer),
            device: Device { hostname: None, address: Some(agent), labels: Default::default() },
            kind,
            entity,
            state,
            administrative,
            attributes,
            raw: bounded(raw),
        })
    }

    /// Hands the events handled so far to the engine: once per drain, so
    /// the consumer is woken once for many events.
    pub(super) fn flush(&mut self) {
        crate::queue::hand_over(&mut self.ready, &self.events, &self.metrics);
    }

    /// Events waiting for `flush`.
    pub(super) fn ready_len(&self) -> usize {
        self.ready.len()
    }
}

/// `raw` without its trailing space, cut like [`megaflex_domain::event::bounded_raw`]
/// but in place (no second copy of every event's text).
fn bounded(mut raw: String) -> String {
    raw.truncate(raw.trim_end().len());
    if raw.len() > megaflex_domain::event::RAW_MAX_BYTES {
        let mut end = megaflex_domain::event::RAW_MAX_BYTES;
        while !raw.is_char_boundary(end) {
            end -= 1;
        }
        raw.truncate(end);
    }
    raw
}

/// A value as text, appended without an intermediate `String` for numbers.
fn push_value(out: &mut String, v: &Value) {
    use std::fmt::Write as _;
    match v {
        Value::Int(i) => {
            if *i < 0 {
                out.push('-');
            }
            push_decimal_str(out, i.unsigned_abs());
        }
        Value::Unsigned(u) => push_decimal_str(out, *u),
        Value::Ticks(t) => push_decimal_str(out, u64::from(*t)),
        Value::Ip(ip) => {
            let _ = write!(out, "{ip}");
        }
        Value::Str(s) | Value::Oid(s) | Value::Other(s) => out.push_str(s),
    }
}
