//! `megaflex sim`: serve the simulator until Ctrl-C or SIGTERM.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use megaflex_sim::{LimitMode, SimConfig, SimState, WorldFile};

use crate::exit;

/// Options of `megaflex sim`.
#[derive(Debug, clap::Args)]
pub(crate) struct SimArgs {
    /// Address to listen on (loopback by default: the admin API has no auth).
    #[arg(long, default_value = megaflex_sim::DEFAULT_LISTEN, env = "MEGAFLEX_SIM_LISTEN")]
    listen: SocketAddr,
    /// World file (JSON) to serve instead of the default account; see --print-world.
    #[arg(long, value_name = "FILE")]
    world: Option<PathBuf>,
    /// API key the token endpoint accepts.
    #[arg(long, default_value = megaflex_sim::DEFAULT_ACCESS_KEY)]
    access_key: String,
    /// API secret the token endpoint accepts.
    #[arg(long, default_value = megaflex_sim::DEFAULT_SECRET_KEY)]
    secret_key: String,
    /// How Megaport's limits are enforced: strict (429), record (count only), off.
    #[arg(long, default_value = "strict", value_parser = ["strict", "record", "off"])]
    limits: String,
    /// Lifetime of issued tokens in seconds (300..=86400).
    #[arg(long, default_value_t = 86_400)]
    token_ttl_secs: u64,
    /// Simulated seconds per real second (e.g. 60 makes the 5-minute rule take 5 s).
    #[arg(long, default_value_t = 1.0)]
    clock_scale: f64,
    /// Simulated seconds a VXC reads CONFIGURED after an update.
    #[arg(long, default_value_t = 3.0)]
    configured_secs: f64,
    /// Simulated seconds before a new rate takes effect (reads show CONFIGURING meanwhile).
    #[arg(long, default_value_t = 0.0)]
    apply_delay_secs: f64,
    /// Add a ServiceNow user to the Table API emulator (with --servicenow-password).
    #[arg(long, requires = "servicenow_password")]
    servicenow_user: Option<String>,
    /// Password of --servicenow-user.
    #[arg(long, requires = "servicenow_user")]
    servicenow_password: Option<String>,
    /// Print the default world as JSON (a starting point for --world) and exit.
    #[arg(long)]
    print_world: bool,
}

impl SimArgs {
    fn config(&self) -> anyhow::Result<SimConfig> {
        let mut config = SimConfig {
            access_key: self.access_key.clone(),
            secret_key: self.secret_key.clone(),
            token_ttl_secs: self.token_ttl_secs,
            limits: self.limits.parse::<LimitMode>().map_err(anyhow::Error::msg)?,
            clock_scale: self.clock_scale,
            configured_secs: self.configured_secs,
            apply_delay_secs: self.apply_delay_secs,
            ..SimConfig::default()
        };
        if let Some(path) = &self.world {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("cannot read world file {}", path.display()))?;
            config.world = WorldFile::from_json(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        }
        if let (Some(u), Some(p)) = (&self.servicenow_user, &self.servicenow_password) {
            config.extra_servicenow_users.push((u.clone(), p.clone()));
        }
        config.validate().map_err(|e| anyhow::anyhow!("invalid simulator settings: {e}"))?;
        Ok(config)
    }
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

pub(crate) async fn run(args: SimArgs) -> anyhow::Result<u8> {
    if args.print_world {
        let world = megaflex_sim::default_world(megaport_types::EpochMillis::now());
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &world)?;
        writeln!(out)?;
        return Ok(exit::OK);
    }
    let config = match args.config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(exit::USAGE);
        }
    };
    let listener = tokio::net::TcpListener::bind(args.listen).await.with_context(|| {
        format!("cannot listen on {} (is another simulator running? try --listen 127.0.0.1:0)", args.listen)
    })?;
    let addr = listener.local_addr()?;
    let limits = config.limits;
    let (key, secret) = (config.access_key.clone(), config.secret_key.clone());
    let state = SimState::new(config);
    let base = format!("http://{addr}");
    let mut out = std::io::stdout().lock();
    writeln!(out, "megaflex simulator listening on {base}")?;
    writeln!(out, "  API URL      {base}")?;
    writeln!(out, "  Token URL    {base}/oauth2/token")?;
    writeln!(out, "  Access key   {key}")?;
    writeln!(out, "  Secret key   {secret}   (simulator credentials, not a real secret)")?;
    writeln!(
        out,
        "  Limits       {limits:?}: 500 requests / 5 min per IP; 1 update / 5 min and 100 / month per service"
    )?;
    writeln!(out, "  Admin API    {base}/_sim/stats  (also /_sim/clock, /_sim/faults, /_sim/world, /_sim/reset)")?;
    writeln!(out, "Point megaflex at it with:")?;
    writeln!(
        out,
        "  export MEGAPORT_API_URL={base} MEGAPORT_TOKEN_URL={base}/oauth2/token MEGAPORT_ACCESS_KEY={key} MEGAPORT_SECRET_KEY={secret}"
    )?;
    writeln!(out, "Press Ctrl-C to stop.")?;
    out.flush()?;
    drop(out);
    megaflex_sim::serve(listener, state, shutdown_signal()).await.context("simulator server failed")?;
    eprintln!("simulator stopped");
    Ok(exit::OK)
}
