use std::fmt;

use serde::{Deserialize, Serialize};

use crate::de::null_default;

/// The `terms` text the API puts in every envelope.
pub const ACCEPTABLE_USE_TERMS: &str =
    "This data is subject to the Acceptable Use Policy https://www.megaport.com/legal/acceptable-use-policy";

/// The standard response envelope `{message, terms, data}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// Human-readable outcome, e.g. `Found Product <uid>`.
    #[serde(default, deserialize_with = "null_default")]
    pub message: String,
    /// The acceptable-use notice.
    #[serde(default)]
    pub terms: Option<String>,
    /// The payload.
    pub data: T,
}

impl<T> Envelope<T> {
    /// Wraps `data` with a message and the standard terms.
    pub fn new(message: impl Into<String>, data: T) -> Self {
        Self { message: message.into(), terms: Some(ACCEPTABLE_USE_TERMS.to_owned()), data }
    }
}

/// An envelope whose `data` may be absent (action endpoints such as
/// `CANCEL_NOW` answer with a message only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageOnly {
    /// The outcome.
    #[serde(default, deserialize_with = "null_default")]
    pub message: String,
    /// The acceptable-use notice.
    #[serde(default)]
    pub terms: Option<String>,
    /// Whatever `data` held, if anything.
    #[serde(default)]
    pub data: Option<serde_json::Value>,
}

/// The body of an API error: `{message, data, trace_id}`.
///
/// `data` is usually a string or `null` but is kept as any JSON so an object
/// does not lose the message (the Go SDK drops it in that case). Some mocks
/// send `error` instead of `data`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ApiErrorBody {
    /// What went wrong, in the API's words.
    #[serde(default, deserialize_with = "null_default")]
    pub message: String,
    /// Extra detail.
    #[serde(default)]
    pub data: Option<serde_json::Value>,
    /// Megaport's trace id; support asks for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// Alternative detail field seen in some error bodies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Present when the server copied the envelope terms into an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms: Option<String>,
}

/// The OAuth2 token endpoint's answer.
///
/// `Debug` never shows the token.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The bearer token.
    pub access_token: String,
    /// Always `Bearer`.
    #[serde(default)]
    pub token_type: String,
    /// Lifetime in seconds (300..=86400 for Megaport API keys).
    #[serde(default)]
    pub expires_in: u64,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"[redacted]")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// The OAuth2 error body, e.g. `{"error":"invalid_client"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenErrorBody {
    /// RFC 6749 error code.
    pub error: String,
    /// Optional explanation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_debug_redacts() {
        let t = TokenResponse { access_token: "s3cr3t".into(), token_type: "Bearer".into(), expires_in: 60 };
        assert!(!format!("{t:?}").contains("s3cr3t"));
    }
}
