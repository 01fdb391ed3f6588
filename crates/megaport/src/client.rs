//! The client: configuration, token cache, and the request pipeline every
//! endpoint goes through (budget, bearer, retries, error decoding, observer).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use megaflex_http::{RetryPolicy, parse_retry_after};
use megaport_types::{ApiErrorBody, EpochMillis, TokenErrorBody, TokenResponse};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

use crate::budget::RequestBudget;
use crate::config::{CredentialSource, Credentials, Environment, Resolved, Settings};
use crate::error::{ApiError, AuthError, DecodeError, Error, Result};
use crate::ledger::{MemoryLedger, UpdateLedger, UpdatePolicy};

/// One HTTP exchange with the API, as reported to a [`CallObserver`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CallRecord {
    /// When the request was sent.
    pub at: EpochMillis,
    /// Method.
    pub method: String,
    /// Path (no host).
    pub path: String,
    /// Query string, if any (never holds secrets: auth goes in headers).
    pub query: String,
    /// Request body (JSON sent to the API; never credentials).
    pub request_body: Option<String>,
    /// HTTP status, if a response arrived.
    pub status: Option<u16>,
    /// Megaport trace id, if any.
    pub trace_id: Option<String>,
    /// Round-trip time.
    #[serde(with = "duration_ms")]
    pub duration: Duration,
    /// Error text for failed calls (the API's message or the transport error).
    pub error: Option<String>,
    /// 1 for the first try, 2.. for retries.
    pub attempt: u32,
}

/// Sees every call the client makes (the engine records them; the CLI keeps
/// a journal for support bundles).
pub trait CallObserver: Send + Sync + fmt::Debug {
    /// Called after each attempt.
    fn on_call(&self, record: &CallRecord);
}

/// Where the client gets the time for token expiry and the update ledger.
/// Tests and demos point it at a simulator's clock so that simulated minutes
/// and months are what the client counts.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Now.
    fn now(&self) -> EpochMillis;
}

/// The system wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> EpochMillis {
        EpochMillis::now()
    }
}

/// How set_rate_limit polls for confirmation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConfirmPolicy {
    /// First wait between reads.
    pub initial_poll: Duration,
    /// Longest wait between reads.
    pub max_poll: Duration,
}

impl Default for ConfirmPolicy {
    fn default() -> Self {
        Self { initial_poll: Duration::from_millis(500), max_poll: Duration::from_secs(5) }
    }
}

struct CachedToken {
    /// `Bearer <token>`, built once per token rather than per call (and
    /// marked sensitive, so it never shows in `Debug`).
    authorization: HeaderValue,
    expires_at: EpochMillis,
    lifetime: Duration,
    generation: u64,
}

impl CachedToken {
    /// Renew ahead of expiry: a tenth of the lifetime, between 5 s and 5 min.
    fn is_fresh(&self, now: EpochMillis) -> bool {
        let margin = (self.lifetime / 10).clamp(Duration::from_secs(5), Duration::from_secs(300));
        self.expires_at.as_millis() - now.as_millis() > margin.as_millis() as i64
    }
}

#[derive(Default)]
struct TokenState {
    current: Option<CachedToken>,
    generation: u64,
    issued_total: u64,
    expires_at_wall: Option<EpochMillis>,
}

pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) environment: Environment,
    /// The API URL parsed once: parsing it (host, IDNA) on every call was
    /// a measurable part of a call. `None` when it does not parse; each call
    /// then reports the error as before.
    api_base: Option<reqwest::Url>,
    pub(crate) credentials: Credentials,
    pub(crate) source: CredentialSource,
    token: tokio::sync::Mutex<TokenState>,
    pub(crate) budget: RequestBudget,
    pub(crate) retry: RetryPolicy,
    pub(crate) ledger: Arc<dyn UpdateLedger>,
    pub(crate) update_policy: UpdatePolicy,
    pub(crate) confirm: ConfirmPolicy,
    pub(crate) clock: Arc<dyn Clock>,
    observer: Option<Arc<dyn CallObserver>>,
    /// Per service, the earliest time Megaport said it accepts an update
    /// (from a 429 naming the update rule): kept beside the ledger because a
    /// monthly refusal cannot be written as past updates.
    pub(crate) not_before: std::sync::Mutex<std::collections::HashMap<megaport_types::ProductUid, EpochMillis>>,
}

/// A Megaport API client. Cheap to clone; clones share the token, the
/// request budget and the update ledger.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
    /// Cancelled when the owner stops: waits (backoff, confirmation polls)
    /// end early with [`Error::Stopped`]. Per handle, so a clone used by
    /// another task (the ServiceNow outbox's pricing) is not stopped with it.
    pub(crate) stop: Option<tokio_util::sync::CancellationToken>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("environment", &self.inner.environment)
            .field("credentials", &self.inner.credentials)
            .field("budget", &self.inner.budget.state())
            .finish_non_exhaustive()
    }
}

/// Builds a [`Client`].
pub struct ClientBuilder {
    environment: Environment,
    credentials: Option<Credentials>,
    source: CredentialSource,
    budget: Option<RequestBudget>,
    retry: RetryPolicy,
    ledger: Option<Arc<dyn UpdateLedger>>,
    update_policy: UpdatePolicy,
    confirm: ConfirmPolicy,
    clock: Arc<dyn Clock>,
    observer: Option<Arc<dyn CallObserver>>,
    timeout: Duration,
    ca_file: Option<std::path::PathBuf>,
    proxy: Option<String>,
    user_agent: String,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder").field("environment", &self.environment).finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// Which Megaport to talk to.
    pub fn environment(mut self, environment: Environment) -> Self {
        self.environment = environment;
        self
    }

    /// Explicit API and token URLs (a simulator, a proxy).
    pub fn urls(self, api_url: impl Into<String>, token_url: impl Into<String>) -> Self {
        self.environment(Environment::Custom { api_url: api_url.into(), token_url: token_url.into() })
    }

    /// The API key and secret.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self.source = CredentialSource::Argument;
        self
    }

    /// Requests per window (default 500 per 5 minutes); share a budget
    /// between clients by passing a clone.
    pub fn budget(mut self, budget: RequestBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Retry settings.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Where past updates are kept (default: in memory).
    pub fn ledger(mut self, ledger: Arc<dyn UpdateLedger>) -> Self {
        self.ledger = Some(ledger);
        self
    }

    /// The service-update rules (default: Megaport's 5 minutes and 100 a month).
    pub fn update_policy(mut self, policy: UpdatePolicy) -> Self {
        self.update_policy = policy;
        self
    }

    /// How confirmation polls.
    pub fn confirm_policy(mut self, policy: ConfirmPolicy) -> Self {
        self.confirm = policy;
        self
    }

    /// The clock for token expiry and the update ledger (default: system).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Sees every call.
    pub fn observer(mut self, observer: Arc<dyn CallObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Per-request timeout (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// A PEM bundle of CA certificates to trust besides the system's (a
    /// private PKI, a TLS-inspecting proxy). `None` keeps `MEGAFLEX_CA_FILE`.
    pub fn ca_file(mut self, ca_file: Option<std::path::PathBuf>) -> Self {
        if ca_file.is_some() {
            self.ca_file = ca_file;
        }
        self
    }

    /// A proxy for every request instead of the environment's
    /// (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`, which apply otherwise).
    pub fn proxy(mut self, url: Option<String>) -> Self {
        self.proxy = url;
        self
    }

    /// Prefix for the User-Agent header.
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = ua.into();
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<Client> {
        let credentials = self.credentials.ok_or_else(|| {
            Error::Config("no Megaport API credentials: set MEGAPORT_ACCESS_KEY and MEGAPORT_SECRET_KEY".into())
        })?;
        let settings =
            crate::HttpSettings { ca_file: self.ca_file, proxy: self.proxy, ..crate::HttpSettings::default() }
                .timeout(self.timeout);
        let http = settings
            .apply(reqwest::Client::builder().user_agent(self.user_agent).pool_idle_timeout(Duration::from_secs(60)))?
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                api_base: reqwest::Url::parse(self.environment.api_url()).ok().filter(|u| !u.cannot_be_a_base()),
                environment: self.environment,
                credentials,
                source: self.source,
                token: tokio::sync::Mutex::new(TokenState::default()),
                budget: self.budget.unwrap_or_else(RequestBudget::megaport_default),
                retry: self.retry,
                ledger: self.ledger.unwrap_or_else(|| Arc::new(MemoryLedger::default())),
                update_policy: self.update_policy,
                confirm: self.confirm,
                clock: self.clock,
                observer: self.observer,
                not_before: std::sync::Mutex::default(),
            }),
            stop: None,
        })
    }
}

/// `Accept` and `Content-Type` of every API call (a constant: no parsing or
/// allocation per call).
fn application_json() -> HeaderValue {
    HeaderValue::from_static("application/json")
}

/// A request the pipeline sends.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) body: Option<Vec<u8>>,
    /// Safe to repeat after an ambiguous failure (reads).
    pub(crate) idempotent: bool,
}

impl Call {
    pub(crate) fn get(path: impl Into<String>) -> Self {
        Self { method: Method::GET, path: path.into(), query: Vec::new(), body: None, idempotent: true }
    }
}

/// A successful answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

/// What the token cache holds, for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// When the current token expires (wall clock).
    pub expires_at: Option<EpochMillis>,
    /// Tokens fetched by this client so far.
    pub fetched: u64,
}

impl Client {
    /// A builder with production defaults and no credentials.
    pub fn builder() -> ClientBuilder {
        ClientBuilder {
            environment: Environment::Production,
            credentials: None,
            source: CredentialSource::Argument,
            budget: None,
            retry: RetryPolicy::default(),
            ledger: None,
            update_policy: UpdatePolicy::default(),
            confirm: ConfirmPolicy::default(),
            clock: Arc::new(SystemClock),
            observer: None,
            timeout: Duration::from_secs(30),
            ca_file: crate::ca_file_from_env(),
            proxy: None,
            user_agent: format!("megaflex/{}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// A builder from resolved settings (arguments, environment, `.env`).
    pub fn builder_from(resolved: Resolved) -> ClientBuilder {
        let mut b = Self::builder().environment(resolved.environment).credentials(resolved.credentials);
        b.source = resolved.source;
        b
    }

    /// A client from the environment: `MEGAPORT_*` variables or `.env`.
    pub fn from_env() -> Result<Self> {
        Self::builder_from(Settings::default().resolve()?).build()
    }

    /// The environment in use.
    pub fn environment(&self) -> &Environment {
        &self.inner.environment
    }

    /// Where the credentials came from.
    pub fn credential_source(&self) -> &CredentialSource {
        &self.inner.source
    }

    /// The credentials (the secret stays hidden in `Debug`).
    pub fn credentials(&self) -> &Credentials {
        &self.inner.credentials
    }

    /// The shared request budget.
    pub fn budget(&self) -> &RequestBudget {
        &self.inner.budget
    }

    /// The update ledger.
    pub fn ledger(&self) -> &Arc<dyn UpdateLedger> {
        &self.inner.ledger
    }

    /// The service-update rules.
    pub fn update_policy(&self) -> UpdatePolicy {
        self.inner.update_policy
    }

    /// Now, by the client's clock.
    pub fn now(&self) -> EpochMillis {
        self.inner.clock.now()
    }

    /// A handle of this client whose waits end when `token` is cancelled: a
    /// daemon that is asked to stop must not sit out a backoff, the update
    /// rule or a long confirmation (systemd kills after 90 s). Requests
    /// already sent are still answered; what was not sent is
    /// [`Error::Stopped`].
    pub fn stop_on(&self, token: tokio_util::sync::CancellationToken) -> Client {
        Client { inner: self.inner.clone(), stop: Some(token) }
    }

    /// Whether this handle was asked to stop.
    pub fn stopping(&self) -> bool {
        self.stop.as_ref().is_some_and(tokio_util::sync::CancellationToken::is_cancelled)
    }

    /// Sleeps `d`, or returns [`Error::Stopped`] as soon as a stop is asked.
    pub(crate) async fn pause(&self, d: Duration, doing: &'static str, request_sent: bool) -> Result<()> {
        match &self.stop {
            None => {
                tokio::time::sleep(d).await;
                Ok(())
            }
            Some(token) => tokio::select! {
                () = tokio::time::sleep(d) => Ok(()),
                () = token.cancelled() => Err(Error::Stopped { doing, request_sent }),
            },
        }
    }

    /// The token cache, for display.
    pub async fn token_info(&self) -> TokenInfo {
        let state = self.inner.token.lock().await;
        TokenInfo { expires_at: state.expires_at_wall, fetched: state.issued_total }
    }

    /// Fetches a token now (or returns the cached one): checks the credentials.
    pub async fn authenticate(&self) -> Result<TokenInfo> {
        self.bearer().await?;
        Ok(self.token_info().await)
    }

    /// The `Authorization` header value of a fresh token, and the token's generation.
    async fn bearer(&self) -> Result<(HeaderValue, u64)> {
        // Holding the async lock while fetching makes concurrent callers share one refresh.
        let mut state = self.inner.token.lock().await;
        let now = self.inner.clock.now();
        if let Some(t) = state.current.as_ref().filter(|t| t.is_fresh(now)) {
            return Ok((t.authorization.clone(), t.generation));
        }
        let fetched = self.fetch_token().await?;
        let token = SecretString::from(fetched.access_token);
        let mut authorization = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret())).map_err(|_| {
            Error::Auth(Box::new(AuthError {
                status: 200,
                message: "the token endpoint answered with a token that cannot be sent in a header".into(),
                token_url: self.inner.environment.token_url(),
                hint: "check the token URL points at Megaport's OAuth endpoint".into(),
            }))
        })?;
        authorization.set_sensitive(true);
        state.generation += 1;
        state.issued_total += 1;
        let lifetime = Duration::from_secs(fetched.expires_in.max(1));
        let expires_at = now.plus_millis(lifetime.as_millis() as i64);
        state.expires_at_wall = Some(expires_at);
        let generation = state.generation;
        state.current = Some(CachedToken { authorization: authorization.clone(), expires_at, lifetime, generation });
        Ok((authorization, generation))
    }

    async fn invalidate_token(&self, generation: u64) {
        let mut state = self.inner.token.lock().await;
        if state.current.as_ref().is_some_and(|t| t.generation == generation) {
            state.current = None;
        }
    }

    async fn fetch_token(&self) -> Result<TokenResponse> {
        let token_url = self.inner.environment.token_url();
        let (key, secret) = self.inner.credentials.basic_auth();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let sent = self
                .inner
                .http
                .post(&token_url)
                .basic_auth(key, Some(secret))
                .header(reqwest::header::ACCEPT, "application/json")
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await;
            let resp = match sent {
                Ok(r) => r,
                Err(e) if attempt <= self.inner.retry.max_retries => {
                    tracing::warn!(error = %e, attempt, "token endpoint unreachable; retrying");
                    tokio::time::sleep(self.inner.retry.backoff(attempt)).await;
                    continue;
                }
                Err(e) => {
                    return Err(Error::Auth(Box::new(AuthError {
                        status: 0,
                        message: format!("cannot reach the token endpoint: {e}"),
                        token_url,
                        hint: "check the network and the token URL".into(),
                    })));
                }
            };
            let status = resp.status();
            let retry_after = parse_retry_after(resp.headers());
            let body = resp.bytes().await.unwrap_or_default();
            if status.is_success() {
                return serde_json::from_slice::<TokenResponse>(&body).map_err(|e| {
                    Error::Auth(Box::new(AuthError {
                        status: status.as_u16(),
                        message: format!("the token endpoint answered without a token ({e})"),
                        token_url: token_url.clone(),
                        hint: "check the token URL points at Megaport's OAuth endpoint".into(),
                    }))
                });
            }
            if matches!(status.as_u16(), 429 | 502 | 503 | 504) && attempt <= self.inner.retry.max_retries {
                let wait = retry_after.unwrap_or_else(|| self.inner.retry.backoff(attempt));
                if wait <= self.inner.retry.max_retry_after {
                    tokio::time::sleep(wait).await;
                    continue;
                }
            }
            let message = serde_json::from_slice::<TokenErrorBody>(&body)
                .map(|b| match b.error_description {
                    Some(d) => format!("{} ({d})", b.error),
                    None => b.error,
                })
                .unwrap_or_else(|_| snippet(&body));
            let hint = format!(
                "check MEGAPORT_ACCESS_KEY and MEGAPORT_SECRET_KEY; API keys belong to one environment \
                 (a staging key does not work in production) and this client uses {} ({})",
                self.inner.environment,
                self.inner.environment.api_url()
            );
            return Err(Error::Auth(Box::new(AuthError { status: status.as_u16(), message, token_url, hint })));
        }
    }

    fn observe(&self, record: Option<CallRecord>) {
        if let (Some(o), Some(r)) = (&self.inner.observer, record) {
            o.on_call(&r);
        }
    }

    /// The request pipeline: budget, bearer, send, retries, 401 recovery.
    pub(crate) async fn send(&self, call: &Call) -> Result<Answer> {
        let url = self.url_for(call)?;
        let mut attempt: u32 = 0;
        let mut reauthenticated = false;
        loop {
            attempt += 1;
            if attempt > 1 && self.stopping() {
                return Err(Error::Stopped { doing: "retrying a request", request_sent: false });
            }
            // An exhausted budget can mean minutes of waiting: a stop ends it.
            // The slot is held until this attempt's answer is in (end of the iteration).
            // A free slot is taken without arming the stop (registering
            // and removing a waiter on every call).
            let _slot = match (self.inner.budget.try_acquire(), &self.stop) {
                (Ok(slot), _) => slot,
                (Err(_), None) => self.inner.budget.acquire().await,
                (Err(_), Some(token)) => tokio::select! {
                    slot = self.inner.budget.acquire() => slot,
                    () = token.cancelled() => {
                        return Err(Error::Stopped { doing: "waiting for the request budget", request_sent: false });
                    }
                },
            };
            let (authorization, generation) = self.bearer().await?;
            let mut req = self
                .inner
                .http
                .request(call.method.clone(), url.clone())
                .header(reqwest::header::AUTHORIZATION, authorization)
                .header(reqwest::header::ACCEPT, application_json());
            if let Some(body) = &call.body {
                req = req.header(reqwest::header::CONTENT_TYPE, application_json()).body(body.clone());
            }
            let at = self.inner.observer.as_ref().map(|_| self.inner.clock.now());
            let started = Instant::now();
            let sent = req.send().await;
            // Built only when someone listens: this is the per-call hot path.
            let mut record = at.map(|at| CallRecord {
                at,
                method: call.method.to_string(),
                path: call.path.clone(),
                query: url.query().unwrap_or_default().to_owned(),
                request_body: call.body.as_ref().map(|b| String::from_utf8_lossy(b).into_owned()),
                status: None,
                trace_id: None,
                duration: Duration::ZERO,
                error: None,
                attempt,
            });
            let mut resp = match sent {
                Ok(r) => r,
                Err(e) => {
                    if let Some(r) = record.as_mut() {
                        r.duration = started.elapsed();
                        r.error = Some(e.to_string());
                    }
                    self.observe(record);
                    let maybe_sent = !e.is_connect();
                    let retry_ok = call.idempotent || !maybe_sent;
                    if retry_ok && attempt <= self.inner.retry.max_retries {
                        tracing::warn!(method = %call.method, path = %call.path, attempt, error = %e, "request failed; retrying");
                        self.pause(self.inner.retry.backoff(attempt), "backing off", false).await?;
                        continue;
                    }
                    return Err(Error::Transport {
                        method: call.method.to_string(),
                        path: call.path.clone(),
                        maybe_sent,
                        source: e,
                    });
                }
            };
            let status = resp.status();
            // Taken, not copied: `bytes()` consumes the response.
            let headers = std::mem::take(resp.headers_mut());
            let body = match resp.bytes().await {
                Ok(b) => Vec::from(b),
                Err(e) => {
                    if let Some(r) = record.as_mut() {
                        r.duration = started.elapsed();
                        r.status = Some(status.as_u16());
                        r.error = Some(e.to_string());
                    }
                    self.observe(record);
                    if call.idempotent && attempt <= self.inner.retry.max_retries {
                        self.pause(self.inner.retry.backoff(attempt), "backing off", false).await?;
                        continue;
                    }
                    return Err(Error::Transport {
                        method: call.method.to_string(),
                        path: call.path.clone(),
                        maybe_sent: true,
                        source: e,
                    });
                }
            };
            let duration = started.elapsed();
            if let Some(r) = record.as_mut() {
                r.duration = duration;
                r.status = Some(status.as_u16());
                r.trace_id = header_trace_id(&headers);
            }
            tracing::debug!(method = %call.method, path = %call.path, status = status.as_u16(),
                duration_ms = duration.as_millis() as u64, "megaport call");
            if status.is_success() {
                self.observe(record);
                return Ok(Answer { status, headers, body });
            }
            let err = api_error(&call.method, &call.path, status, &headers, &body);
            if let Some(r) = record.as_mut() {
                r.trace_id = err.trace_id.clone();
                r.error = Some(err.message.clone());
            }
            self.observe(record);
            tracing::debug!(status = status.as_u16(), trace_id = ?err.trace_id, message = %err.message, "megaport error");

            if status == StatusCode::UNAUTHORIZED && !reauthenticated {
                // The token may have been revoked or expired early: one fresh token, one retry.
                reauthenticated = true;
                attempt -= 1;
                self.invalidate_token(generation).await;
                tracing::info!(path = %call.path, "401 from the API; fetching a new token and retrying once");
                continue;
            }
            // A write answered 5xx may have been carried out: the caller re-reads instead.
            // A 429 naming the update rule counted as a breach: retrying it
            // before the time the rule allows only adds breaches.
            let retryable = match status.as_u16() {
                429 => !err.names_update_rule(),
                502..=504 => call.idempotent,
                _ => false,
            };
            if retryable && attempt <= self.inner.retry.max_retries {
                let wait = err.retry_after.unwrap_or_else(|| self.inner.retry.backoff(attempt));
                if wait <= self.inner.retry.max_retry_after {
                    tracing::warn!(method = %call.method, path = %call.path, status = status.as_u16(),
                        wait_ms = wait.as_millis() as u64, attempt, "retryable answer; waiting");
                    self.pause(wait, "waiting to retry", false).await?;
                    continue;
                }
            }
            return Err(Error::Api(Box::new(err)));
        }
    }

    /// The API URL plus `call`'s path and query, as
    /// `Url::parse_with_params(api_url + path, query)` builds it.
    fn url_for(&self, call: &Call) -> Result<reqwest::Url> {
        let Some(mut url) = self.inner.api_base.clone().filter(|_| plain_path(&call.path)) else {
            let base = format!("{}{}", self.inner.environment.api_url(), call.path);
            return reqwest::Url::parse_with_params(&base, &call.query)
                .map_err(|e| Error::Config(format!("invalid API URL {base:?}: {e}")));
        };
        let prefix = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{prefix}{}", call.path));
        url.query_pairs_mut().extend_pairs(&call.query);
        Ok(url)
    }

    /// Sends and decodes a JSON answer, naming the JSON path on failure.
    pub(crate) async fn send_json<T: DeserializeOwned>(&self, call: &Call) -> Result<T> {
        let answer = self.send(call).await?;
        decode(&call.method, &call.path, answer.status, &answer.body)
    }
}

/// A path `Url::set_path` takes as parsing would: absolute, no query,
/// fragment or backslash.
fn plain_path(path: &str) -> bool {
    path.starts_with('/') && !path.contains(['?', '#', '\\'])
}

fn header_trace_id(headers: &HeaderMap) -> Option<String> {
    headers.get("trace-id").and_then(|v| v.to_str().ok()).map(str::to_owned)
}

pub(crate) fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();
    if trimmed.chars().count() > 200 {
        format!("{}…", trimmed.chars().take(200).collect::<String>())
    } else {
        trimmed.to_owned()
    }
}

fn api_error(method: &Method, path: &str, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> ApiError {
    let parsed =
        serde_json::from_slice::<ApiErrorBody>(body).ok().filter(|b| !b.message.is_empty() || b.error.is_some());
    let (message, data, body_trace) = match parsed {
        Some(b) => {
            let data = match b.data {
                Some(serde_json::Value::String(s)) => Some(s),
                Some(serde_json::Value::Null) | None => b.error.clone(),
                Some(other) => Some(other.to_string()),
            };
            let message = if b.message.is_empty() { b.error.unwrap_or_default() } else { b.message };
            (message, data, b.trace_id)
        }
        None if body.is_empty() => (status.canonical_reason().unwrap_or("error").to_owned(), None, None),
        None => (snippet(body), None, None),
    };
    ApiError {
        status: status.as_u16(),
        method: method.to_string(),
        path: path.to_owned(),
        message,
        data,
        trace_id: body_trace.or_else(|| header_trace_id(headers)),
        retry_after: parse_retry_after(headers),
    }
}

pub(crate) fn decode<T: DeserializeOwned>(method: &Method, path: &str, status: StatusCode, body: &[u8]) -> Result<T> {
    // Tracking the JSON path costs on every field of every answer; only a
    // failure needs it, so the body is decoded a second time, with the path,
    // only then (same error, same path).
    if let Ok(value) = serde_json::from_slice(body) {
        return Ok(value);
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        Error::Decode(Box::new(DecodeError {
            method: method.to_string(),
            path: path.to_owned(),
            status: status.as_u16(),
            json_path: e.path().to_string(),
            message: e.inner().to_string(),
            snippet: snippet(body),
        }))
    })
}

mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_built_from_the_parsed_base_match_parsing_each_time() {
        for api in ["http://127.0.0.1:8480", "https://api.example.com/prefix/v", "http://[::1]:9/"] {
            let client = Client::builder().urls(api, "http://t/oauth2/token").credentials(Credentials::new("k", "s"));
            let client = client.build().unwrap();
            for (path, query) in [
                ("/v2/product/61a2-b3", vec![]),
                ("/v2/products", vec![("incResources".to_owned(), "true".to_owned())]),
                (
                    "/v2/product/x/telemetry",
                    vec![("from".to_owned(), "1 2&3".to_owned()), ("to".to_owned(), "é".to_owned())],
                ),
                ("/v2/odd?already=1", vec![]),
            ] {
                let call =
                    Call { method: Method::GET, path: path.into(), query: query.clone(), body: None, idempotent: true };
                let expected = reqwest::Url::parse_with_params(&format!("{}{path}", api.trim_end_matches('/')), &query);
                assert_eq!(client.url_for(&call).unwrap(), expected.unwrap(), "{api} {path}");
            }
        }
    }
}
