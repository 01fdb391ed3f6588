//! ServiceNow's `/oauth_token.do`: the password grant (client id and secret
//! plus a user's login) and the refresh-token grant, as the instance's OAuth
//! application registry answers them. Access tokens live 1,799 s of the
//! simulator's clock; refresh tokens until the simulator is reset.
//! `POST /_sim/servicenow/expire-tokens` ends every access token at once so
//! tests can watch a client refresh.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::json;

use crate::http::{pending_message, pending_retry_after};
use crate::injection::Outcome;
use crate::servicenow_store::ACCESS_TOKEN_TTL_SECS;
use crate::state::{SimState, lock};

fn oauth_error(error: &str, description: &str) -> Response {
    (StatusCode::UNAUTHORIZED, axum::Json(json!({ "error": error, "error_description": description }))).into_response()
}

/// The client's credentials from HTTP Basic (`client_id:client_secret`, each
/// form-urlencoded, RFC 6749 section 2.3.1), which requests-oauthlib (pysnc's
/// OAuth) sends instead of body fields.
fn basic_client(headers: &HeaderMap) -> Option<(String, String)> {
    let encoded = headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |v: &str| {
        serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={v}"))
            .ok()
            .and_then(|mut p| p.pop())
            .map_or_else(|| v.to_owned(), |(_, v)| v)
    };
    Some((unescape(id), unescape(secret)))
}

/// `POST /oauth_token.do` (form-encoded; client credentials in the body or
/// in HTTP Basic).
pub(crate) async fn token(State(state): State<SimState>, headers: HeaderMap, body: Bytes) -> Response {
    let mut form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    if !form.contains_key("client_secret")
        && let Some((id, secret)) = basic_client(&headers)
    {
        form.insert("client_id".into(), id);
        form.insert("client_secret".into(), secret);
    }
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let now_ms = state.now().as_millis();
    let mut sn = lock(&state.0.servicenow);
    let client_ok =
        sn.oauth.clients.iter().any(|(id, secret)| id == field("client_id") && secret == field("client_secret"));
    if !client_ok {
        return oauth_error("access_denied", "client_id or client_secret is not valid");
    }
    let user = match field("grant_type") {
        "password" => {
            let (user, password) = (field("username"), field("password"));
            if !sn.users.iter().any(|(u, p)| u == user && p == password) {
                return oauth_error("access_denied", "username or password is not valid");
            }
            user.to_owned()
        }
        "refresh_token" => match sn.oauth.refresh.get(field("refresh_token")) {
            Some((user, client)) if client == field("client_id") => user.clone(),
            _ => return oauth_error("access_denied", "refresh_token is not valid"),
        },
        "" => return oauth_error("invalid_request", "grant_type is required"),
        other => return oauth_error("unsupported_grant_type", &format!("grant_type {other} is not supported")),
    };
    let access = format!("sn.{}", state.random_hex(24));
    let refresh = format!("snr.{}", state.random_hex(24));
    let oauth = &mut sn.oauth;
    oauth.access.retain(|_, (_, exp)| *exp > now_ms);
    oauth.access.insert(access.clone(), (user.clone(), now_ms + ACCESS_TOKEN_TTL_SECS * 1000));
    oauth.refresh.insert(refresh.clone(), (user, field("client_id").to_owned()));
    axum::Json(json!({
        "access_token": access,
        "refresh_token": refresh,
        "scope": "useraccount",
        "token_type": "Bearer",
        "expires_in": ACCESS_TOKEN_TTL_SECS,
    }))
    .into_response()
}

/// In front of `/oauth_token.do`: fault rules (`path_prefix` `/oauth_token.do`)
/// answer in the OAuth error shape, keeping `Retry-After`; with
/// `after_processing` the token is issued but the client never sees it.
pub(crate) async fn layer(State(state): State<SimState>, req: Request, next: Next) -> Response {
    let fault = match crate::injection::apply(&state, req.method(), req.uri().path()).await {
        Some(Outcome::Instead(resp)) => resp,
        Some(Outcome::After(resp)) => {
            let _ = next.run(req).await;
            resp
        }
        None => return next.run(req).await,
    };
    let status = fault.status();
    let retry_after = fault.headers().get(header::RETRY_AFTER).cloned().or_else(|| pending_retry_after(&fault));
    let description = pending_message(&fault).unwrap_or_else(|| "injected by the simulator".to_owned());
    let error = if status.is_server_error() { "server_error" } else { "access_denied" };
    let mut out = (status, axum::Json(json!({ "error": error, "error_description": description }))).into_response();
    if let Some(r) = retry_after {
        out.headers_mut().insert(header::RETRY_AFTER, r);
    }
    out
}

/// `POST /_sim/servicenow/expire-tokens`: every access token ends now.
pub(crate) async fn expire_tokens(State(state): State<SimState>) -> Response {
    let mut sn = lock(&state.0.servicenow);
    let n = sn.oauth.access.len();
    sn.oauth.access.clear();
    axum::Json(json!({ "expired": n })).into_response()
}
