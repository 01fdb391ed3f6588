//! The engine's state and rules, apart from sockets and timers: events move
//! links, links move circuits' wanted rates, and a reconcile cycle compares
//! wanted with actual and produces update jobs. The daemon and `replay`
//! drive the same core, one with real time, one with a virtual clock.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use megaport::types::{EpochMillis, ProductUid, Vxc};
use megaport::{UpdateBudget, UpdateOrigin, rate_in_force};

use super::actuator::Actuator;
use super::status::{CircuitView, LinkView, StatusView};
use crate::circuits::{Circuit, CircuitPolicy, Pending};
use crate::config::{Config, OutsideChange, Signal};
use crate::event::{Event, EventKind, SourceKind};
use crate::links::{Link, LinkStatus};
use crate::reconcile::{Inputs, Plan, plan};
use crate::store::{CircuitRow, DecisionRecord, Intent, IntentOutcome, Record, Snapshot, StoreError};

/// How many decisions `/api/status` keeps.
const RECENT_DECISIONS: usize = 50;

/// One circuit and what the engine knows about its VXC.
#[derive(Debug)]
pub(crate) struct CircuitState {
    pub(crate) circuit: Circuit,
    pub(crate) uid: ProductUid,
    pub(crate) max_updates_per_month: u32,
    pub(crate) on_outside_change: OutsideChange,
    pub(crate) last_set_mbps: Option<u32>,
    pub(crate) actual_mbps: Option<u32>,
    pub(crate) paused: Option<String>,
    pub(crate) in_flight: Option<i64>,
    pub(crate) wait_until: Option<EpochMillis>,
    pub(crate) budget: Option<UpdateBudget>,
    last_plan: Option<Plan>,
}

impl CircuitState {
    fn row(&self) -> CircuitRow {
        CircuitRow {
            circuit: self.circuit.policy.name.clone(),
            wanted_mbps: self.circuit.wanted_mbps(),
            pending: self.circuit.pending(),
            episode: self.circuit.episode(),
            last_set_mbps: self.last_set_mbps,
            actual_mbps: self.actual_mbps,
            paused_reason: self.paused.clone(),
        }
    }
}

/// An update to send: the intent is already on disk.
#[derive(Debug, Clone)]
pub struct Job {
    /// Index of the circuit.
    pub circuit: usize,
    /// The intent written for it.
    pub intent: Intent,
    /// The VXC as read this cycle.
    pub vxc: Vxc,
}

/// How a job ended.
#[derive(Debug)]
pub struct JobResult {
    /// The job.
    pub job: Job,
    /// Confirmed rate change, or the error text.
    pub outcome: Result<megaport::RateChange, String>,
    /// When it ended.
    pub at: EpochMillis,
}

/// The engine's state.
#[derive(Debug)]
pub struct Core {
    pub(crate) links: Vec<Link>,
    pub(crate) circuits: Vec<CircuitState>,
    /// Links by what their signals listen to (see [`signal_key`]): an event
    /// is offered only to the links that could match it.
    signal_index: HashMap<String, Vec<usize>>,
    /// Per link, the circuits watching it.
    link_circuits: Vec<Vec<usize>>,
    /// Per circuit, the links it watches.
    circuit_links: Vec<Vec<usize>>,
    next_intent_id: i64,
    open_intents: Vec<Intent>,
    recent: VecDeque<DecisionRecord>,
    /// Records produced since the last `take_records`.
    records: Vec<Record>,
    /// A reconcile cycle should run as soon as possible.
    pub(crate) reconcile_due: bool,
    pub(crate) events_changed_state: u64,
    pub(crate) events_ignored: u64,
    pub(crate) reconciles: u64,
    pub(crate) decisions_by_action: std::collections::BTreeMap<String, u64>,
}

impl Core {
    /// Builds the state from the configuration, then resumes from `snapshot`.
    pub fn new(config: &Config, snapshot: Snapshot, now: EpochMillis) -> Self {
        let mut links: Vec<Link> = config.links.iter().map(|l| Link::from_config(l.get_ref(), now)).collect();
        for row in &snapshot.links {
            if let Some(l) = links.iter_mut().find(|l| l.name == row.link) {
                l.restore(row.status, row.since, &row.signals);
            }
        }
        let circuits: Vec<CircuitState> = config
            .circuits
            .iter()
            .map(|c| {
                let c = c.get_ref();
                let policy = CircuitPolicy {
                    name: c.name.get_ref().clone(),
                    normal_mbps: *c.normal_mbps.get_ref(),
                    boost_mbps: *c.boost_mbps.get_ref(),
                    links: c.boost_when_down.iter().map(|l| l.get_ref().clone()).collect(),
                    boost_after: c.boost_after.0,
                    restore_after: c.restore_after.0,
                };
                let mut state = CircuitState {
                    circuit: Circuit::new(policy, 0),
                    uid: ProductUid::new(c.vxc.get_ref().as_str()),
                    max_updates_per_month: *c.max_updates_per_month.get_ref(),
                    on_outside_change: c.on_outside_change,
                    last_set_mbps: None,
                    actual_mbps: None,
                    paused: None,
                    in_flight: None,
                    wait_until: None,
                    budget: None,
                    last_plan: None,
                };
                if let Some(row) = snapshot.circuits.iter().find(|r| r.circuit == *c.name.get_ref()) {
                    // A wanted rate that is no longer one of the configured
                    // ones (the config changed) restarts from normal.
                    let p = &state.circuit.policy;
                    let wanted = if row.wanted_mbps == p.boost_mbps { p.boost_mbps } else { p.normal_mbps };
                    state.circuit.restore_state(wanted, row.pending, row.episode);
                    state.last_set_mbps = row.last_set_mbps;
                    state.actual_mbps = row.actual_mbps;
                    state.paused = row.paused_reason.clone();
                }
                state
            })
            .collect();
        let mut signal_index: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, l) in links.iter().enumerate() {
            for s in l.signals() {
                let entry = signal_index.entry(signal_key(s)).or_default();
                if entry.last() != Some(&i) {
                    entry.push(i);
                }
            }
        }
        let circuit_links: Vec<Vec<usize>> = circuits
            .iter()
            .map(|c| {
                c.circuit.policy.links.iter().filter_map(|n| links.iter().position(|l| &l.name == n)).collect()
            })
            .collect();
        let mut link_circuits = vec![Vec::new(); links.len()];
        for (c, ls) in circuit_links.iter().enumerate() {
            for &l in ls {
                link_circuits[l].push(c);
            }
        }
        let mut core = Self {
            signal_index,
            link_circuits,
            circuit_links,
            links,
            circuits,
            next_intent_id: snapshot.last_intent_id + 1,
            open_intents: snapshot.open_intents,
            recent: VecDeque::new(),
            records: Vec::new(),
            reconcile_due: true,
            events_changed_state: 0,
            events_ignored: 0,
            reconciles: 0,
            decisions_by_action: Default::default(),
        };
        // Timers are re-derived from the links: a hold-down or hold-up whose
        // record was lost in a crash restarts from the last link change
        // rather than being forgotten (a persisted deadline is kept).
        let since = core.links.iter().map(Link::since).max().map_or(now, |s| s.min(now));
        let all: Vec<usize> = (0..core.links.len()).collect();
        core.links_changed(&all, since);
        core
    }

    /// Records to write since the last call, in order.
    pub fn take_records(&mut self) -> Vec<Record> {
        std::mem::take(&mut self.records)
    }

    /// Decisions so far (newest last), at most [`RECENT_DECISIONS`].
    pub fn recent_decisions(&self) -> impl Iterator<Item = &DecisionRecord> {
        self.recent.iter()
    }

    fn decide(&mut self, at: EpochMillis, circuit: usize, action: &str, reason: String) {
        let c = &self.circuits[circuit];
        let d = DecisionRecord {
            at,
            circuit: c.circuit.policy.name.clone(),
            episode: c.circuit.episode(),
            action: action.to_owned(),
            wanted_mbps: c.circuit.wanted_mbps(),
            reason,
        };
        match action {
            "refuse" | "outside_change" | "failed" => {
                tracing::warn!(circuit = %d.circuit, action, wanted_mbps = d.wanted_mbps, "{}", d.reason)
            }
            _ => tracing::info!(circuit = %d.circuit, action, wanted_mbps = d.wanted_mbps, "{}", d.reason),
        }
        *self.decisions_by_action.entry(d.action.clone()).or_default() += 1;
        if self.recent.len() == RECENT_DECISIONS {
            self.recent.pop_front();
        }
        self.recent.push_back(d.clone());
        self.records.push(Record::Decision(d));
    }

    fn save_circuit(&mut self, circuit: usize) {
        let row = self.circuits[circuit].row();
        self.records.push(Record::Circuit(row));
    }

    /// Applies an event. Returns whether it changed a link. Timers due
    /// before the event fire first, so order in time is kept even when
    /// events arrive in a burst.
    pub fn on_event(&mut self, event: &Event) -> bool {
        self.tick(event.received_at);
        let mut changed = Vec::new();
        for key in event_keys(event) {
            let Some(candidates) = self.signal_index.get(&key) else { continue };
            for &i in candidates {
                if changed.contains(&i) {
                    continue;
                }
                if let Some(t) = self.links[i].apply(event) {
                    changed.push(i);
                    self.records.push(Record::Transition(t));
                }
            }
        }
        if changed.is_empty() {
            self.events_ignored += 1;
            return false;
        }
        self.events_changed_state += 1;
        self.records.push(Record::Event(Box::new(event.clone())));
        for &i in &changed {
            self.records.push(Record::Link(self.links[i].row()));
        }
        self.links_changed(&changed, event.received_at);
        true
    }

    /// Re-evaluates the circuits watching any of `changed` (link indices).
    fn links_changed(&mut self, changed: &[usize], at: EpochMillis) {
        let mut affected: Vec<usize> = changed.iter().flat_map(|&l| self.link_circuits[l].iter().copied()).collect();
        affected.sort_unstable();
        affected.dedup();
        for i in affected {
            let statuses: Vec<(String, LinkStatus)> = self.circuit_links[i]
                .iter()
                .map(|&l| (self.links[l].name.clone(), self.links[l].status()))
                .collect();
            let before = self.circuits[i].circuit.pending();
            self.circuits[i].circuit.on_links(&statuses, at);
            let after = self.circuits[i].circuit.pending();
            if before != after {
                let name = &self.circuits[i].circuit.policy;
                let text = match after {
                    Some(Pending::Boost(t)) => {
                        format!("watched link down: boost to {} Mbps at {t} unless it recovers", name.boost_mbps)
                    }
                    Some(Pending::Restore(t)) => {
                        format!("watched links up: restore to {} Mbps at {t} if they stay up", name.normal_mbps)
                    }
                    None => match before {
                        Some(Pending::Boost(_)) => "link recovered within the hold-down: no boost".to_owned(),
                        _ => "link down again during the hold-up: staying boosted".to_owned(),
                    },
                };
                let action = match after {
                    Some(Pending::Boost(_)) => "hold_down",
                    Some(Pending::Restore(_)) => "hold_up",
                    None => "cancel_timer",
                };
                self.decide(at, i, action, text);
                self.save_circuit(i);
            }
        }
    }

    /// Lets time pass: ends flapping, fires hold-down/hold-up timers. Returns
    /// whether a wanted rate changed.
    pub fn tick(&mut self, now: EpochMillis) -> bool {
        let mut changed = Vec::new();
        for i in 0..self.links.len() {
            if self.links[i].flap_deadline().is_none_or(|d| d > now) {
                continue;
            }
            if let Some(t) = self.links[i].tick(now) {
                self.records.push(Record::Transition(t));
                self.records.push(Record::Link(self.links[i].row()));
                changed.push(i);
            }
        }
        if !changed.is_empty() {
            self.links_changed(&changed, now);
        }
        let mut wanted_changed = false;
        for i in 0..self.circuits.len() {
            if let Some(d) = self.circuits[i].circuit.tick(now) {
                let action = if self.circuits[i].circuit.boosted() { "boost" } else { "restore" };
                self.decide(d.at, i, action, d.reason);
                self.save_circuit(i);
                wanted_changed = true;
            }
        }
        if wanted_changed {
            self.reconcile_due = true;
        }
        wanted_changed
    }

    /// The next moment something happens by itself: a timer, the end of
    /// flapping, or an update becoming allowed for a circuit that waits.
    pub fn next_deadline(&self) -> Option<EpochMillis> {
        let timers = self.circuits.iter().filter_map(|c| c.circuit.next_deadline());
        let flaps = self.links.iter().filter_map(Link::flap_deadline);
        let waits = self.circuits.iter().filter_map(|c| c.wait_until);
        timers.chain(flaps).chain(waits).min()
    }

    /// Whether a circuit waits for an update slot that has now arrived.
    pub fn wait_over(&self, now: EpochMillis) -> bool {
        self.circuits.iter().any(|c| c.wait_until.is_some_and(|t| t <= now))
    }

    /// One reconcile cycle: one read of the account, settle intents left by
    /// a crash, then decide for every circuit. Returns the updates to send;
    /// their intents are already durable when this returns.
    pub async fn reconcile(
        &mut self,
        act: &dyn Actuator,
        now: EpochMillis,
        flush: &(dyn Fn(Vec<Record>) -> super::FlushFuture + Send + Sync),
    ) -> Result<Vec<Job>, ReconcileError> {
        self.reconcile_due = false;
        self.reconciles += 1;
        let vxcs: HashMap<ProductUid, Vxc> = act
            .read_vxcs()
            .await
            .map_err(ReconcileError::Read)?
            .into_iter()
            .map(|v| (v.product_uid.clone(), v))
            .collect();
        self.settle_open_intents(act, &vxcs, now).await;
        let mut jobs = Vec::new();
        for i in 0..self.circuits.len() {
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
            let budget = match act.budget(&uid, now).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(%uid, error = %e, "cannot read the update ledger; skipping this circuit this cycle");
                    continue;
                }
            };
            let mut p = plan(&inputs_of(&self.circuits[i], vxc, &budget, now));
            self.circuits[i].budget = Some(budget);
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
                self.decide(now, i, "update", format!("set {uid} from {from} to {mbps} Mbps (intent {})", intent.id));
                self.circuits[i].in_flight = Some(intent.id);
                self.circuits[i].wait_until = None;
                self.circuits[i].last_plan = Some(p);
                self.records.push(Record::IntentOpened(intent.clone()));
                jobs.push(Job { circuit: i, intent, vxc: vxc.clone() });
            } else {
                self.note_plan(i, now, p);
            }
        }
        // The intents (and everything decided before them) are on disk before
        // any update is sent: a crash from here on is settled on restart.
        flush(self.take_records()).await.map_err(ReconcileError::Store)?;
        Ok(jobs)
    }

    fn note_plan(&mut self, i: usize, now: EpochMillis, p: Plan) {
        let repeated = self.circuits[i].last_plan.as_ref() == Some(&p);
        self.circuits[i].wait_until = match &p {
            Plan::Wait { until, .. } => Some(*until),
            _ => None,
        };
        if !repeated {
            match &p {
                Plan::InSync => {
                    if matches!(self.circuits[i].last_plan, Some(Plan::Wait { .. })) {
                        self.decide(now, i, "coalesced", "the rate is already what is wanted: no update needed".into());
                    }
                }
                Plan::Wait { mbps, until } => {
                    let b = self.circuits[i].budget.as_ref();
                    let rule = b.and_then(|b| b.blocked_by).map_or("update rule".to_owned(), |r| r.to_string());
                    self.decide(now, i, "wait", format!("{mbps} Mbps deferred until {until} ({rule})"));
                }
                Plan::Refuse { mbps, reason } => {
                    self.decide(now, i, "refuse", format!("{mbps} Mbps refused: {reason}"))
                }
                Plan::Update { .. } | Plan::OutsideChange { .. } => {}
            }
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
        self.decide(now, i, "outside_change", reason.clone());
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
                "resumed",
                format!("{} runs at a configured rate ({rate} Mbps) again", vxc.product_uid),
            );
            self.save_circuit(i);
            return false;
        }
        true
    }

    /// Operator resume: automation goes on from the rate the VXC has now.
    pub fn resume(&mut self, circuit: &str, now: EpochMillis) -> bool {
        let Some(i) = self.circuits.iter().position(|c| c.circuit.policy.name == circuit) else { return false };
        if self.circuits[i].paused.take().is_some() {
            self.circuits[i].last_set_mbps = self.circuits[i].actual_mbps;
            self.decide(now, i, "resumed", "resumed by an operator".into());
            self.save_circuit(i);
            self.reconcile_due = true;
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
                    self.save_circuit(i);
                }
                let note = format!("found in force after a restart ({} Mbps)", intent.target_mbps);
                self.settle(&intent, IntentOutcome::Confirmed, now, note);
            } else {
                let note = format!("not applied before a restart (VXC at {} Mbps); decided again", vxc.rate_limit_mbps);
                self.settle(&intent, IntentOutcome::Dropped, now, note);
            }
        }
    }

    fn settle(&mut self, intent: &Intent, outcome: IntentOutcome, at: EpochMillis, note: String) {
        if let Some(i) = self.circuits.iter().position(|c| c.circuit.policy.name == intent.circuit) {
            let action = match outcome {
                IntentOutcome::Confirmed => "intent_confirmed",
                IntentOutcome::Failed => "intent_failed",
                IntentOutcome::Dropped => "intent_dropped",
            };
            self.decide(at, i, action, format!("intent {}: {note}", intent.id));
        }
        self.records.push(Record::IntentSettled { id: intent.id, outcome, at, note });
    }

    /// Takes a finished update back: settle its intent and note the result.
    pub fn on_job_done(&mut self, r: JobResult) {
        let i = r.job.circuit;
        self.circuits[i].in_flight = None;
        match r.outcome {
            Ok(change) => {
                self.circuits[i].last_set_mbps = Some(change.after_mbps);
                self.circuits[i].actual_mbps = Some(change.vxc.rate_limit_mbps);
                let text = format!(
                    "{} at {} Mbps confirmed after {} ms ({} read(s))",
                    change.uid,
                    change.after_mbps,
                    change.took.as_millis(),
                    change.polls
                );
                self.decide(r.at, i, "confirmed", text.clone());
                self.records.push(Record::IntentSettled {
                    id: r.job.intent.id,
                    outcome: IntentOutcome::Confirmed,
                    at: r.at,
                    note: text,
                });
            }
            Err(e) => {
                self.decide(r.at, i, "failed", format!("update of {} failed: {e}", r.job.intent.vxc_uid));
                self.records.push(Record::IntentSettled {
                    id: r.job.intent.id,
                    outcome: IntentOutcome::Failed,
                    at: r.at,
                    note: e,
                });
                self.circuits[i].last_plan = None;
            }
        }
        self.save_circuit(i);
        // Wanted may have moved on while the update was in flight.
        self.reconcile_due = true;
    }

    /// What `/api/status` and `megaflex status` show.
    pub fn status(&self, now: EpochMillis) -> StatusView {
        StatusView {
            now,
            links: self
                .links
                .iter()
                .map(|l| LinkView { name: l.name.clone(), status: l.status(), since: l.since() })
                .collect(),
            circuits: self
                .circuits
                .iter()
                .map(|c| CircuitView {
                    name: c.circuit.policy.name.clone(),
                    vxc: c.uid.to_string(),
                    normal_mbps: c.circuit.policy.normal_mbps,
                    boost_mbps: c.circuit.policy.boost_mbps,
                    wanted_mbps: c.circuit.wanted_mbps(),
                    actual_mbps: c.actual_mbps,
                    pending: c.circuit.pending(),
                    episode: c.circuit.episode(),
                    paused: c.paused.clone(),
                    in_flight: c.in_flight.is_some(),
                    updates_used_this_month: c.budget.as_ref().map(|b| b.used_this_month),
                    next_update_allowed_at: c.budget.as_ref().map(|b| b.next_allowed_at),
                    max_updates_per_month: c.max_updates_per_month,
                })
                .collect(),
            recent_decisions: self.recent.iter().rev().cloned().collect(),
        }
    }
}

/// The index key of a signal: what it listens to.
fn signal_key(s: &Signal) -> String {
    match s {
        Signal::Syslog { host, .. } => format!("s|{}", host.to_ascii_lowercase()),
        Signal::Bgp { host, .. } => format!("b|{}", host.to_ascii_lowercase()),
        Signal::Snmp { agent, .. } => format!("n|{}", agent.to_ascii_lowercase()),
        Signal::Alert { alertname, .. } => format!("a|{alertname}"),
    }
}

/// The index keys an event could match (its hostname and its address).
fn event_keys(e: &Event) -> Vec<String> {
    let hosts = || {
        e.device.hostname.iter().chain(e.device.address.iter()).map(|h| h.to_ascii_lowercase()).collect::<Vec<_>>()
    };
    match (e.kind, e.source) {
        (EventKind::Alert, _) => e.device.labels.get("alertname").map(|a| format!("a|{a}")).into_iter().collect(),
        (EventKind::BgpPeer, _) => hosts().into_iter().map(|h| format!("b|{h}")).collect(),
        (EventKind::Link, SourceKind::SnmpTrap) => {
            e.device.address.iter().map(|a| format!("n|{}", a.to_ascii_lowercase())).collect()
        }
        (EventKind::Link, _) => hosts().into_iter().map(|h| format!("s|{h}")).collect(),
        (EventKind::Other, _) => Vec::new(),
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

/// Why a reconcile cycle did not finish.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The account could not be read.
    #[error("reading the account: {0}")]
    Read(megaport::Error),
    /// Intents could not be written: nothing is sent.
    #[error("{0}; no update sent")]
    Store(StoreError),
}

/// Shared ownership of the core for the HTTP handlers.
pub type SharedCore = Arc<tokio::sync::Mutex<Core>>;
