//! Starts the configured `[[source]]`s. Secrets (webhook token, HMAC key,
//! SNMPv3 passwords) come from the environment variables the config names;
//! a missing one fails the start with the variable's name, never its value.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, SourceSection};
use megaflex_domain::event::Event;
use megaflex_sources::metrics::SourceMetrics;
use megaflex_sources::queue::{FairReceiver, PER_SOURCE_CAPACITY};
use megaflex_sources::snmp::usm::{AuthProtocol, EngineIdError, PrivProtocol, UsmUser, UsmUserError, parse_engine_id};
use megaflex_sources::snmp::{SnmpTrapConfig, SnmpTrapSource};
use megaflex_sources::syslog::classify::{PatternError, UserPattern};
use megaflex_sources::syslog::tls::TlsFilesError;
use megaflex_sources::syslog::{Listen, ListenError, SyslogConfig, SyslogSource};
use megaflex_sources::webhook::{WebhookConfig, WebhookSource};
use megaflex_store::{Store, StoreError};

/// Why the sources did not start.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A `[[pattern]]` does not compile.
    #[error(transparent)]
    Pattern(#[from] PatternError),
    /// A syslog `listen` is not one.
    #[error(transparent)]
    Listen(#[from] ListenError),
    /// An SNMP or webhook `listen` is not one.
    #[error("{kind} source: {listen:?} is not {expected}")]
    Address {
        /// `snmp_trap` or `webhook`.
        kind: &'static str,
        /// As configured.
        listen: String,
        /// What it should look like.
        expected: &'static str,
    },
    /// TLS files where they cannot be used.
    #[error(transparent)]
    Tls(#[from] TlsFilesError),
    /// The SNMP engine ID configured is not one.
    #[error(transparent)]
    EngineId(#[from] EngineIdError),
    /// An SNMPv3 user's engine ID is not one.
    #[error("user {user}: {source}")]
    UserEngineId {
        /// User name.
        user: String,
        /// Why.
        source: EngineIdError,
    },
    /// An SNMPv3 user names a protocol megaflex does not have.
    #[error("user {user}: unknown {what} {protocol:?}")]
    Protocol {
        /// User name.
        user: String,
        /// `auth` or `privacy`.
        what: &'static str,
        /// As configured.
        protocol: String,
    },
    /// An SNMPv3 user that cannot be used.
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
            Self::Pattern(_)
            | Self::Listen(_)
            | Self::Address { .. }
            | Self::Tls(_)
            | Self::EngineId(_)
            | Self::UserEngineId { .. }
            | Self::Protocol { .. }
            | Self::User(_)
            | Self::MissingEnv { .. } => true,
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

/// The user patterns from `[[pattern]]`.
pub fn patterns(config: &Config) -> Result<Arc<[UserPattern]>, PatternError> {
    config
        .patterns
        .iter()
        .map(|p| {
            let p = p.get_ref();
            let up: Vec<&str> = p.up.iter().map(String::as_str).collect();
            let down: Vec<&str> = p.down.iter().map(String::as_str).collect();
            UserPattern::new(&p.name, &p.regex, p.kind, &up, &down)
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Arc::from)
}

/// Binds every source, each with its own queue; the engine reads them all
/// in turn through the returned [`FairReceiver`]. `store` keeps the SNMP
/// engine's ID and engineBoots.
pub async fn start(
    config: &Config,
    store: &dyn Store,
    shutdown: CancellationToken,
) -> Result<(Vec<Running>, FairReceiver), SourceError> {
    let patterns = patterns(config)?;
    let watch = Arc::new(megaflex_sources::syslog::watch::Watch::from_signals(
        config.links.iter().flat_map(|l| l.get_ref().signals.iter().map(|s| s.get_ref())),
    ));
    let mut running = Vec::new();
    let mut queues = FairReceiver::new();
    for s in &config.sources {
        let (events, queue) = mpsc::channel::<Event>(PER_SOURCE_CAPACITY);
        let r = match s.get_ref() {
            section @ SourceSection::Syslog {
                listen,
                recv_buffer_bytes,
                max_message_bytes,
                max_connections,
                idle_timeout,
                read_timeout,
                ..
            } => {
                let parsed: Listen = listen.parse()?;
                let mut c = SyslogConfig::new(parsed);
                c.watch = Some(watch.clone());
                if let Some(b) = recv_buffer_bytes {
                    c.recv_buffer_bytes = *b;
                }
                if let Some(m) = max_message_bytes {
                    c.max_message_bytes = *m;
                }
                if let Some(n) = max_connections {
                    c.max_connections = *n;
                }
                if let Some(d) = idle_timeout {
                    c.idle_timeout = d.0;
                }
                if let Some(d) = read_timeout {
                    c.read_timeout = d.0;
                }
                c.tls = section.syslog_tls()?;
                let transport = match parsed {
                    Listen::Udp(_) => "udp",
                    Listen::Tcp(_) => "tcp",
                    Listen::Tls(_) => "tls",
                };
                let src = SyslogSource::spawn(c, patterns.clone(), events, shutdown.clone())
                    .await
                    .map_err(|source| SourceError::Bind { kind: "syslog", listen: listen.clone(), source })?;
                let (local_addr, metrics) = (src.local_addr, src.metrics.clone());
                Running { kind: "syslog", local_addr, transport, metrics, join: tokio::spawn(src.join()) }
            }
            SourceSection::SnmpTrap { listen, communities, users, engine_id } => {
                let addr: SocketAddr = listen.trim_start_matches("udp://").parse().map_err(|_| {
                    SourceError::Address { kind: "snmp_trap", listen: listen.clone(), expected: "udp://ADDR:PORT" }
                })?;
                let mut c = SnmpTrapConfig::new(addr);
                c.communities = communities.clone();
                let configured = engine_id.as_deref().map(parse_engine_id).transpose()?;
                (c.engine_id, c.engine_boots) = store
                    .next_snmp_engine_boots(configured.as_deref(), &megaflex_sources::snmp::random_engine_id())
                    .await?;
                for u in users {
                    let sender_engine_id = u
                        .engine_id
                        .as_deref()
                        .map(parse_engine_id)
                        .transpose()
                        .map_err(|source| SourceError::UserEngineId { user: u.name.clone(), source })?;
                    let auth = match (&u.auth, &u.auth_password_env) {
                        (Some(a), Some(var)) => {
                            let proto = AuthProtocol::parse(a).ok_or_else(|| SourceError::Protocol {
                                user: u.name.clone(),
                                what: "auth",
                                protocol: a.clone(),
                            })?;
                            Some((proto, env_secret(var, &format!("SNMP user {}", u.name))?))
                        }
                        _ => None,
                    };
                    let privacy = match (&u.privacy, &u.privacy_password_env) {
                        (Some(p), Some(var)) => {
                            let proto = PrivProtocol::parse(p).ok_or_else(|| SourceError::Protocol {
                                user: u.name.clone(),
                                what: "privacy",
                                protocol: p.clone(),
                            })?;
                            Some((proto, env_secret(var, &format!("SNMP user {}", u.name))?))
                        }
                        _ => None,
                    };
                    let user = UsmUser::new(
                        &u.name,
                        sender_engine_id.as_deref(),
                        auth.as_ref().map(|(p, s)| (*p, s.as_str())),
                        privacy.as_ref().map(|(p, s)| (*p, s.as_str())),
                    )?;
                    c.users.push(user);
                }
                let src = SnmpTrapSource::spawn(c, events, shutdown.clone())
                    .await
                    .map_err(|source| SourceError::Bind { kind: "snmp_trap", listen: listen.clone(), source })?;
                let (local_addr, metrics) = (src.local_addr, src.metrics.clone());
                Running { kind: "snmp_trap", local_addr, transport: "udp", metrics, join: tokio::spawn(src.join()) }
            }
            SourceSection::Webhook {
                listen,
                token_env,
                hmac_key_env,
                signature_max_age,
                dedupe_max_entries,
                max_connections,
                idle_timeout,
                ..
            } => {
                let addr: SocketAddr = listen.parse().map_err(|_| SourceError::Address {
                    kind: "webhook",
                    listen: listen.clone(),
                    expected: "ADDR:PORT",
                })?;
                let mut c = WebhookConfig::new(addr);
                if let Some(var) = token_env {
                    c.token = Some(env_secret(var, "webhook token")?);
                }
                if let Some(var) = hmac_key_env {
                    c.hmac_key = Some(env_secret(var, "webhook HMAC key")?.into_bytes());
                }
                if let Some(age) = signature_max_age {
                    c.signature_max_age = age.0;
                }
                if let Some(n) = dedupe_max_entries {
                    c.dedupe_max_entries = *n;
                }
                if let Some(n) = max_connections {
                    c.limits.max_connections = *n as usize;
                }
                if let Some(t) = idle_timeout {
                    c.limits.idle_timeout = t.0;
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
