//! Syslog over TCP and TLS: the accept loop, the connection limit with
//! oldest-idle eviction, idle and read timeouts, and the per-connection
//! read loop (RFC 6587 framing over whatever the stream delivers).
//!
//! *Why eviction rather than refusal at the limit*: refusing lets a few
//! hundred idle or slow-loris connections keep every router out; evicting
//! the connection that has gone longest without a complete message lets a
//! real router in while the attacker's connections, which never complete
//! one, go first.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use megaport_types::EpochMillis;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::framing::{Frame, Framer};
use super::handler::Handler;
use super::tls::Acceptor;
use crate::metrics::{Counter, RateLimitedLog, SourceMetrics};

/// Limits of a TCP or TLS listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    /// Most connections at once; at the limit a new one evicts the one
    /// longest without a complete message.
    pub max_connections: usize,
    /// A connection that sends nothing for this long is closed.
    pub idle_timeout: Duration,
    /// A started message (or TLS handshake) must complete within this.
    pub read_timeout: Duration,
    /// Longest message, in bytes.
    pub max_message_bytes: usize,
}

/// One open connection as the accept loop sees it.
#[derive(Debug)]
struct Entry {
    /// Milliseconds since the listener started at its last complete
    /// message (its accept time until then).
    progress_ms: Arc<AtomicU64>,
    kill: CancellationToken,
}

#[derive(Debug, Default)]
struct Registry {
    next_id: u64,
    open: HashMap<u64, Entry>,
}

impl Registry {
    /// Cancels the connection longest without a complete message.
    fn evict_oldest_idle(&mut self) -> bool {
        let victim = self.open.iter().min_by_key(|(_, e)| e.progress_ms.load(Ordering::Relaxed)).map(|(id, _)| *id);
        match victim.and_then(|id| self.open.remove(&id)) {
            Some(e) => {
                e.kill.cancel();
                true
            }
            None => false,
        }
    }
}

/// Accepts until `shutdown`, then waits for every connection to drain.
pub(super) async fn run(
    listener: TcpListener,
    handler: Handler,
    limits: StreamLimits,
    tls: Option<Acceptor>,
    shutdown: CancellationToken,
) {
    let conns: Arc<SourceMetrics> = handler.metrics.clone();
    let conns = &conns.connections;
    let started = Instant::now();
    let registry = Arc::new(Mutex::new(Registry::default()));
    let mut errors = RateLimitedLog::new(Duration::from_secs(10));
    let mut evictions = RateLimitedLog::new(Duration::from_secs(10));
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    conns.accepted.fetch_add(1, Ordering::Relaxed);
                    // A router that vanished (power, a cut link) leaves a
                    // connection that would otherwise wait out idle_timeout.
                    let keepalive = socket2::TcpKeepalive::new()
                        .with_time(Duration::from_secs(60))
                        .with_interval(Duration::from_secs(10))
                        .with_retries(6);
                    let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive);
                    let now_ms = started.elapsed().as_millis() as u64;
                    let progress_ms = Arc::new(AtomicU64::new(now_ms));
                    let kill = CancellationToken::new();
                    let id = {
                        let mut r = registry.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        if r.open.len() >= limits.max_connections && r.evict_oldest_idle() {
                            conns.evicted.fetch_add(1, Ordering::Relaxed);
                            if let Some(n) = evictions.allow() {
                                tracing::warn!(%peer, max_connections = limits.max_connections, suppressed = n,
                                    "syslog connection limit reached; closed the connection idle longest");
                            }
                        }
                        r.next_id += 1;
                        let id = r.next_id;
                        r.open.insert(id, Entry { progress_ms: progress_ms.clone(), kill: kill.clone() });
                        id
                    };
                    let conn = Conn {
                        peer,
                        handler: handler.clone(),
                        limits,
                        started,
                        progress_ms,
                        kill,
                        shutdown: shutdown.clone(),
                        metrics: handler.metrics.clone(),
                    };
                    let (registry, tls) = (registry.clone(), tls.clone());
                    tasks.spawn(async move {
                        conn.metrics.connections.open.fetch_add(1, Ordering::Relaxed);
                        let metrics = conn.metrics.clone();
                        conn.serve(stream, tls).await;
                        metrics.connections.open.fetch_sub(1, Ordering::Relaxed);
                        registry.lock().unwrap_or_else(std::sync::PoisonError::into_inner).open.remove(&id);
                    });
                }
                Err(e) => {
                    handler.metrics.inc(Counter::ReceiveError);
                    if let Some(n) = errors.allow() { tracing::warn!(error = %e, suppressed = n, "syslog TCP accept error"); }
                    // Out of descriptors: make room rather than spin.
                    if e.raw_os_error() == Some(nix::libc::EMFILE) {
                        let mut r = registry.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        if r.evict_oldest_idle() {
                            conns.evicted.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    // Drain: every connection finishes what it has buffered.
    while tasks.join_next().await.is_some() {}
    tracing::debug!("syslog stream source drained and stopped");
}

/// One connection's task.
struct Conn {
    peer: SocketAddr,
    handler: Handler,
    limits: StreamLimits,
    started: Instant,
    progress_ms: Arc<AtomicU64>,
    kill: CancellationToken,
    shutdown: CancellationToken,
    metrics: Arc<SourceMetrics>,
}

/// How a read wait ended.
enum Read {
    Bytes(usize),
    Closed,
    /// Stop now, handling what is buffered.
    Stop,
}

impl Conn {
    async fn serve(mut self, stream: TcpStream, tls: Option<Acceptor>) {
        let Some(acceptor) = tls else { return self.read_loop(stream).await };
        #[cfg(not(feature = "tls"))]
        match acceptor {}
        #[cfg(feature = "tls")]
        {
            let handshake = tokio::select! {
                () = self.kill.cancelled() => return,
                () = self.shutdown.cancelled() => return,
                r = tokio::time::timeout(self.limits.read_timeout, acceptor.accept(stream)) => r,
            };
            match handshake {
                Ok(Ok(tls_stream)) => self.read_loop(tls_stream).await,
                Ok(Err(e)) => {
                    self.metrics.connections.tls_refused.fetch_add(1, Ordering::Relaxed);
                    self.handler.metrics.inc(Counter::Auth);
                    tracing::warn!(peer = %self.peer, error = %e, "syslog TLS handshake refused");
                }
                Err(_) => {
                    self.metrics.connections.timed_out.fetch_add(1, Ordering::Relaxed);
                    self.metrics.connections.tls_refused.fetch_add(1, Ordering::Relaxed);
                    self.handler.metrics.inc(Counter::Auth);
                    tracing::warn!(peer = %self.peer, "syslog TLS handshake not finished in time");
                }
            }
        }
    }

    async fn read_loop<S: AsyncRead + Unpin>(&mut self, mut stream: S) {
        let mut framer = Framer::new(self.limits.max_message_bytes);
        let mut buf = vec![0u8; 64 * 1024];
        let mut last_bytes = Instant::now();
        let mut partial_since: Option<Instant> = None;
        loop {
            let deadline = match partial_since {
                Some(t) => t + self.limits.read_timeout,
                None => last_bytes + self.limits.idle_timeout,
            };
            let read = tokio::select! {
                () = self.shutdown.cancelled() => Read::Stop,
                () = self.kill.cancelled() => Read::Stop,
                () = tokio::time::sleep_until(deadline.into()) => {
                    self.metrics.connections.timed_out.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(peer = %self.peer, partial = partial_since.is_some(), "syslog connection timed out");
                    Read::Closed
                }
                r = stream.read(&mut buf) => match r {
                    Ok(0) => Read::Closed,
                    Ok(n) => Read::Bytes(n),
                    Err(e) => {
                        // A peer that closes without TLS close_notify ends here
                        // too: what it sent before is still handled below.
                        if e.kind() != std::io::ErrorKind::UnexpectedEof {
                            self.handler.metrics.inc(Counter::ReceiveError);
                        }
                        Read::Closed
                    }
                },
            };
            let now = Instant::now();
            match read {
                Read::Bytes(n) => {
                    last_bytes = now;
                    framer.push(&buf[..n]);
                    let completed = self.take_frames(&mut framer);
                    if completed {
                        self.progress_ms.store(now.duration_since(self.started).as_millis() as u64, Ordering::Relaxed);
                    }
                    partial_since = match (framer.is_mid_frame(), partial_since) {
                        (false, _) => None,
                        (true, Some(t)) if !completed => Some(t),
                        (true, _) => Some(now),
                    };
                }
                Read::Stop => {
                    self.drain(&mut stream, &mut framer, &mut buf).await;
                    return self.finish(&mut framer);
                }
                Read::Closed => return self.finish(&mut framer),
            }
        }
    }

    /// At a stop, what already arrived, without waiting long for more.
    async fn drain<S: AsyncRead + Unpin>(&mut self, stream: &mut S, framer: &mut Framer, buf: &mut [u8]) {
        let until = Instant::now() + Duration::from_millis(500);
        while Instant::now() < until {
            match tokio::time::timeout(Duration::from_millis(20), stream.read(buf)).await {
                Ok(Ok(n)) if n > 0 => {
                    framer.push(&buf[..n]);
                    self.take_frames(framer);
                }
                _ => return,
            }
        }
    }

    /// Handles every complete frame; whether there was a message.
    fn take_frames(&mut self, framer: &mut Framer) -> bool {
        let h = &mut self.handler;
        let now = EpochMillis::now();
        let mut completed = false;
        while let Some(frame) = framer.next_frame() {
            h.metrics.inc(Counter::Received);
            match frame {
                Frame::Message(r) => {
                    completed = true;
                    h.handle(framer.bytes(r), self.peer, now);
                }
                Frame::Oversize => h.metrics.inc(Counter::Oversize),
                Frame::Garbage => h.metrics.inc(Counter::Malformed),
            }
        }
        h.flush();
        completed
    }

    /// The connection is over: an unterminated last line is still a message.
    fn finish(&mut self, framer: &mut Framer) {
        if let Some(r) = framer.finish() {
            self.handler.metrics.inc(Counter::Received);
            self.handler.handle(framer.bytes(r), self.peer, EpochMillis::now());
            self.handler.flush();
        }
    }
}
