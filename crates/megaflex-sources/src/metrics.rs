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
    duplicates: AtomicU64,
    dedupe_evicted: AtomicU64,
    dedupe_entries: AtomicU64,
    queue_depth: AtomicU64,
    usm: [AtomicU64; 6],
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
    /// Webhook alerts dropped as HA duplicates of an accepted one.
    pub duplicates: u64,
    /// Dedupe entries forgotten early because the table was full.
    pub dedupe_evicted: u64,
    /// Gauge: alerts remembered for dedupe now.
    pub dedupe_entries: u64,
    /// Gauge: events of this source waiting in its queue.
    pub queue_depth: u64,
    /// SNMPv3 USM statistics (SNMP sources only; zero elsewhere).
    pub usm: UsmStatsSnapshot,
}

/// RFC 3414's usmStats counters, as the SNMP-USER-BASED-SM-MIB names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct UsmStatsSnapshot {
    /// usmStatsUnsupportedSecLevels: a security level the user does not have.
    pub unsupported_sec_levels: u64,
    /// usmStatsNotInTimeWindows: outside the 150-second window (replays, clock drift, time sync).
    pub not_in_time_windows: u64,
    /// usmStatsUnknownUserNames.
    pub unknown_user_names: u64,
    /// usmStatsUnknownEngineIDs (discovery probes included).
    pub unknown_engine_ids: u64,
    /// usmStatsWrongDigests: wrong authentication key or tampering.
    pub wrong_digests: u64,
    /// usmStatsDecryptionErrors.
    pub decryption_errors: u64,
}

/// One of the usmStats counters (RFC 3414 section 5; the OID's last arc before `.0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsmStat {
    /// usmStatsUnsupportedSecLevels (1.3.6.1.6.3.15.1.1.1).
    UnsupportedSecLevels = 1,
    /// usmStatsNotInTimeWindows (1.3.6.1.6.3.15.1.1.2).
    NotInTimeWindows = 2,
    /// usmStatsUnknownUserNames (1.3.6.1.6.3.15.1.1.3).
    UnknownUserNames = 3,
    /// usmStatsUnknownEngineIDs (1.3.6.1.6.3.15.1.1.4).
    UnknownEngineIds = 4,
    /// usmStatsWrongDigests (1.3.6.1.6.3.15.1.1.5).
    WrongDigests = 5,
    /// usmStatsDecryptionErrors (1.3.6.1.6.3.15.1.1.6).
    DecryptionErrors = 6,
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
    /// An HA duplicate.
    Duplicate,
    /// A dedupe entry forgotten early.
    DedupeEvicted,
    /// An idle connection closed for a new one.
    ConnectionEvicted,
    /// A connection closed by a timeout.
    ConnectionTimedOut,
}

/// The gauges a source sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gauge {
    /// Alerts remembered for dedupe.
    DedupeEntries,
    /// Connections open.
    ConnectionsOpen,
    /// Events waiting in the source's queue.
    QueueDepth,
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
            Counter::Duplicate => &self.duplicates,
            Counter::DedupeEvicted => &self.dedupe_evicted,
            Counter::ConnectionEvicted => &self.connections.evicted,
            Counter::ConnectionTimedOut => &self.connections.timed_out,
        };
        a.fetch_add(n, Ordering::Relaxed);
    }

    fn gauge(&self, g: Gauge) -> &AtomicU64 {
        match g {
            Gauge::DedupeEntries => &self.dedupe_entries,
            Gauge::ConnectionsOpen => &self.connections.open,
            Gauge::QueueDepth => &self.queue_depth,
        }
    }

    /// Sets a gauge.
    pub fn set(&self, g: Gauge, v: u64) {
        self.gauge(g).store(v, Ordering::Relaxed);
    }

    /// Moves a gauge by `delta`.
    pub fn shift(&self, g: Gauge, delta: i64) {
        if delta >= 0 {
            self.gauge(g).fetch_add(delta.unsigned_abs(), Ordering::Relaxed);
        } else {
            // Saturating: a racing reset must not wrap the gauge.
            let _ = self
                .gauge(g)
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| Some(v.saturating_sub(delta.unsigned_abs())));
        }
    }

    /// Adds one to a usmStats counter and returns its new value (a Report carries it).
    pub fn inc_usm(&self, stat: UsmStat) -> u64 {
        self.usm[stat as usize - 1].fetch_add(1, Ordering::Relaxed) + 1
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
            duplicates: g(&self.duplicates),
            dedupe_evicted: g(&self.dedupe_evicted),
            dedupe_entries: g(&self.dedupe_entries),
            queue_depth: g(&self.queue_depth),
            usm: UsmStatsSnapshot {
                unsupported_sec_levels: g(&self.usm[0]),
                not_in_time_windows: g(&self.usm[1]),
                unknown_user_names: g(&self.usm[2]),
                unknown_engine_ids: g(&self.usm[3]),
                wrong_digests: g(&self.usm[4]),
                decryption_errors: g(&self.usm[5]),
            },
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
