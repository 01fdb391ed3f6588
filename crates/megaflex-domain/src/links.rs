//! Links: named parts of the user's network whose state comes from signals
//! (syslog lines, SNMP traps, alerts). Pure state machines, driven by events
//! and a clock; the engine persists their transitions.
//!
//! Rules: a signal is unknown until it reports. A link is **down** when any
//! signal says down (or an alert fires), **up** when none says down and at
//! least one says up, **unknown** when none has reported. Repeating the same
//! state changes nothing. A configured number of up/down transitions within
//! a window makes the link **flapping**, which counts as down until no
//! transition has happened for `stable_for`.

use std::collections::VecDeque;
use std::time::Duration;

use megaport_types::EpochMillis;
use serde::Serialize;

use crate::event::{Event, EventState};
use crate::signal::{Signal, signal_matches};

/// A link's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkStatus {
    /// No signal has reported.
    Unknown,
    /// Up.
    Up,
    /// Down.
    Down,
    /// Going up and down; treated as down.
    Flapping,
}

impl LinkStatus {
    /// Down or flapping: the backup should carry the traffic.
    pub fn is_down(self) -> bool {
        matches!(self, Self::Down | Self::Flapping)
    }
}

/// A change of a link's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transition {
    /// Link name.
    pub link: String,
    /// Before.
    pub from: LinkStatus,
    /// After.
    pub to: LinkStatus,
    /// When (the event's receive time, or the clock for flap expiry).
    pub at: EpochMillis,
    /// The event that caused it, if any.
    pub event_id: Option<u64>,
}

/// Flap damping settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flap {
    /// Transitions that make a link flapping...
    pub transitions: u32,
    /// ...within this window.
    pub within: Duration,
    /// Flapping ends after this long without a transition.
    pub stable_for: Duration,
}

/// One link and its signals.
#[derive(Debug, Clone)]
pub struct Link {
    /// Name.
    pub name: String,
    signals: Vec<Signal>,
    signal_states: Vec<Option<bool>>,
    status: LinkStatus,
    since: EpochMillis,
    flap: Option<Flap>,
    flips: VecDeque<EpochMillis>,
    last_flip: Option<EpochMillis>,
}

impl Link {
    /// A link from its configuration, state unknown.
    pub fn new(name: &str, signals: Vec<Signal>, flap: Option<Flap>, now: EpochMillis) -> Self {
        let n = signals.len();
        Self {
            name: name.to_owned(),
            signals,
            signal_states: vec![None; n],
            status: LinkStatus::Unknown,
            since: now,
            flap,
            flips: VecDeque::new(),
            last_flip: None,
        }
    }

    /// What each signal last said (`Some(true)` up, `None` not reported), in
    /// configuration order: persisted so a restart keeps them.
    pub fn signal_states(&self) -> &[Option<bool>] {
        &self.signal_states
    }

    /// The signals, in configuration order.
    pub fn signals(&self) -> &[Signal] {
        &self.signals
    }

    /// The state now.
    pub fn status(&self) -> LinkStatus {
        self.status
    }

    /// Since when.
    pub fn since(&self) -> EpochMillis {
        self.since
    }

    /// Whether any signal of this link watches `event`.
    pub fn watches(&self, event: &Event) -> bool {
        self.signals.iter().any(|s| signal_matches(s, event))
    }

    fn signals_say(&self) -> LinkStatus {
        if self.signal_states.contains(&Some(false)) {
            LinkStatus::Down
        } else if self.signal_states.contains(&Some(true)) {
            LinkStatus::Up
        } else {
            LinkStatus::Unknown
        }
    }

    /// Applies an event; returns the link's transition, if it made one.
    pub fn apply(&mut self, event: &Event) -> Option<Transition> {
        let good = match event.state {
            EventState::Up | EventState::Resolved => true,
            EventState::Down | EventState::Firing => false,
            EventState::Unknown => return None,
        };
        let before = self.signals_say();
        let mut touched = false;
        for (i, s) in self.signals.iter().enumerate() {
            if signal_matches(s, event) {
                self.signal_states[i] = Some(good);
                touched = true;
            }
        }
        if !touched {
            return None;
        }
        let at = event.received_at;
        let wanted = self.signals_say();
        if wanted == before || wanted == LinkStatus::Unknown {
            return None;
        }
        // An up/down flip of what the signals say: count it for flap damping.
        if matches!(before, LinkStatus::Up | LinkStatus::Down) {
            self.last_flip = Some(at);
            if let Some(f) = self.flap {
                self.flips.push_back(at);
                let window = f.within.as_millis() as i64;
                while self.flips.front().is_some_and(|t| t.as_millis() <= at.as_millis() - window) {
                    self.flips.pop_front();
                }
                if self.flips.len() as u32 >= f.transitions {
                    return self.set(LinkStatus::Flapping, at, Some(event.id));
                }
            }
        }
        if self.status == LinkStatus::Flapping {
            // Stays flapping until stable; `tick` ends it.
            return None;
        }
        self.set(wanted, at, Some(event.id))
    }

    /// Lets time pass: ends flapping once stable for `stable_for`.
    pub fn tick(&mut self, now: EpochMillis) -> Option<Transition> {
        let f = self.flap?;
        if self.status != LinkStatus::Flapping {
            return None;
        }
        let last = self.last_flip?;
        if now.as_millis() - last.as_millis() < f.stable_for.as_millis() as i64 {
            return None;
        }
        self.flips.clear();
        let settled = match self.signals_say() {
            LinkStatus::Unknown => LinkStatus::Down,
            s => s,
        };
        self.set(settled, now, None)
    }

    /// When flapping would end if nothing else happens.
    pub fn flap_deadline(&self) -> Option<EpochMillis> {
        let f = self.flap?;
        (self.status == LinkStatus::Flapping)
            .then(|| self.last_flip.map(|t| t.plus_millis(f.stable_for.as_millis() as i64)))?
    }

    /// Resumes a persisted state (after a restart).
    pub fn restore(&mut self, status: LinkStatus, since: EpochMillis, signals: &[Option<bool>]) {
        if signals.len() == self.signal_states.len() {
            self.signal_states.copy_from_slice(signals);
        }
        self.status = status;
        self.since = since;
        if status == LinkStatus::Flapping {
            // Flapping restarts its quiet period from the restart.
            self.last_flip = Some(since);
        }
    }

    fn set(&mut self, to: LinkStatus, at: EpochMillis, event_id: Option<u64>) -> Option<Transition> {
        let from = self.status;
        if from == to {
            return None;
        }
        self.status = to;
        self.since = at;
        Some(Transition { link: self.name.clone(), from, to, at, event_id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Device, EventKind, SourceKind};

    fn syslog(iface: &str, state: EventState, at: i64) -> Event {
        let device =
            Device { hostname: Some("core-b1".into()), address: Some("10.0.0.1".into()), labels: Default::default() };
        Event::new(
            SourceKind::Syslog,
            EpochMillis::from_millis(at),
            None,
            device,
            EventKind::Link,
            iface.into(),
            state,
            "",
        )
    }

    fn alert(state: EventState, at: i64) -> Event {
        let mut labels = std::collections::BTreeMap::new();
        labels.insert("alertname".to_owned(), "BneMelPrimaryDown".to_owned());
        let device = Device { hostname: None, address: None, labels };
        Event::new(
            SourceKind::Webhook,
            EpochMillis::from_millis(at),
            None,
            device,
            EventKind::Alert,
            "fp".into(),
            state,
            "",
        )
    }

    fn link(flap: Option<Flap>) -> Link {
        Link::new(
            "primary",
            vec![
                Signal::Syslog { host: "core-b1".into(), interface: "Te0/1/0".into() },
                Signal::Alert { alertname: "BneMelPrimaryDown".into(), labels: Default::default() },
            ],
            flap,
            EpochMillis::from_millis(0),
        )
    }

    #[test]
    fn any_down_makes_it_down_and_all_reporting_up_makes_it_up() {
        let mut l = link(None);
        assert_eq!(l.status(), LinkStatus::Unknown);
        assert!(l.apply(&syslog("Te0/9/9", EventState::Down, 1)).is_none(), "another interface");
        let t = l.apply(&syslog("Te0/1/0", EventState::Down, 10)).unwrap();
        assert_eq!((t.from, t.to, t.at.as_millis()), (LinkStatus::Unknown, LinkStatus::Down, 10));
        assert!(l.apply(&syslog("Te0/1/0", EventState::Down, 11)).is_none(), "repeats change nothing");
        assert!(l.apply(&alert(EventState::Firing, 12)).is_none());
        assert!(l.apply(&syslog("Te0/1/0", EventState::Up, 20)).is_none(), "the alert still fires");
        let t = l.apply(&alert(EventState::Resolved, 30)).unwrap();
        assert_eq!((t.to, t.at.as_millis()), (LinkStatus::Up, 30));
    }

    #[test]
    fn flapping_counts_as_down_until_stable() {
        let flap = Flap { transitions: 4, within: Duration::from_secs(60), stable_for: Duration::from_secs(120) };
        let mut l = link(Some(flap));
        l.apply(&syslog("Te0/1/0", EventState::Up, 0));
        let mut last = None;
        for (i, s) in [EventState::Down, EventState::Up, EventState::Down, EventState::Up].into_iter().enumerate() {
            last = l.apply(&syslog("Te0/1/0", s, 1000 * (i as i64 + 1))).or(last);
        }
        assert_eq!(l.status(), LinkStatus::Flapping);
        assert!(l.status().is_down());
        assert_eq!(last.unwrap().to, LinkStatus::Flapping);
        assert!(l.apply(&syslog("Te0/1/0", EventState::Down, 5000)).is_none(), "stays flapping");
        assert_eq!(l.flap_deadline().map(EpochMillis::as_millis), Some(125_000));
        assert!(l.tick(EpochMillis::from_millis(100_000)).is_none());
        let t = l.tick(EpochMillis::from_millis(125_000)).unwrap();
        assert_eq!(t.to, LinkStatus::Down, "settles to what the signals say");
    }
}
