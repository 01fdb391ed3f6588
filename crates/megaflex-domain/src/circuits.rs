//! Circuit policy: what bandwidth a VXC should have, given its watched links
//! and the hold-down (`boost_after`) and hold-up (`restore_after`) timers.
//! Pure: the reconciler compares this wanted rate with the actual one and
//! decides whether and when to call Megaport.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use megaport_types::EpochMillis;
use serde::de::IntoDeserializer;
use serde::{Deserialize, Serialize};

use crate::links::LinkStatus;

/// A circuit's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CircuitPolicy {
    /// Name.
    pub name: String,
    /// Rate while all watched links are up.
    pub normal_mbps: u32,
    /// Rate while a watched link is down.
    pub boost_mbps: u32,
    /// Names of the watched links.
    pub links: Vec<String>,
    /// Hold-down before boosting.
    pub boost_after: Duration,
    /// Hold-up before restoring.
    pub restore_after: Duration,
}

/// Why the wanted rate changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Circuit.
    pub circuit: String,
    /// When.
    pub at: EpochMillis,
    /// The new wanted rate.
    pub wanted_mbps: u32,
    /// In words, for logs, the store and the incident.
    pub reason: String,
    /// Failover episode this belongs to (starts at the boost).
    pub episode: u64,
}

/// What a recorded decision did. The names are what the store, `/api/status`,
/// `/metrics` and the command line show, so they never change; a new action
/// is a new variant, and every `match` on it (the incident's work notes, the
/// log level) has to say what it means there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionAction {
    /// A watched link went down: the hold-down timer started.
    HoldDown,
    /// The watched links are up: the hold-up timer started.
    HoldUp,
    /// A timer stopped before firing.
    CancelTimer,
    /// The hold-down ran out: the boost rate is wanted.
    Boost,
    /// The hold-up ran out: the normal rate is wanted.
    Restore,
    /// An update was sent.
    Update,
    /// An update was seen in force.
    Confirmed,
    /// The update rules defer the update.
    Wait,
    /// The update is refused (a cap or a rule that will not pass).
    Refuse,
    /// An update failed.
    Failed,
    /// Megaport is applying a change: waiting for it.
    Applying,
    /// The VXC changed outside megaflex.
    OutsideChange,
    /// Automation resumed after a pause.
    Resumed,
    /// A wait ended with the rate already in force.
    Coalesced,
    /// The VXC is back at normal: the episode is over.
    InSync,
    /// Left undone at a stop.
    Deferred,
    /// A watched link is flapping.
    Flapping,
    /// An intent found in force after a restart.
    IntentConfirmed,
    /// An intent settled as failed after a restart.
    IntentFailed,
    /// An intent not applied before a restart.
    IntentDropped,
}

impl DecisionAction {
    /// Every action, for round trips and tests.
    pub const ALL: [Self; 20] = [
        Self::HoldDown,
        Self::HoldUp,
        Self::CancelTimer,
        Self::Boost,
        Self::Restore,
        Self::Update,
        Self::Confirmed,
        Self::Wait,
        Self::Refuse,
        Self::Failed,
        Self::Applying,
        Self::OutsideChange,
        Self::Resumed,
        Self::Coalesced,
        Self::InSync,
        Self::Deferred,
        Self::Flapping,
        Self::IntentConfirmed,
        Self::IntentFailed,
        Self::IntentDropped,
    ];

    /// As stored and shown (the serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HoldDown => "hold_down",
            Self::HoldUp => "hold_up",
            Self::CancelTimer => "cancel_timer",
            Self::Boost => "boost",
            Self::Restore => "restore",
            Self::Update => "update",
            Self::Confirmed => "confirmed",
            Self::Wait => "wait",
            Self::Refuse => "refuse",
            Self::Failed => "failed",
            Self::Applying => "applying",
            Self::OutsideChange => "outside_change",
            Self::Resumed => "resumed",
            Self::Coalesced => "coalesced",
            Self::InSync => "in_sync",
            Self::Deferred => "deferred",
            Self::Flapping => "flapping",
            Self::IntentConfirmed => "intent_confirmed",
            Self::IntentFailed => "intent_failed",
            Self::IntentDropped => "intent_dropped",
        }
    }
}

impl fmt::Display for DecisionAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored action this version does not know (written by a newer one, or
/// by hand).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown decision action {0:?}")]
pub struct UnknownAction(pub String);

impl FromStr for DecisionAction {
    type Err = UnknownAction;

    fn from_str(s: &str) -> Result<Self, UnknownAction> {
        // Through the derived names, so parsing never falls behind a new variant.
        let de: serde::de::value::StrDeserializer<'_, serde::de::value::Error> = s.into_deserializer();
        Self::deserialize(de).map_err(|_| UnknownAction(s.to_owned()))
    }
}

/// A timer waiting to fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pending {
    /// Boost at this time unless the links come back first.
    Boost(EpochMillis),
    /// Restore at this time unless a link goes down again first.
    Restore(EpochMillis),
}

/// A circuit's policy state.
#[derive(Debug, Clone)]
pub struct Circuit {
    /// Settings.
    pub policy: CircuitPolicy,
    wanted_mbps: u32,
    pending: Option<Pending>,
    episode: u64,
    down_links: Vec<String>,
}

impl Circuit {
    /// Starts wanting the normal rate, episode counter at `last_episode`.
    pub fn new(policy: CircuitPolicy, last_episode: u64) -> Self {
        Self { wanted_mbps: policy.normal_mbps, policy, pending: None, episode: last_episode, down_links: Vec::new() }
    }

    /// Restores persisted state (after a restart).
    pub fn restore_state(&mut self, wanted_mbps: u32, pending: Option<Pending>, episode: u64) {
        self.wanted_mbps = wanted_mbps;
        self.pending = pending;
        self.episode = episode;
    }

    /// The rate wanted now.
    pub fn wanted_mbps(&self) -> u32 {
        self.wanted_mbps
    }

    /// Whether the boost is wanted.
    pub fn boosted(&self) -> bool {
        self.wanted_mbps == self.policy.boost_mbps
    }

    /// The timer waiting, if any.
    pub fn pending(&self) -> Option<Pending> {
        self.pending
    }

    /// The current (or last) episode number.
    pub fn episode(&self) -> u64 {
        self.episode
    }

    /// Re-evaluates after a link changed; `statuses` gives every watched link's state.
    pub fn on_links(&mut self, statuses: &[(String, LinkStatus)], at: EpochMillis) {
        self.down_links = statuses
            .iter()
            .filter(|(name, s)| self.policy.links.contains(name) && s.is_down())
            .map(|(name, _)| name.clone())
            .collect();
        let any_down = !self.down_links.is_empty();
        match (self.boosted(), any_down, self.pending) {
            // A watched link failed: start the hold-down (keep an earlier one).
            (false, true, None | Some(Pending::Restore(_))) => {
                self.pending = Some(Pending::Boost(at.plus_millis(self.policy.boost_after.as_millis() as i64)));
            }
            // It came back before the hold-down ended: nothing to do.
            (false, false, Some(Pending::Boost(_))) => self.pending = None,
            // All watched links up while boosted: start the hold-up.
            (true, false, None | Some(Pending::Boost(_))) => {
                self.pending = Some(Pending::Restore(at.plus_millis(self.policy.restore_after.as_millis() as i64)));
            }
            // Down again during the hold-up: stay boosted.
            (true, true, Some(Pending::Restore(_))) => self.pending = None,
            _ => {}
        }
    }

    /// Fires a due timer; returns the decision it made.
    pub fn tick(&mut self, now: EpochMillis) -> Option<Decision> {
        let (at, reason) = match self.pending? {
            Pending::Boost(at) if at <= now => {
                self.episode += 1;
                self.wanted_mbps = self.policy.boost_mbps;
                let reason = format!(
                    "boost to {} Mbps: {} down for {}s (boost_after)",
                    self.policy.boost_mbps,
                    self.down_links.join(", "),
                    self.policy.boost_after.as_secs()
                );
                (at, reason)
            }
            Pending::Restore(at) if at <= now => {
                self.wanted_mbps = self.policy.normal_mbps;
                let reason = format!(
                    "restore to {} Mbps: {} up for {}s (restore_after)",
                    self.policy.normal_mbps,
                    self.policy.links.join(", "),
                    self.policy.restore_after.as_secs()
                );
                (at, reason)
            }
            _ => return None,
        };
        self.pending = None;
        Some(Decision {
            circuit: self.policy.name.clone(),
            at,
            wanted_mbps: self.wanted_mbps,
            reason,
            episode: self.episode,
        })
    }

    /// When the next timer fires.
    pub fn next_deadline(&self) -> Option<EpochMillis> {
        self.pending.map(|p| match p {
            Pending::Boost(t) | Pending::Restore(t) => t,
        })
    }
}

/// What to do when the VXC's rate was changed outside megaflex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OutsideChange {
    /// Stop automation until the configured rate is seen again or an operator resumes it.
    #[default]
    Pause,
    /// Put the wanted rate back.
    Override,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn circuit() -> Circuit {
        Circuit::new(
            CircuitPolicy {
                name: "backup".into(),
                normal_mbps: 10,
                boost_mbps: 500,
                links: vec!["primary".into()],
                boost_after: Duration::from_secs(30),
                restore_after: Duration::from_secs(600),
            },
            0,
        )
    }

    fn ms(s: i64) -> EpochMillis {
        EpochMillis::from_millis(s * 1000)
    }

    fn links(s: LinkStatus) -> Vec<(String, LinkStatus)> {
        vec![("primary".into(), s), ("unrelated".into(), LinkStatus::Down)]
    }

    #[test]
    fn boost_after_hold_down_and_restore_after_hold_up() {
        let mut c = circuit();
        c.on_links(&links(LinkStatus::Down), ms(100));
        assert_eq!(c.pending(), Some(Pending::Boost(ms(130))));
        assert!(c.tick(ms(129)).is_none());
        let d = c.tick(ms(130)).unwrap();
        assert_eq!((d.wanted_mbps, d.episode, d.at), (500, 1, ms(130)));
        assert!(d.reason.contains("primary down for 30s"), "{}", d.reason);
        c.on_links(&links(LinkStatus::Up), ms(200));
        assert_eq!(c.next_deadline(), Some(ms(800)));
        let d = c.tick(ms(800)).unwrap();
        assert_eq!((d.wanted_mbps, d.episode), (10, 1));
        assert!(!c.boosted());
    }

    #[test]
    fn a_blip_shorter_than_the_hold_down_does_nothing() {
        let mut c = circuit();
        c.on_links(&links(LinkStatus::Down), ms(100));
        c.on_links(&links(LinkStatus::Up), ms(110));
        assert_eq!(c.pending(), None);
        assert!(c.tick(ms(1000)).is_none());
        assert_eq!(c.wanted_mbps(), 10);
    }

    #[test]
    fn down_again_during_hold_up_keeps_the_boost_and_flapping_counts_as_down() {
        let mut c = circuit();
        c.on_links(&links(LinkStatus::Down), ms(0));
        c.tick(ms(30)).unwrap();
        c.on_links(&links(LinkStatus::Up), ms(100));
        c.on_links(&links(LinkStatus::Flapping), ms(200));
        assert_eq!(c.pending(), None);
        assert!(c.tick(ms(10_000)).is_none());
        assert!(c.boosted());
        c.on_links(&links(LinkStatus::Up), ms(300));
        let d = c.tick(ms(900)).unwrap();
        assert_eq!(d.wanted_mbps, 10);
        // The next failure is a new episode.
        c.on_links(&links(LinkStatus::Down), ms(1000));
        assert_eq!(c.tick(ms(1030)).unwrap().episode, 2);
    }

    #[test]
    fn decision_actions_keep_their_stored_names() {
        // The names the store and /api/status have always had.
        let names = [
            "hold_down",
            "hold_up",
            "cancel_timer",
            "boost",
            "restore",
            "update",
            "confirmed",
            "wait",
            "refuse",
            "failed",
            "applying",
            "outside_change",
            "resumed",
            "coalesced",
            "in_sync",
            "deferred",
            "flapping",
            "intent_confirmed",
            "intent_failed",
            "intent_dropped",
        ];
        assert_eq!(DecisionAction::ALL.map(DecisionAction::as_str), names);
        for a in DecisionAction::ALL {
            assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{a}\""));
            assert_eq!(a.as_str().parse::<DecisionAction>(), Ok(a));
        }
        assert_eq!("bost".parse::<DecisionAction>(), Err(UnknownAction("bost".into())));
    }
}
