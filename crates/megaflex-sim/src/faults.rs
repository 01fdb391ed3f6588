//! Fault rules: make the next N requests (or a fraction of requests) on a
//! route fail with a status, slow down, or revoke every token. Only the
//! rules and which of them fire; `injection` turns what fired into an
//! answer, so this module knows neither the state nor the error shapes.

use axum::http::{Method, StatusCode};
use serde::{Deserialize, Serialize};

/// A fault rule, as posted to `/_sim/faults`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub struct Fault {
    /// Only this method (any if absent).
    #[serde(default)]
    pub method: Option<String>,
    /// Only paths starting with this (any if absent), e.g. `/v3/product/vxc/`.
    #[serde(default)]
    pub path_prefix: Option<String>,
    /// Answer with this status (e.g. 429, 500, 503) instead of serving.
    #[serde(default)]
    pub status: Option<u16>,
    /// `Retry-After` seconds to send with the status.
    #[serde(default)]
    pub retry_after_secs: Option<u64>,
    /// Send `Retry-After` as an HTTP date (that many seconds from now, wall
    /// clock) instead of delay-seconds: RFC 9110 allows both.
    #[serde(default)]
    pub retry_after_http_date: bool,
    /// The error message to answer with (e.g. the reason of a 400), instead
    /// of the default text for the status.
    #[serde(default)]
    pub message: Option<String>,
    /// Added latency before answering, in (real) milliseconds.
    #[serde(default)]
    pub latency_ms: Option<u64>,
    /// Revoke every issued token when this fault fires.
    #[serde(default)]
    pub revoke_tokens: bool,
    /// Fire for the next `count` matching requests...
    #[serde(default)]
    pub count: Option<u64>,
    /// ...or for this fraction (0..=1) of matching requests.
    #[serde(default)]
    pub fraction: Option<f64>,
    /// Apply the fault after the request was processed (the change is made
    /// but the client sees the failure): an ambiguous failure.
    #[serde(default)]
    pub after_processing: bool,
}

impl Fault {
    fn matches(&self, method: &Method, path: &str) -> bool {
        self.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method.as_str()))
            && self.path_prefix.as_deref().is_none_or(|p| path.starts_with(p))
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.status.is_none() && self.latency_ms.is_none() && !self.revoke_tokens {
            return Err("a fault needs at least one of status, latency_ms or revoke_tokens".into());
        }
        if let Some(s) = self.status
            && StatusCode::from_u16(s).is_err()
        {
            return Err(format!("status {s} is not an HTTP status"));
        }
        if self.count.is_none() && self.fraction.is_none() {
            return Err("a fault needs count (next N requests) or fraction (0..1 of requests)".into());
        }
        if let Some(f) = self.fraction
            && !(0.0..=1.0).contains(&f)
        {
            return Err(format!("fraction {f} must be between 0 and 1"));
        }
        Ok(())
    }
}

/// What fired for one request.
#[derive(Debug, Default)]
pub(crate) struct Fired {
    /// Status and `Retry-After` seconds of the first firing rule with a status.
    pub(crate) status: Option<(u16, Option<u64>)>,
    pub(crate) http_date: bool,
    pub(crate) message: Option<String>,
    /// Sum over the firing rules.
    pub(crate) latency_ms: u64,
    pub(crate) revoke: bool,
    pub(crate) after: bool,
}

/// Which of `faults` fire for one request, counting down (and dropping when
/// used up) the rules with a count; `random` draws in 0..1 for fractions.
pub(crate) fn pick(
    faults: &mut Vec<Fault>,
    method: &Method,
    path: &str,
    mut random: impl FnMut() -> f64,
) -> Option<Fired> {
    let mut fired: Option<Fired> = None;
    let mut exhausted = Vec::new();
    for (i, f) in faults.iter_mut().enumerate() {
        if !f.matches(method, path) {
            continue;
        }
        let hit = match (f.count.as_mut(), f.fraction) {
            (Some(n), _) if *n > 0 => {
                *n -= 1;
                if *n == 0 {
                    exhausted.push(i);
                }
                true
            }
            (_, Some(fr)) => random() < fr,
            _ => false,
        };
        if hit {
            let out = fired.get_or_insert_with(Fired::default);
            out.latency_ms += f.latency_ms.unwrap_or(0);
            out.revoke |= f.revoke_tokens;
            out.after |= f.after_processing;
            if out.status.is_none() {
                out.status = f.status.map(|s| (s, f.retry_after_secs));
                out.http_date = f.retry_after_http_date;
                out.message = f.message.clone();
            }
        }
    }
    for i in exhausted.into_iter().rev() {
        if faults[i].fraction.is_none() {
            faults.remove(i);
        }
    }
    fired
}
