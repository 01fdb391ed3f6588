//! `megaflex limits`: this machine's view of the request budget and of each
//! service's update ledger.

use std::time::Duration;

use megaport::UpdatePolicy;
use serde::Serialize;

use crate::context::Ctx;
use crate::error::exit;
use crate::output::{opt, print, print_json, print_rows};
use crate::state::{FileLedger, Journal};
use crate::timearg::human;

#[derive(Debug, Serialize)]
struct ServiceLimits {
    uid: String,
    last_update: Option<String>,
    used_this_month: u32,
    left_this_month: u32,
    next_update_allowed_at: String,
    blocked_by: Option<String>,
}

pub(crate) async fn run(ctx: &Ctx) -> anyhow::Result<u8> {
    let journal = Journal::open(&ctx.state);
    let ages = journal.recent_call_ages(megaport::MEGAPORT_WINDOW);
    let limit = megaport::MEGAPORT_REQUESTS_PER_WINDOW;
    let used = ages.len() as u32;
    let oldest = ages.iter().max().copied();
    let frees_in = oldest.map(|age| megaport::MEGAPORT_WINDOW.saturating_sub(age));
    let ledger = FileLedger::open(&ctx.state);
    let policy = UpdatePolicy::default();
    let now = megaport::types::EpochMillis::now();
    let mut services = Vec::new();
    for uid in ledger.services()? {
        let b = policy.budget(&ledger, &uid, now).await?;
        services.push(ServiceLimits {
            uid: uid.to_string(),
            last_update: b.last_update.map(|t| t.to_string()),
            used_this_month: b.used_this_month,
            left_this_month: b.left_this_month,
            next_update_allowed_at: b.next_allowed_at.to_string(),
            blocked_by: b.blocked_by.map(|r| r.to_string()),
        });
    }
    if ctx.json() {
        print_json(&serde_json::json!({
            "state_dir": ctx.state.path,
            "requests": { "limit": limit, "window_secs": 300, "used": used, "remaining": limit.saturating_sub(used),
                          "oldest_frees_in_secs": frees_in.map(|d| d.as_secs()) },
            "services": services,
        }))?;
        return Ok(exit::OK);
    }
    print(&format!(
        "Requests from this machine: {used} of {limit} in the last 5 minutes ({} left{})",
        limit.saturating_sub(used),
        frees_in
            .filter(|_| used > 0)
            .map(|d| format!("; the oldest leaves the window in {}", human(d.max(Duration::from_secs(1)))))
            .unwrap_or_default()
    ))?;
    if services.is_empty() {
        print(&format!("No service updates recorded yet (ledger in {}).", ctx.state.path.display()))?;
        return Ok(exit::OK);
    }
    let rows: Vec<Vec<String>> = services
        .iter()
        .map(|s| {
            vec![
                s.uid.clone(),
                opt(s.last_update.clone()),
                format!("{} / {}", s.used_this_month, policy.monthly_cap),
                s.left_this_month.to_string(),
                if s.blocked_by.is_some() { s.next_update_allowed_at.clone() } else { "now".into() },
            ]
        })
        .collect();
    print_rows(
        ctx.global.output,
        &["SERVICE", "LAST UPDATE", "USED THIS MONTH", "LEFT", "NEXT UPDATE ALLOWED"],
        &rows,
    )?;
    Ok(exit::OK)
}
