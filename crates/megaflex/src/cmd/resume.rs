//! `megaflex resume --config FILE CIRCUIT`: resume automation of a circuit
//! paused after an outside rate change. Asks the running daemon over its
//! HTTP listener; when no daemon answers, records the resume in the store
//! for the next start.

use std::path::PathBuf;

use megaflex_engine::config::Config;
use megaflex_engine::store::{self, DecisionRecord, Record};
use megaport::types::EpochMillis;

use crate::output::print;
use crate::{CliError, exit};

/// Options of `megaflex resume`.
#[derive(Debug, clap::Args)]
pub(crate) struct ResumeArgs {
    /// The daemon's configuration file.
    #[arg(long, short = 'c', value_name = "FILE", default_value = "megaflex.toml")]
    config: PathBuf,
    /// The circuit to resume.
    circuit: String,
}

pub(crate) async fn run(args: ResumeArgs) -> anyhow::Result<u8> {
    let config = Config::load(&args.config).map_err(|e| CliError::usage(e.to_string()))?;
    if !config.circuits.iter().any(|c| c.get_ref().name.get_ref() == &args.circuit) {
        return Err(CliError::usage(format!("no circuit named {:?} in {}", args.circuit, args.config.display())).into());
    }
    if let Some(http) = &config.http {
        let url = format!("http://{}/api/circuits/{}/resume", http.listen.get_ref(), args.circuit);
        let mut request = local_http()?.post(&url);
        // The daemon refuses writes without the token `[http] token_env` names.
        if let Some(var) = &http.token_env {
            let token = std::env::var(var.get_ref()).map_err(|_| {
                CliError::usage(format!(
                    "[http] token_env: environment variable {} is not set; the daemon needs its token",
                    var.get_ref()
                ))
            })?;
            request = request.bearer_auth(token.trim());
        }
        match request.send().await {
            Ok(r) if r.status().is_success() => {
                print(&format!("{}: resumed by the running daemon", args.circuit))?;
                return Ok(exit::OK);
            }
            Ok(r) => {
                let text = r.text().await.unwrap_or_default();
                return Err(CliError::usage(format!("the daemon refused: {}", text.trim())).into());
            }
            Err(e) if e.is_connect() => {} // not running: fall through to the store
            Err(e) => return Err(e.into()),
        }
    }
    let store = store::open(&config.store.url).await.map_err(|e| CliError::usage(e.to_string()))?;
    let snap = store.load().await?;
    let Some(mut row) = snap.circuits.into_iter().find(|r| r.circuit == args.circuit) else {
        print(&format!("{}: nothing recorded yet; nothing to resume", args.circuit))?;
        return Ok(exit::OK);
    };
    if row.paused_reason.take().is_none() {
        print(&format!("{}: not paused", args.circuit))?;
        return Ok(exit::OK);
    }
    row.last_set_mbps = row.actual_mbps;
    let decision = DecisionRecord {
        at: EpochMillis::now(),
        circuit: args.circuit.clone(),
        episode: row.episode,
        action: "resumed".into(),
        wanted_mbps: row.wanted_mbps,
        reason: "resumed by an operator while the daemon was stopped".into(),
    };
    store.write(vec![Record::Circuit(row), Record::Decision(decision)]).await?;
    print(&format!(
        "{}: resumed (recorded in {}; takes effect when the daemon starts)",
        args.circuit, config.store.url
    ))?;
    Ok(exit::OK)
}

/// A client for the daemon on this machine: a timeout, and never through
/// `HTTP_PROXY` (a proxy would not reach the daemon's loopback listener).
fn local_http() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder().no_proxy().timeout(std::time::Duration::from_secs(10)).build()?)
}
