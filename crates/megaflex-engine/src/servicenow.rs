//! A small ServiceNow Table API client for the incident lifecycle: upsert
//! by `correlation_id`, work notes, resolve. Basic auth; 429 and 5xx are
//! retried honouring `Retry-After` (capped); errors carry ServiceNow's own
//! message and detail. The password never appears in Debug output or errors.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};

/// What went wrong talking to ServiceNow.
#[derive(Debug, thiserror::Error)]
pub enum ServiceNowError {
    /// ServiceNow answered with an error envelope.
    #[error("ServiceNow {status}: {message}{}", if detail.is_empty() { String::new() } else { format!(" ({detail})") })]
    Api {
        /// HTTP status.
        status: u16,
        /// `error.message`.
        message: String,
        /// `error.detail`.
        detail: String,
    },
    /// No answer (connection refused, timeout).
    #[error("ServiceNow unreachable: {0}")]
    Transport(String),
    /// An answer that is not the Table API's shape.
    #[error("ServiceNow answered something unexpected: {0}")]
    Decode(String),
}

impl ServiceNowError {
    /// Worth trying again later (the outbox keeps it).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Api { status, .. } => *status == 429 || *status >= 500,
            Self::Transport(_) => true,
            Self::Decode(_) => false,
        }
    }
}

/// An incident as the lifecycle needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    /// 32-hex id.
    pub sys_id: String,
    /// `INC...`.
    pub number: String,
    /// `1` New ... `6` Resolved.
    pub state: String,
}

impl Incident {
    fn from(v: &Value) -> Result<Self, ServiceNowError> {
        let field = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        match (field("sys_id"), field("number")) {
            (Some(sys_id), Some(number)) => Ok(Self { sys_id, number, state: field("state").unwrap_or_default() }),
            _ => Err(ServiceNowError::Decode(format!("no sys_id/number in {v}"))),
        }
    }
}

/// The client.
#[derive(Clone)]
pub struct ServiceNowClient {
    http: reqwest::Client,
    table_url: String,
    user: String,
    password: SecretString,
    /// Attempts after the first for 429/5xx/transport errors.
    pub retries: u32,
    /// Longest wait honoured from `Retry-After`.
    pub max_retry_after: Duration,
}

impl std::fmt::Debug for ServiceNowClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceNowClient")
            .field("table_url", &self.table_url)
            .field("user", &self.user)
            .field("password", &"[redacted]")
            .finish()
    }
}

impl ServiceNowClient {
    /// A client for `instance` (e.g. `https://example.service-now.com`).
    pub fn new(instance: &str, user: &str, password: SecretString) -> Self {
        Self {
            http: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap_or_default(),
            table_url: format!("{}/api/now/table/incident", instance.trim_end_matches('/')),
            user: user.to_owned(),
            password,
            retries: 3,
            max_retry_after: Duration::from_secs(60),
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        url: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Value, ServiceNowError> {
        let mut attempt = 0;
        loop {
            let mut req = self
                .http
                .request(method.clone(), url)
                .basic_auth(&self.user, Some(self.password.expose_secret()))
                .header(reqwest::header::ACCEPT, "application/json")
                .query(query);
            if let Some(b) = body {
                req = req.json(b);
            }
            let (err, retry_after): (ServiceNowError, Option<Duration>) = match req.send().await {
                Err(e) => (ServiceNowError::Transport(e.without_url().to_string()), None),
                Ok(resp) => {
                    let status = resp.status();
                    let retry_after = resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let text = resp.text().await.unwrap_or_default();
                    let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    if status.is_success() {
                        return Ok(value);
                    }
                    let msg = |k: &str| value["error"][k].as_str().unwrap_or_default().to_owned();
                    let message = if msg("message").is_empty() { status.to_string() } else { msg("message") };
                    (ServiceNowError::Api { status: status.as_u16(), message, detail: msg("detail") }, retry_after)
                }
            };
            if !err.is_retryable() || attempt >= self.retries {
                return Err(err);
            }
            attempt += 1;
            let backoff = Duration::from_millis(200 * 2u64.pow(attempt.min(6)));
            let wait = retry_after.unwrap_or(backoff).min(self.max_retry_after);
            tracing::warn!(error = %err, wait_ms = wait.as_millis() as u64, attempt, "ServiceNow call failed; retrying");
            tokio::time::sleep(wait).await;
        }
    }

    /// The active incident with this `correlation_id`, if any.
    pub async fn find_active(&self, correlation_id: &str) -> Result<Option<Incident>, ServiceNowError> {
        let query = format!("correlation_id={correlation_id}^active=true^ORDERBYDESCsys_created_on");
        let v = self
            .call(
                reqwest::Method::GET,
                &self.table_url,
                &[("sysparm_query", &query), ("sysparm_fields", "sys_id,number,state"), ("sysparm_limit", "1")],
                None,
            )
            .await?;
        match v["result"].as_array().and_then(|a| a.first()) {
            Some(first) => Incident::from(first).map(Some),
            None => Ok(None),
        }
    }

    /// Creates an incident with `fields` (the `correlation_id` among them).
    pub async fn create(&self, fields: &Map<String, Value>) -> Result<Incident, ServiceNowError> {
        let v = self.call(reqwest::Method::POST, &self.table_url, &[], Some(&Value::Object(fields.clone()))).await?;
        Incident::from(&v["result"])
    }

    /// The active incident for `correlation_id`, created with `fields` if
    /// there is none: a retry after a crash never opens a second one.
    /// Returns whether it was created.
    pub async fn upsert(
        &self,
        correlation_id: &str,
        fields: &Map<String, Value>,
    ) -> Result<(Incident, bool), ServiceNowError> {
        if let Some(found) = self.find_active(correlation_id).await? {
            return Ok((found, false));
        }
        let mut fields = fields.clone();
        fields.insert("correlation_id".into(), json!(correlation_id));
        Ok((self.create(&fields).await?, true))
    }

    /// Appends a work note.
    pub async fn add_work_note(&self, sys_id: &str, note: &str) -> Result<(), ServiceNowError> {
        let url = format!("{}/{sys_id}", self.table_url);
        self.call(reqwest::Method::PATCH, &url, &[], Some(&json!({ "work_notes": note }))).await.map(|_| ())
    }

    /// Resolves (state 6) with a resolution code and notes.
    pub async fn resolve(
        &self,
        sys_id: &str,
        close_code: &str,
        close_notes: &str,
    ) -> Result<Incident, ServiceNowError> {
        let url = format!("{}/{sys_id}", self.table_url);
        let body = json!({ "state": "6", "close_code": close_code, "close_notes": close_notes });
        let v = self.call(reqwest::Method::PATCH, &url, &[], Some(&body)).await?;
        Incident::from(&v["result"])
    }
}
