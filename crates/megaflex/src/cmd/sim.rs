//! `megaflex sim`: serve the simulator until Ctrl-C or SIGTERM.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use megaflex_sim::{LimitMode, SimConfig, SimState, WorldFile};

use crate::error::exit;

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
    /// Serve HTTPS with a certificate for localhost/127.0.0.1/::1 issued at
    /// start by a new CA, whose certificate is written to --tls-ca-out.
    #[arg(long)]
    tls: bool,
    /// Serve HTTPS with this certificate chain (PEM) instead (with --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Where to write the generated CA certificate (default: sim-ca.pem in
    /// megaflex's state directory).
    #[arg(long, value_name = "FILE")]
    tls_ca_out: Option<PathBuf>,
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

/// The TLS identity to serve with, and where its CA was written.
fn tls_identity(args: &SimArgs) -> anyhow::Result<Option<(megaflex_sim::TlsIdentity, Option<PathBuf>)>> {
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        let read = |p: &PathBuf| std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()));
        let identity = megaflex_sim::TlsIdentity { cert_chain_pem: read(cert)?, key_pem: read(key)?, ca_pem: None };
        identity.server_config().with_context(|| format!("{} and {}", cert.display(), key.display()))?;
        return Ok(Some((identity, None)));
    }
    if !args.tls {
        return Ok(None);
    }
    let identity = megaflex_sim::TlsIdentity::generate()?;
    let path = args.tls_ca_out.clone().unwrap_or_else(|| crate::state::StateDir::locate().path.join("sim-ca.pem"));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(&path, identity.ca_pem.as_deref().unwrap_or_default())
        .with_context(|| format!("cannot write the CA certificate to {}", path.display()))?;
    Ok(Some((identity, Some(path))))
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
    let tls = match tls_identity(&args) {
        Ok(t) => t,
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
    let base = format!("{}://{addr}", if tls.is_some() { "https" } else { "http" });
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
    let ca_export = match &tls {
        Some((_, Some(ca))) => {
            writeln!(out, "  CA cert      {}  (trust it: MEGAFLEX_CA_FILE, curl --cacert)", ca.display())?;
            format!(" MEGAFLEX_CA_FILE={}", ca.display())
        }
        Some((_, None)) => {
            writeln!(out, "  TLS          with the certificate given; clients must trust its issuer")?;
            String::new()
        }
        None => String::new(),
    };
    writeln!(out, "Point megaflex at it with:")?;
    writeln!(
        out,
        "  export MEGAPORT_API_URL={base} MEGAPORT_TOKEN_URL={base}/oauth2/token MEGAPORT_ACCESS_KEY={key} MEGAPORT_SECRET_KEY={secret}{ca_export}"
    )?;
    writeln!(out, "Press Ctrl-C to stop.")?;
    out.flush()?;
    drop(out);
    match &tls {
        Some((identity, _)) => megaflex_sim::serve_tls(listener, state, identity, shutdown_signal()).await,
        None => megaflex_sim::serve(listener, state, shutdown_signal()).await,
    }
    .context("simulator server failed")?;
    eprintln!("simulator stopped");
    Ok(exit::OK)
}
