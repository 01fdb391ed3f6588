//! `megaflex events`: Megaport maintenance and outages.

use megaport::types::{MaintenanceState, OutageState};

use crate::context::Ctx;
use crate::error::{CliError, exit};
use crate::output::{opt, print, print_json, print_rows};

/// Options of `megaflex events`.
#[derive(Debug, clap::Args)]
pub(crate) struct EventsArgs {
    /// Maintenance only.
    #[arg(long, conflicts_with = "outages")]
    maintenance: bool,
    /// Outages only.
    #[arg(long)]
    outages: bool,
    /// Only this state (maintenance: Scheduled, Running, Completed, Cancelled; outages: Ongoing, Resolved).
    #[arg(long)]
    state: Option<String>,
}

pub(crate) async fn run(ctx: &Ctx, args: EventsArgs) -> anyhow::Result<u8> {
    let client = ctx.client()?;
    let (want_m, want_o) = match (args.maintenance, args.outages) {
        (false, false) => (true, true),
        (m, o) => (m, o),
    };
    let m_state = match (&args.state, want_m && !want_o) {
        (Some(s), true) => Some(MaintenanceState::parse(s).ok_or_else(|| {
            CliError::usage(format!("--state {s}: maintenance states are Scheduled, Running, Completed, Cancelled"))
        })?),
        _ => None,
    };
    let o_state = match (&args.state, want_o && !want_m) {
        (Some(s), true) => Some(
            OutageState::parse(s)
                .ok_or_else(|| CliError::usage(format!("--state {s}: outage states are Ongoing, Resolved")))?,
        ),
        _ => None,
    };
    if args.state.is_some() && want_m && want_o {
        return Err(CliError::usage("--state needs --maintenance or --outages").into());
    }
    let maintenance = if want_m { client.maintenance(m_state).await? } else { Vec::new() };
    let outages = if want_o { client.outages(o_state).await? } else { Vec::new() };
    if ctx.json() {
        print_json(&serde_json::json!({ "maintenance": maintenance, "outages": outages }))?;
        return Ok(exit::OK);
    }
    let mut rows: Vec<Vec<String>> = maintenance
        .iter()
        .map(|e| {
            vec![
                format!("maintenance ({})", opt(e.event_type.clone())),
                e.event_id.clone(),
                e.state.clone(),
                opt(e.start_time.clone()),
                opt(e.end_time.clone()),
                e.services.join(" "),
                opt(e.purpose.clone()),
            ]
        })
        .collect();
    rows.extend(outages.iter().map(|o| {
        vec![
            "outage".into(),
            o.outage_id.clone(),
            o.state.clone(),
            opt(o.start_time.clone()),
            opt(o.end_time.clone()),
            o.services.join(" "),
            opt(o.purpose.clone()),
        ]
    }));
    if rows.is_empty() {
        print("no events")?;
        return Ok(exit::OK);
    }
    print_rows(ctx.global.output, &["KIND", "ID", "STATE", "START", "END", "SERVICES", "DESCRIPTION"], &rows)?;
    Ok(exit::OK)
}
