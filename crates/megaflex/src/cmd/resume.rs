//! `megaflex resume --config FILE CIRCUIT`: resume automation of a circuit
//! paused after an outside rate change. When a daemon holds the store (its
//! instance lock), asks it over its HTTP listener, or refuses; only when no
//! daemon runs does it record the resume in the store for the next start.

use std::path::PathBuf;

use megaflex_domain::circuits::DecisionAction;
use megaflex_runtime::config::Config;
use megaflex_store::{ClaimError, DecisionRecord, Holder, Record};
use megaport::types::EpochMillis;

use crate::error::{CliError, exit};
use crate::output::print;

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
    if !config.circuits.iter().any(|c| c.name == args.circuit) {
        return Err(CliError::usage(format!("no circuit named {:?} in {}", args.circuit, args.config.display())).into());
    }
    let store =
        config.store.open().await.map_err(|e| {
            if e.is_config() { CliError::usage(e.to_string()) } else { CliError::failure(e.to_string()) }
        })?;
    // The instance lock tells whether a daemon runs on this store: a resume
    // written behind a live daemon is overwritten by it (the circuit stays
    // paused and the next outage gets no boost), so it goes to the daemon.
    match store.claim().await {
        Ok(()) => {}
        Err(ClaimError::InUse { holder, .. }) => return resume_through_daemon(&config, &args.circuit, holder).await,
        Err(e) => return Err(CliError::failure(e.to_string()).into()),
    }
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
        action: DecisionAction::Resumed,
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
    megaport::install_crypto_provider();
    Ok(reqwest::Client::builder().no_proxy().timeout(std::time::Duration::from_secs(10)).build()?)
}

/// Asks the daemon that holds the store; refuses when it cannot be asked.
async fn resume_through_daemon(config: &Config, circuit: &str, holder: Option<Holder>) -> anyhow::Result<u8> {
    let who = holder.map_or_else(|| "a running megaflex daemon".to_owned(), |h| h.to_string());
    let Some(http) = &config.http else {
        return Err(CliError::failure(format!(
            "{who} holds the store and has no [http] listener to ask; not writing behind it \
             (it would overwrite the resume). Add [http] listen to its configuration, or stop it, \
             resume, and start it again"
        ))
        .into());
    };
    let url = format!("http://{}/api/circuits/{circuit}/resume", http.listen);
    let mut request = local_http()?.post(&url);
    // The daemon refuses writes without the token `[http] token_env` names.
    if let Some(var) = &http.token_env {
        let token = std::env::var(var).map_err(|_| {
            CliError::usage(format!(
                "[http] token_env: environment variable {var} is not set; the daemon needs its token"
            ))
        })?;
        request = request.bearer_auth(token.trim());
    }
    match request.send().await {
        Ok(r) if r.status().is_success() => {
            print(&format!("{circuit}: resumed by the running daemon"))?;
            Ok(exit::OK)
        }
        Ok(r) => {
            // 4xx: the request is wrong (token, circuit name): fix and rerun.
            let usage = r.status().is_client_error();
            let message = format!("the daemon refused: {}", r.text().await.unwrap_or_default().trim());
            Err(if usage { CliError::usage(message) } else { CliError::failure(message) }.into())
        }
        Err(e) => Err(CliError::failure(format!(
            "{who} holds the store but does not answer on {url} ({e}); not writing behind it"
        ))
        .into()),
    }
}
