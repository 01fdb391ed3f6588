//! A TCP listener for the HTTP servers (the engine's and the webhook's)
//! that a hostile or careless client cannot exhaust: at most
//! `max_connections` at once (beyond it the longest-idle connection is
//! closed, so a real client always gets in), and a connection that does not
//! complete a request within `idle_timeout` of being accepted or of its
//! previous answer is closed (idle keep-alives and slow-loris headers
//! alike). File descriptors held by clients are then bounded, which keeps
//! room for the store and the outbound Megaport and ServiceNow calls.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::Response;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;

use crate::metrics::{Counter, Gauge, RateLimitedLog, SourceMetrics};

/// Limits of one listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    /// Most connections at once.
    pub max_connections: usize,
    /// How long a connection may go without completing a request.
    pub idle_timeout: Duration,
}

impl Default for ConnLimits {
    fn default() -> Self {
        Self { max_connections: 128, idle_timeout: Duration::from_secs(10) }
    }
}

#[derive(Debug)]
struct ConnState {
    /// Requests being served now: a busy connection is never cut.
    busy: AtomicUsize,
    /// Milliseconds since `Registry::epoch` of the accept or the last answer.
    last_done_ms: AtomicU64,
    evicted: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

#[derive(Debug)]
struct Registry {
    epoch: Instant,
    conns: Mutex<HashMap<u64, Arc<ConnState>>>,
    metrics: Arc<SourceMetrics>,
}

impl Registry {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// A listener with [`ConnLimits`].
#[derive(Debug)]
pub struct LimitedListener {
    inner: TcpListener,
    limits: ConnLimits,
    registry: Arc<Registry>,
    next_id: u64,
    log: RateLimitedLog,
}

impl LimitedListener {
    /// Wraps a bound listener; connection counts go to `metrics`.
    /// `max_connections` is lowered to this listener's share of the
    /// descriptors when the soft `RLIMIT_NOFILE` is small.
    pub fn new(inner: TcpListener, mut limits: ConnLimits, metrics: Arc<SourceMetrics>) -> Self {
        if let Some(nofile) = soft_nofile() {
            let fitted = fit_to_nofile(limits.max_connections, nofile);
            if fitted < limits.max_connections {
                tracing::warn!(
                    nofile,
                    wanted = limits.max_connections,
                    fitted,
                    "connection limit lowered to fit the file descriptor limit"
                );
                limits.max_connections = fitted;
            }
        }
        let registry = Arc::new(Registry { epoch: Instant::now(), conns: Mutex::default(), metrics });
        Self { inner, limits, registry, next_id: 0, log: RateLimitedLog::new(Duration::from_secs(10)) }
    }

    /// Makes room for one more: closes the longest-idle connection not
    /// being served. `false` when every connection is busy.
    fn make_room(&self, conns: &HashMap<u64, Arc<ConnState>>) -> bool {
        let live = conns.values().filter(|c| !c.evicted.load(Ordering::Relaxed)).count();
        if live < self.limits.max_connections {
            return true;
        }
        let oldest = conns
            .values()
            .filter(|c| c.busy.load(Ordering::Relaxed) == 0 && !c.evicted.load(Ordering::Relaxed))
            .min_by_key(|c| c.last_done_ms.load(Ordering::Relaxed));
        let Some(victim) = oldest else { return false };
        victim.evicted.store(true, Ordering::Relaxed);
        if let Some(w) = victim.waker.lock().unwrap_or_else(|e| e.into_inner()).take() {
            w.wake();
        }
        self.registry.metrics.inc(Counter::ConnectionEvicted);
        true
    }
}

impl Listener for LimitedListener {
    type Io = LimitedIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (stream, addr) = match self.inner.accept().await {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and the like: wait rather than spin; the idle
                    // timeout and eviction free descriptors meanwhile.
                    self.registry.metrics.inc(Counter::ReceiveError);
                    if let Some(suppressed) = self.log.allow() {
                        tracing::warn!(error = %e, suppressed, "accept failed");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let registry = self.registry.clone();
            let mut conns = registry.conns.lock().unwrap_or_else(|e| e.into_inner());
            if !self.make_room(&conns) {
                drop(stream);
                continue;
            }
            self.next_id += 1;
            let state = Arc::new(ConnState {
                busy: AtomicUsize::new(0),
                last_done_ms: AtomicU64::new(registry.now_ms()),
                evicted: AtomicBool::new(false),
                waker: Mutex::new(None),
            });
            conns.insert(self.next_id, state.clone());
            drop(conns);
            registry.metrics.shift(Gauge::ConnectionsOpen, 1);
            let io = LimitedIo {
                inner: stream,
                state,
                registry,
                id: self.next_id,
                idle_timeout: self.limits.idle_timeout,
                sleep: Box::pin(tokio::time::sleep(self.limits.idle_timeout)),
            };
            return (io, addr);
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A connection of a [`LimitedListener`].
#[derive(Debug)]
pub struct LimitedIo {
    inner: TcpStream,
    state: Arc<ConnState>,
    registry: Arc<Registry>,
    id: u64,
    idle_timeout: Duration,
    sleep: Pin<Box<Sleep>>,
}

impl Drop for LimitedIo {
    fn drop(&mut self) {
        self.registry.conns.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.id);
        self.registry.metrics.shift(Gauge::ConnectionsOpen, -1);
    }
}

impl AsyncRead for LimitedIo {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.state.evicted.load(Ordering::Relaxed) {
            return Poll::Ready(Ok(())); // end of stream: hyper closes quietly
        }
        if let Poll::Ready(r) = Pin::new(&mut this.inner).poll_read(cx, buf) {
            return Poll::Ready(r);
        }
        *this.state.waker.lock().unwrap_or_else(|e| e.into_inner()) = Some(cx.waker().clone());
        loop {
            if this.sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let last = this.state.last_done_ms.load(Ordering::Relaxed);
            let idle_ms = u64::try_from(this.idle_timeout.as_millis()).unwrap_or(u64::MAX);
            let now = this.registry.now_ms();
            let deadline = last.saturating_add(idle_ms);
            if this.state.busy.load(Ordering::Relaxed) > 0 || now < deadline {
                let wait = if now < deadline { deadline - now } else { idle_ms };
                this.sleep.as_mut().reset(tokio::time::Instant::now() + Duration::from_millis(wait));
                continue;
            }
            this.registry.metrics.inc(Counter::ConnectionTimedOut);
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "no complete request in time")));
        }
    }
}

impl AsyncWrite for LimitedIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// What handlers learn about the connection (`ConnectInfo<Peer>`).
#[derive(Debug, Clone)]
pub struct Peer {
    /// The client's address.
    pub addr: SocketAddr,
    state: Arc<ConnState>,
    registry: Arc<Registry>,
}

impl axum::extract::connect_info::Connected<IncomingStream<'_, LimitedListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, LimitedListener>) -> Self {
        let io = stream.io();
        Self { addr: *stream.remote_addr(), state: io.state.clone(), registry: io.registry.clone() }
    }
}

/// Middleware: marks the connection busy while a request is served, and
/// restarts its idle clock when the answer is ready.
pub async fn track_requests(ConnectInfo(peer): ConnectInfo<Peer>, req: Request, next: Next) -> Response {
    peer.state.busy.fetch_add(1, Ordering::Relaxed);
    let response = next.run(req).await;
    peer.state.last_done_ms.store(peer.registry.now_ms(), Ordering::Relaxed);
    peer.state.busy.fetch_sub(1, Ordering::Relaxed);
    response
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (systemd starts
/// services at 1,024 soft), so the connection limits, the store and the
/// outbound clients fit. Returns the soft limit now in force.
pub fn raise_nofile_limit() -> io::Result<u64> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(io::Error::from)?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).map_err(io::Error::from)?;
    }
    Ok(hard.max(soft))
}

/// Descriptors kept free for the store, outbound calls, UDP sockets and
/// logs whatever clients do.
pub const FD_RESERVE: u64 = 256;

/// Listeners that hold connections (the engine's HTTP, webhooks, syslog
/// TCP): each may take at most its share of what is left after the reserve.
const CONNECTION_LISTENERS: u64 = 4;

/// `wanted`, lowered to this listener's share of `nofile`.
pub fn fit_to_nofile(wanted: usize, nofile: u64) -> usize {
    let share = nofile.saturating_sub(FD_RESERVE) / CONNECTION_LISTENERS;
    let fitted = (wanted as u64).min(share.max(8));
    usize::try_from(fitted).unwrap_or(wanted)
}

fn soft_nofile() -> Option<u64> {
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).ok().map(|(soft, _)| soft)
}

/// Compares secrets in constant time: both are hashed first, so neither the
/// content nor the length of the expected secret shows in the time taken.
pub fn secret_eq(given: &[u8], expected: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    Sha256::digest(given).ct_eq(&Sha256::digest(expected)).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_fit_into_the_descriptors() {
        assert_eq!(fit_to_nofile(1024, 1024), 192);
        assert_eq!(fit_to_nofile(128, 1024), 128);
        assert_eq!(fit_to_nofile(4096, 1 << 20), 4096);
        assert_eq!(fit_to_nofile(100, 10), 8);
    }
}
