//! `megaflex status --config FILE`: links, circuits (wanted, actual, next
//! allowed update) and the ledger, read from the daemon's store. Works
//! whether or not the daemon runs (SQLite WAL lets readers in).

use std::path::PathBuf;
use std::sync::Arc;

use megaflex_runtime::config::Config;
use megaflex_runtime::ledger::StoreLedger;
use megaflex_store as store;
use megaport::UpdatePolicy;
use megaport::types::EpochMillis;

use crate::context::Ctx;
use crate::error::{CliError, exit};
use crate::output::{opt, print, print_json, table};

/// Options of `megaflex status`.
#[derive(Debug, clap::Args)]
pub(crate) struct StatusArgs {
    /// The daemon's configuration file.
    #[arg(long, short = 'c', value_name = "FILE", default_value = "megaflex.toml")]
    config: PathBuf,
    /// Decisions to show.
    #[arg(long, default_value_t = 10)]
    decisions: u32,
}

pub(crate) async fn run(ctx: &Ctx, args: StatusArgs) -> anyhow::Result<u8> {
    let config = Config::load(&args.config).map_err(|e| CliError::usage(e.to_string()))?;
    // A store the configuration names wrongly is a usage error; one that
    // cannot be opened or read (permissions, a full disk) is a failure.
    let store =
        config.store.open().await.map_err(|e| {
            if e.is_config() { CliError::usage(e.to_string()) } else { CliError::failure(e.to_string()) }
        })?;
    let snap = store.load().await?;
    let decisions = store.recent_decisions(args.decisions).await?;
    let incidents = store.incidents(10).await?;
    let outbox_pending = store.outbox_pending_count().await?;
    let outbox_failed = store.failed_outbox(10).await?;
    let ledger = StoreLedger(Arc::clone(&store));
    let now = EpochMillis::now();
    let mut circuits = Vec::new();
    for c in &config.circuits {
        let name = &c.name;
        let uid = c.vxc.clone();
        let budget = UpdatePolicy::default().budget(&ledger, &uid, now).await?;
        let row = snap.circuits.iter().find(|r| &r.circuit == name);
        circuits.push(serde_json::json!({
            "name": name,
            "vxc": uid.to_string(),
            "normal_mbps": c.normal_mbps,
            "boost_mbps": c.boost_mbps,
            "wanted_mbps": row.map(|r| r.wanted_mbps),
            "actual_mbps": row.and_then(|r| r.actual_mbps),
            "pending": row.and_then(|r| r.pending),
            "episode": row.map(|r| r.episode),
            "paused": row.and_then(|r| r.paused_reason.clone()),
            "updates_used_this_month": budget.used_this_month,
            "max_updates_per_month": c.max_updates_per_month,
            "last_update": budget.last_update.map(|t| t.to_string()),
            "next_update_allowed_at": budget.next_allowed_at.to_string(),
        }));
    }
    let links: Vec<_> = config
        .links
        .iter()
        .map(|l| {
            let name = &l.name;
            let row = snap.links.iter().find(|r| &r.link == name);
            serde_json::json!({
                "name": name,
                "status": row.map_or("unknown".to_owned(), |r| store::serde_name(&r.status)),
                "since": row.map(|r| r.since.to_string()),
            })
        })
        .collect();
    if ctx.json() {
        print_json(&serde_json::json!({
            "store": config.store.url,
            "links": links,
            "circuits": circuits,
            "open_intents": snap.open_intents,
            "recent_decisions": decisions,
            "incidents": incidents,
            "servicenow_outbox_pending": outbox_pending,
            "servicenow_outbox_failed": outbox_failed,
        }))?;
        return Ok(exit::OK);
    }
    let mut t = table(&["link", "state", "since"]);
    for l in &links {
        t.add_row(vec![text(&l["name"]), text(&l["status"]), text(&l["since"])]);
    }
    let mut c = table(&["circuit", "VXC", "wanted", "actual", "timer", "updates (month)", "next update allowed"]);
    for r in &circuits {
        let timer = match r["pending"].as_object() {
            Some(m) => m.iter().map(|(k, v)| format!("{k} at {}", fmt_ms(v))).collect::<Vec<_>>().join(", "),
            None if !r["paused"].is_null() => "PAUSED".into(),
            None => "-".into(),
        };
        c.add_row(vec![
            text(&r["name"]),
            text(&r["vxc"]),
            mbps(&r["wanted_mbps"]),
            mbps(&r["actual_mbps"]),
            timer,
            format!("{} of {}", r["updates_used_this_month"], r["max_updates_per_month"]),
            text(&r["next_update_allowed_at"]),
        ]);
    }
    let mut d = table(&["when", "circuit", "action", "reason"]);
    for x in &decisions {
        d.add_row(vec![x.at.to_string(), x.circuit.clone(), x.action.to_string(), x.reason.clone()]);
    }
    let intents = if snap.open_intents.is_empty() {
        String::new()
    } else {
        format!("\n{} open intent(s): settled when the daemon next starts\n", snap.open_intents.len())
    };
    let mut inc = String::new();
    if !incidents.is_empty() || outbox_pending > 0 {
        let mut i = table(&["incident", "circuit", "episode", "opened", "resolved"]);
        for x in &incidents {
            i.add_row(vec![
                x.number.clone(),
                x.circuit.clone(),
                x.episode.to_string(),
                x.opened_at.to_string(),
                opt(x.resolved_at.map(|t| t.to_string())),
            ]);
        }
        inc = format!("\nServiceNow incidents ({outbox_pending} call(s) waiting in the outbox):\n{i}\n");
    }
    if !outbox_failed.is_empty() {
        let mut f = table(&["entry", "incident", "call", "attempts", "refused at", "why"]);
        for x in &outbox_failed {
            f.add_row(vec![
                x.id.to_string(),
                x.correlation_id.clone(),
                x.kind.clone(),
                x.attempts.to_string(),
                opt(x.at.map(|t| t.to_string())),
                x.error.clone(),
            ]);
        }
        inc.push_str(&format!(
            "\nServiceNow calls refused for good ({} shown; not retried, fix and re-raise by hand):\n{f}\n",
            outbox_failed.len()
        ));
    }
    print(&format!("Store: {}\n\n{t}\n\n{c}\n{intents}{inc}\nRecent decisions:\n{d}", config.store.url))?;
    Ok(exit::OK)
}

fn text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn mbps(v: &serde_json::Value) -> String {
    opt(v.as_u64().map(|m| format!("{m} Mbps")))
}

fn fmt_ms(v: &serde_json::Value) -> String {
    v.as_i64().map_or_else(|| text(v), |ms| EpochMillis::from_millis(ms).to_string())
}
