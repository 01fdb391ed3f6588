//! Who may use the engine's HTTP listener. A browser is the threat: a page
//! on another origin can POST to loopback (CSRF) and, through DNS
//! rebinding, read from it with its own host name. So every route but the
//! probes checks `Host`; writes also check `Origin` and need the bearer
//! token; reads need it when `read_requires_token` is set.

use std::collections::HashSet;
use std::net::SocketAddr;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use megaflex_sources::net::secret_eq;

use crate::config::HttpConfig;

/// The listener's access rules.
#[derive(Clone, Default)]
pub struct HttpAccess {
    /// Bearer token for write routes (and reads when `read_requires_token`).
    /// `None`: write routes are refused.
    pub token: Option<String>,
    /// Reads need the token too.
    pub read_requires_token: bool,
    /// Host names (lower case, no port) the `Host` and `Origin` headers may name.
    pub allowed_hosts: HashSet<String>,
}

impl std::fmt::Debug for HttpAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpAccess")
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("read_requires_token", &self.read_requires_token)
            .field("allowed_hosts", &self.allowed_hosts)
            .finish()
    }
}

/// `[http] token_env` names a variable that gives no token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpAccessError {
    /// Not set.
    #[error("[http] token_env: environment variable {0} is not set")]
    TokenUnset(String),
    /// Set to nothing.
    #[error("[http] token_env: environment variable {0} is empty")]
    TokenEmpty(String),
}

impl HttpAccess {
    /// Rules from `[http]`; the token comes from `token` when given (tests,
    /// embedding), else from the variable `token_env` names.
    pub fn from_config(section: Option<&HttpConfig>, token: Option<String>) -> Result<Self, HttpAccessError> {
        let mut access = Self { token, ..Self::default() };
        if let Some(s) = section {
            if access.token.is_none()
                && let Some(var) = &s.token_env
            {
                let value = std::env::var(var).map_err(|_| HttpAccessError::TokenUnset(var.clone()))?;
                if value.trim().is_empty() {
                    return Err(HttpAccessError::TokenEmpty(var.clone()));
                }
                access.token = Some(value);
            }
            access.read_requires_token = s.read_requires_token;
            access.allowed_hosts.extend(s.allowed_hosts.iter().cloned());
            access.allow_addr(s.listen);
        }
        for h in ["localhost", "127.0.0.1", "[::1]"] {
            access.allowed_hosts.insert(h.to_owned());
        }
        Ok(access)
    }

    /// Allows the address the listener is bound to as a host name.
    pub fn allow_addr(&mut self, addr: SocketAddr) {
        let host = match addr {
            SocketAddr::V4(a) => a.ip().to_string(),
            SocketAddr::V6(a) => format!("[{}]", a.ip()),
        };
        self.allowed_hosts.insert(host);
    }

    fn host_allowed(&self, host: &str) -> bool {
        let name = strip_port(host).to_ascii_lowercase();
        // DNS rebinding needs a name the attacker controls; a literal IP
        // address (a Prometheus target, a pod probe) cannot be rebound.
        let literal_ip = name.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>().is_ok();
        literal_ip || self.allowed_hosts.contains(&name)
    }

    /// Stricter than `Host`: a page served from any IP address must not
    /// post here, so only the listed names and addresses.
    fn origin_allowed(&self, host: &str) -> bool {
        self.allowed_hosts.contains(&strip_port(host).to_ascii_lowercase())
    }

    fn bearer_ok(&self, headers: &HeaderMap) -> bool {
        let given =
            headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        match (&self.token, given) {
            (Some(want), Some(given)) => secret_eq(given.trim().as_bytes(), want.as_bytes()),
            _ => false,
        }
    }
}

/// `host[:port]` or `[v6][:port]` without the port.
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |i| &host[..=i]);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

fn refuse(status: StatusCode, why: &str) -> Response {
    (status, format!("{why}\n")).into_response()
}

/// The middleware: probes pass; everything else is checked.
pub(crate) async fn guard(State(access): State<std::sync::Arc<HttpAccess>>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    // Probes carry whatever Host the orchestrator uses and reveal nothing.
    if matches!(path, "/healthz" | "/readyz") {
        return next.run(req).await;
    }
    let headers = req.headers();
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !access.host_allowed(host) {
        return refuse(StatusCode::MISDIRECTED_REQUEST, "Host not allowed: add it to [http] allowed_hosts");
    }
    let write = !matches!(*req.method(), Method::GET | Method::HEAD);
    if write {
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin_host = origin
                .to_str()
                .ok()
                .and_then(|o| o.strip_prefix("http://").or_else(|| o.strip_prefix("https://")))
                .map(|rest| rest.split('/').next().unwrap_or(rest));
            if !origin_host.is_some_and(|h| access.origin_allowed(h)) {
                return refuse(StatusCode::FORBIDDEN, "Origin not allowed");
            }
        }
        if access.token.is_none() {
            return refuse(StatusCode::FORBIDDEN, "write routes are disabled: set [http] token_env");
        }
    }
    if (write || access.read_requires_token) && !access.bearer_ok(headers) {
        let mut r = refuse(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
        r.headers_mut().insert(header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer"));
        return r;
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_lose_their_port() {
        assert_eq!(strip_port("localhost:9181"), "localhost");
        assert_eq!(strip_port("[::1]:9181"), "[::1]");
        assert_eq!(strip_port("[::1]"), "[::1]");
        assert_eq!(strip_port("evil.example"), "evil.example");
        assert!(secret_eq(b"abc", b"abc") && !secret_eq(b"abc", b"abd") && !secret_eq(b"abc", b"abcd"));
        let access = HttpAccess::from_config(None, None).unwrap();
        for ok in ["localhost:9181", "127.0.0.1", "10.1.2.3:9181", "[fd00::1]:80", "LOCALHOST"] {
            assert!(access.host_allowed(ok), "{ok}");
        }
        for bad in ["evil.example", "evil.example:9181", "127.0.0.1.nip.io", "", "localhost.evil.example"] {
            assert!(!access.host_allowed(bad), "{bad}");
        }
    }
}
