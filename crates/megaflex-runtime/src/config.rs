//! The daemon's configuration file (TOML), loaded fully and validated before
//! anything starts. Unknown keys, bad durations, references to links that do
//! not exist, `normal_mbps >= boost_mbps` and the like are errors that name
//! the file, line and column.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use servicenow_table::{ClientConfigError, OAuthClient, ServiceNowClient};
use toml::Spanned;

pub use megaflex_domain::circuits::OutsideChange;
use megaflex_domain::links::{Flap, Link};
pub use megaflex_domain::signal::Signal;
use megaport::types::EpochMillis;

use megaflex_domain::event::EventKind;

mod store;
mod validate;

pub use store::StoreSection;

/// A duration written `30s`, `10m`, `1h30m`, `2d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_duration(&s).map(Dur).map_err(serde::de::Error::custom)
    }
}

pub use megaflex_domain::duration::{DurationError, parse_duration};

/// The shortest `reconcile_every`: each cycle costs one request of the
/// 500-per-5-minutes budget, so `"0s"` would spend it all in seconds.
pub const MIN_RECONCILE_SECS: u64 = 10;

fn reconcile_interval<'de, D: Deserializer<'de>>(d: D) -> Result<Dur, D::Error> {
    let v = Dur::deserialize(d)?;
    if v.0 < Duration::from_secs(MIN_RECONCILE_SECS) {
        return Err(serde::de::Error::custom(format!(
            "reconcile_every must be at least {MIN_RECONCILE_SECS}s: each cycle spends one API request"
        )));
    }
    Ok(v)
}

/// ServiceNow's 1 (high), 2 (medium), 3 (low).
fn level<'de, D: Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
    let v = i64::deserialize(d)?;
    match u8::try_from(v) {
        Ok(l @ 1..=3) => Ok(l),
        _ => {
            Err(serde::de::Error::custom(format!("{v} is not a ServiceNow level: use 1 (high), 2 (medium) or 3 (low)")))
        }
    }
}

/// An `http(s)://host[:port]` instance URL with nothing after the host.
fn instance_url<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    let bad = |why: &str| serde::de::Error::custom(format!("instance {s:?} {why}: write https://NAME.service-now.com"));
    let url = reqwest::Url::parse(&s).map_err(|_| bad("is not a URL"))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(bad("is not http(s)"));
    }
    if url.host_str().is_none_or(str::is_empty) || !url.username().is_empty() || url.password().is_some() {
        return Err(bad("has no host or carries credentials"));
    }
    Ok(s)
}

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Megaport API access.
    #[serde(default)]
    pub megaport: MegaportSection,
    /// Where decisions are recorded.
    #[serde(default)]
    pub store: StoreSection,
    /// ServiceNow incidents (optional).
    #[serde(default)]
    pub servicenow: Option<ServiceNowSection>,
    /// The HTTP listener for /metrics, /healthz, /api/status.
    #[serde(default)]
    pub http: Option<HttpSection>,
    /// Reconciler timing and the clock.
    #[serde(default)]
    pub engine: EngineSection,
    /// Event sources.
    #[serde(default, rename = "source")]
    pub sources: Vec<Spanned<SourceSection>>,
    /// User syslog patterns.
    #[serde(default, rename = "pattern")]
    pub patterns: Vec<Spanned<PatternSection>>,
    /// Links and the signals that tell their state.
    #[serde(default, rename = "link")]
    pub links: Vec<Spanned<LinkSection>>,
    /// VXCs whose bandwidth follows links.
    #[serde(default, rename = "circuit")]
    pub circuits: Vec<Spanned<CircuitSection>>,
}

/// `[megaport]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MegaportSection {
    /// `production`, `staging`, `simulator`, or `{ api_url, token_url }`.
    #[serde(default)]
    pub environment: Option<EnvironmentSetting>,
    /// Our share of Megaport's 500 requests per 5 minutes per IP.
    #[serde(default = "default_requests")]
    pub requests_per_5m: Spanned<u32>,
    /// Environment variable holding the API key.
    #[serde(default = "default_key_env")]
    pub access_key_env: String,
    /// Environment variable holding the API secret.
    #[serde(default = "default_secret_env")]
    pub secret_key_env: String,
    /// A PEM bundle of CA certificates trusted besides the system's (a
    /// TLS-inspecting proxy, a private PKI); `MEGAFLEX_CA_FILE` otherwise.
    #[serde(default)]
    pub ca_file: Option<Spanned<PathBuf>>,
}

impl Default for MegaportSection {
    fn default() -> Self {
        Self {
            environment: None,
            requests_per_5m: default_requests(),
            access_key_env: default_key_env(),
            secret_key_env: default_secret_env(),
            ca_file: None,
        }
    }
}

impl MegaportSection {
    /// Timeout, CA file and proxies for the Megaport client (and the
    /// simulator-clock fetch).
    pub fn http_settings(&self) -> megaport::HttpSettings {
        megaport::HttpSettings::with_ca_file(self.ca_file.as_ref().map(|p| p.get_ref().clone()))
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

fn default_requests() -> Spanned<u32> {
    Spanned::new(0..0, 400)
}
fn default_key_env() -> String {
    "MEGAPORT_ACCESS_KEY".into()
}
fn default_secret_env() -> String {
    "MEGAPORT_SECRET_KEY".into()
}

/// `environment = "staging"` or `environment = { api_url = "...", token_url = "..." }`.
#[derive(Debug, Deserialize)]
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

/// `[servicenow]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceNowSection {
    /// Instance URL, e.g. `https://example.service-now.com`.
    #[serde(deserialize_with = "instance_url")]
    pub instance: String,
    /// Environment variable holding the user.
    #[serde(default = "sn_user_env")]
    pub user_env: String,
    /// Environment variable holding the password.
    #[serde(default = "sn_password_env")]
    pub password_env: String,
    /// Environment variable holding an OAuth `client_id`; with
    /// `oauth_client_secret_env`, OAuth (password grant) replaces Basic auth.
    #[serde(default)]
    pub oauth_client_id_env: Option<String>,
    /// Environment variable holding the OAuth `client_secret`.
    #[serde(default)]
    pub oauth_client_secret_env: Option<String>,
    /// Assignment group.
    #[serde(default)]
    pub assignment_group: Option<String>,
    /// Caller.
    #[serde(default)]
    pub caller_id: Option<String>,
    /// Category.
    #[serde(default)]
    pub category: Option<String>,
    /// 1 high, 2 medium, 3 low.
    #[serde(default = "two", deserialize_with = "level")]
    pub impact: u8,
    /// 1 high, 2 medium, 3 low.
    #[serde(default = "two", deserialize_with = "level")]
    pub urgency: u8,
    /// Resolution code used when resolving.
    #[serde(default = "close_code")]
    pub close_code: String,
    /// A PEM bundle of CA certificates trusted besides the system's;
    /// `MEGAFLEX_CA_FILE` otherwise.
    #[serde(default)]
    pub ca_file: Option<Spanned<PathBuf>>,
}

impl ServiceNowSection {
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
        megaport::HttpSettings::with_ca_file(self.ca_file.as_ref().map(|p| p.get_ref().clone()))
    }
}

fn sn_user_env() -> String {
    "SERVICENOW_USER".into()
}
fn sn_password_env() -> String {
    "SERVICENOW_PASSWORD".into()
}
fn two() -> u8 {
    2
}
fn close_code() -> String {
    "Solution provided".into()
}

/// `[engine]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineSection {
    /// How often the reconciler reads the account even when nothing changed
    /// (to see outside changes and settle intents). One request per cycle.
    #[serde(default = "one_minute", deserialize_with = "reconcile_interval")]
    pub reconcile_every: Dur,
    /// How long to wait for a new rate to be confirmed in force.
    #[serde(default = "ten_minutes")]
    pub confirm_within: Dur,
    /// `system`, or `simulator` to follow a megaflex simulator's scaled clock
    /// (demos and tests: the 5-minute rule in seconds).
    #[serde(default)]
    pub clock: ClockSetting,
}

impl Default for EngineSection {
    fn default() -> Self {
        Self { reconcile_every: one_minute(), confirm_within: ten_minutes(), clock: ClockSetting::System }
    }
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

fn one_minute() -> Dur {
    Dur(Duration::from_secs(60))
}

/// `[http]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    /// Address of /metrics, /healthz, /readyz, /api/status.
    pub listen: Spanned<String>,
    /// Environment variable holding the bearer token that write routes
    /// (`POST /api/circuits/{name}/resume`) require. Without it they are refused.
    #[serde(default)]
    pub token_env: Option<Spanned<String>>,
    /// `/api/status` and `/metrics` require the token too.
    #[serde(default = "spanned_false")]
    pub read_requires_token: Spanned<bool>,
    /// Host names the `Host` header may carry besides the listen address,
    /// `localhost`, `127.0.0.1` and `[::1]` (DNS rebinding carries another).
    #[serde(default)]
    pub allowed_hosts: Vec<Spanned<String>>,
    /// Most connections at once; beyond it the longest-idle one is closed.
    #[serde(default = "default_http_connections")]
    pub max_connections: Spanned<u32>,
    /// A connection that has not completed a request this long after
    /// accepting it or answering the previous one is closed.
    #[serde(default = "ten_secs")]
    pub idle_timeout: Dur,
}

fn spanned_false() -> Spanned<bool> {
    Spanned::new(0..0, false)
}
fn default_http_connections() -> Spanned<u32> {
    Spanned::new(0..0, 128)
}
fn ten_secs() -> Dur {
    Dur(Duration::from_secs(10))
}

/// The most connections one HTTP listener may take: file descriptors are
/// shared with the store, the outbound clients and the other sources.
pub const MAX_HTTP_CONNECTIONS: u32 = 4096;

/// The largest syslog message a source may be set to accept.
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;

/// One `[[source]]`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceSection {
    /// Syslog over UDP, TCP or TLS.
    Syslog {
        /// `udp://ADDR:PORT`, `tcp://ADDR:PORT` or `tls://ADDR:PORT`.
        listen: String,
        /// Kernel receive buffer to ask for (UDP).
        #[serde(default)]
        recv_buffer_bytes: Option<usize>,
        /// Longest message accepted.
        #[serde(default)]
        max_message_bytes: Option<usize>,
        /// Most TCP/TLS connections at once (default 1024).
        #[serde(default)]
        max_connections: Option<usize>,
        /// Close a TCP/TLS connection silent this long (default 1h).
        #[serde(default)]
        idle_timeout: Option<Dur>,
        /// A started message or TLS handshake must finish within this (default 30s).
        #[serde(default)]
        read_timeout: Option<Dur>,
        /// `tls://`: the server certificate chain, PEM.
        #[serde(default)]
        tls_cert_file: Option<std::path::PathBuf>,
        /// `tls://`: its private key, PEM.
        #[serde(default)]
        tls_key_file: Option<std::path::PathBuf>,
        /// `tls://`: CA certificates, PEM, that client certificates must chain to
        /// (absent: no client certificate asked for).
        #[serde(default)]
        tls_client_ca_file: Option<std::path::PathBuf>,
    },
    /// SNMP traps and informs.
    SnmpTrap {
        /// `udp://ADDR:PORT`.
        listen: String,
        /// Accepted v1/v2c communities.
        #[serde(default)]
        communities: Vec<String>,
        /// v3 users.
        #[serde(default)]
        users: Vec<SnmpUserSection>,
        /// megaflex's SNMP engine ID, hex (`0x` optional), 5 to 32 bytes.
        /// Default: one made at random the first time and kept in the store.
        #[serde(default)]
        engine_id: Option<String>,
    },
    /// Alertmanager and generic JSON webhooks.
    Webhook {
        /// `ADDR:PORT`.
        listen: String,
        /// Environment variable holding the bearer token.
        #[serde(default)]
        token_env: Option<String>,
        /// Environment variable holding the HMAC key.
        #[serde(default)]
        hmac_key_env: Option<String>,
        /// Accept requests without a token or signature. Must be written
        /// out: a webhook without auth lets anyone on the network boost.
        #[serde(default)]
        allow_unauthenticated: bool,
        /// How far a signed request's `X-Megaflex-Timestamp` may be from now
        /// (default 300 s): a captured request cannot be replayed later.
        #[serde(default)]
        signature_max_age: Option<Dur>,
        /// Alerts remembered to drop Alertmanager HA duplicates (default 10,000).
        #[serde(default)]
        dedupe_max_entries: Option<usize>,
        /// Most connections at once (default 128).
        #[serde(default)]
        max_connections: Option<u32>,
        /// Idle/slow-request timeout (default 10 s).
        #[serde(default)]
        idle_timeout: Option<Dur>,
    },
}

impl SourceSection {
    /// The TLS files of a syslog source: `None` without any, an error when
    /// given to a listener that is not `tls://` or given only in part.
    pub fn syslog_tls(
        &self,
    ) -> Result<Option<megaflex_sources::syslog::tls::TlsFiles>, megaflex_sources::syslog::tls::TlsFilesError> {
        match self {
            Self::Syslog { listen, tls_cert_file, tls_key_file, tls_client_ca_file, .. } => {
                megaflex_sources::syslog::tls::TlsFiles::from_config(
                    listen,
                    tls_cert_file,
                    tls_key_file,
                    tls_client_ca_file,
                )
            }
            _ => Ok(None),
        }
    }
}

/// An SNMPv3 user.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnmpUserSection {
    /// User name.
    pub name: String,
    /// The trap sender's engine ID, hex (`0x` optional); absent: the user
    /// sends informs only (megaflex's engine is authoritative for those).
    #[serde(default)]
    pub engine_id: Option<String>,
    /// `MD5`, `SHA`, `SHA-224`, `SHA-256`, `SHA-384`, `SHA-512`.
    #[serde(default)]
    pub auth: Option<String>,
    /// Environment variable holding the authentication password.
    #[serde(default)]
    pub auth_password_env: Option<String>,
    /// `DES` or `AES`.
    #[serde(default)]
    pub privacy: Option<String>,
    /// Environment variable holding the privacy password.
    #[serde(default)]
    pub privacy_password_env: Option<String>,
}

/// One `[[pattern]]`: a user syslog pattern.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatternSection {
    /// Name, for logs and attributes.
    pub name: String,
    /// Regex with named groups `entity`, `state`, optional `device`.
    pub regex: String,
    /// `link`, `bgp_peer`, `alert`, `other`.
    #[serde(default = "link_kind")]
    pub kind: EventKind,
    /// Words of the `state` group meaning up.
    #[serde(default)]
    pub up: Vec<String>,
    /// Words of the `state` group meaning down.
    #[serde(default)]
    pub down: Vec<String>,
}

fn link_kind() -> EventKind {
    EventKind::Link
}

/// One `[[link]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSection {
    /// Unique name, referenced by circuits.
    pub name: Spanned<String>,
    /// What tells its state.
    pub signals: Vec<Spanned<Signal>>,
    /// Flap damping.
    #[serde(default)]
    pub flap: Option<FlapSection>,
}

impl LinkSection {
    /// The link this section describes, state unknown.
    pub fn link(&self, now: EpochMillis) -> Link {
        let signals: Vec<Signal> = self.signals.iter().map(|s| s.get_ref().clone()).collect();
        let flap = self.flap.as_ref().map(|f| Flap {
            transitions: f.transitions,
            within: f.within.0,
            stable_for: f.stable_for.0,
        });
        Link::new(self.name.get_ref(), signals, flap, now)
    }
}

/// `flap = { transitions = 4, within = "15m", stable_for = "10m" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlapSection {
    /// Transitions that make a link flapping.
    pub transitions: u32,
    /// Within this window.
    pub within: Dur,
    /// Flapping ends after this long without a transition.
    pub stable_for: Dur,
}

/// One `[[circuit]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircuitSection {
    /// Unique name.
    pub name: Spanned<String>,
    /// The VXC's product UID.
    pub vxc: Spanned<String>,
    /// Bandwidth while all watched links are up, in Mbps.
    pub normal_mbps: Spanned<u32>,
    /// Bandwidth while a watched link is down, in Mbps.
    pub boost_mbps: Spanned<u32>,
    /// Links whose failure boosts this circuit.
    pub boost_when_down: Vec<Spanned<String>>,
    /// Hold-down: how long a link must be down before boosting.
    #[serde(default = "thirty_secs")]
    pub boost_after: Dur,
    /// Hold-up: how long all links must be up before restoring.
    #[serde(default = "ten_minutes")]
    pub restore_after: Dur,
    /// Our monthly update cap for this VXC (below Megaport's 100).
    #[serde(default = "sixty")]
    pub max_updates_per_month: Spanned<u32>,
    /// Open a ServiceNow incident per episode.
    #[serde(default)]
    pub incident: bool,
    /// What to do about a rate changed outside megaflex.
    #[serde(default)]
    pub on_outside_change: OutsideChange,
}

fn thirty_secs() -> Dur {
    Dur(Duration::from_secs(30))
}
fn ten_minutes() -> Dur {
    Dur(Duration::from_secs(600))
}
fn sixty() -> Spanned<u32> {
    Spanned::new(0..0, 60)
}

/// A configuration error with its place in the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong and what to do.
    pub message: String,
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(offset, |i| offset - i - 1) + 1;
    (line, column)
}

impl Config {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_owned(),
            line: 0,
            column: 0,
            message: format!("cannot read the configuration: {e}"),
        })?;
        Self::parse(path, &text)
    }

    /// Parses and validates `text` (`path` only names it in errors).
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let at = |offset: usize, message: String| {
            let (line, column) = line_col(text, offset);
            ConfigError { file: path.to_owned(), line, column, message }
        };
        let config: Config = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            at(offset, e.message().to_owned())
        })?;
        config.validate().map_err(|(offset, message)| at(offset, message))?;
        Ok(config)
    }
}

impl HttpSection {
    /// The listener's connection limits.
    pub fn limits(&self) -> megaflex_sources::net::ConnLimits {
        megaflex_sources::net::ConnLimits {
            max_connections: *self.max_connections.get_ref() as usize,
            idle_timeout: self.idle_timeout.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[megaport]
environment = "staging"
requests_per_5m = 400

[[source]]
type = "syslog"
listen = "udp://127.0.0.1:5514"

[[source]]
type = "snmp_trap"
listen = "udp://127.0.0.1:1162"
communities = ["public"]

[[link]]
name = "bne-mel-primary"
signals = [
  { syslog = { host = "core-b1", interface = "TenGigabitEthernet0/1/0" } },
  { snmp = { agent = "10.0.0.1", if_index = 3 } },
  { alert = { alertname = "BneMelPrimaryDown" } },
]

[[circuit]]
name = "bne-mel-backup"
vxc = "61a2b3c4-5b6d-44e8-af90-b6c1d2e3f4a5"
normal_mbps = 10
boost_mbps = 500
boost_when_down = ["bne-mel-primary"]
boost_after = "30s"
restore_after = "10m"
"#;

    fn line_of(text: &str, needle: &str) -> usize {
        text.lines().position(|l| l.contains(needle)).unwrap() + 1
    }

    fn err(text: &str) -> ConfigError {
        Config::parse(Path::new("megaflex.toml"), text).unwrap_err()
    }

    #[test]
    fn good_config_loads_with_defaults() {
        let c = Config::parse(Path::new("megaflex.toml"), GOOD).unwrap();
        let circuit = c.circuits[0].get_ref();
        assert_eq!(circuit.boost_after.0, Duration::from_secs(30));
        assert_eq!(circuit.restore_after.0, Duration::from_secs(600));
        assert_eq!(*circuit.max_updates_per_month.get_ref(), 60);
        assert_eq!(c.store.url, "sqlite://megaflex.db");
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let text = GOOD.replace("boost_after = \"30s\"", "boost_after = \"soon\"");
        let e = err(&text);
        assert_eq!((e.line, e.column, e.file.to_str()), (line_of(&text, "soon"), 15, Some("megaflex.toml")), "{e}");
        assert!(e.message.contains("invalid duration \"soon\""), "{e}");
        let text = GOOD.replace("normal_mbps = 10", "normal_mbps = 10\nnormal_mpbs = 5");
        let e = err(&text);
        assert!(e.message.contains("unknown field `normal_mpbs`"), "{e}");
        assert_eq!(e.line, line_of(&text, "normal_mpbs"));
        let text = GOOD.replace("boost_when_down = [\"bne-mel-primary\"]", "boost_when_down = [\"bne-syd\"]");
        let e = err(&text);
        assert!(e.message.contains("watches link \"bne-syd\", which is not defined"), "{e}");
        assert_eq!((e.line, e.column), (line_of(&text, "bne-syd"), 20));
        let e = err(&GOOD.replace("boost_mbps = 500", "boost_mbps = 10"));
        assert!(e.message.contains("must be greater than normal_mbps"), "{e}");
        let e = err(&GOOD.replace("listen = \"udp://127.0.0.1:5514\"", "listen = \"udp://nowhere\""));
        assert!(e.message.contains("not an IP address and port"), "{e}");
        let e = err(&GOOD.replace("requests_per_5m = 400", "requests_per_5m = 900"));
        assert!(e.message.contains("1..=500"), "{e}");
        let e = err(&format!(
            "{GOOD}\n[[circuit]]\nname = \"x\"\nvxc = \"61a2b3c4-5b6d-44e8-af90-b6c1d2e3f4a5\"\nnormal_mbps = 1\nboost_mbps = 2\nboost_when_down = [\"bne-mel-primary\"]\n"
        ));
        assert!(e.message.contains("managed by two circuits"), "{e}");
        assert!(e.to_string().starts_with("megaflex.toml:"), "{e}");
    }

    #[test]
    fn snmp_engine_ids_are_checked_with_a_position() {
        let at = "communities = [\"public\"]";
        let ok = GOOD.replace(at, &format!("{at}\nengine_id = \"0x80000000050102030405\""));
        Config::parse(Path::new("megaflex.toml"), &ok).unwrap();
        let text = GOOD.replace(at, &format!("{at}\nengine_id = \"0x8000\""));
        let e = err(&text);
        assert!(e.message.contains("engine_id") && e.message.contains("5 to 32 bytes"), "{e}");
        // Fields of a [[source]] carry no span of their own: the error points at its table.
        assert_eq!(e.line, line_of(&text, "type = \"snmp_trap\"") - 1, "{e}");
        let text = GOOD.replace(
            at,
            &format!("{at}\n[[source.users]]\nname = \"u\"\nengine_id = \"nothex00000\"\nauth = \"SHA\"\nauth_password_env = \"X\""),
        );
        assert!(err(&text).message.contains("user u: engine_id"), "{}", err(&text));
    }
}
