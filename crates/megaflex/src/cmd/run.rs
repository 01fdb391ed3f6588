//! `megaflex run --config FILE`: the daemon. SIGTERM or Ctrl-C drains the
//! sources and finishes the confirmation in flight before exiting.

use std::path::PathBuf;

use megaflex_runtime::config::Config;
use megaflex_runtime::{self as engine, RunOptions};
use megaport::UpdateLedger;
use megaport::types::{EpochMillis, ProductUid};

use crate::error::{CliError, exit};
use crate::state::{FileLedger, StateDir};

/// Options of `megaflex run`.
#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// The daemon's configuration file.
    #[arg(long, short = 'c', value_name = "FILE", default_value = "megaflex.toml")]
    config: PathBuf,
    /// Serve /metrics, /healthz, /readyz and /api/status here (overrides `[http] listen`).
    #[arg(long, value_name = "ADDR:PORT")]
    http_listen: Option<std::net::SocketAddr>,
}

pub(crate) async fn run(args: RunArgs) -> anyhow::Result<u8> {
    let config = Config::load(&args.config).map_err(|e| CliError::usage(e.to_string()))?;
    // Before anything opens a descriptor: the listeners size their
    // connection limits from what is allowed.
    match megaflex_sources::net::raise_nofile_limit() {
        Ok(nofile) => tracing::info!(nofile, "file descriptor limit"),
        Err(e) => tracing::warn!(error = %e, "cannot read or raise the file descriptor limit"),
    }
    let known_updates = cli_updates(&config).await;
    let daemon =
        engine::start(config, RunOptions { http_listen: args.http_listen, known_updates, ..RunOptions::default() })
            .await
            .map_err(|e| {
                let message = format!("cannot start: {e}");
                if e.is_config() { CliError::usage(message) } else { CliError::failure(message) }
            })?;
    for (kind, transport, addr) in &daemon.sources {
        tracing::info!("listening: {kind} on {transport}://{addr}");
    }
    if let Some(addr) = daemon.http_addr {
        tracing::info!("metrics and status on http://{addr}/metrics and http://{addr}/api/status");
    }
    wait_for_signal().await;
    tracing::info!("signal received: stopping");
    daemon.stop();
    daemon.join().await;
    Ok(exit::OK)
}

/// The updates this machine's CLI made to the circuits' VXCs (its ledger in
/// the state directory, written by `megaflex vxc speed`): a daemon on a
/// fresh store must not send an update the 5-minute rule refuses.
async fn cli_updates(config: &Config) -> Vec<(ProductUid, EpochMillis)> {
    let ledger = FileLedger::open(&StateDir::locate());
    let since = megaport::UpdatePolicy::default().history_since(EpochMillis::now());
    let mut out = Vec::new();
    for c in &config.circuits {
        let uid = c.vxc.clone();
        match ledger.updates_since(&uid, since).await {
            Ok(times) => out.extend(times.into_iter().map(|t| (uid.clone(), t))),
            Err(e) => tracing::warn!(%uid, error = %e, "cannot read the CLI's update ledger; going on without it"),
        }
    }
    out
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
