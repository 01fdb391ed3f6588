//! The SNMP trap socket task.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use megaport::types::EpochMillis;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::classify::classify;
use super::decode::{DecodeError, Notification, decode_community, inform_response_v2c, peek_version};
use super::usm::UsmUser;
use super::v3::{Usm, UsmError};
use crate::event::{Device, Event, EventKind, EventState, SourceKind, bounded_raw, next_event_id};
use crate::source::metrics::{Counter, RateLimitedLog, SourceMetrics};

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

/// A running trap source.
#[derive(Debug)]
pub struct SnmpTrapSource {
    /// Bound address.
    pub local_addr: SocketAddr,
    /// Receive buffer granted by the kernel.
    pub recv_buffer_bytes: usize,
    /// Counters.
    pub metrics: Arc<SourceMetrics>,
    task: JoinHandle<()>,
}

struct Handler {
    config: SnmpTrapConfig,
    usm: Usm,
    events: mpsc::Sender<Event>,
    metrics: Arc<SourceMetrics>,
    log: std::sync::Mutex<RateLimitedLog>,
}

/// What one datagram produced: an event to forward and/or a reply to send.
#[derive(Default)]
struct Outcome {
    event: Option<Event>,
    reply: Option<Vec<u8>>,
}

impl Handler {
    fn warn(&self, what: &str, peer: SocketAddr, detail: &str) {
        if let Some(n) = self.log.lock().unwrap_or_else(|e| e.into_inner()).allow() {
            tracing::warn!(%peer, suppressed = n, "{what}: {detail}");
        }
    }

    /// The notification, or the counter it is dropped under; and what to answer.
    fn decode(&self, buf: &[u8], peer: SocketAddr, now: Instant) -> (Result<Notification, Counter>, Option<Vec<u8>>) {
        let version = match peek_version(buf) {
            Ok(v) => v,
            Err(_) => return (Err(Counter::Malformed), None),
        };
        if version == 3 {
            let out = self.usm.process(buf, now);
            let result = out.result.map_err(|e| match e {
                UsmError::Decode(DecodeError::NotNotification(_)) => Counter::Unclassified,
                UsmError::Decode(_) => Counter::Malformed,
                // Answered with a Report: the sender's normal first step, not a fault.
                UsmError::Discovery => Counter::Parsed,
                other => {
                    self.warn("SNMPv3 notification refused", peer, &other.to_string());
                    Counter::Auth
                }
            });
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

    fn handle(&self, buf: &[u8], peer: SocketAddr, now: EpochMillis, instant: Instant) -> Outcome {
        let m = &self.metrics;
        let (n, reply) = match self.decode(buf, peer, instant) {
            (Ok(n), reply) => (n, reply),
            (Err(c), reply) => {
                m.inc(c);
                return Outcome { event: None, reply };
            }
        };
        m.inc(Counter::Parsed);
        let agent = n
            .agent_addr
            .map(|a| a.to_string())
            .or_else(|| n.find(super::decode::SNMP_TRAP_ADDRESS).map(|(_, v)| v.as_text()))
            .unwrap_or_else(|| peer.ip().to_string());
        let mut attributes: std::collections::BTreeMap<std::borrow::Cow<'static, str>, String> =
            [("trap_oid".into(), n.trap_oid.clone()), ("version".into(), format!("{:?}", n.version))].into();
        if let Some(u) = &n.user {
            attributes.insert("user".into(), u.clone());
        }
        let (kind, entity, state, administrative) = match classify(&n) {
            Some(c) => {
                m.inc(Counter::Classified);
                attributes.extend(c.attributes.into_iter().map(|(k, v)| (std::borrow::Cow::Borrowed(k), v)));
                (c.kind, c.entity, c.state, c.administrative)
            }
            None if self.config.forward_unclassified => {
                (EventKind::Other, n.trap_oid.clone(), EventState::Unknown, false)
            }
            None => {
                m.inc(Counter::Unclassified);
                return Outcome { event: None, reply };
            }
        };
        let raw: String = n.varbinds.iter().map(|(o, v)| format!("{o}={} ", v.as_text())).collect();
        let event = Event {
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
            raw: bounded_raw(raw.trim_end()),
        };
        Outcome { event: Some(event), reply }
    }

    fn forward(&self, event: Event) {
        if self.events.try_send(event).is_err() {
            self.metrics.inc(Counter::QueueFull);
        }
    }
}

impl SnmpTrapSource {
    /// Binds and starts.
    pub async fn spawn(
        config: SnmpTrapConfig,
        events: mpsc::Sender<Event>,
        shutdown: CancellationToken,
    ) -> std::io::Result<Self> {
        let (socket, granted) = crate::source::bind_udp(config.listen, config.recv_buffer_bytes)?;
        let socket = UdpSocket::from_std(socket)?;
        let local_addr = socket.local_addr()?;
        tracing::info!(%local_addr, granted, communities = config.communities.len(), v3_users = config.users.len(), "SNMP trap listener");
        let metrics = Arc::new(SourceMetrics::default());
        let usm = Usm::new(&config.engine_id, config.engine_boots, Instant::now(), &config.users, metrics.clone());
        tracing::info!(engine_id = %hex::encode(&config.engine_id), engine_boots = config.engine_boots, "SNMP engine");
        let handler = Arc::new(Handler {
            usm,
            config,
            events,
            metrics: metrics.clone(),
            log: std::sync::Mutex::new(RateLimitedLog::new(Duration::from_secs(10))),
        });
        let task = tokio::spawn(run(socket, handler, shutdown));
        Ok(Self { local_addr, recv_buffer_bytes: granted, metrics, task })
    }

    /// Waits until stopped (after shutdown).
    pub async fn join(self) {
        let _ = self.task.await;
    }
}

async fn run(socket: UdpSocket, h: Arc<Handler>, shutdown: CancellationToken) {
    let mut buf = vec![0u8; 65_536];
    let mut draining = false;
    loop {
        if !draining {
            tokio::select! {
                () = shutdown.cancelled() => draining = true,
                r = socket.readable() => if r.is_err() { h.metrics.inc(Counter::ReceiveError); continue; },
            }
        }
        let (now, instant) = (EpochMillis::now(), Instant::now());
        loop {
            match socket.try_recv_from(&mut buf) {
                Ok((n, peer)) => {
                    h.metrics.inc(Counter::Received);
                    let out = h.handle(&buf[..n], peer, now, instant);
                    // Awaited, not try_: a fresh socket's write readiness is not yet known to tokio.
                    if let Some(reply) = out.reply
                        && let Err(err) = socket.send_to(&reply, peer).await
                    {
                        h.metrics.inc(Counter::ReceiveError);
                        h.warn("cannot answer an inform or probe", peer, &err.to_string());
                    }
                    if let Some(e) = out.event {
                        h.forward(e);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    h.metrics.inc(Counter::ReceiveError);
                    break;
                }
            }
        }
        if draining {
            return;
        }
    }
}
