//! Errors in Megaport's shape, the trace id on every response, and the
//! middleware in front of every API route: request window, fault injection
//! and bearer-token check.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use megaport_types::ApiErrorBody;
use serde::Serialize;

use crate::faults::Outcome;
use crate::state::{Counters, LimitMode, SimState, lock};

/// The 401 text from Megaport's troubleshooting page.
pub(crate) const BAD_SESSION: &str = "Bad session token - try logging in again.";

/// An API error; the middleware renders it with the request's trace id.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
    pub(crate) retry_after_secs: Option<u64>,
    /// Render `Retry-After` as an HTTP date (fault injection).
    pub(crate) retry_after_http_date: bool,
    /// `message` was chosen by a fault rule (the ServiceNow emulator keeps it).
    pub(crate) custom_message: bool,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after_secs: None,
            retry_after_http_date: false,
            custom_message: false,
        }
    }
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub(crate) fn not_found_uid(uid: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("Could not find a service with UID {uid}"))
    }
    pub(crate) fn too_many(message: impl Into<String>, retry_after_secs: u64) -> Self {
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            message: message.into(),
            retry_after_secs: Some(retry_after_secs.max(1)),
            retry_after_http_date: false,
            custom_message: false,
        }
    }
}

/// `Retry-After` of an error response not yet finished by `finish` (the
/// ServiceNow emulator answers faults in its own envelope).
pub(crate) fn pending_retry_after(resp: &Response) -> Option<HeaderValue> {
    let err = &resp.extensions().get::<PendingError>()?.0;
    err.retry_after_secs.map(|s| crate::faults::retry_after_value(s, err.retry_after_http_date))
}

/// The message a fault rule chose for a response not yet finished.
pub(crate) fn pending_message(resp: &Response) -> Option<String> {
    let err = &resp.extensions().get::<PendingError>()?.0;
    err.custom_message.then(|| err.message.clone())
}

/// Marker left on a response for the middleware to fill in.
#[derive(Debug, Clone)]
struct PendingError(ApiError);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = self.status.into_response();
        resp.extensions_mut().insert(PendingError(self));
        resp
    }
}

pub(crate) fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut resp = (status, bytes).into_response();
            resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json;charset=UTF-8"));
            resp
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

pub(crate) fn ok_json<T: Serialize>(body: &T) -> Response {
    json_response(StatusCode::OK, body)
}

/// Renders a pending error body and stamps the trace id.
fn finish(mut resp: Response, trace_id: &str) -> Response {
    if let Some(PendingError(err)) = resp.extensions_mut().remove::<PendingError>() {
        let body = ApiErrorBody {
            message: err.message,
            data: Some(serde_json::Value::Null),
            trace_id: Some(trace_id.to_owned()),
            ..ApiErrorBody::default()
        };
        resp = json_response(err.status, &body);
        if let Some(secs) = err.retry_after_secs {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, crate::faults::retry_after_value(secs, err.retry_after_http_date));
        }
    }
    if let Ok(v) = HeaderValue::from_str(trace_id) {
        resp.headers_mut().insert("trace-id", v);
    }
    resp
}

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
    let after = match crate::faults::apply(&state, req.method(), req.uri().path()).await {
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
    let after = match crate::faults::apply(&state, req.method(), req.uri().path()).await {
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
