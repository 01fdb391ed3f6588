//! The syslog socket tasks: UDP datagrams and TCP streams in, canonical
//! events out on a bounded channel.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use megaport::types::EpochMillis;
use std::io::IoSliceMut;
use std::os::fd::AsRawFd;

use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::classify::{Classified, UserPattern, classify_with};
use super::framing::{DEFAULT_MAX_FRAME, Frame, Framer};
use super::parse::{Syslog, parse};
use super::watch::Watch;
use crate::event::{Device, Event, EventKind, EventState, SourceKind};
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
    task: JoinHandle<()>,
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
        };
        match config.listen {
            Listen::Udp(addr) => {
                let (socket, granted) = bind_udp(addr, config.recv_buffer_bytes)?;
                let local_addr = socket.local_addr()?;
                tracing::info!(%local_addr, requested = config.recv_buffer_bytes, granted, "syslog UDP listening");
                let max = config.max_message_bytes;
                let task = tokio::spawn(run_udp(socket, handler, max, shutdown));
                Ok(Self { local_addr, recv_buffer_bytes: Some(granted), metrics, task })
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
                Ok(Self { local_addr, recv_buffer_bytes: None, metrics, task })
            }
        }
    }

    /// Waits until the source has drained and stopped (after shutdown).
    pub async fn join(self) {
        let _ = self.task.await;
    }
}

fn bind_udp(addr: SocketAddr, recv_buffer: usize) -> std::io::Result<(UdpSocket, usize)> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    // The kernel caps this at net.core.rmem_max (and doubles it); what we got is logged.
    if let Err(e) = socket.set_recv_buffer_size(recv_buffer) {
        tracing::warn!(error = %e, "cannot set the UDP receive buffer");
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    let granted = socket.recv_buffer_size().unwrap_or(0);
    Ok((UdpSocket::from_std(socket.into())?, granted))
}

#[derive(Debug, Clone)]
struct Handler {
    patterns: Arc<[UserPattern]>,
    events: mpsc::Sender<Event>,
    metrics: Arc<SourceMetrics>,
    forward_unclassified: bool,
    watch: Option<Arc<Watch>>,
    last_peer: PeerText,
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
    /// One message: parse, classify, forward. Never blocks, never panics.
    fn handle(&mut self, bytes: &[u8], peer: SocketAddr, received_at: EpochMillis) {
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
            let hostname = msg.hostname.or(c.hostname.as_deref());
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
        if self.events.try_send(event).is_err() {
            self.metrics.inc(Counter::QueueFull);
        }
    }
}

/// The canonical event of a classified syslog message.
pub fn event_from(
    msg: &Syslog<'_>,
    c: Classified,
    peer: Option<SocketAddr>,
    address: String,
    received_at: EpochMillis,
) -> Event {
    let device = Device {
        hostname: msg.hostname.map(str::to_owned).or(c.hostname),
        address: Some(address),
        labels: Default::default(),
    };
    let mut e = Event::new(SourceKind::Syslog, received_at, peer, device, c.kind, c.entity, c.state, msg.raw);
    e.administrative = c.administrative;
    e.attributes = c.attributes.into_iter().map(|(k, v)| (std::borrow::Cow::Borrowed(k), v)).collect();
    e
}

/// Datagrams taken per `recvmmsg` call.
const RECV_BATCH: usize = 64;

/// One `recvmmsg` into `bufs`; `(length, sender)` per datagram. `WouldBlock`
/// when nothing is queued, so tokio's readiness is cleared by `try_io`.
fn recv_batch(
    socket: &UdpSocket,
    bufs: &mut [Vec<u8>],
    out: &mut Vec<(usize, Option<SocketAddr>)>,
) -> std::io::Result<()> {
    socket.try_io(tokio::io::Interest::READABLE, || {
        // Built per call: the headers hold raw pointers, so they cannot live
        // across an await in a Send task; a batch amortises the allocation.
        let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(bufs.len(), None);
        let mut iovs: Vec<[IoSliceMut<'_>; 1]> = bufs.iter_mut().map(|b| [IoSliceMut::new(b)]).collect();
        let results = recvmmsg(socket.as_raw_fd(), &mut headers, iovs.iter_mut(), MsgFlags::MSG_DONTWAIT, None)
            .map_err(std::io::Error::from)?;
        out.clear();
        out.extend(results.map(|r| (r.bytes, r.address.and_then(|a| to_socket_addr(&a)))));
        if out.is_empty() { Err(std::io::ErrorKind::WouldBlock.into()) } else { Ok(()) }
    })
}

fn to_socket_addr(a: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::from((v4.ip(), v4.port())));
    }
    a.as_sockaddr_in6().map(|v6| SocketAddr::from((v6.ip(), v6.port())))
}

async fn run_udp(socket: UdpSocket, mut handler: Handler, max: usize, shutdown: CancellationToken) {
    // One byte more than allowed tells an oversize datagram from a full one.
    let mut bufs = vec![vec![0u8; max + 1]; RECV_BATCH];
    let mut got = Vec::with_capacity(RECV_BATCH);
    let mut errors = RateLimitedLog::new(Duration::from_secs(10));
    let m = handler.metrics.clone();
    let unknown_peer = SocketAddr::from(([0, 0, 0, 0], 0));
    let mut draining = false;
    loop {
        if !draining {
            tokio::select! {
                () = shutdown.cancelled() => draining = true,
                r = socket.readable() => {
                    if let Err(e) = r {
                        m.inc(Counter::ReceiveError);
                        if let Some(n) = errors.allow() { tracing::warn!(error = %e, suppressed = n, "syslog UDP socket error"); }
                        continue;
                    }
                }
            }
        }
        // Take everything the kernel holds, a batch per system call, before waiting again.
        let mut drained = 0usize;
        loop {
            match recv_batch(&socket, &mut bufs, &mut got) {
                Ok(()) => {
                    let now = EpochMillis::now();
                    drained += got.len();
                    m.add(Counter::Received, got.len() as u64);
                    for (i, &(n, peer)) in got.iter().enumerate() {
                        if n > max {
                            m.inc(Counter::Oversize);
                            continue;
                        }
                        handler.handle(&bufs[i][..n], peer.unwrap_or(unknown_peer), now);
                    }
                    if got.len() < RECV_BATCH {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    m.inc(Counter::ReceiveError);
                    if let Some(n) = errors.allow() {
                        tracing::warn!(error = %e, suppressed = n, "syslog UDP receive error");
                    }
                    break;
                }
            }
        }
        if draining {
            tracing::debug!("syslog UDP source drained and stopped");
            return;
        }
        // Under sustained load (more than a batch per wake-up), let datagrams
        // gather for a millisecond so the next wake-up reads full batches:
        // far fewer system calls and wake-ups per message, at the cost of at
        // most 1 ms of latency, and only while the burst lasts (the 8 MiB
        // receive buffer holds ~50,000 typical messages).
        if drained > RECV_BATCH {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
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
        if n == 0 || shutdown.is_cancelled() {
            if let Some(r) = framer.finish() {
                h.metrics.inc(Counter::Received);
                h.handle(framer.bytes(r), peer, now);
            }
            return;
        }
    }
}
