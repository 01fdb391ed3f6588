//! `megaflex replay --config FILE INPUT`: recorded syslog lines or JSONL
//! canonical events through the engine on a virtual clock, in dry-run.
//! Prints every decision, the Megaport calls it would make, the updates
//! used and, with credentials, the estimated cost.

use std::path::PathBuf;

use megaflex_runtime::config::Config;
use megaflex_runtime::replay::{read_events, replay, updates_of};
use megaport::types::EpochMillis;

use crate::context::Ctx;
use crate::error::{CliError, exit};
use crate::output::{print, print_json, table};

/// Options of `megaflex replay`.
#[derive(Debug, clap::Args)]
pub(crate) struct ReplayArgs {
    /// The daemon's configuration file.
    #[arg(long, short = 'c', value_name = "FILE", default_value = "megaflex.toml")]
    config: PathBuf,
    /// Syslog lines (RFC 5424 or 3164) or JSONL canonical events; `-` for stdin.
    input: PathBuf,
    /// Year of RFC 3164 timestamps (they carry none).
    #[arg(long)]
    year: Option<i16>,
    /// Ask the rating API for the cost of each change (needs credentials).
    #[arg(long)]
    price: bool,
}

pub(crate) async fn run(ctx: &Ctx, args: ReplayArgs) -> anyhow::Result<u8> {
    let config = Config::load(&args.config).map_err(|e| CliError::usage(e.to_string()))?;
    let text = if args.input.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(&args.input)
            .map_err(|e| CliError::usage(format!("cannot read {}: {e}", args.input.display())))?
    };
    let patterns = config.patterns.clone();
    let year = args.year.unwrap_or_else(|| jiff::Zoned::now().year());
    let (events, unreadable, lines) = read_events(&text, &patterns, year);
    let (decisions, calls) = replay(&config, events.clone()).await;
    let updates = updates_of(&calls);
    let mut costs = Vec::new();
    if args.price {
        let client = ctx.client()?;
        for c in &config.circuits {
            let uid = &c.vxc;
            let ts = events.first().map_or_else(EpochMillis::now, |e| e.received_at);
            let z = ts.to_timestamp().unwrap_or_else(jiff::Timestamp::now).to_zoned(jiff::tz::TimeZone::UTC);
            let p = client.speed_change_price(uid, c.boost_mbps, z.year(), z.month()).await?;
            costs.push(serde_json::json!({"circuit": c.name, "boost_monthly": p.long_term_monthly,
                "delta_this_month": p.delta, "currency": p.currency}));
        }
    }
    if ctx.json() {
        print_json(&serde_json::json!({
            "lines": lines, "events": events.len(), "unreadable": unreadable,
            "decisions": decisions, "calls": calls, "updates": updates, "costs": costs,
        }))?;
        return Ok(exit::OK);
    }
    let mut d = table(&["time", "circuit", "action", "wanted", "reason"]);
    for x in &decisions {
        d.add_row(vec![
            x.at.to_string(),
            x.circuit.clone(),
            x.action.to_string(),
            format!("{} Mbps", x.wanted_mbps),
            x.reason.clone(),
        ]);
    }
    let mut c = table(&["time", "call"]);
    for x in &calls {
        let body = x.body.as_deref().map(|b| format!(" {b}")).unwrap_or_default();
        c.add_row(vec![x.at.to_string(), format!("{} {}{body}", x.method, x.path)]);
    }
    let mut out = format!(
        "{lines} line(s), {} event(s), {} unreadable; dry run: nothing was sent.\n\nDecisions:\n{d}\n\nMegaport calls it would make ({}):\n{c}\n",
        events.len(),
        unreadable.len(),
        calls.len()
    );
    for (line, why) in unreadable.iter().take(10) {
        out.push_str(&format!("line {line}: {why}\n"));
    }
    for (vxc, n) in &updates {
        out.push_str(&format!("\nUpdates of {vxc}: {n}"));
    }
    if updates.is_empty() {
        out.push_str("\nNo update would be made.");
    }
    for cost in &costs {
        out.push_str(&format!("\nCost: {cost}"));
    }
    if !args.price {
        out.push_str("\n(--price asks the rating API for the boost's cost)");
    }
    print(&out)?;
    Ok(exit::OK)
}
