//! The syslog source: configuration, the per-message handler shared by UDP
//! (its receiver thread is in `udp.rs`) and TCP (tasks here), canonical
//! events out on a bounded channel.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use megaport::types::EpochMillis;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::classify::{Classified, UserPattern, classify_with};
use super::framing::{DEFAULT_MAX_FRAME, Frame, Framer};
use super::parse::{Syslog, parse};
use super::udp::UdpReceiver;
use super::watch::Watch;
use crate::event::{Device, Event, EventKind, EventState, SourceKind};
use crate::source::bind_udp;
use crate::source::metrics::{Counter, RateLimitedLog, SourceMetrics};

/// Where to listen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listen {
    /// `udp://ADDR`.
    Udp(SocketAddr),
    /// `tcp://ADDR`.
    Tcp(SocketAddr),
}

impl std::str::FromStr for Listen {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (scheme, addr) =
            s.split_once("://").ok_or_else(|| format!("{s:?}: use udp://ADDR:PORT or tcp://ADDR:PORT"))?;
        let addr: SocketAddr = addr.parse().map_err(|_| format!("{s:?}: {addr:?} is not an IP address and port"))?;
        match scheme {
            "udp" => Ok(Self::Udp(addr)),
            "tcp" => Ok(Self::Tcp(addr)),
            other => Err(format!("{s:?}: unknown scheme {other:?}; use udp:// or tcp://")),
        }
    }
}

/// Settings of one syslog listener.
#[derive(Debug, Clone)]
pub struct SyslogConfig {
    /// Where.
    pub listen: Listen,
    /// Kernel receive buffer to ask for (UDP), in bytes. Large buffers are
    /// what keeps bursts from being lost in the kernel.
    pub recv_buffer_bytes: usize,
    /// Longest message accepted, in bytes.
    pub max_message_bytes: usize,
    /// Most TCP connections at once.
    pub max_connections: usize,
    /// Forward messages no rule recognised as `EventKind::Other` events.
    pub forward_unclassified: bool,
    /// Forward only events some link watches (`None`: every event).
    pub watch: Option<Arc<Watch>>,
}

impl SyslogConfig {
    /// Defaults for `listen`: 8 MiB receive buffer, 64 KiB messages, 1024 connections.
    pub fn new(listen: Listen) -> Self {
        Self {
            listen,
            recv_buffer_bytes: 8 * 1024 * 1024,
            max_message_bytes: DEFAULT_MAX_FRAME,
            max_connections: 1024,
            forward_unclassified: false,
            watch: None,
        }
    }
}

/// A running syslog source.
#[derive(Debug)]
pub struct SyslogSource {
    /// The bound address (useful with port 0).
    pub local_addr: SocketAddr,
    /// Receive buffer the kernel granted (UDP), in bytes.
    pub recv_buffer_bytes: Option<usize>,
    /// Counters.
    pub metrics: Arc<SourceMetrics>,
    running: Running,
}

#[derive(Debug)]
enum Running {
    Task(JoinHandle<()>),
    Thread(UdpReceiver),
}

impl SyslogSource {
    /// Binds and starts the task. Fails only if the socket cannot be bound.
    pub async fn spawn(
        config: SyslogConfig,
        patterns: Arc<[UserPattern]>,
        events: mpsc::Sender<Event>,
        shutdown: CancellationToken,
    ) -> std::io::Result<Self> {
        let metrics = Arc::new(SourceMetrics::default());
        let handler = Handler {
            patterns,
            events,
            metrics: metrics.clone(),
            forward_unclassified: config.forward_unclassified,
            watch: config.watch.clone(),
            last_peer: PeerText::default(),
            ready: Vec::new(),
        };
        match config.listen {
            Listen::Udp(addr) => {
                let (socket, granted) = bind_udp(addr, config.recv_buffer_bytes)?;
                let local_addr = socket.local_addr()?;
                tracing::info!(%local_addr, requested = config.recv_buffer_bytes, granted, "syslog UDP listening");
                let receiver = UdpReceiver::spawn(socket, handler, config.max_message_bytes, shutdown)?;
                Ok(Self { local_addr, recv_buffer_bytes: Some(granted), metrics, running: Running::Thread(receiver) })
            }
            Listen::Tcp(addr) => {
                let listener = TcpListener::bind(addr).await?;
                let local_addr = listener.local_addr()?;
                tracing::info!(%local_addr, "syslog TCP listening");
                let task = tokio::spawn(run_tcp(
                    listener,
                    handler,
                    config.max_message_bytes,
                    config.max_connections,
                    shutdown,
                ));
                Ok(Self { local_addr, recv_buffer_bytes: None, metrics, running: Running::Task(task) })
            }
        }
    }

    /// Waits until the source has drained and stopped (after shutdown).
    pub async fn join(self) {
        match self.running {
            Running::Task(task) => drop(task.await),
            Running::Thread(receiver) => receiver.join().await,
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct Handler {
    patterns: Arc<[UserPattern]>,
    pub(super) events: mpsc::Sender<Event>,
    pub(super) metrics: Arc<SourceMetrics>,
    forward_unclassified: bool,
    watch: Option<Arc<Watch>>,
    last_peer: PeerText,
    /// Events of the messages handled since the last `flush`.
    ready: Vec<Event>,
}

/// The last sender's address as text: most datagrams come from a few
/// routers, and formatting an address per event showed in profiles.
#[derive(Debug, Clone, Default)]
struct PeerText(Option<(std::net::IpAddr, String)>);

impl PeerText {
    fn of(&mut self, peer: SocketAddr) -> &str {
        if self.0.as_ref().is_none_or(|(ip, _)| *ip != peer.ip()) {
            self.0 = Some((peer.ip(), peer.ip().to_string()));
        }
        self.0.as_ref().map_or("", |(_, text)| text.as_str())
    }
}

impl Handler {
    /// One message: parse, classify, keep its event for `flush`. Never
    /// blocks, never panics.
    pub(super) fn handle(&mut self, bytes: &[u8], peer: SocketAddr, received_at: EpochMillis) {
        let m = &self.metrics;
        let msg = match parse(bytes) {
            Ok(msg) => msg,
            Err(_) => {
                m.inc(Counter::Malformed);
                return;
            }
        };
        m.inc(Counter::Parsed);
        let classified = classify_with(&msg, &self.patterns);
        if classified.is_none() && !self.forward_unclassified {
            m.inc(Counter::Unclassified);
            return;
        }
        if let (Some(c), Some(watch)) = (&classified, &self.watch) {
            let hostname = c.hostname.as_deref().or(msg.hostname);
            if !watch.wants(c.kind, &c.entity, hostname, self.last_peer.of(peer)) {
                self.metrics.inc(Counter::Unwatched);
                return;
            }
        }
        let address = self.last_peer.of(peer).to_owned();
        let event = match classified {
            Some(c) => {
                self.metrics.inc(Counter::Classified);
                event_from(&msg, c, Some(peer), address, received_at)
            }
            None => {
                let device = Device {
                    hostname: msg.hostname.map(str::to_owned),
                    address: Some(address),
                    labels: Default::default(),
                };
                let entity = msg.app.unwrap_or_default().to_owned();
                let kind = EventKind::Other;
                Event::new(
                    SourceKind::Syslog,
                    received_at,
                    Some(peer),
                    device,
                    kind,
                    entity,
                    EventState::Unknown,
                    msg.raw,
                )
            }
        };
        self.ready.push(event);
    }

    /// Hands the events of the messages handled so far to the engine. Called
    /// once per read rather than per message: the consumer is then woken once
    /// for many events, where waking it per event cost more than parsing
    /// (docs/BENCHMARKS.md).
    pub(super) fn flush(&mut self) {
        for event in self.ready.drain(..) {
            if self.events.try_send(event).is_err() {
                self.metrics.inc(Counter::QueueFull);
            }
        }
    }

    /// Events waiting for `flush`.
    pub(super) fn ready_len(&self) -> usize {
        self.ready.len()
    }
}

/// The canonical event of a classified syslog message.
pub fn event_from(
    msg: &Syslog<'_>,
    c: Classified<'_>,
    peer: Option<SocketAddr>,
    address: String,
    received_at: EpochMillis,
) -> Event {
    let device = Device {
        // The body's statement of the origin wins over a relay's HOSTNAME.
        hostname: c.hostname.map(Cow::into_owned).or_else(|| msg.hostname.map(str::to_owned)),
        address: Some(address),
        labels: Default::default(),
    };
    let mut e =
        Event::new(SourceKind::Syslog, received_at, peer, device, c.kind, c.entity.into_owned(), c.state, msg.raw);
    e.administrative = c.administrative;
    // Inserted one by one: a handful of keys, where `collect` would sort a
    // temporary vector first.
    for (k, v) in c.attributes {
        e.attributes.insert(Cow::Borrowed(k), v.into_owned());
    }
    e
}

async fn run_tcp(
    listener: TcpListener,
    handler: Handler,
    max: usize,
    max_connections: usize,
    shutdown: CancellationToken,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(max_connections));
    let mut errors = RateLimitedLog::new(Duration::from_secs(10));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let Ok(permit) = slots.clone().try_acquire_owned() else {
                        handler.metrics.inc(Counter::ReceiveError);
                        if let Some(n) = errors.allow() {
                            tracing::warn!(%peer, max_connections, suppressed = n, "too many syslog TCP connections; refusing");
                        }
                        continue;
                    };
                    let h = handler.clone();
                    let stop = shutdown.clone();
                    connections.spawn(async move {
                        run_connection(stream, peer, h, max, stop).await;
                        drop(permit);
                    });
                }
                Err(e) => {
                    handler.metrics.inc(Counter::ReceiveError);
                    if let Some(n) = errors.allow() { tracing::warn!(error = %e, suppressed = n, "syslog TCP accept error"); }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    // Drain: every connection finishes what it has buffered.
    while connections.join_next().await.is_some() {}
    tracing::debug!("syslog TCP source drained and stopped");
}

async fn run_connection(
    mut stream: tokio::net::TcpStream,
    peer: SocketAddr,
    mut h: Handler,
    max: usize,
    shutdown: CancellationToken,
) {
    let mut framer = Framer::new(max);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = tokio::select! {
            () = shutdown.cancelled() => {
                // Take what already arrived, without waiting for more.
                stream.try_read(&mut buf).unwrap_or_default()
            }
            r = stream.read(&mut buf) => match r {
                Ok(n) => n,
                Err(_) => { h.metrics.inc(Counter::ReceiveError); 0 }
            },
        };
        if n > 0 {
            framer.push(&buf[..n]);
        }
        let now = EpochMillis::now();
        while let Some(frame) = framer.next_frame() {
            match frame {
                Frame::Message(r) => {
                    h.metrics.inc(Counter::Received);
                    h.handle(framer.bytes(r), peer, now);
                }
                Frame::Oversize => {
                    h.metrics.inc(Counter::Received);
                    h.metrics.inc(Counter::Oversize);
                }
                Frame::Garbage => {
                    h.metrics.inc(Counter::Received);
                    h.metrics.inc(Counter::Malformed);
                }
            }
        }
        h.flush();
        if n == 0 || shutdown.is_cancelled() {
            if let Some(r) = framer.finish() {
                h.metrics.inc(Counter::Received);
                h.handle(framer.bytes(r), peer, now);
                h.flush();
            }
            return;
        }
    }
}
