//! The ServiceNow incident lifecycle as data: which decisions open an
//! incident, which become work notes, which resolve it. Pure; the core turns
//! its decisions into [`OutboxItem`]s written in the same transaction as the
//! decisions, and the runtime's outbox delivers them later, so
//! ServiceNow being slow or down never holds up a bandwidth change.

use megaport_types::EpochMillis;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::circuits::DecisionAction;
use crate::duration::human_duration;

/// The incident of the episode in progress, kept with the circuit's state so
/// a restart goes on with the same incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpisodeIncident {
    /// The episode that opened it (its `correlation_id`).
    pub episode: u64,
    /// When the boost was decided.
    pub started_at: EpochMillis,
    /// Confirmed updates of the VXC since.
    pub updates: u32,
}

/// What an outbox entry asks ServiceNow to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxKind {
    /// Find the active incident with this `correlation_id` or create it.
    Open,
    /// Append a work note.
    Note,
    /// Resolve with close notes.
    Resolve,
}

impl OutboxKind {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Note => "note",
            Self::Resolve => "resolve",
        }
    }

    /// From the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(Self::Open),
            "note" => Some(Self::Note),
            "resolve" => Some(Self::Resolve),
            _ => None,
        }
    }
}

// The payload structs list their fields in alphabetical order: rows written
// before they existed hold a `serde_json::Map` (sorted keys), and a struct
// serialises in field order, so old and new rows are the same bytes.

/// What an [`OutboxKind::Open`] entry sends: the fields of the incident to
/// create (with `[servicenow]`'s own), found by correlation id instead if it
/// exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenIncident {
    /// The incident's description.
    pub description: String,
    /// Its one-line summary.
    pub short_description: String,
}

/// What an [`OutboxKind::Note`] entry sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkNote {
    /// The note, with its time.
    pub work_notes: String,
}

/// What an [`OutboxKind::Resolve`] entry sends: the close notes, and the
/// facts the deliverer prices the boost from when it resolves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolveIncident {
    /// The boost rate.
    pub boost_mbps: u32,
    /// The summary, before the cost estimate.
    pub close_notes: String,
    /// How long the episode lasted.
    pub duration_secs: i64,
    /// The normal rate.
    pub normal_mbps: u32,
    /// The VXC's product UID.
    pub vxc_uid: String,
}

/// An outbox entry's payload, one type per [`OutboxKind`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxPayload {
    /// Find or create the incident.
    Open(OpenIncident),
    /// Append a work note.
    Note(WorkNote),
    /// Resolve it.
    Resolve(ResolveIncident),
}

/// A stored payload that does not read as its kind's.
#[derive(Debug, thiserror::Error)]
#[error("{kind} payload: {source}")]
pub struct PayloadError {
    /// The entry's kind.
    pub kind: &'static str,
    /// What JSON said.
    #[source]
    pub source: serde_json::Error,
}

impl OutboxPayload {
    /// The call it is.
    pub fn kind(&self) -> OutboxKind {
        match self {
            Self::Open(_) => OutboxKind::Open,
            Self::Note(_) => OutboxKind::Note,
            Self::Resolve(_) => OutboxKind::Resolve,
        }
    }

    /// As stored (`servicenow_outbox.payload`).
    pub fn to_json(&self) -> String {
        let json = match self {
            Self::Open(p) => serde_json::to_string(p),
            Self::Note(p) => serde_json::to_string(p),
            Self::Resolve(p) => serde_json::to_string(p),
        };
        // Strings and numbers under string keys: serialising cannot fail.
        json.unwrap_or_default()
    }

    /// From the stored kind and JSON: every field of the kind must be there
    /// with its type; none defaults to empty.
    pub fn from_json(kind: OutboxKind, json: &str) -> Result<Self, PayloadError> {
        let err = |source| PayloadError { kind: kind.as_str(), source };
        Ok(match kind {
            OutboxKind::Open => Self::Open(serde_json::from_str(json).map_err(err)?),
            OutboxKind::Note => Self::Note(serde_json::from_str(json).map_err(err)?),
            OutboxKind::Resolve => Self::Resolve(serde_json::from_str(json).map_err(err)?),
        })
    }
}

/// One ServiceNow call to make, in order with the others of its incident.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxItem {
    /// `megaflex:<circuit>:<episode>`.
    pub correlation_id: String,
    /// Circuit.
    pub circuit: String,
    /// Episode.
    pub episode: u64,
    /// What to send (its kind is the call).
    pub payload: OutboxPayload,
    /// When the engine decided it.
    pub at: EpochMillis,
}

impl OutboxItem {
    /// What to do.
    pub fn kind(&self) -> OutboxKind {
        self.payload.kind()
    }
}

/// The correlation id of a circuit's episode.
pub fn correlation_id(circuit: &str, episode: u64) -> String {
    format!("megaflex:{circuit}:{episode}")
}

/// What the lifecycle needs to know about the circuit at a decision.
#[derive(Debug, Clone, Copy)]
pub struct CircuitFacts<'a> {
    /// Circuit name.
    pub circuit: &'a str,
    /// The VXC's product UID.
    pub vxc_uid: &'a str,
    /// Watched links.
    pub links: &'a [String],
    /// Normal rate.
    pub normal_mbps: u32,
    /// Boost rate.
    pub boost_mbps: u32,
    /// Current episode number.
    pub episode: u64,
    /// Wants the boost rate now.
    pub boosted: bool,
    /// A hold-down or hold-up is running.
    pub timer_running: bool,
    /// The rate last read or confirmed.
    pub actual_mbps: Option<u32>,
}

fn time(at: EpochMillis) -> String {
    at.to_timestamp().map_or_else(|| at.as_millis().to_string(), |t| format!("{t:.0}"))
}

fn item(facts: &CircuitFacts<'_>, episode: u64, payload: OutboxPayload, at: EpochMillis) -> OutboxItem {
    OutboxItem {
        correlation_id: correlation_id(facts.circuit, episode),
        circuit: facts.circuit.to_owned(),
        episode,
        payload,
        at,
    }
}

fn note(facts: &CircuitFacts<'_>, episode: u64, at: EpochMillis, text: String) -> OutboxItem {
    item(facts, episode, OutboxPayload::Note(WorkNote { work_notes: format!("[{}] {text}", time(at)) }), at)
}

/// How a decision's action reads in a work note; `None` for the ones that
/// make no note.
fn headline(action: DecisionAction) -> Option<&'static str> {
    Some(match action {
        DecisionAction::Boost => "Boost decided",
        DecisionAction::Update => "Update requested",
        DecisionAction::Confirmed => "Update confirmed",
        DecisionAction::IntentConfirmed => "Update found in force after a restart",
        DecisionAction::IntentDropped => "Update not applied before a restart",
        DecisionAction::Wait => "Deferred by the Megaport update rules",
        DecisionAction::Refuse => "Refused",
        DecisionAction::Failed => "Update failed",
        DecisionAction::OutsideChange => "Changed outside megaflex",
        DecisionAction::Resumed => "Automation resumed",
        DecisionAction::HoldUp => "Watched links up again",
        DecisionAction::CancelTimer => "Watched link down again",
        DecisionAction::Restore => "Restore decided",
        DecisionAction::Coalesced => "No update needed",
        DecisionAction::InSync => "Back at the normal rate",
        DecisionAction::Applying => "Megaport is applying the change",
        DecisionAction::Deferred => "Deferred at a stop",
        DecisionAction::Flapping => "Link flapping",
        // Before the boost there is no incident to note in; an intent is
        // never settled as failed (its failure is the `failed` decision).
        DecisionAction::HoldDown | DecisionAction::IntentFailed => return None,
    })
}

/// The outbox entries a decision produces, updating `open` (the circuit's
/// incident in progress). Incidents start at the first boost of an episode;
/// a failure during the restore of the previous one goes on in the same
/// incident, because the VXC never went back to normal.
pub fn on_decision(
    open: &mut Option<EpisodeIncident>,
    facts: &CircuitFacts<'_>,
    at: EpochMillis,
    action: DecisionAction,
    reason: &str,
) -> Vec<OutboxItem> {
    let mut out = Vec::new();
    if action == DecisionAction::Boost && open.is_none() {
        let inc = EpisodeIncident { episode: facts.episode, started_at: at, updates: 0 };
        *open = Some(inc);
        let links = facts.links.join(", ");
        let short = format!(
            "megaflex: {links} down; backup VXC {} raised {} -> {} Mbps ({})",
            facts.vxc_uid, facts.normal_mbps, facts.boost_mbps, facts.circuit
        );
        let description = format!(
            "megaflex detected that {links} went down and raised the bandwidth of the backup Megaport VXC {} \
             (circuit {}) from {} Mbps to {} Mbps at {}. It lowers it back and resolves this incident once \
             the link has been stable for the configured hold-up. Work notes record each step.\n\
             Correlation id: {}",
            facts.vxc_uid,
            facts.circuit,
            facts.normal_mbps,
            facts.boost_mbps,
            time(at),
            correlation_id(facts.circuit, facts.episode),
        );
        out.push(item(
            facts,
            inc.episode,
            OutboxPayload::Open(OpenIncident { description, short_description: short }),
            at,
        ));
    }
    let Some(inc) = open.as_mut() else { return out };
    if matches!(action, DecisionAction::Confirmed | DecisionAction::IntentConfirmed) {
        inc.updates += 1;
    }
    let inc = *inc;
    if let Some(head) = headline(action) {
        out.push(note(facts, inc.episode, at, format!("{head}: {reason}")));
    }
    let back_to_normal = !facts.boosted && !facts.timer_running && facts.actual_mbps == Some(facts.normal_mbps);
    // Every way an episode can end reaches one of these: a confirmation, a
    // restart that finds the rate in force, or a cycle that finds the VXC
    // back at normal after a confirmation ran out (`in_sync`). `open` is
    // cleared here, so the resolve is queued exactly once.
    if back_to_normal
        && matches!(
            action,
            DecisionAction::Confirmed
                | DecisionAction::IntentConfirmed
                | DecisionAction::Coalesced
                | DecisionAction::InSync
        )
    {
        *open = None;
        let duration_secs = (at.as_millis() - inc.started_at.as_millis()).max(0) / 1000;
        let close_notes = format!(
            "Primary path stable again; backup VXC {} back at {} Mbps at {}. Episode {} lasted {}, \
             {} VXC update(s) made.",
            facts.vxc_uid,
            facts.normal_mbps,
            time(at),
            inc.episode,
            human_duration(Duration::from_secs(duration_secs.max(0) as u64)),
            inc.updates,
        );
        out.push(item(
            facts,
            inc.episode,
            OutboxPayload::Resolve(ResolveIncident {
                boost_mbps: facts.boost_mbps,
                close_notes,
                duration_secs,
                normal_mbps: facts.normal_mbps,
                vxc_uid: facts.vxc_uid.to_owned(),
            }),
            at,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(boosted: bool, timer_running: bool, actual: u32, episode: u64) -> CircuitFacts<'static> {
        static LINKS: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| vec!["primary".to_owned()]);
        CircuitFacts {
            circuit: "c",
            vxc_uid: "vxc-1",
            links: &LINKS,
            normal_mbps: 10,
            boost_mbps: 500,
            episode,
            boosted,
            timer_running,
            actual_mbps: Some(actual),
        }
    }

    fn ms(s: i64) -> EpochMillis {
        EpochMillis::from_millis(1_764_000_000_000 + s * 1000)
    }

    #[test]
    fn an_episode_opens_notes_and_resolves_once() {
        let mut open = None;
        assert!(on_decision(&mut open, &facts(false, true, 10, 0), ms(0), DecisionAction::HoldDown, "x").is_empty());
        let out = on_decision(&mut open, &facts(true, false, 10, 1), ms(30), DecisionAction::Boost, "boost to 500");
        assert_eq!(out.iter().map(|o| o.kind()).collect::<Vec<_>>(), [OutboxKind::Open, OutboxKind::Note]);
        assert_eq!(out[0].correlation_id, "megaflex:c:1");
        let OutboxPayload::Open(open_payload) = &out[0].payload else { panic!("{out:?}") };
        assert!(open_payload.short_description.contains("vxc-1 raised 10 -> 500 Mbps"));
        let out = on_decision(&mut open, &facts(true, false, 500, 1), ms(31), DecisionAction::Confirmed, "at 500");
        assert_eq!(out.len(), 1);
        let OutboxPayload::Note(n) = &out[0].payload else { panic!("{out:?}") };
        assert!(n.work_notes.ends_with("Update confirmed: at 500"));
        on_decision(&mut open, &facts(false, false, 500, 1), ms(700), DecisionAction::Restore, "restore");
        // A confirmation that is not back at normal does not resolve.
        let out = on_decision(&mut open, &facts(false, false, 500, 1), ms(701), DecisionAction::Failed, "boom");
        assert!(out.iter().all(|o| o.kind() == OutboxKind::Note));
        let out = on_decision(&mut open, &facts(false, false, 10, 1), ms(730), DecisionAction::Confirmed, "at 10");
        assert_eq!(out.iter().map(|o| o.kind()).collect::<Vec<_>>(), [OutboxKind::Note, OutboxKind::Resolve]);
        let OutboxPayload::Resolve(resolve) = &out[1].payload else { panic!("{out:?}") };
        let close = &resolve.close_notes;
        assert!(close.contains("lasted 11m 40s, 2 VXC update(s)"), "{close}");
        assert_eq!(resolve.duration_secs, 700);
        assert!(open.is_none());
        // The next failure is a new incident.
        let out = on_decision(&mut open, &facts(true, false, 10, 2), ms(900), DecisionAction::Boost, "again");
        assert_eq!(out[0].correlation_id, "megaflex:c:2");
    }

    #[test]
    fn a_failure_during_the_restore_stays_in_the_same_incident() {
        let mut open = None;
        on_decision(&mut open, &facts(true, false, 10, 1), ms(0), DecisionAction::Boost, "b");
        on_decision(&mut open, &facts(false, false, 500, 1), ms(600), DecisionAction::Restore, "r");
        on_decision(&mut open, &facts(false, false, 500, 1), ms(600), DecisionAction::Wait, "deferred");
        let out = on_decision(&mut open, &facts(true, false, 500, 2), ms(620), DecisionAction::Boost, "again");
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].kind(), out[0].correlation_id.as_str()), (OutboxKind::Note, "megaflex:c:1"));
        let out = on_decision(&mut open, &facts(true, false, 500, 2), ms(621), DecisionAction::Coalesced, "in sync");
        assert!(out.iter().all(|o| o.kind() == OutboxKind::Note), "still boosted: not resolved");
    }

    #[test]
    fn an_episode_ended_by_a_cycle_in_sync_is_resolved_once() {
        let mut open = None;
        on_decision(&mut open, &facts(true, false, 10, 1), ms(0), DecisionAction::Boost, "b");
        on_decision(&mut open, &facts(false, false, 500, 1), ms(600), DecisionAction::Restore, "r");
        on_decision(&mut open, &facts(false, false, 500, 1), ms(720), DecisionAction::Failed, "not confirmed in time");
        let out = on_decision(&mut open, &facts(false, false, 10, 1), ms(900), DecisionAction::InSync, "at 10");
        assert_eq!(out.iter().filter(|o| o.kind() == OutboxKind::Resolve).count(), 1);
        assert!(open.is_none());
        assert!(
            on_decision(&mut open, &facts(false, false, 10, 1), ms(901), DecisionAction::InSync, "at 10").is_empty()
        );
    }

    /// Rows written before the payloads were typed: the JSON exactly as that
    /// code wrote it (`json!` maps, keys sorted), byte for byte.
    #[test]
    fn payloads_stored_by_the_untyped_code_decode_and_encode_to_the_same_bytes() {
        use serde_json::json;
        let rows = [
            (
                OutboxKind::Open,
                json!({ "short_description": "megaflex: primary down", "description": "megaflex detected\nCorrelation id: megaflex:c:1" })
                    .to_string(),
                OutboxPayload::Open(OpenIncident {
                    description: "megaflex detected\nCorrelation id: megaflex:c:1".into(),
                    short_description: "megaflex: primary down".into(),
                }),
            ),
            (
                OutboxKind::Note,
                json!({ "work_notes": "[2025-11-24T16:00:30Z] Boost decided: \"x\"" }).to_string(),
                OutboxPayload::Note(WorkNote { work_notes: "[2025-11-24T16:00:30Z] Boost decided: \"x\"".into() }),
            ),
            (
                OutboxKind::Resolve,
                json!({
                    "close_notes": "Primary path stable again",
                    "vxc_uid": "vxc-1",
                    "normal_mbps": 10u32,
                    "boost_mbps": 500u32,
                    "duration_secs": 700i64,
                })
                .to_string(),
                OutboxPayload::Resolve(ResolveIncident {
                    boost_mbps: 500,
                    close_notes: "Primary path stable again".into(),
                    duration_secs: 700,
                    normal_mbps: 10,
                    vxc_uid: "vxc-1".into(),
                }),
            ),
        ];
        for (kind, stored, typed) in rows {
            assert_eq!(OutboxPayload::from_json(kind, &stored).unwrap(), typed);
            assert_eq!(typed.to_json(), stored);
            assert_eq!(typed.kind(), kind);
        }
        // And as literals, in case `json!` ever changes its order.
        assert_eq!(
            OutboxPayload::from_json(
                OutboxKind::Resolve,
                r#"{"boost_mbps":500,"close_notes":"c","duration_secs":7,"normal_mbps":10,"vxc_uid":"v"}"#
            )
            .unwrap()
            .to_json(),
            r#"{"boost_mbps":500,"close_notes":"c","duration_secs":7,"normal_mbps":10,"vxc_uid":"v"}"#
        );
    }

    #[test]
    fn a_payload_that_is_not_its_kinds_is_an_error_not_empty_strings() {
        let e = OutboxPayload::from_json(OutboxKind::Note, r#"{"work_note":"typo"}"#).unwrap_err();
        assert_eq!(e.to_string(), "note payload: missing field `work_notes` at line 1 column 20");
        let e = OutboxPayload::from_json(OutboxKind::Resolve, r#"{"work_notes":"a note"}"#).unwrap_err();
        assert!(e.to_string().starts_with("resolve payload: missing field `boost_mbps`"), "{e}");
        let stored = r#"{"boost_mbps":"500","close_notes":"c","duration_secs":7,"normal_mbps":10,"vxc_uid":"v"}"#;
        let e = OutboxPayload::from_json(OutboxKind::Resolve, stored).unwrap_err();
        assert!(e.to_string().contains("invalid type: string \"500\""), "{e}");
        assert!(OutboxPayload::from_json(OutboxKind::Open, "{not json").is_err());
    }
}
