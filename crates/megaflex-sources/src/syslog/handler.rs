//! The per-message work shared by the UDP thread and the stream tasks:
//! parse, classify, filter by the watch list, build the event, and hand the
//! events over in batches. Apart from the listeners (`server.rs`), so the
//! receivers depend on it and the server on them, with no loop.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;

use megaflex_domain::event::{Device, Event, EventKind, EventState, SourceKind};
use megaport_types::EpochMillis;
use tokio::sync::mpsc;

use super::classify::{Classified, UserPattern, classify_with};
use super::parse::{Syslog, parse};
use super::watch::Watch;
use crate::metrics::{Counter, SourceMetrics};
use crate::peer_text::PeerText;

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

impl Handler {
    pub(super) fn new(
        patterns: Arc<[UserPattern]>,
        events: mpsc::Sender<Event>,
        metrics: Arc<SourceMetrics>,
        forward_unclassified: bool,
        watch: Option<Arc<Watch>>,
    ) -> Self {
        Self {
            patterns,
            events,
            metrics,
            forward_unclassified,
            watch,
            last_peer: PeerText::default(),
            ready: Vec::new(),
        }
    }

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
            if !watch.wants(c.kind, &c.entity, hostname, self.last_peer.of(peer.ip())) {
                self.metrics.inc(Counter::Unwatched);
                return;
            }
        }
        let address = self.last_peer.of(peer.ip()).to_owned();
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
        crate::queue::hand_over(&mut self.ready, &self.events, &self.metrics);
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
