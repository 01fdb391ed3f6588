//! `POST /oauth2/token`: OAuth2 client credentials with HTTP Basic auth, as
//! Megaport's Cognito-backed token endpoint behaves.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use megaport_types::{TokenErrorBody, TokenResponse};

use crate::http::json_response;
use crate::state::{Counters, SimState, lock};

fn token_error(code: &str, description: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &TokenErrorBody { error: code.to_owned(), error_description: Some(description.to_owned()) },
    )
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (key, secret) = text.split_once(':')?;
    Some((key.to_owned(), secret.to_owned()))
}

fn grant_type(query: &[(String, String)], form: &[u8]) -> Option<String> {
    let from_form = url_pairs(form).into_iter().find(|(k, _)| k == "grant_type").map(|(_, v)| v);
    from_form.or_else(|| query.iter().find(|(k, _)| k == "grant_type").map(|(_, v)| v.clone()))
}

fn url_pairs(body: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(body).unwrap_or_default()
}

pub(crate) async fn token(
    State(state): State<SimState>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    form: Bytes,
) -> Response {
    let cfg = &state.0.config;
    let Some((key, secret)) = basic_credentials(&headers) else {
        return token_error("invalid_client", "HTTP Basic authentication with the API key and secret is required");
    };
    if key != cfg.access_key || secret != cfg.secret_key {
        return token_error("invalid_client", "Client authentication failed");
    }
    match grant_type(&query, &form).as_deref() {
        Some("client_credentials") => {}
        Some(_) => return token_error("unsupported_grant_type", "Only client_credentials is supported"),
        None => return token_error("invalid_request", "grant_type is required"),
    }
    let token = format!("sim.{}", state.random_hex(24));
    let ttl = cfg.token_ttl_secs;
    let now = state.now().as_millis();
    {
        let mut tokens = lock(&state.0.tokens);
        tokens.retain(|_, exp| *exp > now);
        tokens.insert(token.clone(), now + (ttl as i64) * 1000);
    }
    Counters::bump(&state.0.counters.tokens_issued);
    json_response(
        StatusCode::OK,
        &TokenResponse { access_token: token, token_type: "Bearer".to_owned(), expires_in: ttl },
    )
}
