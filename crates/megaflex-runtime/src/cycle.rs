//! The reconcile cycle: read the account (all VXCs with one
//! `GET /v2/products`, or only the circuits whose wanted rate just changed),
//! settle intents left by a crash, and decide for each circuit. The read is
//! separate from the decision so the daemon can run it without holding up
//! events.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use megaport::types::{EpochMillis, ProductUid, Vxc};
use megaport::{UpdateBudget, UpdateOrigin, rate_in_force};

use crate::actuator::Actuator;
use crate::config::OutsideChange;
use crate::core::{CircuitState, Core, Job, JobResult, ReconcileError};
use megaflex_domain::circuits::DecisionAction;
use megaflex_domain::reconcile::{Inputs, Plan, plan};
use megaflex_store::{Intent, IntentOutcome, Record, StoreError};

/// The future a flush returns.
pub type FlushFuture = Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send>>;

/// What a cycle reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every VXC on the account: one `GET /v2/products`.
    All,
    /// These circuits (indices) only: one `GET /v2/product/{uid}` each.
    Circuits(Vec<usize>),
}

/// A targeted read is cheaper than the whole account up to this many circuits.
const TARGETED_READ_MAX: usize = 8;

/// How often a VXC that Megaport is still applying is read again (engine time).
const APPLYING_RECHECK_MS: i64 = 10_000;

/// After an update failed for a reason that names no time, the next try
/// waits this long (engine time): a failure must not become a tight loop.
const FAILED_RETRY_MS: i64 = 30_000;

/// Reads what `uids` names (`None`: the whole account).
pub async fn read(act: &dyn Actuator, uids: Option<Vec<ProductUid>>) -> megaport::Result<Vec<Vxc>> {
    match uids {
        None => act.read_vxcs().await,
        Some(uids) => {
            let mut out = Vec::with_capacity(uids.len());
            for uid in uids {
                match act.read_vxc(&uid).await {
                    Ok(v) => out.push(v),
                    // Gone from the account: the plan says so.
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(out)
        }
    }
}

impl Core {
    /// Whether a cycle should run.
    pub fn reconcile_due(&self) -> bool {
        self.full_read_due || !self.dirty.is_empty()
    }

    /// Asks for a full cycle (periodic, or after a failed one).
    pub fn want_full_read(&mut self) {
        self.full_read_due = true;
    }

    /// Marks the circuits whose update slot has arrived.
    pub fn mark_waits_over(&mut self, now: EpochMillis) {
        for (i, c) in self.circuits.iter().enumerate() {
            if c.wait_until.is_some_and(|t| t <= now) {
                self.dirty.insert(i);
            }
        }
    }

    /// What the next cycle reads, and the VXCs to ask for (`None`: all).
    pub fn take_scope(&mut self) -> (Scope, Option<Vec<ProductUid>>) {
        if self.full_read_due || self.dirty.len() > TARGETED_READ_MAX || !self.open_intents.is_empty() {
            self.full_read_due = false;
            self.dirty.clear();
            return (Scope::All, None);
        }
        let ids: Vec<usize> = std::mem::take(&mut self.dirty).into_iter().collect();
        let uids = ids.iter().map(|&i| self.circuits[i].uid.clone()).collect();
        (Scope::Circuits(ids), Some(uids))
    }

    /// Every circuit's update budget from one read of the ledger, so status
    /// and metrics show updates used for circuits that are in sync too.
    async fn refresh_budgets(&mut self, act: &dyn Actuator, now: EpochMillis) {
        let policy = megaport::UpdatePolicy::default();
        match act.ledger_since(policy.history_since(now)).await {
            Ok(Some(map)) => {
                for c in &mut self.circuits {
                    let history = map.get(&c.uid).map_or(&[][..], Vec::as_slice);
                    c.budget = Some(policy.budget_from(&c.uid, history, now));
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read the update ledger for status"),
        }
    }

    /// A whole cycle in one call (replay): scope, read, decide.
    pub async fn reconcile(
        &mut self,
        act: &dyn Actuator,
        now: EpochMillis,
        flush: &(dyn Fn(Vec<Record>) -> FlushFuture + Send + Sync),
    ) -> Result<Vec<Job>, ReconcileError> {
        let (scope, uids) = self.take_scope();
        match read(act, uids).await {
            Ok(vxcs) => self.reconcile_with(&scope, vxcs, act, now, flush).await,
            Err(e) => {
                self.full_read_due = true;
                Err(ReconcileError::Read(e))
            }
        }
    }

    /// One reconcile cycle: one read of the account, settle intents left by
    /// a crash, then decide for every circuit. Returns the updates to send;
    /// their intents are already durable when this returns.
    pub async fn reconcile_with(
        &mut self,
        scope: &Scope,
        vxcs: Vec<Vxc>,
        act: &dyn Actuator,
        now: EpochMillis,
        flush: &(dyn Fn(Vec<Record>) -> FlushFuture + Send + Sync),
    ) -> Result<Vec<Job>, ReconcileError> {
        self.reconciles += 1;
        let vxcs: HashMap<ProductUid, Vxc> = vxcs.into_iter().map(|v| (v.product_uid.clone(), v)).collect();
        let circuits: Vec<usize> = match scope {
            Scope::All => {
                self.settle_open_intents(act, &vxcs, now).await;
                self.refresh_budgets(act, now).await;
                (0..self.circuits.len()).collect()
            }
            Scope::Circuits(ids) => ids.clone(),
        };
        let mut jobs = Vec::new();
        for i in circuits {
            if self.circuits[i].in_flight.is_some() {
                continue;
            }
            let uid = self.circuits[i].uid.clone();
            let Some(vxc) = vxcs.get(&uid) else {
                let reason = format!("VXC {uid} is not on the account (GET /v2/products)");
                self.note_plan(i, now, Plan::Refuse { mbps: self.circuits[i].circuit.wanted_mbps(), reason });
                continue;
            };
            if self.circuits[i].actual_mbps != Some(vxc.rate_limit_mbps) {
                self.circuits[i].actual_mbps = Some(vxc.rate_limit_mbps);
                self.save_circuit(i);
            }
            if self.resume_if_paused(i, vxc, now) {
                continue;
            }
            // Most circuits are in sync most of the time, and deciding that
            // needs no ledger: it is read only when an update is in question.
            let unlimited = UpdateBudget {
                uid: uid.clone(),
                last_update: None,
                used_this_month: 0,
                left_this_month: megaport::MEGAPORT_UPDATES_PER_MONTH,
                next_allowed_at: now,
                blocked_by: None,
            };
            let mut p = plan(&inputs_of(&self.circuits[i], vxc, &unlimited, now));
            if matches!(p, Plan::Update { .. }) {
                let budget = match act.budget(&uid, now).await {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::error!(%uid, error = %e, "cannot read the update ledger; skipping this circuit this cycle");
                        continue;
                    }
                };
                p = plan(&inputs_of(&self.circuits[i], vxc, &budget, now));
                self.circuits[i].budget = Some(budget);
            }
            if let Plan::Update { mbps } = p
                && let Some(nb) = self.circuits[i].not_before.filter(|t| *t > now)
            {
                p = Plan::Wait { mbps, until: nb };
            }
            if let Plan::OutsideChange { found_mbps } = p {
                self.outside_change(act, i, found_mbps, now).await;
                if self.circuits[i].on_outside_change == OutsideChange::Pause {
                    continue;
                }
                // Override: put the wanted rate back, within the rules.
                let Ok(budget) = act.budget(&uid, now).await else { continue };
                p = plan(&Inputs {
                    last_set_mbps: Some(found_mbps),
                    ..inputs_of(&self.circuits[i], vxc, &budget, now)
                });
            }
            if let Plan::Update { mbps } = p {
                let intent = Intent {
                    id: self.next_intent_id,
                    circuit: self.circuits[i].circuit.policy.name.clone(),
                    vxc_uid: uid.to_string(),
                    target_mbps: mbps,
                    created_at: now,
                };
                self.next_intent_id += 1;
                let from = vxc.rate_limit_mbps;
                self.decide(
                    now,
                    i,
                    DecisionAction::Update,
                    format!("set {uid} from {from} to {mbps} Mbps (intent {})", intent.id),
                );
                self.circuits[i].in_flight = Some(intent.id);
                self.circuits[i].wait_until = None;
                self.circuits[i].last_plan = Some(p);
                self.records.push(Record::IntentOpened(intent.clone()));
                jobs.push(Job { circuit: i, intent, vxc: vxc.clone() });
            } else {
                self.note_plan(i, now, p);
            }
        }
        self.deadlines_changed();
        // The intents (and everything decided before them) are on disk before
        // any update is sent: a crash from here on is settled on restart.
        if let Err(e) = flush(self.take_records()).await {
            self.abandon_unsent(&jobs, now, &e);
            return Err(ReconcileError::Store(e));
        }
        Ok(jobs)
    }

    pub(crate) fn note_plan(&mut self, i: usize, now: EpochMillis, p: Plan) {
        self.deadlines_changed();
        let repeated = self.circuits[i].last_plan.as_ref() == Some(&p);
        self.circuits[i].wait_until = match &p {
            Plan::Wait { until, .. } => Some(*until),
            Plan::Applying { .. } => Some(now.plus_millis(APPLYING_RECHECK_MS)),
            _ => None,
        };
        if !repeated {
            match &p {
                Plan::InSync => {
                    if matches!(self.circuits[i].last_plan, Some(Plan::Wait { .. })) {
                        self.decide(
                            now,
                            i,
                            DecisionAction::Coalesced,
                            "the rate is already what is wanted: no update needed".into(),
                        );
                    }
                }
                Plan::Wait { mbps, until } => {
                    let b = self.circuits[i].budget.as_ref();
                    let rule = b.and_then(|b| b.blocked_by).map_or("update rule".to_owned(), |r| r.to_string());
                    self.decide(now, i, DecisionAction::Wait, format!("{mbps} Mbps deferred until {until} ({rule})"));
                }
                Plan::Refuse { mbps, reason } => {
                    self.decide(now, i, DecisionAction::Refuse, format!("{mbps} Mbps refused: {reason}"))
                }
                Plan::Applying { mbps } => self.decide(
                    now,
                    i,
                    DecisionAction::Applying,
                    format!(
                        "{} is being changed by Megaport: waiting to read {mbps} Mbps in force, not sending it again",
                        self.circuits[i].uid
                    ),
                ),
                Plan::Update { .. } | Plan::OutsideChange { .. } => {}
            }
        }
        // However the episode's last update ended (confirmed, interrupted by
        // a restart, or outlasting its confirmation), a VXC found back at
        // normal ends it: its incident is resolved (once: it is closed then).
        let c = &self.circuits[i];
        if p == Plan::InSync
            && c.incident.is_some()
            && !c.circuit.boosted()
            && c.circuit.pending().is_none()
            && c.actual_mbps == Some(c.circuit.policy.normal_mbps)
        {
            let text =
                format!("{} runs at the normal {} Mbps: the episode is over", c.uid, c.circuit.policy.normal_mbps);
            self.decide(now, i, DecisionAction::InSync, text);
            self.save_circuit(i);
        }
        self.circuits[i].last_plan = Some(p);
    }

    async fn outside_change(&mut self, act: &dyn Actuator, i: usize, found_mbps: u32, now: EpochMillis) {
        let uid = self.circuits[i].uid.clone();
        // Someone else spent an update: count it so our own stay within the rules.
        if let Err(e) = act.note_outside_update(&uid, now).await {
            tracing::error!(%uid, error = %e, "cannot record the outside update in the ledger");
        }
        let expected = self.circuits[i].last_set_mbps.unwrap_or(self.circuits[i].circuit.policy.normal_mbps);
        let pause = self.circuits[i].on_outside_change == OutsideChange::Pause;
        let reason = format!(
            "{uid} runs at {found_mbps} Mbps, changed outside megaflex (expected {expected}); {}",
            if pause {
                "automation paused until a configured rate is seen again or `megaflex resume` (on_outside_change = pause)"
            } else {
                "putting the wanted rate back (on_outside_change = override)"
            }
        );
        self.decide(now, i, DecisionAction::OutsideChange, reason.clone());
        self.circuits[i].last_set_mbps = Some(found_mbps);
        if pause {
            self.circuits[i].paused = Some(reason);
        }
        self.save_circuit(i);
    }

    /// Resumes a paused circuit once its VXC runs at one of its configured
    /// rates again. Returns whether the circuit is (still) paused.
    fn resume_if_paused(&mut self, i: usize, vxc: &Vxc, now: EpochMillis) -> bool {
        if self.circuits[i].paused.is_none() {
            return false;
        }
        let p = &self.circuits[i].circuit.policy;
        let rate = vxc.rate_limit_mbps;
        if rate_in_force(vxc, p.normal_mbps) || rate_in_force(vxc, p.boost_mbps) {
            self.circuits[i].paused = None;
            self.circuits[i].last_set_mbps = Some(rate);
            self.decide(
                now,
                i,
                DecisionAction::Resumed,
                format!("{} runs at a configured rate ({rate} Mbps) again", vxc.product_uid),
            );
            self.save_circuit(i);
            return false;
        }
        true
    }

    /// Operator resume: automation goes on from the rate the VXC has now.
    pub fn resume(&mut self, circuit: &str, now: EpochMillis) -> bool {
        self.deadlines_changed();
        let Some(i) = self.circuits.iter().position(|c| c.circuit.policy.name == circuit) else { return false };
        if self.circuits[i].paused.take().is_some() {
            self.circuits[i].last_set_mbps = self.circuits[i].actual_mbps;
            self.decide(now, i, DecisionAction::Resumed, "resumed by an operator".into());
            self.save_circuit(i);
            self.dirty.insert(i);
        }
        true
    }

    /// Intents still open from before a restart: the rate either is at the
    /// target (the update happened: confirm and count it) or is not (drop it;
    /// the plan below sends it again if it is still wanted).
    async fn settle_open_intents(&mut self, act: &dyn Actuator, vxcs: &HashMap<ProductUid, Vxc>, now: EpochMillis) {
        for intent in std::mem::take(&mut self.open_intents) {
            let uid = ProductUid::new(intent.vxc_uid.as_str());
            let Some(vxc) = vxcs.get(&uid) else {
                self.settle(&intent, IntentOutcome::Dropped, now, "VXC no longer on the account".into());
                continue;
            };
            let idx = self.circuits.iter().position(|c| c.circuit.policy.name == intent.circuit);
            if vxc.rate_limit_mbps == intent.target_mbps {
                // Count the update unless the ledger already has it. The
                // moment is not known: now is late, which only delays the
                // next update, never sends one too early.
                let known = act.updates_since(&uid, intent.created_at).await.map(|v| !v.is_empty()).unwrap_or(false);
                if !known && let Err(e) = act.record_update(&uid, now, UpdateOrigin::Made).await {
                    tracing::error!(%uid, error = %e, "cannot record a recovered update in the ledger");
                }
                if let Some(i) = idx {
                    self.circuits[i].last_set_mbps = Some(intent.target_mbps);
                    self.circuits[i].actual_mbps = Some(intent.target_mbps);
                    self.save_circuit(i);
                }
                let note = format!("found in force after a restart ({} Mbps)", intent.target_mbps);
                self.settle(&intent, IntentOutcome::Confirmed, now, note);
            } else if megaport::change_in_progress(vxc) {
                // Megaport is applying it (or another change): dropping it now
                // would send the update a second time. Read again later.
                self.open_intents.push(intent);
            } else {
                let note = format!("not applied before a restart (VXC at {} Mbps); decided again", vxc.rate_limit_mbps);
                self.settle(&intent, IntentOutcome::Dropped, now, note);
            }
        }
    }

    fn settle(&mut self, intent: &Intent, outcome: IntentOutcome, at: EpochMillis, note: String) {
        if let Some(i) = self.circuits.iter().position(|c| c.circuit.policy.name == intent.circuit) {
            let action = match outcome {
                IntentOutcome::Confirmed => DecisionAction::IntentConfirmed,
                IntentOutcome::Failed => DecisionAction::IntentFailed,
                IntentOutcome::Dropped => DecisionAction::IntentDropped,
            };
            self.decide(at, i, action, format!("intent {}: {note}", intent.id));
        }
        self.records.push(Record::IntentSettled { id: intent.id, outcome, at, note });
    }

    /// At a stop: every circuit whose wanted rate is not in force is
    /// recorded as deferred, with why, so the next start (or an operator
    /// reading the decisions) knows what was left to do.
    pub fn on_stop(&mut self, now: EpochMillis) {
        for i in 0..self.circuits.len() {
            let c = &self.circuits[i];
            let wanted = c.circuit.wanted_mbps();
            if c.in_flight.is_some() || c.paused.is_some() || c.actual_mbps.is_none_or(|a| a == wanted) {
                continue;
            }
            // An update cut short by this stop already said so.
            let name = &c.circuit.policy.name;
            if self
                .recent_decisions()
                .filter(|d| &d.circuit == name)
                .last()
                .is_some_and(|d| d.action == DecisionAction::Deferred)
            {
                continue;
            }
            let why = match (&c.last_plan, c.not_before) {
                (Some(Plan::Applying { .. }), _) => "Megaport is still applying a change".to_owned(),
                (Some(Plan::Wait { until, .. }), _) => format!("the update rules allow the next update at {until}"),
                (_, Some(t)) if t > now => format!("no update before {t}"),
                _ => "not sent yet".to_owned(),
            };
            let text = format!(
                "stopping: {wanted} Mbps wanted, {} at {} Mbps ({why}); the next start carries on",
                c.uid,
                c.actual_mbps.unwrap_or(0)
            );
            self.decide(now, i, DecisionAction::Deferred, text);
        }
    }

    /// Takes a finished update back: settle its intent and note the result.
    pub fn on_job_done(&mut self, r: JobResult) {
        self.deadlines_changed();
        let i = r.job.circuit;
        self.circuits[i].in_flight = None;
        match r.outcome {
            Ok(change) => {
                self.circuits[i].not_before = None;
                self.circuits[i].last_set_mbps = Some(change.after_mbps);
                self.circuits[i].actual_mbps = Some(change.vxc.rate_limit_mbps);
                let text = format!(
                    "{} at {} Mbps confirmed after {} ms ({} read(s))",
                    change.uid,
                    change.after_mbps,
                    change.took.as_millis(),
                    change.polls
                );
                self.decide(r.at, i, DecisionAction::Confirmed, text.clone());
                self.records.push(Record::IntentSettled {
                    id: r.job.intent.id,
                    outcome: IntentOutcome::Confirmed,
                    at: r.at,
                    note: text,
                });
            }
            Err(megaport::Error::UpdateRefused { next_allowed_at, rule, detail, .. }) => {
                // Nothing was sent (or Megaport refused it): wait for the time
                // the rule names, once, instead of asking again at once.
                let text = format!(
                    "{} Mbps deferred until {next_allowed_at} ({rule}){}",
                    r.job.intent.target_mbps,
                    detail.map(|d| format!(": {d}")).unwrap_or_default()
                );
                self.circuits[i].not_before = Some(next_allowed_at);
                self.circuits[i].wait_until = Some(next_allowed_at);
                self.decide(r.at, i, DecisionAction::Wait, text.clone());
                self.records.push(Record::IntentSettled {
                    id: r.job.intent.id,
                    outcome: IntentOutcome::Dropped,
                    at: r.at,
                    note: format!("refused, nothing changed: {text}"),
                });
                self.circuits[i].last_plan =
                    Some(Plan::Wait { mbps: r.job.intent.target_mbps, until: next_allowed_at });
                self.save_circuit(i);
                return;
            }
            Err(e @ megaport::Error::Stopped { request_sent, .. }) => {
                let text = format!("update of {} to {} Mbps: {e}", r.job.intent.vxc_uid, r.job.intent.target_mbps);
                self.decide(r.at, i, DecisionAction::Deferred, text.clone());
                if request_sent {
                    // Megaport has it: the intent stays open and the next start
                    // confirms it by reading, without sending it again.
                    self.open_intents.push(r.job.intent.clone());
                } else {
                    self.records.push(Record::IntentSettled {
                        id: r.job.intent.id,
                        outcome: IntentOutcome::Dropped,
                        at: r.at,
                        note: text,
                    });
                }
                self.save_circuit(i);
                return;
            }
            Err(e) => {
                self.decide(r.at, i, DecisionAction::Failed, format!("update of {} failed: {e}", r.job.intent.vxc_uid));
                self.records.push(Record::IntentSettled {
                    id: r.job.intent.id,
                    outcome: IntentOutcome::Failed,
                    at: r.at,
                    note: e.to_string(),
                });
                self.circuits[i].last_plan = None;
                self.circuits[i].not_before = Some(r.at.plus_millis(FAILED_RETRY_MS));
            }
        }
        self.save_circuit(i);
        // Wanted may have moved on while the update was in flight.
        if self.circuits[i].circuit.wanted_mbps() != self.circuits[i].actual_mbps.unwrap_or(0) {
            self.dirty.insert(i);
        }
    }
}

fn inputs_of<'a>(c: &'a CircuitState, vxc: &'a Vxc, budget: &'a UpdateBudget, now: EpochMillis) -> Inputs<'a> {
    let policy = &c.circuit.policy;
    Inputs {
        vxc,
        wanted_mbps: c.circuit.wanted_mbps(),
        wanting_boost: c.circuit.boosted(),
        own_rates: (policy.normal_mbps, policy.boost_mbps),
        last_set_mbps: c.last_set_mbps,
        budget,
        max_updates_per_month: c.max_updates_per_month,
        now,
    }
}
