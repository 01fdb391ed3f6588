//! `megaflex replay`: recorded syslog lines or JSONL canonical events
//! through the same core as the daemon, on a virtual clock, against a dry
//! run of the API. Prints every decision and the calls it would make.

use std::time::Duration;

use megaport::types::EpochMillis;
use serde::Serialize;

use crate::actuator::{Actuator, DryRunActuator, PlannedCall};
use crate::config::Config;
use crate::core::{Core, JobResult};
use megaflex_domain::event::Event;
use megaflex_sources::syslog::classify::{UserPattern, classify_with};
use megaflex_sources::syslog::event_from;
use megaflex_sources::syslog::parse::{Format, parse};
use megaflex_store::{DecisionRecord, Record, Snapshot};

/// After the last event, timers are followed at most this far.
const FOLLOW_AFTER_LAST: Duration = Duration::from_secs(7 * 86_400);

/// What a replay did.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayReport {
    /// Lines read.
    pub lines: usize,
    /// Lines that became canonical events.
    pub events: usize,
    /// Lines that could not be read (with line numbers).
    pub unreadable: Vec<(usize, String)>,
    /// Every decision, in order.
    pub decisions: Vec<DecisionRecord>,
    /// Every Megaport call the engine would have made.
    pub calls: Vec<PlannedCall>,
    /// Updates per VXC.
    pub updates: Vec<(String, usize)>,
}

/// The receive time of a syslog line: its own timestamp (RFC 5424, or
/// RFC 3164 in `year`), else `fallback`.
fn line_time(ts: Option<&str>, format: Format, year: i16, fallback: EpochMillis) -> EpochMillis {
    let Some(ts) = ts else { return fallback };
    let ts = ts.trim_start_matches(['*', '.']);
    let parsed = match format {
        Format::Rfc5424 => ts.parse::<jiff::Timestamp>().ok(),
        _ => {
            // `Mmm dd hh:mm:ss[.mmm]` in UTC.
            let text = format!("{year} {}", ts.split_whitespace().take(3).collect::<Vec<_>>().join(" "));
            let fmt = if text.contains('.') { "%Y %b %d %H:%M:%S%.f" } else { "%Y %b %d %H:%M:%S" };
            jiff::civil::DateTime::strptime(fmt, &text)
                .ok()
                .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
                .map(|z| z.timestamp())
        }
    };
    parsed.map_or(fallback, EpochMillis::from)
}

/// Reads `text` into events: JSONL canonical events (lines starting with
/// `{`) or syslog lines.
pub fn read_events(text: &str, patterns: &[UserPattern], year: i16) -> (Vec<Event>, Vec<(usize, String)>, usize) {
    let mut events = Vec::new();
    let mut unreadable = Vec::new();
    let mut last = EpochMillis::from_millis(0);
    let mut lines = 0;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        lines += 1;
        if line.starts_with('{') {
            match serde_json::from_str::<Event>(line) {
                Ok(e) => {
                    last = e.received_at;
                    events.push(e);
                }
                Err(e) => unreadable.push((n + 1, format!("not a canonical event: {e}"))),
            }
            continue;
        }
        let Ok(msg) = parse(line.as_bytes()) else {
            unreadable.push((n + 1, "not a syslog message".into()));
            continue;
        };
        let Some(c) = classify_with(&msg, patterns) else { continue };
        let at = line_time(msg.timestamp, msg.format, year, last);
        last = at;
        let address = msg.hostname.unwrap_or_default().to_owned();
        events.push(event_from(&msg, c, None, address, at));
    }
    (events, unreadable, lines)
}

/// Runs the events through the engine in dry-run.
pub async fn replay(config: &Config, events: Vec<Event>) -> (Vec<DecisionRecord>, Vec<PlannedCall>) {
    let start = events.first().map_or(EpochMillis::now(), |e| e.received_at);
    let act = DryRunActuator::new(config.circuits.iter().map(|c| (c.vxc.clone(), c.normal_mbps)));
    let mut core = Core::new(config, Snapshot::default(), start);
    let mut decisions = Vec::new();
    let end = events.last().map_or(start, |e| e.received_at).plus_millis(FOLLOW_AFTER_LAST.as_millis() as i64);
    for e in &events {
        advance(&mut core, &act, e.received_at, &mut decisions).await;
        core.on_event(e);
        advance(&mut core, &act, e.received_at, &mut decisions).await;
    }
    advance(&mut core, &act, end, &mut decisions).await;
    (decisions, act.calls())
}

/// Fires everything due up to `until`, in time order.
async fn advance(core: &mut Core, act: &DryRunActuator, until: EpochMillis, out: &mut Vec<DecisionRecord>) {
    let sink = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Record>::new()));
    let flush = {
        let sink = sink.clone();
        move |records: Vec<Record>| -> crate::cycle::FlushFuture {
            sink.lock().unwrap_or_else(|e| e.into_inner()).extend(records);
            Box::pin(async { Ok(()) })
        }
    };
    // Bounded: every round either fires a timer or ends.
    for _ in 0..100_000 {
        let now = match core.next_deadline() {
            Some(d) if d <= until => d,
            _ if core.reconcile_due() => until,
            _ => break,
        };
        act.set_now(now);
        core.tick(now);
        core.mark_waits_over(now);
        if core.reconcile_due() {
            match core.reconcile(act as &dyn Actuator, now, &flush).await {
                Ok(jobs) => {
                    for job in jobs {
                        let outcome = act.set_rate(&job.vxc, job.intent.target_mbps).await;
                        core.on_job_done(JobResult { job, outcome, at: now });
                    }
                    // A job's result asks for another cycle: at most once more here.
                    if core.reconcile_due() {
                        let _ = core.reconcile(act as &dyn Actuator, now, &flush).await;
                    }
                }
                Err(e) => tracing::error!(error = %e, "dry-run reconcile failed"),
            }
        }
        collect(core, &sink, out);
        if core.next_deadline().is_none_or(|d| d > until) && !core.reconcile_due() {
            break;
        }
    }
    collect(core, &sink, out);
}

fn collect(core: &mut Core, sink: &std::sync::Mutex<Vec<Record>>, out: &mut Vec<DecisionRecord>) {
    let mut records = std::mem::take(&mut *sink.lock().unwrap_or_else(|e| e.into_inner()));
    records.extend(core.take_records());
    for r in records {
        if let Record::Decision(d) = r {
            out.push(d);
        }
    }
}

/// Counts the updates among `calls`, per VXC path.
pub fn updates_of(calls: &[PlannedCall]) -> Vec<(String, usize)> {
    let mut map = std::collections::BTreeMap::<String, usize>::new();
    for c in calls.iter().filter(|c| c.method == "PUT") {
        *map.entry(c.path.rsplit('/').next().unwrap_or_default().to_owned()).or_default() += 1;
    }
    map.into_iter().collect()
}
