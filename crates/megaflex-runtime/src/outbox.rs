//! Delivers the engine's ServiceNow outbox: entries are read from the store
//! in id order and made one at a time per incident. A retryable failure
//! (ServiceNow down, 401 or an OAuth failure, 429, 5xx) holds back that
//! incident's later entries and is tried again after `Retry-After` or a
//! growing, jittered backoff; other incidents go on. Credentials refused are
//! logged at error level and counted, and retried with fresh credentials
//! (a rotated password, an identity provider back up) rather than dropped.
//! A refusal of the request itself (400 with a reason, 403 data policy) is
//! recorded on the entry, counted, logged at error level and skipped; it is
//! listed by `megaflex status`. An entry the store cannot read is marked
//! failed by the store and never blocks the others. The engine never waits
//! for any of this: its decisions only append rows.
//!
//! Delivery is at least once: an `open` after a crash finds the incident by
//! its `correlation_id` instead of creating a second one; a work note whose
//! answer was lost may appear twice.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use megaport::Clock;
use megaport::types::ProductUid;
use serde_json::{Map, Value, json};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::clock::EngineClock;
use crate::config::ServiceNowConfig;
use megaflex_domain::duration::human_duration;
use megaflex_domain::incident::{OutboxPayload, ResolveIncident};
use megaflex_store::{IncidentRow, OutboxOutcome, OutboxRow, Store};
use servicenow_table::{ServiceNowClient, ServiceNowError};

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct OutboxStats {
    /// Entries waiting at the last look.
    pub pending: AtomicU64,
    /// Entries delivered.
    pub delivered: AtomicU64,
    /// Attempts that will be tried again.
    pub retried: AtomicU64,
    /// Entries ServiceNow refused for good.
    pub failed: AtomicU64,
    /// Attempts refused for the credentials (401, the OAuth token endpoint).
    pub auth_failures: AtomicU64,
}

/// The longest wait between attempts while ServiceNow is down.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Delivers outbox entries until stopped.
#[derive(Debug)]
pub struct Deliverer {
    /// ServiceNow.
    pub client: ServiceNowClient,
    /// Where the outbox lives.
    pub store: Arc<dyn Store>,
    /// Fields every new incident gets (impact, urgency, assignment group...).
    pub fields: Map<String, Value>,
    /// Resolution code.
    pub close_code: String,
    /// Prices the boost for the close notes (the engine's client and budget).
    pub pricing: Option<megaport::Client>,
    /// The engine's clock (delivery times in the store).
    pub clock: Arc<EngineClock>,
    /// Woken when the writer stored new entries.
    pub wake: Arc<Notify>,
    /// Counters.
    pub stats: Arc<OutboxStats>,
}

/// The fields a new incident gets from `[servicenow]`.
pub fn incident_fields(section: &ServiceNowConfig) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("impact".into(), json!(section.impact.to_string()));
    fields.insert("urgency".into(), json!(section.urgency.to_string()));
    for (key, value) in [
        ("assignment_group", &section.assignment_group),
        ("caller_id", &section.caller_id),
        ("category", &section.category),
    ] {
        if let Some(v) = value {
            fields.insert(key.into(), json!(v));
        }
    }
    fields
}

/// What the deliverer remembers between passes.
#[derive(Debug, Default)]
struct Known {
    /// Incident by correlation id.
    sys_ids: HashMap<String, String>,
    /// Close notes with the cost estimate, by outbox entry: a resolve retried
    /// while ServiceNow is down must not spend two Megaport calls per attempt.
    close_notes: HashMap<i64, String>,
}

impl Deliverer {
    /// Runs until `stop`; then makes one last pass without waiting, so what
    /// can be delivered at shutdown is.
    pub async fn run(self, stop: CancellationToken) {
        let mut known = Known::default();
        let mut backoff = Duration::from_secs(1);
        loop {
            let last_pass = stop.is_cancelled();
            let rows = match self.store.pending_outbox(500).await {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the ServiceNow outbox");
                    if last_pass {
                        return;
                    }
                    tokio::select! { _ = tokio::time::sleep(Duration::from_secs(5)) => continue, _ = stop.cancelled() => continue }
                }
            };
            let (delivered_any, wait) = self.pass(&rows, &mut known, &mut backoff).await;
            if let Ok(n) = self.store.outbox_pending_count().await {
                self.stats.pending.store(n, Ordering::Relaxed);
            }
            if last_pass {
                return;
            }
            if let Some(wait) = wait {
                tokio::select! { _ = tokio::time::sleep(wait) => {}, _ = stop.cancelled() => {} }
            } else if !delivered_any {
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = stop.cancelled() => {}
                    _ = tokio::time::sleep(Duration::from_secs(30)) => {}
                }
            }
        }
    }

    /// One pass over `rows`. Returns whether anything was delivered and how
    /// long to wait when an incident is held back by a retryable failure.
    async fn pass(&self, rows: &[OutboxRow], known: &mut Known, backoff: &mut Duration) -> (bool, Option<Duration>) {
        let mut held: HashSet<&str> = HashSet::new();
        let mut wait: Option<Duration> = None;
        let mut delivered_any = false;
        for row in rows {
            let cid = row.item.correlation_id.as_str();
            if held.contains(cid) {
                continue;
            }
            let (outcome, counter) = match self.deliver(row, known).await {
                Ok(outcome) => {
                    delivered_any = true;
                    *backoff = Duration::from_secs(1);
                    (outcome, &self.stats.delivered)
                }
                Err(e) if e.is_retryable() => {
                    held.insert(cid);
                    // Jittered, so many daemons behind one instance do not retry in step.
                    let w = e
                        .retry_after()
                        .unwrap_or_else(|| backoff.mul_f64(0.5 + fastrand::f64() * 0.5))
                        .min(MAX_BACKOFF);
                    wait = Some(wait.map_or(w, |x| x.min(w)));
                    let quiet = !(row.attempts == 0 || row.attempts.is_power_of_two());
                    if e.is_auth() {
                        self.stats.auth_failures.fetch_add(1, Ordering::Relaxed);
                        if !quiet {
                            tracing::error!(correlation_id = cid, attempts = row.attempts + 1, error = %e, retry_in_ms = w.as_millis() as u64,
                                "ServiceNow refused megaflex's credentials; the call stays in the outbox and is retried with renewed credentials");
                        }
                    } else if !quiet {
                        tracing::warn!(correlation_id = cid, attempts = row.attempts + 1, error = %e, retry_in_ms = w.as_millis() as u64,
                            "ServiceNow call not made yet; it stays in the outbox");
                    }
                    (OutboxOutcome::Retry(e.to_string()), &self.stats.retried)
                }
                Err(e) => {
                    tracing::error!(correlation_id = cid, kind = row.item.kind().as_str(), error = %e,
                        "ServiceNow refused the call; recorded in the outbox and skipped");
                    (OutboxOutcome::Failed(e.to_string()), &self.stats.failed)
                }
            };
            counter.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = self.store.outbox_settled(row.id, outcome, self.clock.now()).await {
                tracing::error!(error = %e, id = row.id, "cannot record a ServiceNow delivery");
                held.insert(cid);
            }
        }
        if wait.is_some() {
            *backoff = (*backoff * 2).min(MAX_BACKOFF);
        }
        (delivered_any, wait)
    }

    async fn deliver(&self, row: &OutboxRow, known: &mut Known) -> Result<OutboxOutcome, ServiceNowError> {
        let item = &row.item;
        let cid = item.correlation_id.as_str();
        match &item.payload {
            OutboxPayload::Open(open) => {
                let mut fields = self.fields.clone();
                fields.insert("short_description".into(), json!(open.short_description));
                fields.insert("description".into(), json!(open.description));
                let (incident, created) = self.client.upsert(cid, &fields).await?;
                tracing::info!(number = %incident.number, correlation_id = cid, created,
                    "{} ServiceNow incident", if created { "opened" } else { "found the active" });
                known.sys_ids.insert(cid.to_owned(), incident.sys_id.clone());
                let opened = IncidentRow {
                    correlation_id: cid.to_owned(),
                    circuit: item.circuit.clone(),
                    episode: item.episode,
                    sys_id: incident.sys_id,
                    number: incident.number,
                    opened_at: item.at,
                    resolved_at: None,
                };
                Ok(OutboxOutcome::Delivered { opened: Some(opened), resolved: None })
            }
            OutboxPayload::Note(note) => {
                let sys_id = self.sys_id(cid, &mut known.sys_ids).await?;
                self.client.add_work_note(&sys_id, &note.work_notes).await?;
                Ok(OutboxOutcome::Delivered { opened: None, resolved: None })
            }
            OutboxPayload::Resolve(resolve) => {
                let sys_id = self.sys_id(cid, &mut known.sys_ids).await?;
                if let Entry::Vacant(slot) = known.close_notes.entry(row.id) {
                    slot.insert(format!("{} {}", resolve.close_notes, self.cost_estimate(resolve).await));
                }
                let notes = known.close_notes.get(&row.id).map_or("", String::as_str);
                let incident = self.client.resolve(&sys_id, &self.close_code, notes).await?;
                known.close_notes.remove(&row.id);
                tracing::info!(number = %incident.number, correlation_id = cid, "resolved ServiceNow incident");
                Ok(OutboxOutcome::Delivered { opened: None, resolved: Some(cid.to_owned()) })
            }
        }
    }

    /// The incident of `cid`: known, in the store, or found by correlation id.
    async fn sys_id(&self, cid: &str, sys_ids: &mut HashMap<String, String>) -> Result<String, ServiceNowError> {
        if let Some(s) = sys_ids.get(cid) {
            return Ok(s.clone());
        }
        if let Ok(Some(row)) = self.store.incident(cid).await {
            sys_ids.insert(cid.to_owned(), row.sys_id.clone());
            return Ok(row.sys_id);
        }
        match self.client.find_active(cid).await? {
            Some(found) => {
                sys_ids.insert(cid.to_owned(), found.sys_id.clone());
                Ok(found.sys_id)
            }
            None => Err(ServiceNowError::NoIncident(cid.to_owned())),
        }
    }

    /// `Estimated cost of the boost: ...` from Megaport's rating endpoint:
    /// the monthly difference between the boost and normal rates, for the
    /// episode's duration.
    async fn cost_estimate(&self, resolve: &ResolveIncident) -> String {
        let Some(client) = &self.pricing else { return "Estimated cost: not priced (no Megaport client).".into() };
        let uid = ProductUid::new(resolve.vxc_uid.as_str());
        let duration_secs = resolve.duration_secs;
        let now =
            self.clock.now().to_timestamp().unwrap_or_else(jiff::Timestamp::now).to_zoned(jiff::tz::TimeZone::UTC);
        let (year, month) = (now.year(), now.month());
        let boost = client.speed_change_price(&uid, resolve.boost_mbps, year, month).await;
        let normal = client.speed_change_price(&uid, resolve.normal_mbps, year, month).await;
        match (boost, normal) {
            (Ok(b), Ok(n)) => {
                let per_month = b.long_term_monthly - n.long_term_monthly;
                let cost = per_month * duration_secs as f64 / (30.4375 * 86_400.0);
                format!(
                    "Estimated cost of the boost: {cost:.2} {cur} ({per_month:.2} {cur}/month more at {} Mbps than {} Mbps, \
                     for {}; Megaport rating API).",
                    resolve.boost_mbps,
                    resolve.normal_mbps,
                    human_duration(std::time::Duration::from_secs(duration_secs.max(0) as u64)),
                    cur = b.currency,
                )
            }
            (Err(e), _) | (_, Err(e)) => format!("Estimated cost: unavailable ({e})."),
        }
    }
}
