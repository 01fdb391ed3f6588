//! The engine's state and rules, apart from sockets and timers: events move
//! links, links move circuits' wanted rates, and a reconcile cycle compares
//! wanted with actual and produces update jobs. The daemon and `replay`
//! drive the same core, one with real time, one with a virtual clock.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use megaport::UpdateBudget;
use megaport::types::{EpochMillis, ProductUid, Vxc};

use crate::config::{Config, OutsideChange};
use crate::status::{CircuitView, LinkView, StatusView};
use megaflex_domain::circuits::DecisionAction;
use megaflex_domain::circuits::{Circuit, CircuitPolicy, Pending};
use megaflex_domain::event::Event;
use megaflex_domain::incident::{self, CircuitFacts, EpisodeIncident};
use megaflex_domain::links::{Link, LinkStatus};
use megaflex_domain::reconcile::Plan;
use megaflex_domain::signal::{SignalKey, event_keys};
use megaflex_store::{CircuitRow, DecisionRecord, Intent, LinkRow, Record, Snapshot, StoreError};

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
    /// No update before this: Megaport refused one until then, or the last
    /// one failed (a refused update must not become a loop of refusals).
    pub(crate) not_before: Option<EpochMillis>,
    pub(crate) budget: Option<UpdateBudget>,
    pub(crate) last_plan: Option<Plan>,
    /// `incident = true` and a `[servicenow]` section.
    pub(crate) incident_enabled: bool,
    /// The ServiceNow incident of the episode in progress.
    pub(crate) incident: Option<EpisodeIncident>,
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
            incident: self.incident,
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
    /// Confirmed rate change, or why not (a refusal says until when; a stop
    /// says whether the update had been sent).
    pub outcome: Result<megaport::RateChange, megaport::Error>,
    /// When it ended.
    pub at: EpochMillis,
}

/// The engine's state.
#[derive(Debug)]
pub struct Core {
    pub(crate) links: Vec<Link>,
    pub(crate) circuits: Vec<CircuitState>,
    /// Links by what their signals listen to (see [`SignalKey`]): an event
    /// is offered only to the links that could match it.
    signal_index: HashMap<SignalKey, Vec<usize>>,
    /// Per link, the circuits watching it.
    link_circuits: Vec<Vec<usize>>,
    /// Per circuit, the links it watches.
    circuit_links: Vec<Vec<usize>>,
    /// Names shared with every status view.
    link_names: Vec<Arc<str>>,
    circuit_names: Vec<(Arc<str>, Arc<str>)>,
    pub(crate) next_intent_id: i64,
    pub(crate) open_intents: Vec<Intent>,
    recent: VecDeque<DecisionRecord>,
    /// Records produced since the last `take_records`.
    pub(crate) records: Vec<Record>,
    /// The next cycle reads the whole account.
    pub(crate) full_read_due: bool,
    /// Circuits whose wanted rate changed (or whose wait ended) since the last cycle.
    pub(crate) dirty: std::collections::BTreeSet<usize>,
    pub(crate) events_changed_state: u64,
    pub(crate) events_ignored: u64,
    pub(crate) reconciles: u64,
    pub(crate) decisions_by_action: std::collections::BTreeMap<&'static str, u64>,
    /// `next_deadline` is O(links + circuits); events come by the hundred
    /// thousand a second and almost never move a deadline.
    deadline_cache: std::cell::Cell<Option<Option<EpochMillis>>>,
}

impl Core {
    /// Builds the state from the configuration, then resumes from `snapshot`.
    pub fn new(config: &Config, snapshot: Snapshot, now: EpochMillis) -> Self {
        let mut links: Vec<Link> = config.links.iter().map(|l| l.link(now)).collect();
        for row in &snapshot.links {
            if let Some(l) = links.iter_mut().find(|l| l.name == row.link) {
                l.restore(row.status, row.since, &row.signals);
            }
        }
        let circuits: Vec<CircuitState> = config
            .circuits
            .iter()
            .map(|c| {
                let mut state = CircuitState {
                    circuit: Circuit::new(c.policy(), 0),
                    uid: c.vxc.clone(),
                    max_updates_per_month: c.max_updates_per_month,
                    on_outside_change: c.on_outside_change,
                    last_set_mbps: None,
                    actual_mbps: None,
                    paused: None,
                    in_flight: None,
                    wait_until: None,
                    not_before: None,
                    budget: None,
                    last_plan: None,
                    incident_enabled: c.incident && config.servicenow.is_some(),
                    incident: None,
                };
                if let Some(row) = snapshot.circuits.iter().find(|r| r.circuit == c.name) {
                    // A wanted rate that is no longer one of the configured
                    // ones (the config changed) restarts from normal.
                    let p = &state.circuit.policy;
                    let wanted = if row.wanted_mbps == p.boost_mbps { p.boost_mbps } else { p.normal_mbps };
                    let pending = row.pending.map(|t| clamp_pending(t, p, now));
                    state.circuit.restore_state(wanted, pending, row.episode);
                    state.last_set_mbps = row.last_set_mbps;
                    state.actual_mbps = row.actual_mbps;
                    state.paused = row.paused_reason.clone();
                    state.incident = row.incident;
                }
                state
            })
            .collect();
        let mut signal_index: HashMap<SignalKey, Vec<usize>> = HashMap::new();
        for (i, l) in links.iter().enumerate() {
            for s in l.signals() {
                let entry = signal_index.entry(s.key()).or_default();
                if entry.last() != Some(&i) {
                    entry.push(i);
                }
            }
        }
        let circuit_links: Vec<Vec<usize>> = circuits
            .iter()
            .map(|c| c.circuit.policy.links.iter().filter_map(|n| links.iter().position(|l| &l.name == n)).collect())
            .collect();
        let mut link_circuits = vec![Vec::new(); links.len()];
        for (c, ls) in circuit_links.iter().enumerate() {
            for &l in ls {
                link_circuits[l].push(c);
            }
        }
        let link_names = links.iter().map(|l| Arc::from(l.name.as_str())).collect();
        let circuit_names =
            circuits.iter().map(|c| (Arc::from(c.circuit.policy.name.as_str()), Arc::from(c.uid.as_str()))).collect();
        let mut core = Self {
            link_names,
            circuit_names,
            signal_index,
            link_circuits,
            circuit_links,
            links,
            circuits,
            next_intent_id: snapshot.last_intent_id + 1,
            open_intents: snapshot.open_intents,
            recent: VecDeque::new(),
            records: Vec::new(),
            full_read_due: true,
            dirty: Default::default(),
            events_changed_state: 0,
            events_ignored: 0,
            reconciles: 0,
            decisions_by_action: Default::default(),
            deadline_cache: std::cell::Cell::new(None),
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

    pub(crate) fn decide(&mut self, at: EpochMillis, circuit: usize, action: DecisionAction, reason: String) {
        let c = &self.circuits[circuit];
        let d = DecisionRecord {
            at,
            circuit: c.circuit.policy.name.clone(),
            episode: c.circuit.episode(),
            action,
            wanted_mbps: c.circuit.wanted_mbps(),
            reason,
        };
        let text = if self.circuits[circuit].incident_enabled { d.reason.clone() } else { String::new() };
        match action {
            DecisionAction::Refuse
            | DecisionAction::OutsideChange
            | DecisionAction::Failed
            | DecisionAction::Deferred => {
                tracing::warn!(circuit = %d.circuit, action = action.as_str(), wanted_mbps = d.wanted_mbps, "{}", d.reason)
            }
            DecisionAction::HoldDown
            | DecisionAction::HoldUp
            | DecisionAction::CancelTimer
            | DecisionAction::Boost
            | DecisionAction::Restore
            | DecisionAction::Update
            | DecisionAction::Confirmed
            | DecisionAction::Wait
            | DecisionAction::Applying
            | DecisionAction::Resumed
            | DecisionAction::Coalesced
            | DecisionAction::InSync
            | DecisionAction::Flapping
            | DecisionAction::IntentConfirmed
            | DecisionAction::IntentFailed
            | DecisionAction::IntentDropped => {
                tracing::info!(circuit = %d.circuit, action = action.as_str(), wanted_mbps = d.wanted_mbps, "{}", d.reason)
            }
        }
        *self.decisions_by_action.entry(action.as_str()).or_default() += 1;
        if self.recent.len() == RECENT_DECISIONS {
            self.recent.pop_front();
        }
        self.recent.push_back(d.clone());
        self.records.push(Record::Decision(d));
        if self.circuits[circuit].incident_enabled {
            self.incident_step(at, circuit, action, &text);
        }
    }

    /// The ServiceNow side of a decision, queued with it in the outbox.
    fn incident_step(&mut self, at: EpochMillis, circuit: usize, action: DecisionAction, reason: &str) {
        let c = &mut self.circuits[circuit];
        let before = c.incident;
        let policy = &c.circuit.policy;
        let facts = CircuitFacts {
            circuit: &policy.name,
            vxc_uid: c.uid.as_str(),
            links: &policy.links,
            normal_mbps: policy.normal_mbps,
            boost_mbps: policy.boost_mbps,
            episode: c.circuit.episode(),
            boosted: c.circuit.boosted(),
            timer_running: c.circuit.pending().is_some(),
            actual_mbps: c.actual_mbps,
        };
        let items = incident::on_decision(&mut c.incident, &facts, at, action, reason);
        let changed = c.incident != before;
        self.records.extend(items.into_iter().map(Record::Outbox));
        if changed {
            self.save_circuit(circuit);
        }
    }

    pub(crate) fn save_circuit(&mut self, circuit: usize) {
        let row = self.circuits[circuit].row();
        self.records.push(Record::Circuit(row));
    }

    /// Applies an event. Returns whether it changed a link. Timers due
    /// before the event fire first, so order in time is kept even when
    /// events arrive in a burst.
    pub fn on_event(&mut self, event: &Event) -> bool {
        self.tick(event.received_at);
        let mut changed = Vec::new();
        let mut started_flapping = Vec::new();
        for key in event_keys(event) {
            let Some(candidates) = self.signal_index.get(&key) else { continue };
            for &i in candidates {
                if changed.contains(&i) {
                    continue;
                }
                if let Some(t) = self.links[i].apply(event) {
                    changed.push(i);
                    if t.to == LinkStatus::Flapping {
                        started_flapping.push(i);
                    }
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
            self.records.push(Record::Link(LinkRow::of(&self.links[i])));
        }
        self.links_changed(&changed, event.received_at);
        for l in started_flapping {
            for c in self.link_circuits[l].clone() {
                let text = format!("{} is flapping: treated as down until it stays quiet", self.links[l].name);
                self.decide(event.received_at, c, DecisionAction::Flapping, text);
            }
        }
        true
    }

    /// Re-evaluates the circuits watching any of `changed` (link indices).
    fn links_changed(&mut self, changed: &[usize], at: EpochMillis) {
        self.deadlines_changed();
        let mut affected: Vec<usize> = changed.iter().flat_map(|&l| self.link_circuits[l].iter().copied()).collect();
        affected.sort_unstable();
        affected.dedup();
        for i in affected {
            let statuses: Vec<(String, LinkStatus)> =
                self.circuit_links[i].iter().map(|&l| (self.links[l].name.clone(), self.links[l].status())).collect();
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
                    Some(Pending::Boost(_)) => DecisionAction::HoldDown,
                    Some(Pending::Restore(_)) => DecisionAction::HoldUp,
                    None => DecisionAction::CancelTimer,
                };
                self.decide(at, i, action, text);
                self.save_circuit(i);
            }
        }
    }

    /// Lets time pass: ends flapping, fires hold-down/hold-up timers. Returns
    /// whether a wanted rate changed.
    pub fn tick(&mut self, now: EpochMillis) -> bool {
        if self.next_deadline().is_none_or(|d| d > now) {
            return false;
        }
        self.deadlines_changed();
        let mut changed = Vec::new();
        for i in 0..self.links.len() {
            if self.links[i].flap_deadline().is_none_or(|d| d > now) {
                continue;
            }
            if let Some(t) = self.links[i].tick(now) {
                self.records.push(Record::Transition(t));
                self.records.push(Record::Link(LinkRow::of(&self.links[i])));
                changed.push(i);
            }
        }
        if !changed.is_empty() {
            self.links_changed(&changed, now);
        }
        let mut wanted_changed = false;
        for i in 0..self.circuits.len() {
            if let Some(d) = self.circuits[i].circuit.tick(now) {
                let action =
                    if self.circuits[i].circuit.boosted() { DecisionAction::Boost } else { DecisionAction::Restore };
                self.decide(d.at, i, action, d.reason);
                self.save_circuit(i);
                self.dirty.insert(i);
                wanted_changed = true;
            }
        }
        wanted_changed
    }

    /// The next moment something happens by itself: a timer, the end of
    /// flapping, or an update becoming allowed for a circuit that waits.
    pub fn next_deadline(&self) -> Option<EpochMillis> {
        if let Some(cached) = self.deadline_cache.get() {
            return cached;
        }
        let timers = self.circuits.iter().filter_map(|c| c.circuit.next_deadline());
        let flaps = self.links.iter().filter_map(Link::flap_deadline);
        let waits = self.circuits.iter().filter_map(|c| c.wait_until.or(c.not_before));
        let next = timers.chain(flaps).chain(waits).min();
        self.deadline_cache.set(Some(next));
        next
    }

    /// Timers or waits may have moved: the next deadline is computed again.
    pub(crate) fn deadlines_changed(&self) {
        self.deadline_cache.set(None);
    }

    /// What `/api/status` and `megaflex status` show.
    pub fn status(&self, now: EpochMillis) -> StatusView {
        StatusView {
            now,
            links: self
                .links
                .iter()
                .zip(&self.link_names)
                .map(|(l, name)| LinkView { name: name.clone(), status: l.status(), since: l.since() })
                .collect(),
            circuits: self
                .circuits
                .iter()
                .zip(&self.circuit_names)
                .map(|(c, (name, vxc))| CircuitView {
                    name: name.clone(),
                    vxc: vxc.clone(),
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

/// A persisted deadline, as restored at a start: never further away than its
/// whole hold time from now. A wall clock stepped back between two runs
/// would otherwise stretch a hold-down by the step; the time already spent
/// is kept when the clock is right.
fn clamp_pending(pending: Pending, policy: &CircuitPolicy, now: EpochMillis) -> Pending {
    let latest = |hold: std::time::Duration| now.plus_millis(hold.as_millis() as i64);
    match pending {
        Pending::Boost(t) => Pending::Boost(t.min(latest(policy.boost_after))),
        Pending::Restore(t) => Pending::Restore(t.min(latest(policy.restore_after))),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persisted_deadlines_are_never_further_than_their_hold() {
        let policy = CircuitPolicy {
            name: "c".into(),
            normal_mbps: 10,
            boost_mbps: 500,
            links: vec!["l".into()],
            boost_after: std::time::Duration::from_secs(30),
            restore_after: std::time::Duration::from_secs(600),
        };
        let now = EpochMillis::from_millis(1_795_345_200_000);
        // Written before the wall clock was stepped back an hour.
        let stretched = Pending::Boost(now.plus_millis(3_600_000 + 20_000));
        assert_eq!(clamp_pending(stretched, &policy, now), Pending::Boost(now.plus_millis(30_000)));
        let restore = Pending::Restore(now.plus_millis(3_600_000));
        assert_eq!(clamp_pending(restore, &policy, now), Pending::Restore(now.plus_millis(600_000)));
        // Time already spent is kept.
        let kept = Pending::Boost(now.plus_millis(12_000));
        assert_eq!(clamp_pending(kept, &policy, now), kept);
    }
}
