//! Errors in Megaport's shape, JSON answers and the trace id on every
//! response. The bottom layer of the HTTP side: it knows neither the state
//! nor the fault rules (`middleware` puts them in front of the routes).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use megaport_types::ApiErrorBody;
use serde::Serialize;

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
    err.retry_after_secs.map(|s| retry_after_value(s, err.retry_after_http_date))
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
pub(crate) fn finish(mut resp: Response, trace_id: &str) -> Response {
    if let Some(PendingError(err)) = resp.extensions_mut().remove::<PendingError>() {
        let body = ApiErrorBody {
            message: err.message,
            data: Some(serde_json::Value::Null),
            trace_id: Some(trace_id.to_owned()),
            ..ApiErrorBody::default()
        };
        resp = json_response(err.status, &body);
        if let Some(secs) = err.retry_after_secs {
            resp.headers_mut().insert(header::RETRY_AFTER, retry_after_value(secs, err.retry_after_http_date));
        }
    }
    if let Ok(v) = HeaderValue::from_str(trace_id) {
        resp.headers_mut().insert("trace-id", v);
    }
    resp
}

/// `Retry-After` as delay-seconds or as an HTTP date that many (wall-clock)
/// seconds from now.
fn retry_after_value(secs: u64, http_date: bool) -> axum::http::HeaderValue {
    if !http_date {
        return axum::http::HeaderValue::from(secs);
    }
    let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(secs.min(i32::MAX as u64) as i64);
    let text = at.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string();
    axum::http::HeaderValue::from_str(&text).unwrap_or_else(|_| axum::http::HeaderValue::from(secs))
}
