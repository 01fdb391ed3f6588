//! The SNMP trap socket task.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use megaport::types::EpochMillis;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::classify::classify;
use super::decode::{DecodeError, Notification, decode_community, inform_response_v2c, peek_version};
use super::usm::{UsmError, UsmUser, decode_v3};
use crate::event::{Device, Event, EventKind, EventState, SourceKind, bounded_raw, next_event_id};
use crate::source::metrics::{Counter, RateLimitedLog, SourceMetrics};

/// Settings of the trap listener.
#[derive(Debug, Clone)]
pub struct SnmpTrapConfig {
    /// UDP address (162 in production; a high port needs no privileges).
    pub listen: SocketAddr,
    /// Accepted v1/v2c communities; empty accepts none (v3 only).
    pub communities: Vec<String>,
    /// v3 users, per sender engine ID.
    pub users: Vec<UsmUser>,
    /// Kernel receive buffer to ask for, in bytes.
    pub recv_buffer_bytes: usize,
    /// Forward notifications that are neither link nor BGP as `Other` events.
    pub forward_unclassified: bool,
}

impl SnmpTrapConfig {
    /// Defaults: community `public`, 8 MiB receive buffer.
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            communities: vec!["public".into()],
            users: Vec::new(),
            recv_buffer_bytes: 8 << 20,
            forward_unclassified: false,
        }
    }
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

    fn decode(&self, buf: &[u8], peer: SocketAddr) -> Result<Notification, Counter> {
        let version = peek_version(buf).map_err(|_| Counter::Malformed)?;
        if version == 3 {
            return decode_v3(buf, &self.config.users).map_err(|e| match e {
                UsmError::Decode(_) => Counter::Malformed,
                other => {
                    self.warn("SNMPv3 notification refused", peer, &other.to_string());
                    Counter::Auth
                }
            });
        }
        let n = decode_community(buf).map_err(|e| match e {
            DecodeError::NotNotification(_) => Counter::Unclassified,
            _ => Counter::Malformed,
        })?;
        let community = n.community.as_deref().unwrap_or_default();
        if !self.config.communities.iter().any(|c| c == community) {
            self.warn("trap with a wrong community dropped", peer, "community not configured");
            return Err(Counter::Auth);
        }
        Ok(n)
    }

    fn handle(&self, buf: &[u8], peer: SocketAddr, now: EpochMillis) -> Outcome {
        let m = &self.metrics;
        let n = match self.decode(buf, peer) {
            Ok(n) => n,
            Err(c) => {
                m.inc(c);
                return Outcome::default();
            }
        };
        m.inc(Counter::Parsed);
        // An inform is acknowledged whether or not we act on it.
        let reply =
            if n.inform_request_id.is_some() && n.community.is_some() { inform_response_v2c(buf) } else { None };
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
        let handler = Arc::new(Handler {
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
        let now = EpochMillis::now();
        loop {
            match socket.try_recv_from(&mut buf) {
                Ok((n, peer)) => {
                    h.metrics.inc(Counter::Received);
                    let out = h.handle(&buf[..n], peer, now);
                    // Awaited, not try_: a fresh socket's write readiness is not yet known to tokio.
                    if let Some(reply) = out.reply
                        && let Err(err) = socket.send_to(&reply, peer).await
                    {
                        h.metrics.inc(Counter::ReceiveError);
                        h.warn("cannot answer an inform", peer, &err.to_string());
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
