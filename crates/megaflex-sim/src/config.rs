//! What the simulator is told at start: credentials, limits, clock and
//! world. The lowest layer with `world`: every other module may read it.

use megaport_types::EpochMillis;
use serde::Serialize;

use crate::default_world::default_world;
use crate::world::WorldFile;

/// API key the simulator accepts unless told otherwise.
pub const DEFAULT_ACCESS_KEY: &str = "megaflex-sim-key";
/// API secret the simulator accepts unless told otherwise.
pub const DEFAULT_SECRET_KEY: &str = "megaflex-sim-secret";
/// Where `megaflex sim` listens unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8480";

/// Everything the simulator can be told at start.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Accepted API key.
    pub access_key: String,
    /// Accepted API secret.
    pub secret_key: String,
    /// Token lifetime in seconds (300..=86400, as Megaport API keys allow).
    pub token_ttl_secs: u64,
    /// How limits are enforced.
    pub limits: LimitMode,
    /// Requests allowed per client IP per window (Megaport: 500).
    pub requests_per_window: u32,
    /// The rolling window in seconds (Megaport: 300).
    pub request_window_secs: u32,
    /// Minimum seconds between two updates of one service (Megaport: 300).
    pub update_interval_secs: u32,
    /// Updates allowed per service per calendar month, UTC (Megaport: 100).
    pub updates_per_month: u32,
    /// Simulated seconds a VXC reads CONFIGURED after an update takes effect.
    pub configured_secs: f64,
    /// Simulated seconds before a new rate takes effect; meanwhile reads show
    /// the old rate and status CONFIGURING (models eventual consistency).
    pub apply_delay_secs: f64,
    /// Simulated seconds per real second.
    pub clock_scale: f64,
    /// Simulated start time (default: now).
    pub start: Option<EpochMillis>,
    /// The account.
    pub world: WorldFile,
    /// Extra ServiceNow users `(user, password)` besides the world's.
    pub extra_servicenow_users: Vec<(String, String)>,
    /// Seed for trace ids, tokens and fractional faults.
    pub seed: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            access_key: DEFAULT_ACCESS_KEY.to_owned(),
            secret_key: DEFAULT_SECRET_KEY.to_owned(),
            token_ttl_secs: 86_400,
            limits: LimitMode::Strict,
            requests_per_window: 500,
            request_window_secs: 300,
            update_interval_secs: 300,
            updates_per_month: 100,
            configured_secs: 3.0,
            apply_delay_secs: 0.0,
            clock_scale: 1.0,
            start: None,
            world: default_world(EpochMillis::now()),
            extra_servicenow_users: Vec::new(),
            seed: 42,
        }
    }
}

impl SimConfig {
    /// Checks ranges; the message says what to change.
    pub fn validate(&self) -> Result<(), String> {
        if !(300..=86_400).contains(&self.token_ttl_secs) {
            return Err(format!("token TTL {} s is outside 300..=86400 (5 minutes to 24 hours)", self.token_ttl_secs));
        }
        if self.access_key.is_empty() || self.secret_key.is_empty() {
            return Err("the access key and secret must not be empty".into());
        }
        if !(self.clock_scale.is_finite() && self.clock_scale >= 0.0) {
            return Err(format!("clock scale {} must be a number >= 0", self.clock_scale));
        }
        self.world.validate()
    }
}

/// How the simulator treats Megaport's published limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LimitMode {
    /// Refuse with 429 and `Retry-After`, and count the breach (default).
    #[default]
    Strict,
    /// Serve, but count the breach.
    Record,
    /// Neither refuse nor count (benchmarks).
    Off,
}

impl LimitMode {
    pub(crate) fn to_u8(self) -> u8 {
        match self {
            Self::Strict => 0,
            Self::Record => 1,
            Self::Off => 2,
        }
    }
    pub(crate) fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::Record,
            2 => Self::Off,
            _ => Self::Strict,
        }
    }
}

impl std::str::FromStr for LimitMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "strict" => Ok(Self::Strict),
            "record" => Ok(Self::Record),
            "off" => Ok(Self::Off),
            other => Err(format!("unknown limit mode {other:?}: use strict, record or off")),
        }
    }
}
