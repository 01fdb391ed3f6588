//! The admin API under `/_sim/`: statistics, clock control, fault injection,
//! limit mode, ledger seeding, world dump and reset. No authentication: the
//! simulator listens on loopback by default.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;

use crate::config::LimitMode;
use crate::faults::Fault;
use crate::http::ok_json;
use crate::limits::month_bounds;
use crate::state::{SimState, UpdateRecord, lock};

fn admin_error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": message.into() }))).into_response()
}

fn parse<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, Box<Response>> {
    let text = if body.is_empty() { &b"{}"[..] } else { &body[..] };
    serde_json::from_slice(text)
        .map_err(|e| Box::new(admin_error(StatusCode::BAD_REQUEST, format!("invalid JSON: {e}"))))
}

/// `GET /_sim/stats`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct Stats {
    /// API requests received (token endpoint and admin excluded).
    pub requests: u64,
    /// Token requests received.
    pub token_requests: u64,
    /// Tokens issued.
    pub tokens_issued: u64,
    /// Requests refused with 401.
    pub unauthorized: u64,
    /// Requests over 500 per rolling 5 minutes per IP.
    pub rate_limit_breaches: u64,
    /// Updates to a service within 5 minutes of the previous one.
    pub update_interval_breaches: u64,
    /// Updates beyond 100 in a calendar month.
    pub monthly_update_breaches: u64,
    /// Requests a fault fired on.
    pub faults_injected: u64,
    /// ServiceNow Table API requests.
    pub servicenow_requests: u64,
    /// Every accepted service update.
    pub updates: Vec<UpdateRecord>,
    /// Limit mode in force.
    pub limits: LimitMode,
    /// Simulated now (epoch ms).
    pub now_ms: i64,
}

pub(crate) async fn stats(State(state): State<SimState>) -> Response {
    ok_json(&state.stats())
}

impl SimState {
    /// A snapshot of the counters, as `/_sim/stats` returns them.
    pub fn stats(&self) -> Stats {
        let c = &self.0.counters;
        let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            requests: get(&c.requests),
            token_requests: get(&c.token_requests),
            tokens_issued: get(&c.tokens_issued),
            unauthorized: get(&c.unauthorized),
            rate_limit_breaches: get(&c.rate_limit_breaches),
            update_interval_breaches: get(&c.update_interval_breaches),
            monthly_update_breaches: get(&c.monthly_update_breaches),
            faults_injected: get(&c.faults_injected),
            servicenow_requests: get(&c.servicenow_requests),
            updates: lock(&self.0.updates).clone(),
            limits: self.limit_mode(),
            now_ms: self.now().as_millis(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockRequest {
    #[serde(default)]
    advance_secs: Option<f64>,
    #[serde(default)]
    scale: Option<f64>,
    #[serde(default)]
    set_ms: Option<i64>,
}

#[derive(Debug, Serialize)]
struct ClockView {
    now_ms: i64,
    now: String,
    scale: f64,
}

fn clock_view(state: &SimState) -> ClockView {
    let now = state.now();
    ClockView { now_ms: now.as_millis(), now: now.to_string(), scale: state.clock().scale() }
}

pub(crate) async fn get_clock(State(state): State<SimState>) -> Response {
    ok_json(&clock_view(&state))
}

/// `POST /_sim/clock {"advance_secs": 300}` / `{"scale": 60}` / `{"set_ms": ...}`.
pub(crate) async fn post_clock(State(state): State<SimState>, body: Bytes) -> Response {
    let req: ClockRequest = match parse(&body) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    if let Some(ms) = req.set_ms {
        state.clock().set(megaport_types::EpochMillis::from_millis(ms));
    }
    if let Some(secs) = req.advance_secs {
        if !secs.is_finite() {
            return admin_error(StatusCode::BAD_REQUEST, "advance_secs must be a number");
        }
        state.clock().advance_secs(secs);
    }
    if let Some(scale) = req.scale {
        if !(scale.is_finite() && scale >= 0.0) {
            return admin_error(StatusCode::BAD_REQUEST, "scale must be a number >= 0");
        }
        state.clock().set_scale(scale);
    }
    ok_json(&clock_view(&state))
}

pub(crate) async fn get_faults(State(state): State<SimState>) -> Response {
    ok_json(&*lock(&state.0.faults))
}

/// `POST /_sim/faults` with one fault object (see [`Fault`]).
pub(crate) async fn post_fault(State(state): State<SimState>, body: Bytes) -> Response {
    let fault: Fault = match parse(&body) {
        Ok(f) => f,
        Err(e) => return *e,
    };
    if let Err(msg) = fault.validate() {
        return admin_error(StatusCode::BAD_REQUEST, msg);
    }
    lock(&state.0.faults).push(fault);
    (StatusCode::CREATED, Json(serde_json::json!({"faults": lock(&state.0.faults).len()}))).into_response()
}

pub(crate) async fn clear_faults(State(state): State<SimState>) -> Response {
    lock(&state.0.faults).clear();
    StatusCode::NO_CONTENT.into_response()
}

pub(crate) async fn revoke_tokens(State(state): State<SimState>) -> Response {
    let n = {
        let mut tokens = lock(&state.0.tokens);
        let n = tokens.len();
        tokens.clear();
        n
    };
    ok_json(&serde_json::json!({ "revoked": n }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsRequest {
    mode: LimitMode,
}

pub(crate) async fn post_limits(State(state): State<SimState>, body: Bytes) -> Response {
    match parse::<LimitsRequest>(&body) {
        Ok(r) => {
            state.set_limit_mode(r.mode);
            ok_json(&serde_json::json!({ "mode": r.mode }))
        }
        Err(e) => *e,
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedUpdates {
    count: u32,
    #[serde(default)]
    at_ms: Option<i64>,
}

/// `POST /_sim/services/{uid}/updates {"count": 99}`: pretend the service
/// already had `count` updates this month (at the start of the month unless
/// `at_ms` says otherwise), e.g. made in the portal before megaflex ran.
pub(crate) async fn seed_updates(State(state): State<SimState>, Path(uid): Path<String>, body: Bytes) -> Response {
    let req: SeedUpdates = match parse(&body) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    let now = state.now().as_millis();
    let at = req.at_ms.unwrap_or_else(|| month_bounds(now).0);
    let mut world = lock(&state.0.world);
    if world.find(&uid).is_none() {
        return admin_error(StatusCode::NOT_FOUND, format!("no service {uid}"));
    }
    let log = world.update_log.entry(uid.clone()).or_default();
    log.extend(std::iter::repeat_n(at, req.count as usize));
    log.sort_unstable();
    ok_json(&serde_json::json!({ "uid": uid, "updates_logged": log.len() }))
}

pub(crate) async fn world(State(state): State<SimState>) -> Response {
    ok_json(&state.world_snapshot())
}

pub(crate) async fn reset(State(state): State<SimState>) -> Response {
    state.reset();
    StatusCode::NO_CONTENT.into_response()
}
