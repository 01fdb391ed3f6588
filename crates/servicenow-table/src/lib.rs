//! A small ServiceNow Table API client for the incident lifecycle: upsert
//! by `correlation_id`, work notes, resolve. Basic auth or OAuth (password
//! grant, then refresh grant). Retry discipline, like the Megaport client's:
//! 401s and token-endpoint failures renew the credentials and are retried
//! with backoff; 408, 429, 5xx and transport errors are retried honouring
//! `Retry-After` (seconds or an HTTP date, capped) or a jittered backoff; a
//! create is never sent twice blindly: after an ambiguous failure (no answer,
//! a 5xx) the incident is looked up by `correlation_id` first. Every request
//! has a timeout. Errors carry ServiceNow's own message and detail. Secrets
//! never appear in Debug output or errors. The client knows nothing of
//! megaflex: the runtime's outbox delivers the engine's incident calls with it.
#![deny(missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use megaflex_http::{HttpSettings, RetryPolicy, parse_retry_after};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};

/// Why a ServiceNow client cannot be made from the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ClientConfigError {
    /// The user or password variable is not set.
    #[error(
        "ServiceNow credentials missing: set {user_env} and {password_env} (named by [servicenow] user_env and password_env)"
    )]
    Credentials {
        /// Names the user.
        user_env: String,
        /// Names the password.
        password_env: String,
    },
    /// The OAuth client's variables are not set.
    #[error("ServiceNow OAuth client missing: set {id_env} and {secret_env}")]
    OAuthClient {
        /// Names the client id.
        id_env: String,
        /// Names the client secret.
        secret_env: String,
    },
    /// One of the two OAuth settings without the other.
    #[error("[servicenow] needs both oauth_client_id_env and oauth_client_secret_env, or neither")]
    HalfOAuth,
    /// The HTTP settings (CA file, proxy) cannot be used.
    #[error(transparent)]
    Http(#[from] megaflex_http::Error),
    /// The HTTP client cannot be built.
    #[error("cannot build the ServiceNow HTTP client: {0}")]
    Build(#[source] reqwest::Error),
}

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
    #[error("ServiceNow unreachable: {message}")]
    Transport {
        /// What failed.
        message: String,
        /// The request may have reached ServiceNow (a timeout, a reset
        /// connection), as opposed to never having left (refused, DNS).
        maybe_sent: bool,
    },
    /// An answer that is not the Table API's shape.
    #[error("ServiceNow answered something unexpected: {0}")]
    Decode(String),
    /// `/oauth_token.do` refused the client or the user, or failed.
    #[error("ServiceNow OAuth: {0}")]
    Auth(String),
    /// A work note or resolve for an incident ServiceNow does not have.
    #[error("ServiceNow has no active incident with correlation_id {0}")]
    NoIncident(String),
}

impl ServiceNowError {
    /// How long ServiceNow asked to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Worth trying again later (the outbox keeps it): credentials refused
    /// (they may be renewed, the identity provider may be back), throttling,
    /// server errors and no answer. Only refusals of the request itself
    /// (400, 403 data policy, 404, ...) are final.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Api { status, .. } => matches!(*status, 401 | 408 | 429) || *status >= 500,
            Self::Auth(_) | Self::Transport { .. } => true,
            Self::Decode(_) | Self::NoIncident(_) => false,
        }
    }

    /// The credentials were refused (a 401, or the token endpoint): the
    /// operator may have to act, so it is logged at error level.
    pub fn is_auth(&self) -> bool {
        matches!(self, Self::Api { status: 401, .. } | Self::Auth(_))
    }

    /// ServiceNow may have done what was asked although the answer says
    /// otherwise (no answer, a 5xx): a create must be looked up, not re-sent.
    pub fn is_ambiguous(&self) -> bool {
        match self {
            Self::Api { status, .. } => *status >= 500,
            Self::Transport { maybe_sent, .. } => *maybe_sent,
            _ => false,
        }
    }

    fn transport(e: reqwest::Error) -> Self {
        // A request that timed out or lost its connection may have been served.
        let maybe_sent = !e.is_connect() && !e.is_builder();
        let message =
            if e.is_timeout() { format!("timed out ({})", e.without_url()) } else { e.without_url().to_string() };
        Self::Transport { message, maybe_sent }
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
    /// When to try again: the same policy type as the Megaport client's.
    /// `max_retries` counts attempts after the first for retryable errors
    /// (see [`ServiceNowError::is_retryable`]).
    pub retry: RetryPolicy,
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
            http: Self::http_client(&HttpSettings::default()).unwrap_or_default(),
            table_url: format!("{instance}/api/now/table/incident"),
            instance,
            user: user.to_owned(),
            password,
            oauth: None,
            token: Arc::default(),
            retry: RetryPolicy {
                max_retries: 3,
                initial_backoff: Duration::from_millis(200),
                max_backoff: Duration::from_secs(60),
                max_retry_after: Duration::from_secs(60),
            },
        }
    }

    fn http_client(settings: &HttpSettings) -> Result<reqwest::Client, ClientConfigError> {
        settings
            .apply(reqwest::Client::builder().user_agent(format!("megaflex/{}", env!("CARGO_PKG_VERSION"))))?
            .build()
            .map_err(ClientConfigError::Build)
    }

    /// Uses `settings` for TLS trust (a custom CA bundle), proxies and the
    /// request timeout.
    pub fn with_http(mut self, settings: &HttpSettings) -> Result<Self, ClientConfigError> {
        self.http = Self::http_client(settings)?;
        Ok(self)
    }

    /// The wait before retry `attempt` (1-based): `Retry-After` when
    /// ServiceNow sent one (capped), else the jittered exponential backoff
    /// the Megaport client uses too, so many clients do not retry in step.
    fn wait_before(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        retry_after.unwrap_or_else(|| self.retry.backoff(attempt)).min(self.retry.max_retry_after)
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
        let resp = self.http.post(url).form(form).send().await.map_err(ServiceNowError::transport)?;
        let status = resp.status();
        let retry_after = parse_retry_after(resp.headers());
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
            _ if status.is_success() => {
                Err(ServiceNowError::Decode(format!("{status} from /oauth_token.do without an access_token")))
            }
            _ if status.as_u16() == 429 || status.is_server_error() => Err(ServiceNowError::Api {
                status: status.as_u16(),
                message: format!("/oauth_token.do: {}", text("error").unwrap_or_else(|| status.to_string())),
                detail: text("error_description").unwrap_or_default(),
                retry_after,
            }),
            _ => Err(ServiceNowError::Auth(format!(
                "{status}: {} ({})",
                text("error").unwrap_or_default(),
                text("error_description").unwrap_or_default()
            ))),
        }
    }

    /// One Table API call with retries. `idempotent`: safe to send again
    /// after an ambiguous failure; a create is not, and is returned to its
    /// caller, which looks it up first.
    async fn call(
        &self,
        method: reqwest::Method,
        url: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        idempotent: bool,
    ) -> Result<Value, ServiceNowError> {
        let mut attempt = 0;
        // A 401 renews the token; the first renewal is made at once (the
        // token ended early: revoked, instance restarted), later ones after
        // a backoff like any other failure.
        let mut renew = false;
        let mut renewed_at_once = false;
        loop {
            // A failure to get a token happens before the request leaves:
            // never ambiguous, whatever the token endpoint answered.
            let (err, sent) = match self.attempt(&method, url, query, body, renew).await {
                Ok(value) => return Ok(value),
                Err(failed) => failed,
            };
            renew = err.is_auth() && self.oauth.is_some();
            if renew && !renewed_at_once && matches!(err, ServiceNowError::Api { status: 401, .. }) {
                renewed_at_once = true;
                continue;
            }
            if !err.is_retryable() || (!idempotent && sent && err.is_ambiguous()) || attempt >= self.retry.max_retries {
                return Err(err);
            }
            attempt += 1;
            let wait = self.wait_before(attempt, err.retry_after());
            if err.is_auth() {
                tracing::error!(error = %err, wait_ms = wait.as_millis() as u64, attempt,
                    "ServiceNow refused the credentials; renewing and retrying");
            } else {
                tracing::warn!(error = %err, wait_ms = wait.as_millis() as u64, attempt, "ServiceNow call failed; retrying");
            }
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(
        &self,
        method: &reqwest::Method,
        url: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        renew: bool,
    ) -> Result<Value, (ServiceNowError, bool)> {
        let mut req =
            self.http.request(method.clone(), url).header(reqwest::header::ACCEPT, "application/json").query(query);
        req = match &self.oauth {
            Some(o) => req.bearer_auth(self.bearer(o, renew).await.map_err(|e| (e, false))?.expose_secret()),
            None => req.basic_auth(&self.user, Some(self.password.expose_secret())),
        };
        if let Some(b) = body {
            req = req.json(b);
        }
        Self::send(req).await.map_err(|e| (e, true))
    }

    /// Sends one request and reads ServiceNow's answer or error envelope.
    async fn send(req: reqwest::RequestBuilder) -> Result<Value, ServiceNowError> {
        let resp = req.send().await.map_err(ServiceNowError::transport)?;
        let status = resp.status();
        let retry_after = parse_retry_after(resp.headers());
        let text = resp.text().await.map_err(ServiceNowError::transport)?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_success() {
            return match value {
                // A 2xx that is not JSON (a hibernating instance's login page)
                // did not do what was asked as far as we can tell.
                Value::Null => Err(ServiceNowError::Api {
                    status: 502,
                    message: format!("{status} without a JSON body"),
                    detail: text.chars().take(120).collect(),
                    retry_after: None,
                }),
                v => Ok(v),
            };
        }
        let msg = |k: &str| value["error"][k].as_str().unwrap_or_default().to_owned();
        let message = if msg("message").is_empty() { status.to_string() } else { msg("message") };
        Err(ServiceNowError::Api { status: status.as_u16(), message, detail: msg("detail"), retry_after })
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
                true,
            )
            .await?;
        match v["result"].as_array().and_then(|a| a.first()) {
            Some(first) => Incident::from(first).map(Some),
            None => Ok(None),
        }
    }

    /// Creates an incident with `fields` (the `correlation_id` among them).
    /// Never sent twice: after an ambiguous failure the error is returned
    /// ([`ServiceNowError::is_ambiguous`]); [`Self::upsert`] then looks the
    /// incident up before creating it again.
    pub async fn create(&self, fields: &Map<String, Value>) -> Result<Incident, ServiceNowError> {
        let body = Value::Object(fields.clone());
        let v = self.call(reqwest::Method::POST, &self.table_url, &[], Some(&body), false).await?;
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
        let mut fields = fields.clone();
        fields.insert("correlation_id".into(), json!(correlation_id));
        let mut attempt = 0;
        loop {
            if let Some(found) = self.find_active(correlation_id).await? {
                return Ok((found, false));
            }
            match self.create(&fields).await {
                Ok(created) => return Ok((created, true)),
                Err(e) if e.is_ambiguous() && attempt < self.retry.max_retries => {
                    attempt += 1;
                    let wait = self.wait_before(attempt, e.retry_after());
                    tracing::warn!(error = %e, correlation_id, wait_ms = wait.as_millis() as u64,
                        "ServiceNow create may have been made; looking it up before sending it again");
                    tokio::time::sleep(wait).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Appends a work note.
    pub async fn add_work_note(&self, sys_id: &str, note: &str) -> Result<(), ServiceNowError> {
        let url = format!("{}/{sys_id}", self.table_url);
        // Sent again after an ambiguous failure: a note twice is better than none.
        self.call(reqwest::Method::PATCH, &url, &[], Some(&json!({ "work_notes": note })), true).await.map(|_| ())
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
        let v = self.call(reqwest::Method::PATCH, &url, &[], Some(&body), true).await?;
        Incident::from(&v["result"])
    }
}
