//! The middleware in front of every API route: request window, fault
//! injection and bearer-token check; and the token endpoint's.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::LimitMode;
use crate::http::{ApiError, finish};
use crate::injection::Outcome;
use crate::state::{Counters, SimState, lock};

/// The 401 text from Megaport's troubleshooting page.
pub(crate) const BAD_SESSION: &str = "Bad session token - try logging in again.";

fn client_ip(req: &Request) -> IpAddr {
    req.extensions().get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |ci| ci.0.ip())
}

/// Counts the request in the client's rolling window; `Err` when strict mode
/// refuses it.
fn check_request_window(state: &SimState, ip: IpAddr) -> Result<(), ApiError> {
    let mode = state.limit_mode();
    if mode == LimitMode::Off {
        return Ok(());
    }
    let cfg = &state.0.config;
    let now = state.now().as_millis();
    let window_ms = i64::from(cfg.request_window_secs) * 1000;
    let mut windows = lock(&state.0.window);
    let q = windows.entry(ip).or_default();
    while q.front().is_some_and(|&t| t <= now - window_ms) {
        q.pop_front();
    }
    if q.len() >= cfg.requests_per_window as usize {
        Counters::bump(&state.0.counters.rate_limit_breaches);
        if mode == LimitMode::Strict {
            let oldest = q.front().copied().unwrap_or(now);
            let wait_ms = (oldest + window_ms - now).max(1);
            let secs = state.0.clock.real_duration(wait_ms).as_secs_f64().ceil() as u64;
            return Err(ApiError::too_many(
                format!(
                    "Rate limit exceeded: at most {} requests in a rolling {} minute period per IP address. Retry after {} seconds.",
                    cfg.requests_per_window,
                    cfg.request_window_secs / 60,
                    secs.max(1)
                ),
                secs,
            ));
        }
    }
    q.push_back(now);
    Ok(())
}

fn bearer_ok(state: &SimState, req: &Request) -> bool {
    let Some(value) = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some(token) = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")) else {
        return false;
    };
    let now = state.now().as_millis();
    lock(&state.0.tokens).get(token.trim()).is_some_and(|&exp| exp > now)
}

/// In front of every Megaport API route.
pub(crate) async fn api_layer(State(state): State<SimState>, req: Request, next: Next) -> Response {
    let trace_id = state.next_trace_id();
    Counters::bump(&state.0.counters.requests);
    if let Err(e) = check_request_window(&state, client_ip(&req)) {
        return finish(e.into_response(), &trace_id);
    }
    let after = match crate::injection::apply(&state, req.method(), req.uri().path()).await {
        Some(Outcome::Instead(resp)) => return finish(resp, &trace_id),
        Some(Outcome::After(resp)) => Some(resp),
        None => None,
    };
    if !bearer_ok(&state, &req) {
        Counters::bump(&state.0.counters.unauthorized);
        return finish(ApiError::new(StatusCode::UNAUTHORIZED, BAD_SESSION).into_response(), &trace_id);
    }
    let resp = next.run(req).await;
    finish(after.unwrap_or(resp), &trace_id)
}

/// In front of the token endpoint: faults and trace id, no bearer, no window
/// (the token host is a different service in production).
pub(crate) async fn token_layer(State(state): State<SimState>, req: Request, next: Next) -> Response {
    let trace_id = state.next_trace_id();
    Counters::bump(&state.0.counters.token_requests);
    let after = match crate::injection::apply(&state, req.method(), req.uri().path()).await {
        Some(Outcome::Instead(resp)) => return finish(resp, &trace_id),
        Some(Outcome::After(resp)) => Some(resp),
        None => None,
    };
    let resp = next.run(req).await;
    finish(after.unwrap_or(resp), &trace_id)
}

/// Unknown API path.
pub(crate) async fn no_route(req: Request) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, format!("No API route for {} {}", req.method(), req.uri().path()))
}
