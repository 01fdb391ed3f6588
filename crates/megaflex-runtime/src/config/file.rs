//! The configuration file as written: TOML deserialised into sections that
//! keep the positions (`Spanned`) errors point at. Nothing here runs:
//! `compile` turns these into the typed values the runtime reads.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use toml::Spanned;

use megaflex_domain::circuits::OutsideChange;
use megaflex_domain::duration::parse_duration;
use megaflex_domain::event::EventKind;
use megaflex_domain::signal::Signal;

use super::settings::{ClockSetting, EnvironmentSetting};

pub use super::store::StoreSection;

/// A duration written `30s`, `10m`, `1h30m`, `2d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_duration(&s).map(Dur).map_err(serde::de::Error::custom)
    }
}

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
pub struct ConfigFile {
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

fn default_requests() -> Spanned<u32> {
    Spanned::new(0..0, 400)
}
fn default_key_env() -> String {
    "MEGAPORT_ACCESS_KEY".into()
}
fn default_secret_env() -> String {
    "MEGAPORT_SECRET_KEY".into()
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
