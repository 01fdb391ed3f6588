//! The store's contract: the [`Store`] trait the runtime talks to, the rows
//! and records it reads and writes, and its errors. Implementations
//! (`sqlite.rs`, PostgreSQL next) depend on this module, never the reverse.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use megaport_types::rules::UpdateOrigin;
use megaport_types::{EpochMillis, ProductUid};
use serde::Serialize;

use megaflex_domain::circuits::{DecisionAction, Pending};
use megaflex_domain::event::Event;
use megaflex_domain::incident::{EpisodeIncident, OutboxItem};
use megaflex_domain::links::{Link, LinkStatus, Transition};

/// A store error: the database's message and what was being done.
#[derive(Debug, thiserror::Error)]
#[error("store: {action}: {message}")]
pub struct StoreError {
    /// What the store was doing.
    pub action: &'static str,
    /// The database's message.
    pub message: String,
    config: bool,
}

impl StoreError {
    pub fn new(action: &'static str, e: impl fmt::Display) -> Self {
        Self { action, message: e.to_string(), config: false }
    }

    /// A `[store]` setting that names no usable store: the fix is in the
    /// configuration.
    pub fn url(action: &'static str, e: impl fmt::Display) -> Self {
        Self { config: true, ..Self::new(action, e) }
    }

    /// Whether the fix is in the configuration (exit code "usage"), not in
    /// the machine's state (a file that cannot be written, a full disk).
    pub fn is_config(&self) -> bool {
        self.config
    }
}

/// A boxed future returned by [`Store`] methods.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// The future [`Store::claim`] returns.
pub type ClaimFuture<'a> = Pin<Box<dyn Future<Output = Result<(), ClaimError>> + Send + 'a>>;

/// A decision as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecisionRecord {
    /// When (engine clock).
    pub at: EpochMillis,
    /// Circuit.
    pub circuit: String,
    /// Failover episode.
    pub episode: u64,
    /// What was decided (stored by its name).
    pub action: DecisionAction,
    /// The wanted rate at that moment.
    pub wanted_mbps: u32,
    /// In words.
    pub reason: String,
}

/// How an intent ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentOutcome {
    /// The rate was seen in force.
    Confirmed,
    /// The call failed; the reconciler decides again.
    Failed,
    /// No longer wanted (found after a restart).
    Dropped,
}

impl IntentOutcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::Failed => "failed",
            Self::Dropped => "dropped",
        }
    }
}

/// An intent to update a VXC, written before the update is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Intent {
    /// Unique, increasing.
    pub id: i64,
    /// Circuit.
    pub circuit: String,
    /// VXC.
    pub vxc_uid: String,
    /// Rate to set.
    pub target_mbps: u32,
    /// When it was written.
    pub created_at: EpochMillis,
}

/// One HTTP exchange with the Megaport API, as the audit trail keeps it.
/// The store's own row, not the client's journal record, so the store needs
/// no client and is never handed a request body it does not keep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiCall {
    /// When the request was sent.
    pub at: EpochMillis,
    /// Method.
    pub method: String,
    /// Path (no host).
    pub path: String,
    /// Query string, empty when none (never holds secrets).
    pub query: String,
    /// HTTP status, if a response arrived.
    pub status: Option<u16>,
    /// Megaport trace id, if any.
    pub trace_id: Option<String>,
    /// Round-trip time.
    pub duration: Duration,
    /// Error text for a failed call.
    pub error: Option<String>,
    /// 1 for the first try, 2.. for retries.
    pub attempt: u32,
}

/// A circuit's resumable state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CircuitRow {
    /// Circuit.
    pub circuit: String,
    /// Wanted rate.
    pub wanted_mbps: u32,
    /// The timer waiting, as a deadline.
    pub pending: Option<Pending>,
    /// Last episode number.
    pub episode: u64,
    /// Last rate megaflex set and saw confirmed.
    pub last_set_mbps: Option<u32>,
    /// The rate last read from the API.
    pub actual_mbps: Option<u32>,
    /// Why automation is paused, if it is.
    pub paused_reason: Option<String>,
    /// The ServiceNow incident of the episode in progress.
    pub incident: Option<EpisodeIncident>,
}

/// A link's resumable state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkRow {
    /// Link.
    pub link: String,
    /// State.
    pub status: LinkStatus,
    /// Since when.
    pub since: EpochMillis,
    /// What each signal last said (None: not reported).
    pub signals: Vec<Option<bool>>,
}

impl LinkRow {
    /// The state of `link` to persist.
    pub fn of(link: &Link) -> Self {
        Self {
            link: link.name.clone(),
            status: link.status(),
            since: link.since(),
            signals: link.signal_states().to_vec(),
        }
    }
}

/// One thing to write.
#[derive(Debug, Clone)]
pub enum Record {
    /// An event that changed a link's state.
    Event(Box<Event>),
    /// A link changed state.
    Transition(Transition),
    /// A decision.
    Decision(DecisionRecord),
    /// A Megaport call.
    Call(Box<ApiCall>),
    /// An update of a VXC (the ledger).
    Update {
        /// VXC.
        uid: ProductUid,
        /// When.
        at: EpochMillis,
        /// Made by us or observed.
        origin: UpdateOrigin,
    },
    /// An intent written before an update.
    IntentOpened(Intent),
    /// An intent settled.
    IntentSettled {
        /// Intent id.
        id: i64,
        /// Outcome.
        outcome: IntentOutcome,
        /// When.
        at: EpochMillis,
        /// Detail (error text, confirmation time).
        note: String,
    },
    /// A circuit's state after a change.
    Circuit(CircuitRow),
    /// A link's state after a change.
    Link(LinkRow),
    /// A ServiceNow call to make (see [`crate::servicenow::outbox`]).
    Outbox(OutboxItem),
}

/// What the engine resumes from.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Circuits' states.
    pub circuits: Vec<CircuitRow>,
    /// Links' states.
    pub links: Vec<LinkRow>,
    /// Intents not yet settled.
    pub open_intents: Vec<Intent>,
    /// Highest intent id so far.
    pub last_intent_id: i64,
}

/// Where the engine keeps its record.
pub trait Store: Send + Sync + fmt::Debug {
    /// Appends `records` atomically: all of them or, on error, none (the
    /// caller may try the same slice again).
    fn write_all<'a>(&'a self, records: &'a [Record]) -> StoreFuture<'a, ()>;
    /// Appends `records` atomically.
    fn write(&self, records: Vec<Record>) -> StoreFuture<'_, ()> {
        Box::pin(async move { self.write_all(&records).await })
    }
    /// Makes this process the store's only writer for as long as the store
    /// is open, and proves the store can be written. Fails with
    /// [`ClaimError::InUse`] naming the holder when another process has it.
    fn claim(&self) -> ClaimFuture<'_>;
    /// The process that claimed the store last (it may have stopped since).
    fn holder(&self) -> StoreFuture<'_, Option<Holder>>;
    /// The state to resume from.
    fn load(&self) -> StoreFuture<'_, Snapshot>;
    /// Update times of `uid` at or after `since`, ascending.
    fn updates_since<'a>(&'a self, uid: &'a ProductUid, since: EpochMillis) -> StoreFuture<'a, Vec<EpochMillis>>;
    /// Update times of every VXC at or after `since`, ascending per VXC.
    fn all_updates_since(&self, since: EpochMillis) -> StoreFuture<'_, HashMap<ProductUid, Vec<EpochMillis>>>;
    /// The newest `limit` decisions, newest first.
    fn recent_decisions(&self, limit: u32) -> StoreFuture<'_, Vec<DecisionRecord>>;
    /// Up to `limit` ServiceNow calls not yet made, oldest first.
    fn pending_outbox(&self, limit: u32) -> StoreFuture<'_, Vec<OutboxRow>>;
    /// How many ServiceNow calls are waiting.
    fn outbox_pending_count(&self) -> StoreFuture<'_, u64>;
    /// Records how an attempt at outbox entry `id` ended (with the incident
    /// it opened or resolved, in the same transaction).
    fn outbox_settled(&self, id: i64, outcome: OutboxOutcome, at: EpochMillis) -> StoreFuture<'_, ()>;
    /// The incident opened for `correlation_id`, if any.
    fn incident<'a>(&'a self, correlation_id: &'a str) -> StoreFuture<'a, Option<IncidentRow>>;
    /// The newest `limit` incidents, newest first.
    fn incidents(&self, limit: u32) -> StoreFuture<'_, Vec<IncidentRow>>;
    /// The newest `limit` outbox entries refused for good or unreadable.
    fn failed_outbox(&self, limit: u32) -> StoreFuture<'_, Vec<OutboxFailure>>;
    /// Starts megaflex's SNMP engine: its engineBoots raised by one and
    /// returned with the engine ID (`engine_id`, or when `None` the one kept
    /// since the first start, which was `fresh_id`: the caller makes the
    /// candidate so the store needs no SNMP knowledge).
    fn next_snmp_engine_boots<'a>(
        &'a self,
        engine_id: Option<&'a [u8]>,
        fresh_id: &'a [u8],
    ) -> StoreFuture<'a, (Vec<u8>, u32)>;
}

/// An outbox entry that will not be delivered, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxFailure {
    /// Entry id.
    pub id: i64,
    /// `megaflex:<circuit>:<episode>`.
    pub correlation_id: String,
    /// `open`, `note` or `resolve`.
    pub kind: String,
    /// Attempts made.
    pub attempts: u32,
    /// ServiceNow's refusal, or why the entry could not be read.
    pub error: String,
    /// When it was refused (absent for an unreadable entry).
    pub at: Option<EpochMillis>,
}

/// An outbox entry as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    /// Delivery order.
    pub id: i64,
    /// What to do.
    pub item: OutboxItem,
    /// Attempts that failed so far.
    pub attempts: u32,
}

/// An incident megaflex opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IncidentRow {
    /// `megaflex:<circuit>:<episode>`.
    pub correlation_id: String,
    /// Circuit.
    pub circuit: String,
    /// Episode.
    pub episode: u64,
    /// ServiceNow's 32-hex id.
    pub sys_id: String,
    /// `INC...`.
    pub number: String,
    /// When it was opened (or found).
    pub opened_at: EpochMillis,
    /// When it was resolved.
    pub resolved_at: Option<EpochMillis>,
}

/// How an attempt at an outbox entry ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxOutcome {
    /// Done. `opened`: the incident found or created by an `open`;
    /// `resolved`: the incident this `resolve` closed.
    Delivered {
        /// Incident opened.
        opened: Option<IncidentRow>,
        /// Correlation id resolved.
        resolved: Option<String>,
    },
    /// ServiceNow refused it for good (the error is kept; later entries go on).
    Failed(String),
    /// Not done yet (ServiceNow down, throttling): tried again later.
    Retry(String),
}

/// The daemon that holds a store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holder {
    /// Process id.
    pub pid: u32,
    /// Host name.
    pub host: String,
    /// When it started.
    pub started_at: EpochMillis,
    /// Its megaflex version.
    pub version: String,
}

impl Holder {
    /// This process.
    pub fn this_process() -> Self {
        Self {
            pid: std::process::id(),
            host: host_name(),
            started_at: EpochMillis::now(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "megaflex {} pid {} on {} since {}", self.version, self.pid, self.host, self.started_at)
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown-host".to_owned())
}

/// Why a store could not be claimed.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// Another process holds the store's lock.
    #[error(
        "store {path} is in use by {}: one daemon per store (stop it first, or give this one its own [store] url)",
        holder.as_ref().map_or_else(|| "another megaflex process".to_owned(), ToString::to_string)
    )]
    InUse {
        /// The database file, or the PostgreSQL URL (which never carries a
        /// password).
        path: PathBuf,
        /// Who, when the store says.
        holder: Option<Holder>,
    },
    /// The lock file or the store itself cannot be used.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ClaimError {
    /// Whether another process holds the store.
    pub fn is_in_use(&self) -> bool {
        matches!(self, Self::InUse { .. })
    }
}
