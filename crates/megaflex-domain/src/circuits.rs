//! Circuit policy: what bandwidth a VXC should have, given its watched links
//! and the hold-down (`boost_after`) and hold-up (`restore_after`) timers.
//! Pure: the reconciler compares this wanted rate with the actual one and
//! decides whether and when to call Megaport.

use std::time::Duration;

use megaport_types::EpochMillis;
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
        let decision = match self.pending? {
            Pending::Boost(at) if at <= now => {
                self.episode += 1;
                self.wanted_mbps = self.policy.boost_mbps;
                let reason = format!(
                    "boost to {} Mbps: {} down for {}s (boost_after)",
                    self.policy.boost_mbps,
                    self.down_links.join(", "),
                    self.policy.boost_after.as_secs()
                );
                Decision {
                    circuit: self.policy.name.clone(),
                    at,
                    wanted_mbps: self.wanted_mbps,
                    reason,
                    episode: self.episode,
                }
            }
            Pending::Restore(at) if at <= now => {
                self.wanted_mbps = self.policy.normal_mbps;
                let reason = format!(
                    "restore to {} Mbps: {} up for {}s (restore_after)",
                    self.policy.normal_mbps,
                    self.policy.links.join(", "),
                    self.policy.restore_after.as_secs()
                );
                Decision {
                    circuit: self.policy.name.clone(),
                    at,
                    wanted_mbps: self.wanted_mbps,
                    reason,
                    episode: self.episode,
                }
            }
            _ => return None,
        };
        self.pending = None;
        Some(decision)
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
}
