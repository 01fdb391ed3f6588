//! The one task that writes the engine's records to the store, in order.
//!
//! A batch that fails (disk full, a lock held past the busy timeout, an I/O
//! error) is kept and written again with backoff until it lands; what
//! queues up meanwhile waits behind it, so the order on disk is the order
//! of decisions. While the store cannot be written the engine is told
//! ([`StoreHealth`]): `/readyz` says not ready, no reconcile cycle starts
//! (an update is never sent before its intent is committed), and past a
//! backlog threshold the core stops taking events, so the sources' bounded
//! queue absorbs a burst and, as the very last resort, counts what it drops.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use megaport::types::{EpochMillis, ProductUid};
use megaport::{LedgerFuture, UpdateLedger, UpdateOrigin};
use tokio::sync::{Notify, mpsc, oneshot, watch};

use megaflex_store::{Record, Store, StoreError};

use crate::ledger::StoreLedger;

/// A message to the writer: records, and who waits for them to be committed.
pub(crate) type WriterMsg = (Vec<Record>, Option<oneshot::Sender<Result<(), StoreError>>>);

/// Records per transaction at most: a long backlog is written in steps, so
/// one transaction never grows past what a nearly full disk can take.
const BATCH_MAX_RECORDS: usize = 4096;
/// Above this many records waiting, the core stops taking events.
const BACKPRESSURE_RECORDS: usize = 20_000;
/// Above this many, new audit-only records (events, API calls) are dropped,
/// counted and logged; decisions, intents, ledger and outbox never are.
const BACKLOG_MAX_RECORDS: usize = 200_000;
const BACKOFF_FIRST: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// At stop, how long an unwritable store is retried before what is left is
/// given up (and logged as lost): systemd kills a stop that takes 90 s.
const STOP_GRACE: Duration = Duration::from_secs(20);

/// What the engine needs to know about the store right now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthState {
    /// Why the last write failed; `None` while writes succeed.
    pub error: Option<String>,
    /// Too much waits to be written: stop taking events.
    pub backpressure: bool,
}

/// Shared between the writer (which sets it), the core loop and `/readyz`.
#[derive(Debug)]
pub struct StoreHealth {
    state: watch::Sender<HealthState>,
    write_errors: AtomicU64,
    records_dropped: AtomicU64,
    backlog_records: AtomicUsize,
}

impl Default for StoreHealth {
    fn default() -> Self {
        Self {
            state: watch::Sender::new(HealthState::default()),
            write_errors: AtomicU64::new(0),
            records_dropped: AtomicU64::new(0),
            backlog_records: AtomicUsize::new(0),
        }
    }
}

impl StoreHealth {
    /// The current state.
    pub fn state(&self) -> HealthState {
        self.state.borrow().clone()
    }

    /// Whether the last write succeeded.
    pub fn is_writable(&self) -> bool {
        self.state.borrow().error.is_none()
    }

    /// Whether the core should stop taking events.
    pub fn backpressure(&self) -> bool {
        self.state.borrow().backpressure
    }

    /// Wakes on every change of [`HealthState`].
    pub fn subscribe(&self) -> watch::Receiver<HealthState> {
        self.state.subscribe()
    }

    /// Failed write attempts so far.
    pub fn write_errors(&self) -> u64 {
        self.write_errors.load(Ordering::Relaxed)
    }

    /// Audit records given up so far (backlog overflow, or unwritable at stop).
    pub fn records_dropped(&self) -> u64 {
        self.records_dropped.load(Ordering::Relaxed)
    }

    /// Records waiting to be written.
    pub fn backlog_records(&self) -> usize {
        self.backlog_records.load(Ordering::Relaxed)
    }

    fn set_error(&self, error: Option<String>) {
        self.state.send_if_modified(|s| {
            let changed = s.error != error;
            s.error = error;
            changed
        });
    }

    fn set_backlog(&self, n: usize) {
        self.backlog_records.store(n, Ordering::Relaxed);
        self.state.send_if_modified(|s| {
            // Hysteresis: events flow again once half the backlog is written.
            let want = if s.backpressure { n > BACKPRESSURE_RECORDS / 2 } else { n > BACKPRESSURE_RECORDS };
            let changed = s.backpressure != want;
            s.backpressure = want;
            changed
        });
    }

    /// Prometheus lines for `/metrics`.
    pub fn render_metrics(&self, out: &mut String) {
        use std::fmt::Write as _;
        let healthy = u8::from(self.is_writable());
        let _ = write!(
            out,
            "# HELP megaflex_store_healthy 1 while the store can be written.\n# TYPE megaflex_store_healthy gauge\n\
             megaflex_store_healthy {healthy}\n\
             # HELP megaflex_store_write_errors_total Failed write attempts (each retried).\n\
             # TYPE megaflex_store_write_errors_total counter\nmegaflex_store_write_errors_total {}\n\
             # HELP megaflex_store_backlog_records Records waiting to be written.\n\
             # TYPE megaflex_store_backlog_records gauge\nmegaflex_store_backlog_records {}\n\
             # HELP megaflex_store_records_dropped_total Audit records given up (events, API calls).\n\
             # TYPE megaflex_store_records_dropped_total counter\nmegaflex_store_records_dropped_total {}\n",
            self.write_errors(),
            self.backlog_records(),
            self.records_dropped(),
        );
    }
}

/// Starts the writer. `outbox` is woken when a committed batch added to it.
pub(crate) fn spawn_writer(
    store: Arc<dyn Store>,
    outbox: Option<Arc<Notify>>,
    health: Arc<StoreHealth>,
) -> (mpsc::UnboundedSender<WriterMsg>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel::<WriterMsg>();
    let writer = Writer { store, outbox, health, backlog: VecDeque::new(), backlog_records: 0, overflowing: false };
    (tx, tokio::spawn(writer.run(rx)))
}

struct Writer {
    store: Arc<dyn Store>,
    outbox: Option<Arc<Notify>>,
    health: Arc<StoreHealth>,
    backlog: VecDeque<WriterMsg>,
    backlog_records: usize,
    overflowing: bool,
}

impl Writer {
    fn push(&mut self, (mut records, ack): WriterMsg) {
        if self.backlog_records + records.len() > BACKLOG_MAX_RECORDS {
            let before = records.len();
            records.retain(|r| !matches!(r, Record::Event(_) | Record::Call(_)));
            let dropped = (before - records.len()) as u64;
            if dropped > 0 {
                self.health.records_dropped.fetch_add(dropped, Ordering::Relaxed);
                if !self.overflowing {
                    tracing::error!(
                        backlog_records = self.backlog_records,
                        "store backlog full: dropping event and API-call audit records until it drains \
                         (decisions, intents, ledger and ServiceNow entries are kept)"
                    );
                }
                self.overflowing = true;
            }
        } else {
            self.overflowing = false;
        }
        self.backlog_records += records.len();
        self.backlog.push_back((records, ack));
    }

    /// Takes the next batch off the backlog: whole messages, up to
    /// [`BATCH_MAX_RECORDS`] (at least one message).
    fn take_batch(&mut self) -> (Vec<Record>, Vec<oneshot::Sender<Result<(), StoreError>>>) {
        let mut records = Vec::new();
        let mut acks = Vec::new();
        while let Some((r, _)) = self.backlog.front() {
            if !records.is_empty() && records.len() + r.len() > BATCH_MAX_RECORDS {
                break;
            }
            let Some((r, ack)) = self.backlog.pop_front() else { break };
            records.extend(r);
            acks.extend(ack);
        }
        (records, acks)
    }

    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<WriterMsg>) {
        let mut open = true;
        let mut backoff = BACKOFF_FIRST;
        let mut failing_since: Option<Instant> = None;
        let mut last_log: Option<Instant> = None;
        let mut closed_at: Option<Instant> = None;
        let (mut batch, mut acks) = (Vec::new(), Vec::new());
        loop {
            if batch.is_empty() && self.backlog.is_empty() {
                if !open {
                    break;
                }
                match rx.recv().await {
                    Some(msg) => self.push(msg),
                    None => break,
                }
            }
            while open {
                match rx.try_recv() {
                    Ok(msg) => self.push(msg),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        open = false;
                        closed_at = Some(Instant::now());
                    }
                }
            }
            if batch.is_empty() {
                (batch, acks) = self.take_batch();
                self.backlog_records -= batch.len();
            }
            self.health.set_backlog(self.backlog_records + batch.len());
            if batch.is_empty() {
                // Nothing to write (a flush with no records): committed already.
                for ack in acks.drain(..) {
                    let _ = ack.send(Ok(()));
                }
                continue;
            }
            match self.store.write_all(&batch).await {
                Ok(()) => {
                    if let Some(since) = failing_since.take() {
                        tracing::warn!(
                            failed_for_secs = since.elapsed().as_secs(),
                            "store writable again: everything held back is being written"
                        );
                    }
                    self.health.set_error(None);
                    backoff = BACKOFF_FIRST;
                    if batch.iter().any(|r| matches!(r, Record::Outbox(_)))
                        && let Some(w) = &self.outbox
                    {
                        w.notify_one();
                    }
                    for ack in acks.drain(..) {
                        let _ = ack.send(Ok(()));
                    }
                    batch.clear();
                    self.health.set_backlog(self.backlog_records);
                }
                Err(e) => {
                    self.health.write_errors.fetch_add(1, Ordering::Relaxed);
                    self.health.set_error(Some(e.to_string()));
                    failing_since.get_or_insert_with(Instant::now);
                    if last_log.is_none_or(|t| t.elapsed() >= Duration::from_secs(30)) {
                        tracing::error!(error = %e, waiting_records = batch.len() + self.backlog_records,
                            "store write failed: kept in memory and retried; no update is sent until it succeeds");
                        last_log = Some(Instant::now());
                    }
                    // Whoever waits (an intent before its update, a ledger
                    // entry after one) learns now that it is not committed,
                    // behind this batch too: nobody blocks on the outage
                    // (a stop would otherwise wait for the disk). The
                    // records stay queued.
                    let queued = self.backlog.iter_mut().filter_map(|(_, ack)| ack.take());
                    for ack in acks.drain(..).chain(queued) {
                        let _ = ack.send(Err(StoreError::new("write", format!("not committed yet: {}", e.message))));
                    }
                    if closed_at.is_some_and(|t| t.elapsed() >= STOP_GRACE) {
                        let lost = batch.len() + self.backlog_records;
                        self.health.records_dropped.fetch_add(lost as u64, Ordering::Relaxed);
                        tracing::error!(records = lost, error = %e,
                            "stopping with the store still unwritable: these records are lost");
                        return;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
    }
}

/// The client's update ledger: reads from the store, writes through the
/// writer, so an update Megaport made is recorded even if the store is
/// failing at that moment (it is written when the store recovers).
#[derive(Debug, Clone)]
pub(crate) struct WriterLedger {
    /// Reads go straight to the store.
    pub(crate) reads: StoreLedger,
    pub(crate) writer: mpsc::UnboundedSender<WriterMsg>,
}

impl UpdateLedger for WriterLedger {
    fn updates_since<'a>(&'a self, uid: &'a ProductUid, since: EpochMillis) -> LedgerFuture<'a, Vec<EpochMillis>> {
        self.reads.updates_since(uid, since)
    }

    fn record<'a>(&'a self, uid: &'a ProductUid, at: EpochMillis, origin: UpdateOrigin) -> LedgerFuture<'a, ()> {
        Box::pin(async move {
            let (tx, rx) = oneshot::channel();
            self.writer
                .send((vec![Record::Update { uid: uid.clone(), at, origin }], Some(tx)))
                .map_err(|_| megaport::Error::Ledger("the store writer has stopped".into()))?;
            // Committed, or kept for retry: either way it is not lost, so
            // the update is not reported as failed.
            let _ = rx.await;
            Ok(())
        })
    }
}
