//! `megaflex vxc list|show|speed`: the seed blog's workflow, one command each.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use megaport::types::{ProductUid, Vxc};
use serde::Serialize;

use crate::context::Ctx;
use crate::error::{CliError, exit};
use crate::output::{kv_table, opt, print, print_json, status};
use crate::timearg::{human, parse_duration};

/// `megaflex vxc ...`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum VxcCommand {
    /// Active VXCs (LIVE or CONFIGURED); --all for every status.
    List {
        /// Every status.
        #[arg(long)]
        all: bool,
    },
    /// One VXC in detail.
    Show {
        /// The VXC's product UID.
        uid: String,
    },
    /// Print a VXC's rate limit, or change it and wait until it is in force.
    Speed(SpeedArgs),
}

/// Options of `megaflex vxc speed`.
#[derive(Debug, clap::Args)]
pub(crate) struct SpeedArgs {
    /// The VXC's product UID.
    uid: String,
    /// New rate limit in Mbps (omit to print the current one).
    mbps: Option<u32>,
    /// Do not ask for confirmation.
    #[arg(short = 'y', long)]
    yes: bool,
    /// Show what would happen (price, update budget) and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Return once the API accepts the update instead of waiting until it is in force.
    #[arg(long)]
    no_wait: bool,
    /// How long to wait for confirmation.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    timeout: Duration,
}

pub(crate) async fn run(ctx: &Ctx, cmd: VxcCommand) -> anyhow::Result<u8> {
    match cmd {
        VxcCommand::List { all } => {
            let client = ctx.client()?;
            let products = client.products().await?;
            let vxcs: Vec<Vxc> = megaport::Client::vxcs_of(&products)
                .into_iter()
                .filter(|v| all || v.provisioning_status.is_active())
                .collect();
            crate::cmd::products::print_vxcs(ctx, &vxcs)
        }
        VxcCommand::Show { uid } => show(ctx, &ProductUid::new(uid)).await,
        VxcCommand::Speed(args) => speed(ctx, args).await,
    }
}

fn date(v: Option<megaport::types::EpochMillis>) -> String {
    v.map_or_else(|| "-".into(), |t| t.to_string().get(..10).unwrap_or_default().to_owned())
}

async fn show(ctx: &Ctx, uid: &ProductUid) -> anyhow::Result<u8> {
    let client = ctx.client()?;
    let v = client.vxc(uid).await?;
    if ctx.json() {
        print_json(&v)?;
        return Ok(exit::OK);
    }
    let approval = match v.vxc_approval.as_ref().and_then(|a| a.status.clone()) {
        Some(s) => format!(
            "{s}{}{}",
            v.vxc_approval.as_ref().and_then(|a| a.kind.clone()).map(|k| format!(" {k}")).unwrap_or_default(),
            v.vxc_approval.as_ref().and_then(|a| a.new_speed_mbps).map(|n| format!(" to {n} Mbps")).unwrap_or_default()
        ),
        None => "none pending".into(),
    };
    let end = |b: bool| {
        let e = if b { v.b_end.as_ref() } else { v.a_end.as_ref() };
        e.map_or_else(
            || "-".into(),
            |e| {
                format!(
                    "{} at {} ({}), VLAN {}",
                    e.product_name.clone().unwrap_or_default(),
                    e.location.clone().unwrap_or_else(|| "?".into()),
                    e.product_uid,
                    opt(e.vlan)
                )
            },
        )
    };
    let rows = [
        ("Name", v.product_name.clone()),
        ("UID", v.product_uid.to_string()),
        ("Product ID", v.product_id.to_string()),
        ("Status", status(v.provisioning_status.as_str(), ctx.color)),
        ("Rate limit", format!("{} Mbps", v.rate_limit_mbps)),
        ("Network rate (vll)", opt(v.vll_rate_limit_mbps().map(|r| format!("{r} Mbps")))),
        ("Maximum rate", opt(v.maximum_rate_mbps.map(|r| format!("{r} Mbps")))),
        ("A-End", end(false)),
        ("B-End", end(true)),
        ("Distance band", v.distance_band.to_string()),
        ("Billing", opt(v.usage_algorithm.clone())),
        (
            "Contract",
            format!(
                "{} month(s), {} to {}",
                opt(v.contract_term_months),
                date(v.contract_start_date),
                date(v.contract_end_date)
            ),
        ),
        ("Approval", approval),
        ("Locked", if v.locked || v.admin_locked { "yes".into() } else { "no".into() }),
        ("Shutdown", if v.shutdown { "yes".into() } else { "no".into() }),
        ("Cost centre", opt(v.cost_centre.clone())),
    ];
    print(&kv_table(&rows).to_string())?;
    Ok(exit::OK)
}

#[derive(Debug, Serialize)]
struct SpeedPlan {
    uid: String,
    name: String,
    before_mbps: u32,
    after_mbps: u32,
    currency: Option<String>,
    price_delta_this_month: Option<f64>,
    price_total_this_month: Option<f64>,
    monthly_at_new_speed: Option<f64>,
    last_update: Option<String>,
    updates_used_this_month: u32,
    updates_left_this_month: u32,
    next_update_allowed_at: String,
    dry_run: bool,
}

#[derive(Debug, Serialize)]
struct SpeedResult {
    uid: String,
    before_mbps: u32,
    after_mbps: u32,
    updated: bool,
    confirmed: bool,
    took_ms: u64,
    status: String,
}

fn confirm(prompt: &str) -> std::io::Result<bool> {
    let mut err = std::io::stderr().lock();
    write!(err, "{prompt} [y/N] ")?;
    err.flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

async fn speed(ctx: &Ctx, args: SpeedArgs) -> anyhow::Result<u8> {
    let client = ctx.client()?;
    let uid = ProductUid::new(args.uid.clone());
    let vxc = client.vxc(&uid).await?;
    let Some(mbps) = args.mbps else {
        if ctx.json() {
            print_json(&serde_json::json!({
                "uid": uid, "rate_limit_mbps": vxc.rate_limit_mbps, "vll_rate_limit_mbps": vxc.vll_rate_limit_mbps(),
                "status": vxc.provisioning_status.as_str()
            }))?;
        } else {
            print(&vxc.rate_limit_mbps.to_string())?;
        }
        return Ok(exit::OK);
    };

    let now = client.now().to_timestamp().map(|t| t.to_zoned(jiff::tz::TimeZone::UTC));
    let price = match &now {
        Some(z) if mbps != vxc.rate_limit_mbps => {
            match client.speed_change_price(&uid, mbps, z.year(), z.month()).await {
                Ok(p) => Some(p),
                Err(e) => {
                    eprintln!("warning: no price for this change: {e}");
                    None
                }
            }
        }
        _ => None,
    };
    let budget = client.update_budget(&uid).await?;
    let plan = SpeedPlan {
        uid: uid.to_string(),
        name: vxc.product_name.clone(),
        before_mbps: vxc.rate_limit_mbps,
        after_mbps: mbps,
        currency: price.as_ref().map(|p| p.currency.clone()),
        price_delta_this_month: price.as_ref().map(|p| p.delta),
        price_total_this_month: price.as_ref().map(|p| p.total),
        monthly_at_new_speed: price.as_ref().map(|p| p.long_term_monthly),
        last_update: budget.last_update.map(|t| t.to_string()),
        updates_used_this_month: budget.used_this_month,
        updates_left_this_month: budget.left_this_month,
        next_update_allowed_at: budget.next_allowed_at.to_string(),
        dry_run: args.dry_run,
    };
    if !ctx.json() {
        let price_text = price.as_ref().map_or_else(
            || "-".to_owned(),
            |p| {
                format!(
                    "{:+.2} {} this month (month total {:.2}; {:.2}/month at {mbps} Mbps)",
                    p.delta, p.currency, p.total, p.long_term_monthly
                )
            },
        );
        let mut rows = vec![
            ("VXC", format!("{} ({uid})", vxc.product_name)),
            ("Rate limit", format!("{} Mbps -> {mbps} Mbps", vxc.rate_limit_mbps)),
            ("Price change", price_text),
            ("Last update", opt(budget.last_update)),
            ("Updates this month", format!("{} used, {} left", budget.used_this_month, budget.left_this_month)),
        ];
        if budget.blocked_by.is_some() {
            rows.push(("Next update allowed", budget.next_allowed_at.to_string()));
        }
        eprintln!("{}", kv_table(&rows));
    }
    if vxc.rate_limit_mbps == mbps && megaport::rate_in_force(&vxc, mbps) {
        if ctx.json() {
            print_json(&SpeedResult {
                uid: uid.to_string(),
                before_mbps: mbps,
                after_mbps: mbps,
                updated: false,
                confirmed: true,
                took_ms: 0,
                status: vxc.provisioning_status.to_string(),
            })?;
        } else {
            print(&format!("{} already runs at {mbps} Mbps: nothing to change", vxc.product_name))?;
        }
        return Ok(exit::OK);
    }
    if let Some(rule) = budget.blocked_by {
        return Err(megaport::Error::UpdateRefused {
            uid,
            rule,
            next_allowed_at: budget.next_allowed_at,
            detail: Some(format!("{} updates used this month; nothing was sent", budget.used_this_month)),
        }
        .into());
    }
    if args.dry_run {
        if ctx.json() {
            print_json(&plan)?;
        } else {
            print("dry run: nothing was changed")?;
        }
        return Ok(exit::OK);
    }
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            return Err(
                CliError::usage("not on a terminal: pass --yes to change the rate limit without a prompt").into()
            );
        }
        if !confirm(&format!("Change {} from {} to {mbps} Mbps?", vxc.product_name, vxc.rate_limit_mbps))? {
            eprintln!("cancelled: nothing was changed");
            return Ok(exit::FAILURE);
        }
    }
    let spinner = std::io::stderr().is_terminal().then(|| {
        let s = indicatif::ProgressBar::new_spinner();
        s.set_message(format!("changing {} to {mbps} Mbps and waiting until it is in force", vxc.product_name));
        s.enable_steady_tick(Duration::from_millis(120));
        s
    });
    let result = if args.no_wait {
        client.set_rate_limit_no_wait(&uid, mbps).await
    } else {
        client.set_rate_limit(&uid, mbps, args.timeout).await
    };
    if let Some(s) = spinner {
        s.finish_and_clear();
    }
    let change = result?;
    let out = SpeedResult {
        uid: uid.to_string(),
        before_mbps: change.before_mbps,
        after_mbps: change.after_mbps,
        updated: change.updated,
        confirmed: !args.no_wait,
        took_ms: change.took.as_millis() as u64,
        status: change.vxc.provisioning_status.to_string(),
    };
    if ctx.json() {
        print_json(&out)?;
    } else if args.no_wait {
        print(&format!(
            "{}: update to {mbps} Mbps accepted (status {}); not waiting for it to take effect",
            vxc.product_name, out.status
        ))?;
    } else {
        print(&format!(
            "{}: {} Mbps -> {mbps} Mbps, confirmed in force after {} (status {})",
            vxc.product_name,
            change.before_mbps,
            human(change.took),
            out.status
        ))?;
    }
    Ok(exit::OK)
}
