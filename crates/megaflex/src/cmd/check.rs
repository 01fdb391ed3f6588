//! `megaflex check --config FILE`: validates the configuration and, when
//! credentials are present, that each circuit's VXC exists and can take its
//! rates.

use std::path::PathBuf;

use megaflex_runtime::config::Config;

use crate::context::Ctx;
use crate::error::{CliError, exit};
use crate::output::{print, print_json};

/// Options of `megaflex check`.
#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    /// The daemon's configuration file.
    #[arg(long, short = 'c', value_name = "FILE", default_value = "megaflex.toml")]
    config: PathBuf,
    /// Only validate the file; do not call Megaport.
    #[arg(long)]
    offline: bool,
}

pub(crate) async fn run(ctx: &Ctx, args: CheckArgs) -> anyhow::Result<u8> {
    let config = Config::load(&args.config).map_err(|e| CliError::usage(e.to_string()))?;
    let mut findings: Vec<String> = Vec::new();
    let mut problems = 0;
    findings.push(format!(
        "{}: {} source(s), {} link(s), {} circuit(s)",
        args.config.display(),
        config.sources.len(),
        config.links.len(),
        config.circuits.len()
    ));
    if !args.offline {
        match config.megaport.settings().resolve() {
            Err(e) => findings.push(format!("Megaport not checked: {e}")),
            Ok(resolved) => {
                let client =
                    megaport::Client::builder_from(resolved).ca_file(config.megaport.ca_file.clone()).build()?;
                let products = client.products().await?;
                let vxcs = megaport::Client::vxcs_of(&products);
                for c in &config.circuits {
                    let uid = &c.vxc;
                    match vxcs.iter().find(|v| v.product_uid == *uid) {
                        None => {
                            problems += 1;
                            findings.push(format!("circuit {}: VXC {uid} not found on the account", c.name));
                        }
                        Some(v) => {
                            let max = v.maximum_rate_mbps.unwrap_or(u32::MAX);
                            let mut notes = Vec::new();
                            if c.boost_mbps > max {
                                problems += 1;
                                notes
                                    .push(format!("boost_mbps {} is above the VXC's maximum rate {max}", c.boost_mbps));
                            }
                            if !v.provisioning_status.is_active() {
                                problems += 1;
                                notes.push(format!(
                                    "status {} (only LIVE or CONFIGURED VXCs can change speed)",
                                    v.provisioning_status
                                ));
                            }
                            if v.locked || v.admin_locked {
                                problems += 1;
                                notes.push("locked".into());
                            }
                            let now = v.rate_limit_mbps;
                            let state = if notes.is_empty() { "ok".to_owned() } else { notes.join("; ") };
                            findings.push(format!(
                                "circuit {}: VXC {} ({}) at {now} Mbps, normal {} / boost {}: {state}",
                                c.name, v.product_name, uid, c.normal_mbps, c.boost_mbps
                            ));
                        }
                    }
                }
            }
        }
    }
    if !args.offline
        && let Some(sn) = &config.servicenow
    {
        match sn.client().and_then(|c| c.with_http(&sn.http_settings())) {
            Ok(client) => {
                // A read of the incident table proves the credentials and the
                // role (itil) without writing anything.
                match client.find_active("megaflex:check").await {
                    Ok(_) => findings.push(format!(
                        "ServiceNow {}: incident table readable as {}",
                        sn.instance,
                        client.user()
                    )),
                    Err(e) => {
                        problems += 1;
                        findings.push(format!("ServiceNow {}: {e}", sn.instance));
                    }
                }
            }
            Err(e) => {
                problems += 1;
                findings.push(format!("ServiceNow not checked: {e}"));
            }
        }
    }
    if ctx.json() {
        print_json(&serde_json::json!({ "ok": problems == 0, "findings": findings }))?;
    } else {
        print(&findings.join("\n"))?;
    }
    Ok(if problems == 0 { exit::OK } else { exit::FAILURE })
}
