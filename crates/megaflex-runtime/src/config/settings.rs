//! The configuration as the runtime reads it: checked, with durations as
//! [`Duration`], addresses as [`SocketAddr`], protocols, engine IDs and
//! patterns parsed. Built only by `compile`, so holding one of these means
//! the file was valid; nothing here knows about TOML or positions.
//!
//! Secrets are not here: sections name the environment variables that hold
//! them, read when the daemon starts (`megaflex check` works without them).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use servicenow_table::{ClientConfigError, OAuthClient, ServiceNowClient};

use megaflex_domain::circuits::{CircuitPolicy, OutsideChange};
use megaflex_domain::links::{Flap, Link};
use megaflex_domain::signal::Signal;
use megaflex_sources::net::ConnLimits;
use megaflex_sources::snmp::usm::{AuthProtocol, PrivProtocol};
use megaflex_sources::syslog::SyslogConfig;
use megaflex_sources::syslog::classify::UserPattern;
use megaflex_sources::webhook::WebhookConfig;
use megaport::types::{EpochMillis, ProductUid};

/// The whole configuration, valid.
#[derive(Debug, Clone)]
pub struct Config {
    /// Megaport API access.
    pub megaport: MegaportConfig,
    /// Where decisions are recorded.
    pub store: StoreConfig,
    /// ServiceNow incidents (optional).
    pub servicenow: Option<ServiceNowConfig>,
    /// The HTTP listener for /metrics, /healthz, /api/status.
    pub http: Option<HttpConfig>,
    /// Reconciler timing and the clock.
    pub engine: EngineConfig,
    /// Event sources, in file order.
    pub sources: Vec<SourceConfig>,
    /// User syslog patterns, compiled.
    pub patterns: Arc<[UserPattern]>,
    /// Links and the signals that tell their state.
    pub links: Vec<LinkConfig>,
    /// VXCs whose bandwidth follows links.
    pub circuits: Vec<CircuitConfig>,
}

/// `environment = "staging"` or `environment = { api_url = "...", token_url = "..." }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum EnvironmentSetting {
    /// A named environment.
    Named(String),
    /// Explicit URLs.
    Urls {
        /// API base URL.
        api_url: String,
        /// Token endpoint.
        token_url: String,
    },
}

/// Where the engine's time comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ClockSetting {
    /// The system clock.
    #[default]
    System,
    /// The simulator's clock (`GET /_sim/clock`), scaled.
    Simulator,
}

/// `[megaport]`.
#[derive(Debug, Clone)]
pub struct MegaportConfig {
    /// `production`, `staging`, `simulator`, or explicit URLs; `None`: the
    /// client's default (and its environment variables).
    pub environment: Option<EnvironmentSetting>,
    /// Our share of Megaport's 500 requests per 5 minutes per IP (1..=500).
    pub requests_per_5m: u32,
    /// Environment variable holding the API key.
    pub access_key_env: String,
    /// Environment variable holding the API secret.
    pub secret_key_env: String,
    /// A readable PEM bundle of CA certificates trusted besides the system's.
    pub ca_file: Option<PathBuf>,
}

impl MegaportConfig {
    /// Timeout, CA file and proxies for the Megaport client (and the
    /// simulator-clock fetch).
    pub fn http_settings(&self) -> megaport::HttpSettings {
        megaport::HttpSettings::with_ca_file(self.ca_file.clone())
    }

    /// Client settings: the environment from the file, the credentials from
    /// the environment variables it names (a `.env` in the working directory
    /// is read as usual).
    pub fn settings(&self) -> megaport::Settings {
        let (environment, api_url, token_url) = match &self.environment {
            Some(EnvironmentSetting::Named(n)) => (Some(n.clone()), None, None),
            Some(EnvironmentSetting::Urls { api_url, token_url }) => {
                (None, Some(api_url.clone()), Some(token_url.clone()))
            }
            None => (None, None, None),
        };
        megaport::Settings {
            environment,
            api_url,
            token_url,
            access_key: std::env::var(&self.access_key_env).ok(),
            secret_key: std::env::var(&self.secret_key_env).ok(),
            ..megaport::Settings::default()
        }
    }
}

/// `[store]`. New keys go in three places: here, `file::StoreSection`, and
/// `compile::store`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// `sqlite://PATH` or `postgres://USER@HOST:PORT/DATABASE` (checked: no password in it).
    pub url: String,
    /// PostgreSQL: the environment variable holding the password (read at open).
    pub password_env: Option<String>,
    /// fsync every commit (`synchronous = FULL`).
    pub fsync: bool,
}

impl StoreConfig {
    /// Opens the store, with the password read from `password_env` now (a
    /// variable named but not set is the configuration's fault).
    pub async fn open(&self) -> Result<std::sync::Arc<dyn megaflex_store::Store>, megaflex_store::StoreError> {
        let password = match &self.password_env {
            None => None,
            Some(var) => match std::env::var(var) {
                Ok(p) => Some(megaflex_store::SecretString::from(p)),
                Err(_) => {
                    return Err(megaflex_store::StoreError::url(
                        "password",
                        format!("[store] password_env names {var}, which is not set"),
                    ));
                }
            },
        };
        let options = megaflex_store::OpenOptions { fsync_each_commit: self.fsync, password };
        megaflex_store::open_with(&self.url, &options).await
    }
}

/// `[servicenow]`.
#[derive(Debug, Clone)]
pub struct ServiceNowConfig {
    /// Instance URL (`http(s)://host[:port]`, no credentials).
    pub instance: String,
    /// Environment variable holding the user.
    pub user_env: String,
    /// Environment variable holding the password.
    pub password_env: String,
    /// Environment variable holding an OAuth `client_id`.
    pub oauth_client_id_env: Option<String>,
    /// Environment variable holding the OAuth `client_secret`.
    pub oauth_client_secret_env: Option<String>,
    /// Assignment group.
    pub assignment_group: Option<String>,
    /// Caller.
    pub caller_id: Option<String>,
    /// Category.
    pub category: Option<String>,
    /// 1 high, 2 medium, 3 low.
    pub impact: u8,
    /// 1 high, 2 medium, 3 low.
    pub urgency: u8,
    /// Resolution code used when resolving.
    pub close_code: String,
    /// A readable PEM bundle of CA certificates trusted besides the system's.
    pub ca_file: Option<PathBuf>,
}

impl ServiceNowConfig {
    /// The client for this section, with the user, password and OAuth client
    /// read from the environment variables the section names.
    pub fn client(&self) -> Result<ServiceNowClient, ClientConfigError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let (Some(user), Some(password)) = (var(&self.user_env), var(&self.password_env)) else {
            return Err(ClientConfigError::Credentials {
                user_env: self.user_env.clone(),
                password_env: self.password_env.clone(),
            });
        };
        let client = ServiceNowClient::new(&self.instance, &user, password.into());
        match (&self.oauth_client_id_env, &self.oauth_client_secret_env) {
            (None, None) => Ok(client),
            (Some(id_env), Some(secret_env)) => match (var(id_env), var(secret_env)) {
                (Some(client_id), Some(secret)) => {
                    Ok(client.with_oauth(OAuthClient { client_id, client_secret: secret.into() }))
                }
                _ => Err(ClientConfigError::OAuthClient { id_env: id_env.clone(), secret_env: secret_env.clone() }),
            },
            _ => Err(ClientConfigError::HalfOAuth),
        }
    }

    /// Timeout, CA file and proxies for the ServiceNow client.
    pub fn http_settings(&self) -> megaport::HttpSettings {
        megaport::HttpSettings::with_ca_file(self.ca_file.clone())
    }
}

/// `[engine]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineConfig {
    /// How often the reconciler reads the account even when nothing changed.
    pub reconcile_every: Duration,
    /// How long to wait for a new rate to be confirmed in force.
    pub confirm_within: Duration,
    /// Where time comes from.
    pub clock: ClockSetting,
}

/// `[http]`.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Address of /metrics, /healthz, /readyz, /api/status.
    pub listen: SocketAddr,
    /// Environment variable holding the bearer token that write routes require.
    pub token_env: Option<String>,
    /// `/api/status` and `/metrics` require the token too.
    pub read_requires_token: bool,
    /// Host names the `Host` header may carry besides the listen address,
    /// `localhost` and literal IP addresses.
    pub allowed_hosts: Vec<String>,
    /// Connection limit (1..=4096) and idle timeout.
    pub limits: ConnLimits,
}

/// One `[[source]]`.
#[derive(Debug, Clone)]
pub enum SourceConfig {
    /// Syslog over UDP, TCP or TLS.
    Syslog(SyslogListener),
    /// SNMP traps and informs.
    SnmpTrap(SnmpListener),
    /// Alertmanager and generic JSON webhooks.
    Webhook(WebhookListener),
}

/// `type = "syslog"`.
#[derive(Debug, Clone)]
pub struct SyslogListener {
    /// `listen` as written, for messages.
    pub listen: String,
    /// The listener's settings, defaults filled in (no watch yet: the
    /// runtime adds the links' one).
    pub settings: SyslogConfig,
}

/// `type = "snmp_trap"`.
#[derive(Debug, Clone)]
pub struct SnmpListener {
    /// `listen` as written, for messages.
    pub listen: String,
    /// The UDP address.
    pub addr: SocketAddr,
    /// Accepted v1/v2c communities.
    pub communities: Vec<String>,
    /// megaflex's engine ID as configured; `None`: the store's (made at random once).
    pub engine_id: Option<Vec<u8>>,
    /// v3 users.
    pub users: Vec<SnmpUserConfig>,
}

/// An SNMPv3 user; passwords stay in the environment until start.
#[derive(Debug, Clone)]
pub struct SnmpUserConfig {
    /// User name.
    pub name: String,
    /// The trap sender's engine ID.
    pub engine_id: Option<Vec<u8>>,
    /// Authentication protocol and the variable holding its password.
    pub auth: Option<(AuthProtocol, String)>,
    /// Privacy protocol and the variable holding its password.
    pub privacy: Option<(PrivProtocol, String)>,
}

/// `type = "webhook"`.
#[derive(Debug, Clone)]
pub struct WebhookListener {
    /// `listen` as written, for messages.
    pub listen: String,
    /// The listener's settings, defaults filled in, no secrets yet.
    pub settings: WebhookConfig,
    /// Environment variable holding the bearer token.
    pub token_env: Option<String>,
    /// Environment variable holding the HMAC key.
    pub hmac_key_env: Option<String>,
}

/// One `[[link]]`.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// Unique name.
    pub name: String,
    /// What tells its state (at least one).
    pub signals: Vec<Signal>,
    /// Flap damping.
    pub flap: Option<Flap>,
}

impl LinkConfig {
    /// The link this section describes, state unknown.
    pub fn link(&self, now: EpochMillis) -> Link {
        Link::new(&self.name, self.signals.clone(), self.flap, now)
    }
}

/// One `[[circuit]]`.
#[derive(Debug, Clone)]
pub struct CircuitConfig {
    /// Unique name in the safe alphabet.
    pub name: String,
    /// The VXC (path-safe, one circuit per VXC).
    pub vxc: ProductUid,
    /// Bandwidth while all watched links are up, in Mbps (at least 1).
    pub normal_mbps: u32,
    /// Bandwidth while a watched link is down, in Mbps (above `normal_mbps`).
    pub boost_mbps: u32,
    /// Links (defined) whose failure boosts this circuit.
    pub boost_when_down: Vec<String>,
    /// Hold-down.
    pub boost_after: Duration,
    /// Hold-up.
    pub restore_after: Duration,
    /// Our monthly update cap (2..=100).
    pub max_updates_per_month: u32,
    /// Open a ServiceNow incident per episode (there is a `[servicenow]`).
    pub incident: bool,
    /// What to do about a rate changed outside megaflex.
    pub on_outside_change: OutsideChange,
}

impl CircuitConfig {
    /// The domain's policy for this circuit.
    pub fn policy(&self) -> CircuitPolicy {
        CircuitPolicy {
            name: self.name.clone(),
            normal_mbps: self.normal_mbps,
            boost_mbps: self.boost_mbps,
            links: self.boost_when_down.clone(),
            boost_after: self.boost_after,
            restore_after: self.restore_after,
        }
    }
}
