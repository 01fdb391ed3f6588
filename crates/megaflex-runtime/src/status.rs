//! What the engine shows: `/api/status` (JSON), `/metrics` (Prometheus text
//! format 0.0.4), and the same view for `megaflex status`.
//!
//! The exposition is written from a snapshot at scrape time: every value
//! already lives in the engine's own state or in lock-free source counters,
//! so there is no second copy to keep in step.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;

use megaport::types::EpochMillis;
use serde::Serialize;

use megaflex_domain::circuits::Pending;
use megaflex_domain::links::LinkStatus;
use megaflex_sources::metrics::MetricsSnapshot;
use megaflex_store::DecisionRecord;

/// A link as shown.
#[derive(Debug, Clone, Serialize)]
pub struct LinkView {
    /// Name (shared: the view is rebuilt on every change).
    pub name: Arc<str>,
    /// State.
    pub status: LinkStatus,
    /// Since when.
    pub since: EpochMillis,
}

/// A circuit as shown.
#[derive(Debug, Clone, Serialize)]
pub struct CircuitView {
    /// Name.
    pub name: Arc<str>,
    /// VXC product UID.
    pub vxc: Arc<str>,
    /// Configured normal rate.
    pub normal_mbps: u32,
    /// Configured boost rate.
    pub boost_mbps: u32,
    /// What the policy wants now.
    pub wanted_mbps: u32,
    /// What the API said at the last read.
    pub actual_mbps: Option<u32>,
    /// Hold-down or hold-up timer.
    pub pending: Option<Pending>,
    /// Failover episode number.
    pub episode: u64,
    /// Why automation is paused.
    pub paused: Option<String>,
    /// An update is being sent or confirmed.
    pub in_flight: bool,
    /// From the update ledger.
    pub updates_used_this_month: Option<u32>,
    /// From the update ledger.
    pub next_update_allowed_at: Option<EpochMillis>,
    /// Our monthly cap.
    pub max_updates_per_month: u32,
}

/// The engine's state for people and tools.
#[derive(Debug, Clone, Serialize)]
pub struct StatusView {
    /// Engine time.
    pub now: EpochMillis,
    /// Links.
    pub links: Vec<LinkView>,
    /// Circuits.
    pub circuits: Vec<CircuitView>,
    /// Newest first.
    pub recent_decisions: Vec<DecisionRecord>,
}

/// Counters that live outside the core.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    /// Per source (`syslog`, `snmp_trap`, `webhook`), with the listen address.
    pub sources: Vec<(String, String, MetricsSnapshot)>,
    /// Events that changed a link / were ignored by every link.
    pub events_changed_state: u64,
    /// Events no link watches.
    pub events_ignored: u64,
    /// Megaport calls by HTTP status (`error` when no response).
    pub calls_by_status: BTreeMap<String, u64>,
    /// Requests left in the rolling 5-minute budget.
    pub budget_remaining: u32,
    /// The budget's size.
    pub budget_limit: u32,
    /// Reconcile cycles run.
    pub reconciles: u64,
    /// Seconds the last reconcile cycle took.
    pub last_reconcile_secs: f64,
    /// Sum of all reconcile cycle durations, seconds.
    pub reconcile_secs_total: f64,
    /// Decisions recorded, by action name ([`megaflex_domain::circuits::DecisionAction::as_str`]).
    pub decisions_by_action: BTreeMap<&'static str, u64>,
    /// ServiceNow outbox: pending, delivered, retried, failed, auth failures.
    pub servicenow: Option<[u64; 5]>,
}

/// How far the core has got, sent at the end of every turn of its loop:
/// what the turn took in (events, a clock advance, a read, an update's
/// outcome) has been decided and published by then. Tests wait on it
/// instead of sleeping before they assert that nothing happened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Events the core has applied (changed a link or not).
    pub events: u64,
    /// The engine time the turn decided at (its timers are fired up to it).
    pub now: EpochMillis,
    /// No read of the API and no update is in flight.
    pub idle: bool,
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

struct Family<'a> {
    out: &'a mut String,
    name: &'static str,
}

impl<'a> Family<'a> {
    fn new(out: &'a mut String, name: &'static str, kind: &str, help: &str) -> Self {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        Self { out, name }
    }

    fn sample(&mut self, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.out.push_str(self.name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }
}

/// Renders `/metrics`.
pub fn render_metrics(view: &StatusView, c: &Counters) -> String {
    let mut out = String::with_capacity(4096);
    let mut f = Family::new(&mut out, "megaflex_source_messages_total", "counter", "Messages by source and outcome.");
    for (kind, listen, s) in &c.sources {
        for (outcome, v) in [
            ("received", s.received),
            ("parsed", s.parsed),
            ("classified", s.classified),
            ("unclassified", s.unclassified),
            ("unwatched", s.unwatched),
            ("dropped_malformed", s.dropped_malformed),
            ("dropped_auth", s.dropped_auth),
            ("dropped_oversize", s.dropped_oversize),
            ("dropped_queue_full", s.dropped_queue_full),
            ("receive_error", s.receive_errors),
            ("duplicate", s.duplicates),
        ] {
            f.sample(&[("source", kind), ("listen", listen), ("outcome", outcome)], v);
        }
    }
    let mut f = Family::new(
        &mut out,
        "megaflex_source_connections_closed_total",
        "counter",
        "TCP/TLS connections megaflex closed: evicted at the connection limit, timed out.",
    );
    for (kind, listen, s) in &c.sources {
        for (reason, v) in [("evicted", s.connections_evicted), ("timed_out", s.connections_timed_out)] {
            f.sample(&[("source", kind), ("listen", listen), ("reason", reason)], v);
        }
    }
    let mut f = Family::new(&mut out, "megaflex_source_connections", "gauge", "TCP/TLS connections open.");
    for (kind, listen, s) in &c.sources {
        f.sample(&[("source", kind), ("listen", listen)], s.connections_open);
    }
    let mut f = Family::new(&mut out, "megaflex_source_queue_depth", "gauge", "Events waiting in the source's queue.");
    for (kind, listen, s) in &c.sources {
        f.sample(&[("source", kind), ("listen", listen)], s.queue_depth);
    }
    let mut f =
        Family::new(&mut out, "megaflex_webhook_dedupe_entries", "gauge", "Alerts remembered to drop HA duplicates.");
    for (kind, listen, s) in c.sources.iter().filter(|s| s.0 == "webhook") {
        f.sample(&[("source", kind), ("listen", listen)], s.dedupe_entries);
    }
    let mut f = Family::new(
        &mut out,
        "megaflex_webhook_dedupe_evicted_total",
        "counter",
        "Alerts forgotten early because the dedupe table was full.",
    );
    for (kind, listen, s) in c.sources.iter().filter(|s| s.0 == "webhook") {
        f.sample(&[("source", kind), ("listen", listen)], s.dedupe_evicted);
    }
    let mut f =
        Family::new(&mut out, "megaflex_snmp_usm_stats_total", "counter", "SNMPv3 usmStats (RFC 3414) by source.");
    for (kind, listen, s) in c.sources.iter().filter(|(k, _, _)| k == "snmp_trap") {
        let u = &s.usm;
        for (stat, v) in [
            ("usmStatsUnsupportedSecLevels", u.unsupported_sec_levels),
            ("usmStatsNotInTimeWindows", u.not_in_time_windows),
            ("usmStatsUnknownUserNames", u.unknown_user_names),
            ("usmStatsUnknownEngineIDs", u.unknown_engine_ids),
            ("usmStatsWrongDigests", u.wrong_digests),
            ("usmStatsDecryptionErrors", u.decryption_errors),
        ] {
            f.sample(&[("source", kind), ("listen", listen), ("stat", stat)], v);
        }
    }
    let mut f = Family::new(&mut out, "megaflex_events_total", "counter", "Canonical events reaching the engine.");
    f.sample(&[("outcome", "changed_link")], c.events_changed_state);
    f.sample(&[("outcome", "ignored")], c.events_ignored);
    let mut f = Family::new(&mut out, "megaflex_link_up", "gauge", "1 when the link is up, 0 otherwise.");
    for l in &view.links {
        f.sample(&[("link", &l.name)], u8::from(l.status == LinkStatus::Up));
    }
    let mut f = Family::new(&mut out, "megaflex_link_state", "gauge", "The link's state (1 for the current one).");
    for l in &view.links {
        for s in ["unknown", "up", "down", "flapping"] {
            let current = megaflex_store::serde_name(&l.status) == s;
            f.sample(&[("link", &l.name), ("state", s)], u8::from(current));
        }
    }
    let mut f = Family::new(&mut out, "megaflex_circuit_wanted_mbps", "gauge", "Rate the policy wants.");
    for ci in &view.circuits {
        f.sample(&[("circuit", &ci.name), ("vxc", &ci.vxc)], ci.wanted_mbps);
    }
    let mut f = Family::new(&mut out, "megaflex_circuit_actual_mbps", "gauge", "Rate read from the API.");
    for ci in &view.circuits {
        if let Some(a) = ci.actual_mbps {
            f.sample(&[("circuit", &ci.name), ("vxc", &ci.vxc)], a);
        }
    }
    let mut f = Family::new(&mut out, "megaflex_circuit_paused", "gauge", "1 when automation is paused.");
    for ci in &view.circuits {
        f.sample(&[("circuit", &ci.name)], u8::from(ci.paused.is_some()));
    }
    let mut f =
        Family::new(&mut out, "megaflex_vxc_updates_this_month", "gauge", "Updates of the VXC this calendar month.");
    for ci in &view.circuits {
        if let Some(u) = ci.updates_used_this_month {
            f.sample(&[("circuit", &ci.name), ("vxc", &ci.vxc)], u);
        }
    }
    let mut f = Family::new(&mut out, "megaflex_decisions_total", "counter", "Circuit decisions by action.");
    for (action, n) in &c.decisions_by_action {
        f.sample(&[("action", action)], n);
    }
    let mut f = Family::new(&mut out, "megaflex_megaport_calls_total", "counter", "Megaport API calls by status.");
    for (status, n) in &c.calls_by_status {
        f.sample(&[("status", status)], n);
    }
    let mut f =
        Family::new(&mut out, "megaflex_megaport_requests_remaining", "gauge", "Requests left in the 5-minute budget.");
    f.sample(&[], c.budget_remaining);
    let mut f = Family::new(&mut out, "megaflex_megaport_requests_limit", "gauge", "Size of the 5-minute budget.");
    f.sample(&[], c.budget_limit);
    let f = Family::new(
        &mut out,
        "megaflex_reconcile_duration_seconds",
        "summary",
        "Reconcile cycle durations (one account read each).",
    );
    f.out.push_str(&format!("megaflex_reconcile_duration_seconds_sum {}\n", c.reconcile_secs_total));
    f.out.push_str(&format!("megaflex_reconcile_duration_seconds_count {}\n", c.reconciles));
    let mut f = Family::new(&mut out, "megaflex_reconcile_last_seconds", "gauge", "The last reconcile cycle.");
    f.sample(&[], c.last_reconcile_secs);
    if let Some([pending, delivered, retried, failed, auth_failures]) = c.servicenow {
        let mut f = Family::new(
            &mut out,
            "megaflex_servicenow_outbox_pending",
            "gauge",
            "ServiceNow calls waiting to be made.",
        );
        f.sample(&[], pending);
        let mut f = Family::new(
            &mut out,
            "megaflex_servicenow_calls_total",
            "counter",
            "ServiceNow outbox attempts by outcome.",
        );
        f.sample(&[("outcome", "delivered")], delivered);
        f.sample(&[("outcome", "retried")], retried);
        f.sample(&[("outcome", "failed")], failed);
        let mut f = Family::new(
            &mut out,
            "megaflex_servicenow_auth_failures_total",
            "counter",
            "ServiceNow calls refused for megaflex's credentials (401, OAuth token endpoint); retried.",
        );
        f.sample(&[], auth_failures);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_families_typed() {
        let view = StatusView {
            now: EpochMillis::from_millis(0),
            links: vec![LinkView {
                name: Arc::from("a\"b"),
                status: LinkStatus::Down,
                since: EpochMillis::from_millis(0),
            }],
            circuits: vec![],
            recent_decisions: vec![],
        };
        let text = render_metrics(&view, &Counters::default());
        assert!(text.contains("megaflex_link_up{link=\"a\\\"b\"} 0\n"), "{text}");
        assert!(text.contains("megaflex_link_state{link=\"a\\\"b\",state=\"down\"} 1\n"), "{text}");
        assert!(text.contains("# TYPE megaflex_events_total counter\n"));
    }
}
