//! Fault injection: the rules that fire for a request (`faults`) applied to
//! it: counted, delayed, tokens revoked, and the error it is answered with.

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::faults::{Fired, pick};
use crate::http::ApiError;
use crate::state::{Counters, SimState, lock};

fn error_for(fired: &Fired, status: u16, retry_after: Option<u64>) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let message = match (&fired.message, status) {
        (Some(m), _) => m.clone(),
        (None, 429) => "Too many requests: injected by the simulator".to_owned(),
        (None, 503) => "Service unavailable: the API is under maintenance (injected by the simulator)".to_owned(),
        (None, _) => format!("Injected failure {status} from the simulator"),
    };
    let mut err = ApiError::new(code, message);
    err.retry_after_secs = retry_after;
    err.retry_after_http_date = fired.http_date;
    err.custom_message = fired.message.is_some();
    err.into_response()
}

/// What a fault does to one request.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Answer with this instead of serving.
    Instead(Response),
    /// Serve (the change happens), then answer with this instead.
    After(Response),
}

/// Applies matching faults to a request about to be served.
pub(crate) async fn apply(state: &SimState, method: &Method, path: &str) -> Option<Outcome> {
    let fired = pick(&mut lock(&state.0.faults), method, path, || state.random_f64())?;
    Counters::bump(&state.0.counters.faults_injected);
    if fired.latency_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(fired.latency_ms)).await;
    }
    if fired.revoke {
        lock(&state.0.tokens).clear();
    }
    let (status, retry_after) = fired.status?;
    let resp = error_for(&fired, status, retry_after);
    Some(if fired.after { Outcome::After(resp) } else { Outcome::Instead(resp) })
}
