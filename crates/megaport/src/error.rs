//! One error type for everything the client does, with predicates so callers
//! never match on message text.

use std::time::Duration;

use megaport_types::rules::UpdateRefusal;
pub use megaport_types::rules::UpdateRule;
use megaport_types::{EpochMillis, ProductUid, ProvisioningStatus};

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error answered by the Megaport API (any non-2xx status).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Request method.
    pub method: String,
    /// Request path (no query string, no host).
    pub path: String,
    /// The API's `message`, or the raw body when it was not JSON.
    pub message: String,
    /// The API's `data` field, as text.
    pub data: Option<String>,
    /// Megaport's trace id (body `trace_id` or `Trace-Id` header): support asks for it.
    pub trace_id: Option<String>,
    /// Seconds the API asked us to wait (`Retry-After`).
    pub retry_after: Option<Duration>,
}

/// The token endpoint's refusal.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthError {
    /// HTTP status of the token endpoint (0 when it could not be reached).
    pub status: u16,
    /// What it said (`invalid_client`, ...).
    pub message: String,
    /// Where we asked.
    pub token_url: String,
    /// What to check.
    pub hint: String,
}

/// A 2xx body that did not decode.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeError {
    /// Request method.
    pub method: String,
    /// Request path.
    pub path: String,
    /// HTTP status.
    pub status: u16,
    /// Where in the JSON decoding failed.
    pub json_path: String,
    /// What serde said.
    pub message: String,
    /// The first bytes of the body.
    pub snippet: String,
}

/// Everything that can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Missing or inconsistent configuration (credentials, URLs, ranges).
    #[error("{0}")]
    Config(String),

    /// A request megaflex refuses to send because it is wrong by construction.
    #[error("invalid request: {0}")]
    InvalidRequest(String),

    /// The token endpoint refused the credentials or failed.
    #[error("authentication failed ({}) at {}: {}; {}", .0.status, .0.token_url, .0.message, .0.hint)]
    Auth(Box<AuthError>),

    /// The API answered with an error status.
    #[error("{}", format_api(.0))]
    Api(Box<ApiError>),

    /// The API answered 2xx but the body did not have the expected shape.
    #[error("unexpected response to {} {} ({}): {} at JSON path `{}`; body starts: {}", .0.method, .0.path, .0.status, .0.message, .0.json_path, .0.snippet)]
    Decode(Box<DecodeError>),

    /// The request did not complete (connection, TLS, timeout).
    #[error("{method} {path} failed: {source}{}", if *.maybe_sent { " (the request may have reached the API)" } else { "" })]
    Transport {
        /// Request method.
        method: String,
        /// Request path.
        path: String,
        /// Whether the request may have been sent (false for connect errors).
        maybe_sent: bool,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },

    /// Megaport's service-update rules do not allow this update yet; nothing was sent.
    #[error("update to {uid} refused locally ({rule}): the next update is allowed at {next_allowed_at}{}", detail.as_deref().map(|d| format!("; {d}")).unwrap_or_default())]
    UpdateRefused {
        /// The service.
        uid: ProductUid,
        /// The rule.
        rule: UpdateRule,
        /// When an update becomes allowed.
        next_allowed_at: EpochMillis,
        /// Extra detail (updates used, ...).
        detail: Option<String>,
    },

    /// A rate change was accepted but not seen in effect before the deadline.
    #[error(
        "rate change of {uid} to {wanted_mbps} Mbps not confirmed after {waited:?}: last seen {last_rate_mbps} Mbps (vll {last_vll_mbps:?}), status {last_status}"
    )]
    ConfirmTimeout {
        /// The VXC.
        uid: ProductUid,
        /// The target.
        wanted_mbps: u32,
        /// `rateLimit` last read.
        last_rate_mbps: u32,
        /// `resources.vll.rate_limit_mbps` last read.
        last_vll_mbps: Option<u32>,
        /// `provisioningStatus` last read.
        last_status: ProvisioningStatus,
        /// How long we waited.
        waited: Duration,
    },

    /// The persisted update ledger could not be read or written.
    #[error("update ledger: {0}")]
    Ledger(String),

    /// The caller asked the client to stop (`Client::stop_on`) while it was
    /// waiting (a backoff, the update rule, a confirmation poll).
    #[error("stopped while {doing}{}", if *.request_sent { "; the update had been sent and is left to be confirmed by the next start" } else { "; nothing was sent" })]
    Stopped {
        /// What was interrupted.
        doing: &'static str,
        /// Whether an update had already been accepted (or may have been).
        request_sent: bool,
    },
}

impl From<UpdateRefusal> for Error {
    fn from(r: UpdateRefusal) -> Self {
        Self::UpdateRefused { uid: r.uid, rule: r.rule, next_allowed_at: r.next_allowed_at, detail: Some(r.detail) }
    }
}

/// Setting up HTTP (CA file, proxy) fails as configuration, as it did
/// before the HTTP policy moved to its own crate.
impl From<megaflex_http::Error> for Error {
    fn from(e: megaflex_http::Error) -> Self {
        Self::Config(e.to_string())
    }
}

fn format_api(e: &ApiError) -> String {
    let mut s = format!("{} {} returned {}: {}", e.method, e.path, e.status, e.message);
    if let Some(d) = e.data.as_deref().filter(|d| !d.is_empty() && *d != "null") {
        s.push_str(&format!(" ({d})"));
    }
    if let Some(t) = &e.trace_id {
        s.push_str(&format!(" [trace id {t}]"));
    }
    match e.status {
        401 => s.push_str(
            "; check the credentials and the environment: staging keys do not work in production and vice versa, and tokens expire",
        ),
        403 => s.push_str("; the API key's role may be Read Only: updates need a Company Admin key"),
        429 => s.push_str("; Megaport's limits are 500 requests per 5 minutes per IP and one update per service every 5 minutes"),
        _ => {}
    }
    s
}

impl Error {
    /// The HTTP status, where there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api(e) => Some(e.status),
            Self::Auth(a) if a.status != 0 => Some(a.status),
            Self::Decode(d) => Some(d.status),
            _ => None,
        }
    }

    /// Megaport's trace id, where the API gave one.
    pub fn trace_id(&self) -> Option<&str> {
        match self {
            Self::Api(e) => e.trace_id.as_deref(),
            _ => None,
        }
    }

    /// The API error, if this is one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Self::Api(e) => Some(e),
            _ => None,
        }
    }

    /// 404, or Megaport's production form: 400 "Could not find a service with UID".
    pub fn is_not_found(&self) -> bool {
        self.api().is_some_and(|e| {
            e.status == 404 || (e.status == 400 && e.message.contains("Could not find a service with UID"))
        })
    }

    /// Worth trying again later: 429, 502, 503, 504, or a transport failure.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Api(e) => matches!(e.status, 429 | 502 | 503 | 504),
            Self::Transport { .. } => true,
            _ => false,
        }
    }

    /// Credentials or token problems (token endpoint failure, or 401/403 from the API).
    pub fn is_auth(&self) -> bool {
        match self {
            Self::Auth(_) => true,
            Self::Api(e) => matches!(e.status, 401 | 403),
            _ => false,
        }
    }

    /// A Megaport limit: refused locally by the update guard, or 429 from the API.
    pub fn is_limit(&self) -> bool {
        match self {
            Self::UpdateRefused { .. } => true,
            Self::Api(e) => e.status == 429,
            _ => false,
        }
    }

    /// A stop interrupted the call (see [`Error::Stopped`]).
    pub fn is_stopped(&self) -> bool {
        matches!(self, Self::Stopped { .. })
    }

    /// When an update refused by the guard becomes allowed.
    pub fn next_allowed_at(&self) -> Option<EpochMillis> {
        match self {
            Self::UpdateRefused { next_allowed_at, .. } => Some(*next_allowed_at),
            _ => None,
        }
    }

    /// Whether a failed request may still have been carried out by the API
    /// (so a write must be re-read, not repeated).
    pub(crate) fn is_ambiguous(&self) -> bool {
        match self {
            Self::Transport { maybe_sent, .. } => *maybe_sent,
            Self::Api(e) => matches!(e.status, 500 | 502 | 503 | 504),
            _ => false,
        }
    }
}

impl ApiError {
    /// A 429 that names Megaport's per-service update rules (one update every
    /// 5 minutes, a monthly cap), as opposed to the request-rate limit: the
    /// update was refused and counted as a breach, so it must not be retried
    /// before the time the rule allows.
    pub fn names_update_rule(&self) -> bool {
        if self.status != 429 {
            return false;
        }
        let m = self.message.to_ascii_lowercase();
        m.contains("update limit") || (m.contains("update") && (m.contains("per service") || m.contains("allowed at")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, message: &str) -> Error {
        Error::Api(Box::new(ApiError {
            status,
            method: "GET".into(),
            path: "/v2/product/x".into(),
            message: message.into(),
            data: None,
            trace_id: Some("t-1".into()),
            retry_after: None,
        }))
    }

    #[test]
    fn predicates() {
        assert!(api(404, "nope").is_not_found());
        assert!(api(400, "Could not find a service with UID x").is_not_found());
        assert!(!api(400, "bad vlan").is_not_found());
        assert!(api(503, "x").is_retryable() && !api(400, "x").is_retryable());
        assert!(api(401, "Bad session token").is_auth());
        assert!(api(429, "slow down").is_limit());
        let msg = api(401, "Bad session token - try logging in again.").to_string();
        assert!(msg.contains("staging keys do not work in production") && msg.contains("trace id t-1"), "{msg}");
    }
}
