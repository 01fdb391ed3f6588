//! Per-source counters: received, parsed, classified, and dropped by reason.
//! Lock-free; read by `/metrics` and by tests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

/// Counters of one source.
#[derive(Debug, Default)]
pub struct SourceMetrics {
    received: AtomicU64,
    parsed: AtomicU64,
    classified: AtomicU64,
    unclassified: AtomicU64,
    unwatched: AtomicU64,
    dropped_malformed: AtomicU64,
    dropped_auth: AtomicU64,
    dropped_oversize: AtomicU64,
    dropped_queue_full: AtomicU64,
    receive_errors: AtomicU64,
    /// TCP/TLS connections.
    pub connections: ConnectionMetrics,
}

/// A copy of the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct MetricsSnapshot {
    /// Messages (datagrams, frames, requests) received.
    pub received: u64,
    /// Of those, parsed.
    pub parsed: u64,
    /// Of those, turned into a canonical link/BGP/alert event.
    pub classified: u64,
    /// Parsed but not a known event (noise): counted, not forwarded.
    pub unclassified: u64,
    /// Classified, but about something no link watches: counted, not forwarded.
    pub unwatched: u64,
    /// Could not be parsed.
    pub dropped_malformed: u64,
    /// Wrong community, failed authentication, bad token.
    pub dropped_auth: u64,
    /// Longer than the limit.
    pub dropped_oversize: u64,
    /// The engine's queue was full.
    pub dropped_queue_full: u64,
    /// Socket errors.
    pub receive_errors: u64,
    /// TCP/TLS connections open now.
    pub connections_open: u64,
    /// TCP/TLS connections closed to make room at the connection limit.
    pub connections_evicted: u64,
    /// TCP/TLS connections closed by the idle or read timeout.
    pub connections_timed_out: u64,
}

/// The counters a source can bump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// A message arrived.
    Received,
    /// It parsed.
    Parsed,
    /// It became an event.
    Classified,
    /// It parsed but means nothing to us.
    Unclassified,
    /// An event no link watches.
    Unwatched,
    /// It did not parse.
    Malformed,
    /// It failed authentication.
    Auth,
    /// It was too long.
    Oversize,
    /// The queue was full.
    QueueFull,
    /// The socket failed.
    ReceiveError,
}

impl SourceMetrics {
    /// Adds one.
    pub fn inc(&self, c: Counter) {
        self.add(c, 1);
    }

    /// Adds `n`.
    pub fn add(&self, c: Counter, n: u64) {
        let a = match c {
            Counter::Received => &self.received,
            Counter::Parsed => &self.parsed,
            Counter::Classified => &self.classified,
            Counter::Unclassified => &self.unclassified,
            Counter::Unwatched => &self.unwatched,
            Counter::Malformed => &self.dropped_malformed,
            Counter::Auth => &self.dropped_auth,
            Counter::Oversize => &self.dropped_oversize,
            Counter::QueueFull => &self.dropped_queue_full,
            Counter::ReceiveError => &self.receive_errors,
        };
        a.fetch_add(n, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        MetricsSnapshot {
            received: g(&self.received),
            parsed: g(&self.parsed),
            classified: g(&self.classified),
            unclassified: g(&self.unclassified),
            unwatched: g(&self.unwatched),
            dropped_malformed: g(&self.dropped_malformed),
            dropped_auth: g(&self.dropped_auth),
            dropped_oversize: g(&self.dropped_oversize),
            dropped_queue_full: g(&self.dropped_queue_full),
            receive_errors: g(&self.receive_errors),
            connections_open: g(&self.connections.open),
            connections_evicted: g(&self.connections.evicted),
            connections_timed_out: g(&self.connections.timed_out),
        }
    }
}

/// Connection counters of a TCP or TLS listener (zero for the others).
#[derive(Debug, Default)]
pub struct ConnectionMetrics {
    pub(crate) accepted: AtomicU64,
    pub(crate) open: AtomicU64,
    pub(crate) evicted: AtomicU64,
    pub(crate) timed_out: AtomicU64,
    pub(crate) tls_refused: AtomicU64,
}

/// A copy of [`ConnectionMetrics`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct ConnectionSnapshot {
    /// Connections accepted.
    pub accepted: u64,
    /// Open now.
    pub open: u64,
    /// Closed to make room for a new one at the limit.
    pub evicted: u64,
    /// Closed by the idle or read timeout.
    pub timed_out: u64,
    /// TLS handshakes refused (bad or missing client certificate, not TLS).
    pub tls_refused: u64,
}

impl ConnectionMetrics {
    /// The counters now.
    pub fn snapshot(&self) -> ConnectionSnapshot {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ConnectionSnapshot {
            accepted: g(&self.accepted),
            open: g(&self.open),
            evicted: g(&self.evicted),
            timed_out: g(&self.timed_out),
            tls_refused: g(&self.tls_refused),
        }
    }
}

/// Logs at most once per interval, counting what it held back: runtime
/// errors under load must not flood the log.
#[derive(Debug)]
pub struct RateLimitedLog {
    interval: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimitedLog {
    /// At most one line per `interval`.
    pub fn new(interval: Duration) -> Self {
        Self { interval, last: None, suppressed: 0 }
    }

    /// `Some(suppressed_since_last)` when a line may be written now.
    pub fn allow(&mut self) -> Option<u64> {
        let now = Instant::now();
        if self.last.is_none_or(|t| now.duration_since(t) >= self.interval) {
            self.last = Some(now);
            Some(std::mem::take(&mut self.suppressed))
        } else {
            self.suppressed += 1;
            None
        }
    }
}
