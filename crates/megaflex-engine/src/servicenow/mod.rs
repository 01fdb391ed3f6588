//! A small ServiceNow Table API client for the incident lifecycle: upsert
//! by `correlation_id`, work notes, resolve. Basic auth or OAuth (password
//! grant, then refresh grant; a 401 renews the token once); 429 and 5xx are
//! retried honouring `Retry-After` (capped); errors carry ServiceNow's own
//! message and detail. Secrets never appear in Debug output or errors.
//! [`outbox`] delivers the engine's incident calls with it.

pub mod outbox;

use std::sync::Arc;
use std::time::{Duration, Instant};

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
        /// `Retry-After`, when ServiceNow sent one.
        retry_after: Option<Duration>,
    },
    /// No answer (connection refused, timeout).
    #[error("ServiceNow unreachable: {0}")]
    Transport(String),
    /// An answer that is not the Table API's shape.
    #[error("ServiceNow answered something unexpected: {0}")]
    Decode(String),
    /// `/oauth_token.do` refused the client or the user.
    #[error("ServiceNow OAuth: {0}")]
    Auth(String),
}

impl ServiceNowError {
    /// How long ServiceNow asked to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Worth trying again later (the outbox keeps it).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Api { status, .. } => *status == 429 || *status >= 500,
            Self::Auth(_) => false,
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

/// OAuth application credentials (`client_id`, `client_secret`).
#[derive(Clone, Debug)]
pub struct OAuthClient {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`.
    pub client_secret: SecretString,
}

struct Token {
    access: SecretString,
    refresh: Option<SecretString>,
    renew_at: Instant,
}

/// The client.
#[derive(Clone)]
pub struct ServiceNowClient {
    http: reqwest::Client,
    instance: String,
    table_url: String,
    user: String,
    password: SecretString,
    oauth: Option<OAuthClient>,
    token: Arc<tokio::sync::Mutex<Option<Token>>>,
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
            .field("oauth_client_id", &self.oauth.as_ref().map(|o| o.client_id.as_str()))
            .finish()
    }
}

impl ServiceNowClient {
    /// A client for `instance` (e.g. `https://example.service-now.com`).
    pub fn new(instance: &str, user: &str, password: SecretString) -> Self {
        let instance = instance.trim_end_matches('/').to_owned();
        Self {
            http: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap_or_default(),
            table_url: format!("{instance}/api/now/table/incident"),
            instance,
            user: user.to_owned(),
            password,
            oauth: None,
            token: Arc::default(),
            retries: 3,
            max_retry_after: Duration::from_secs(60),
        }
    }

    /// A client for `[servicenow]`, with the user, password and OAuth client
    /// read from the environment variables the section names.
    pub fn from_config(section: &crate::config::ServiceNowSection) -> Result<Self, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let (Some(user), Some(password)) = (var(&section.user_env), var(&section.password_env)) else {
            return Err(format!(
                "ServiceNow credentials missing: set {} and {} (named by [servicenow] user_env and password_env)",
                section.user_env, section.password_env
            ));
        };
        let client = Self::new(&section.instance, &user, password.into());
        match (&section.oauth_client_id_env, &section.oauth_client_secret_env) {
            (None, None) => Ok(client),
            (Some(id_env), Some(secret_env)) => match (var(id_env), var(secret_env)) {
                (Some(client_id), Some(secret)) => {
                    Ok(client.with_oauth(OAuthClient { client_id, client_secret: secret.into() }))
                }
                _ => Err(format!("ServiceNow OAuth client missing: set {id_env} and {secret_env}")),
            },
            _ => Err("[servicenow] needs both oauth_client_id_env and oauth_client_secret_env, or neither".into()),
        }
    }

    /// The user the client acts as.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Uses OAuth (password grant for `user`, then refresh grants) instead
    /// of Basic auth.
    pub fn with_oauth(mut self, oauth: OAuthClient) -> Self {
        self.oauth = Some(oauth);
        self
    }

    /// A bearer token: the cached one, a refreshed one, or a new one from
    /// the password grant.
    async fn bearer(&self, oauth: &OAuthClient, renew: bool) -> Result<SecretString, ServiceNowError> {
        let mut cached = self.token.lock().await;
        if let Some(t) = cached.as_ref()
            && !renew
            && Instant::now() < t.renew_at
        {
            return Ok(t.access.clone());
        }
        let refresh = cached.as_ref().and_then(|t| t.refresh.clone());
        let id = oauth.client_id.as_str();
        let secret = oauth.client_secret.expose_secret();
        let mut token = Err(ServiceNowError::Auth("no token".into()));
        if let Some(r) = refresh {
            let form = [
                ("grant_type", "refresh_token"),
                ("client_id", id),
                ("client_secret", secret),
                ("refresh_token", r.expose_secret()),
            ];
            token = self.token_request(&form).await;
        }
        if token.is_err() {
            let form = [
                ("grant_type", "password"),
                ("client_id", id),
                ("client_secret", secret),
                ("username", self.user.as_str()),
                ("password", self.password.expose_secret()),
            ];
            token = self.token_request(&form).await;
        }
        let token = token?;
        let access = token.access.clone();
        *cached = Some(token);
        Ok(access)
    }

    async fn token_request(&self, form: &[(&str, &str)]) -> Result<Token, ServiceNowError> {
        let url = format!("{}/oauth_token.do", self.instance);
        let resp = self
            .http
            .post(url)
            .form(form)
            .send()
            .await
            .map_err(|e| ServiceNowError::Transport(e.without_url().to_string()))?;
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        let text = |k: &str| v[k].as_str().map(str::to_owned);
        match text("access_token") {
            Some(access) if status.is_success() => {
                let ttl = Duration::from_secs(v["expires_in"].as_u64().unwrap_or(1799));
                Ok(Token {
                    access: access.into(),
                    refresh: text("refresh_token").map(SecretString::from),
                    // Renew a minute early so a call never carries a token that expires on the way.
                    renew_at: Instant::now() + ttl.saturating_sub(Duration::from_secs(60)),
                })
            }
            _ => Err(ServiceNowError::Auth(format!(
                "{status}: {} ({})",
                text("error").unwrap_or_default(),
                text("error_description").unwrap_or_default()
            ))),
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
        let mut renewed = false;
        loop {
            let mut req =
                self.http.request(method.clone(), url).header(reqwest::header::ACCEPT, "application/json").query(query);
            req = match &self.oauth {
                Some(o) => req.bearer_auth(self.bearer(o, false).await?.expose_secret()),
                None => req.basic_auth(&self.user, Some(self.password.expose_secret())),
            };
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
                    if status == reqwest::StatusCode::UNAUTHORIZED
                        && let Some(o) = &self.oauth
                        && !renewed
                    {
                        // The token ended early (revoked, instance restarted): renew once.
                        renewed = true;
                        self.bearer(o, true).await?;
                        continue;
                    }
                    let text = resp.text().await.unwrap_or_default();
                    let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    if status.is_success() {
                        return Ok(value);
                    }
                    let msg = |k: &str| value["error"][k].as_str().unwrap_or_default().to_owned();
                    let message = if msg("message").is_empty() { status.to_string() } else { msg("message") };
                    let err =
                        ServiceNowError::Api { status: status.as_u16(), message, detail: msg("detail"), retry_after };
                    (err, retry_after)
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
