//! Starts the configured `[[source]]`s. Secrets (webhook token, HMAC key,
//! SNMPv3 passwords) come from the environment variables the config names;
//! a missing one fails the start with the variable's name, never its value.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, SourceConfig, SyslogListener, WebhookListener};
use megaflex_domain::event::Event;
use megaflex_sources::metrics::SourceMetrics;
use megaflex_sources::queue::{FairReceiver, PER_SOURCE_CAPACITY};
use megaflex_sources::snmp::usm::{UsmUser, UsmUserError};
use megaflex_sources::snmp::{SnmpTrapConfig, SnmpTrapSource};
use megaflex_sources::syslog::{Listen, SyslogSource};
use megaflex_sources::webhook::WebhookSource;
use megaflex_store::{Store, StoreError};

/// Why the sources did not start. The configuration was checked when it
/// was compiled; what is left is what only the start can see.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// An SNMPv3 user that cannot be used (a password too short).
    #[error(transparent)]
    User(#[from] UsmUserError),
    /// A secret's environment variable is not set.
    #[error("{what}: environment variable {var} is not set")]
    MissingEnv {
        /// Whose secret.
        what: String,
        /// The variable the configuration names.
        var: String,
    },
    /// The store cannot give the SNMP engine's boots.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A listener could not start (the port is taken, not permitted).
    #[error("{kind} source {listen}: {source}")]
    Bind {
        /// `syslog`, `snmp_trap` or `webhook`.
        kind: &'static str,
        /// As configured.
        listen: String,
        /// Why.
        source: std::io::Error,
    },
}

impl SourceError {
    /// Whether the fix is in the configuration or the environment it names
    /// (exit code "usage"), not in the machine's state.
    pub fn is_config(&self) -> bool {
        match self {
            Self::User(_) | Self::MissingEnv { .. } => true,
            Self::Store(_) | Self::Bind { .. } => false,
        }
    }
}

/// A started source.
#[derive(Debug)]
pub struct Running {
    /// `syslog`, `snmp_trap` or `webhook`.
    pub kind: &'static str,
    /// Where it listens (the bound address: port 0 resolved).
    pub local_addr: SocketAddr,
    /// `udp`, `tcp` or `http`.
    pub transport: &'static str,
    /// Its counters.
    pub metrics: Arc<SourceMetrics>,
    join: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Waits until the source has drained.
    pub async fn join(self) {
        let _ = self.join.await;
    }
}

fn env_secret(var: &str, what: &str) -> Result<String, SourceError> {
    std::env::var(var).map_err(|_| SourceError::MissingEnv { what: what.to_owned(), var: var.to_owned() })
}

/// Binds every source, each with its own queue; the engine reads them all
/// in turn through the returned [`FairReceiver`]. `store` keeps the SNMP
/// engine's ID and engineBoots.
pub async fn start(
    config: &Config,
    store: &dyn Store,
    shutdown: CancellationToken,
) -> Result<(Vec<Running>, FairReceiver), SourceError> {
    let watch = Arc::new(megaflex_sources::syslog::watch::Watch::from_signals(
        config.links.iter().flat_map(|l| l.signals.iter()),
    ));
    let mut running = Vec::new();
    let mut queues = FairReceiver::new();
    for s in &config.sources {
        let (events, queue) = mpsc::channel::<Event>(PER_SOURCE_CAPACITY);
        let r = match s {
            SourceConfig::Syslog(SyslogListener { listen, settings }) => {
                let mut c = settings.clone();
                c.watch = Some(watch.clone());
                let transport = match c.listen {
                    Listen::Udp(_) => "udp",
                    Listen::Tcp(_) => "tcp",
                    Listen::Tls(_) => "tls",
                };
                let src = SyslogSource::spawn(c, config.patterns.clone(), events, shutdown.clone())
                    .await
                    .map_err(|source| SourceError::Bind { kind: "syslog", listen: listen.clone(), source })?;
                let (local_addr, metrics) = (src.local_addr, src.metrics.clone());
                Running { kind: "syslog", local_addr, transport, metrics, join: tokio::spawn(src.join()) }
            }
            SourceConfig::SnmpTrap(snmp) => {
                let mut c = SnmpTrapConfig::new(snmp.addr);
                c.communities = snmp.communities.clone();
                (c.engine_id, c.engine_boots) = store
                    .next_snmp_engine_boots(snmp.engine_id.as_deref(), &megaflex_sources::snmp::random_engine_id())
                    .await?;
                for u in &snmp.users {
                    let what = format!("SNMP user {}", u.name);
                    let auth = u.auth.as_ref().map(|(p, var)| env_secret(var, &what).map(|s| (*p, s))).transpose()?;
                    let privacy =
                        u.privacy.as_ref().map(|(p, var)| env_secret(var, &what).map(|s| (*p, s))).transpose()?;
                    let user = UsmUser::new(
                        &u.name,
                        u.engine_id.as_deref(),
                        auth.as_ref().map(|(p, s)| (*p, s.as_str())),
                        privacy.as_ref().map(|(p, s)| (*p, s.as_str())),
                    )?;
                    c.users.push(user);
                }
                let src = SnmpTrapSource::spawn(c, events, shutdown.clone())
                    .await
                    .map_err(|source| SourceError::Bind { kind: "snmp_trap", listen: snmp.listen.clone(), source })?;
                let (local_addr, metrics) = (src.local_addr, src.metrics.clone());
                Running { kind: "snmp_trap", local_addr, transport: "udp", metrics, join: tokio::spawn(src.join()) }
            }
            SourceConfig::Webhook(WebhookListener { listen, settings, token_env, hmac_key_env }) => {
                let mut c = settings.clone();
                if let Some(var) = token_env {
                    c.token = Some(env_secret(var, "webhook token")?);
                }
                if let Some(var) = hmac_key_env {
                    c.hmac_key = Some(env_secret(var, "webhook HMAC key")?.into_bytes());
                }
                let src = WebhookSource::spawn(c, events, shutdown.clone())
                    .await
                    .map_err(|source| SourceError::Bind { kind: "webhook", listen: listen.clone(), source })?;
                let (local_addr, metrics) = (src.local_addr, src.metrics.clone());
                Running { kind: "webhook", local_addr, transport: "http", metrics, join: tokio::spawn(src.join()) }
            }
        };
        tracing::info!(source = r.kind, transport = r.transport, local_addr = %r.local_addr, "source started");
        queues.add_queue(queue, r.metrics.clone());
        running.push(r);
    }
    Ok((running, queues))
}
