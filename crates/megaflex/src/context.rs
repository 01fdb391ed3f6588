//! What every command shares: global options, output, the state directory,
//! and building a client from them.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use megaport::{Client, RequestBudget, Settings};

use crate::state::{FileLedger, Journal, StateDir};

/// Output format of data on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum OutputFormat {
    /// Human-readable tables (and charts).
    Table,
    /// JSON, for scripts (`jq`).
    Json,
    /// CSV with a header row.
    Csv,
}

/// Options every command accepts.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct GlobalArgs {
    /// Megaport environment: production, staging or simulator.
    #[arg(long = "env", global = true, value_name = "ENV", env = "MEGAPORT_ENVIRONMENT")]
    pub(crate) environment: Option<String>,
    /// API base URL (with --token-url; overrides --env).
    #[arg(long, global = true, value_name = "URL", env = "MEGAPORT_API_URL")]
    pub(crate) api_url: Option<String>,
    /// OAuth2 token endpoint URL (with --api-url).
    #[arg(long, global = true, value_name = "URL", env = "MEGAPORT_TOKEN_URL")]
    pub(crate) token_url: Option<String>,
    /// A PEM bundle of CA certificates to trust besides the system's (a
    /// TLS-inspecting proxy, a private PKI, `megaflex sim --tls`).
    #[arg(long, global = true, value_name = "FILE", env = "MEGAFLEX_CA_FILE")]
    pub(crate) ca_file: Option<std::path::PathBuf>,
    /// Output format.
    #[arg(short = 'o', long, global = true, value_enum, default_value = "table")]
    pub(crate) output: OutputFormat,
    /// No colours (also when NO_COLOR is set).
    #[arg(long, global = true)]
    pub(crate) no_color: bool,
}

/// The shared context of one invocation.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub(crate) global: GlobalArgs,
    pub(crate) state: StateDir,
    pub(crate) color: bool,
}

impl Ctx {
    pub(crate) fn new(global: GlobalArgs) -> Self {
        let color = !global.no_color
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::io::stdout().is_terminal()
            && global.output == OutputFormat::Table;
        Self { global, state: StateDir::locate(), color }
    }

    pub(crate) fn settings(&self) -> Settings {
        Settings {
            environment: self.global.environment.clone(),
            api_url: self.global.api_url.clone(),
            token_url: self.global.token_url.clone(),
            ..Settings::default()
        }
    }

    /// A client with this machine's persistent ledger and call journal; the
    /// request budget starts with the calls made here in the last 5 minutes.
    pub(crate) fn client(&self) -> megaport::Result<Client> {
        let resolved = self.settings().resolve()?;
        let journal = Arc::new(Journal::open(&self.state));
        let budget = RequestBudget::megaport_default();
        budget.record_past(journal.recent_call_ages(megaport::MEGAPORT_WINDOW));
        megaport::Client::builder_from(resolved)
            .ledger(Arc::new(FileLedger::open(&self.state)))
            .observer(journal)
            .budget(budget)
            .timeout(Duration::from_secs(30))
            .ca_file(self.global.ca_file.clone())
            .build()
    }

    pub(crate) fn json(&self) -> bool {
        self.global.output == OutputFormat::Json
    }
}
