//! `megaflex`: the one binary. Thin by design: argument parsing, output and
//! exit codes live here; behaviour lives in the library crates.
//!
//! Start reading at [`Command`]; each subcommand has a module under `cmd/`.

mod cmd;
mod context;
mod error;
mod output;
#[cfg(feature = "plot")]
mod plot;
#[cfg(not(feature = "plot"))]
#[path = "plot_off.rs"]
mod plot;
mod state;
mod timearg;
mod version;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use crate::context::{Ctx, GlobalArgs};
use crate::error::{exit, is_broken_pipe, report};
use crate::version::version_string;

/// Event-driven bandwidth on demand for Megaport VXCs, and the Megaport API
/// workflow one command per step.
#[derive(Debug, Parser)]
#[command(name = "megaflex", version = version_string(), about, long_about = None, after_help = EXIT_CODES)]
struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,

    /// Log format on stderr: `text` for people, `json` for log shippers.
    #[arg(long, global = true, value_enum, default_value = "text", env = "MEGAFLEX_LOG_FORMAT")]
    log_format: LogFormat,

    #[command(flatten)]
    global: GlobalArgs,

    #[command(subcommand)]
    command: Command,
}

const EXIT_CODES: &str = "Exit codes: 0 ok, 1 failure, 2 usage or configuration, 3 authentication, 4 API error, 5 refused by a Megaport limit.";

#[derive(Debug, Subcommand)]
enum Command {
    /// See the whole story on loopback in under a minute: simulator, engine, a link failure and recovery.
    Demo(cmd::demo::DemoArgs),
    /// Check the credentials: environment, URLs, token expiry, where the key came from.
    Auth,
    /// List services (LIVE and CONFIGURED unless --all).
    Products(cmd::products::ProductsArgs),
    /// VXCs: list, show, read or change the rate limit.
    #[command(subcommand)]
    Vxc(cmd::vxc::VxcCommand),
    /// Traffic of a service: terminal chart, JSON/CSV, or an SVG/PNG chart.
    Telemetry(cmd::telemetry::TelemetryArgs),
    /// What a speed change would cost.
    Price(cmd::price::PriceArgs),
    /// Megaport maintenance and outage events.
    Events(cmd::events::EventsArgs),
    /// This machine's request budget and each service's update ledger.
    Limits,
    /// Check credentials, environment, clock and recent failures, and say what to do.
    Doctor,
    /// Write what Megaport support asks for about recent failed calls (secrets redacted).
    SupportBundle(cmd::support::SupportArgs),
    /// Validate a daemon configuration (and, with credentials, its VXCs).
    Check(cmd::check::CheckArgs),
    /// Run the daemon: sources, links, circuits, reconciler, store, metrics.
    Run(cmd::run::RunArgs),
    /// Show links, circuits, the update ledger and recent decisions from the store.
    Status(cmd::status::StatusArgs),
    /// The store: copy a SQLite store into PostgreSQL.
    #[command(subcommand)]
    Store(cmd::store::StoreCommand),
    /// Feed recorded syslog lines or JSONL events through the engine in dry-run.
    Replay(cmd::replay::ReplayArgs),
    /// Resume automation of a circuit paused after an outside rate change.
    Resume(cmd::resume::ResumeArgs),
    /// Run a local Megaport API simulator (token endpoint, API, admin API).
    Sim(cmd::sim::SimArgs),
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff).
    Man,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn init_logging(verbose: u8, format: LogFormat, quiet: bool) {
    let default = match verbose {
        // The demo prints its own timeline; the engine's info lines would bury it.
        0 if quiet => "warn",
        0 => {
            "warn,megaflex=info,megaflex_runtime=info,megaflex_sources=info,megaflex_store=info,servicenow_table=info,megaflex_sim=info"
        }
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("MEGAFLEX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<u8> {
    let ctx = Ctx::new(cli.global);
    match cli.command {
        Command::Demo(args) => cmd::demo::run(args).await,
        Command::Auth => cmd::auth::run(&ctx).await,
        Command::Products(args) => cmd::products::run(&ctx, args).await,
        Command::Vxc(c) => cmd::vxc::run(&ctx, c).await,
        Command::Telemetry(args) => cmd::telemetry::run(&ctx, args).await,
        Command::Price(args) => cmd::price::run(&ctx, args).await,
        Command::Events(args) => cmd::events::run(&ctx, args).await,
        Command::Limits => cmd::limits::run(&ctx).await,
        Command::Doctor => cmd::doctor::run(&ctx).await,
        Command::SupportBundle(args) => cmd::support::run(&ctx, args).await,
        Command::Check(args) => cmd::check::run(&ctx, args).await,
        Command::Run(args) => cmd::run::run(args).await,
        Command::Status(args) => cmd::status::run(&ctx, args).await,
        Command::Replay(args) => cmd::replay::run(&ctx, args).await,
        Command::Store(command) => cmd::store::run(&ctx, command).await,
        Command::Resume(args) => cmd::resume::run(args).await,
        Command::Sim(args) => cmd::sim::run(args).await,
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "megaflex", &mut out);
            output::print(&String::from_utf8_lossy(&out))?;
            Ok(exit::OK)
        }
        Command::Man => {
            let mut out = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut out)?;
            output::print(&String::from_utf8_lossy(&out))?;
            Ok(exit::OK)
        }
    }
}

fn main() -> ExitCode {
    // Before any HTTP client: reqwest has no TLS provider of its own here.
    megaport::install_crypto_provider();
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.log_format, matches!(cli.command, Command::Demo(_)));
    let json = cli.global.output == context::OutputFormat::Json;
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(err) if is_broken_pipe(&err) => ExitCode::from(exit::OK),
        Err(err) => ExitCode::from(report(&err, json)),
    }
}
