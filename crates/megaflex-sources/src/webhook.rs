//! The webhook source: Alertmanager's webhook payload (version 4, old and
//! new field sets) and a small generic JSON form for other tools, with
//! bearer-token auth, an optional HMAC-SHA256 signature over a timestamp and
//! the body (`X-Megaflex-Timestamp: <unix seconds>`, `X-Megaflex-Signature:
//! sha256=hex(HMAC(key, "<timestamp>." + body))`, the timestamp within
//! `signature_max_age` of now, so a captured request cannot be replayed
//! later) and a body size limit. Bad input gets a 4xx with a message, never a 500.
//!
//! Generic form (`POST /events`), one object or an array:
//!
//! ```json
//! {"device": "core-b1", "kind": "link", "entity": "TenGigabitEthernet0/1/0",
//!  "state": "down", "administrative": false, "attributes": {"reason": "LOS"}}
//! ```

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hmac::{Hmac, KeyInit, Mac};
use megaport_types::EpochMillis;
use serde::Deserialize;
use sha2::Sha256;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::metrics::{Counter, Gauge, SourceMetrics};
use crate::net::{ConnLimits, LimitedListener, Peer, secret_eq, track_requests};
use megaflex_domain::event::{Device, Event, EventKind, EventState, SourceKind};

/// Settings of the webhook listener.
#[derive(Clone)]
pub struct WebhookConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Required `Authorization: Bearer` token, if any.
    pub token: Option<String>,
    /// Key for `X-Megaflex-Signature: sha256=<hex>` (or `X-Hub-Signature-256`), if any.
    pub hmac_key: Option<Vec<u8>>,
    /// How far a signed request's timestamp may be from now, either way.
    pub signature_max_age: Duration,
    /// Largest body accepted, in bytes.
    pub max_body_bytes: usize,
    /// How long an (alert, status, startsAt) is remembered to drop HA duplicates.
    pub dedupe_window: Duration,
    /// Most alerts remembered for that; the oldest go first.
    pub dedupe_max_entries: usize,
    /// Connection limit and idle timeout.
    pub limits: ConnLimits,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("listen", &self.listen)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("hmac_key", &self.hmac_key.as_ref().map(|_| "[redacted]"))
            .field("signature_max_age", &self.signature_max_age)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

impl WebhookConfig {
    /// Defaults: no auth, 1 MiB bodies, 10-minute dedupe window.
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            token: None,
            hmac_key: None,
            signature_max_age: Duration::from_secs(300),
            max_body_bytes: 1 << 20,
            dedupe_window: Duration::from_secs(600),
            dedupe_max_entries: 10_000,
            limits: ConnLimits::default(),
        }
    }
}

/// Alertmanager webhook payload (`version: "4"`). Every field defaults:
/// older releases lack `fingerprint` and `truncatedAlerts`, newer ones add
/// `notification_reason`, `routeLabels`, and Grafana adds its own.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AlertmanagerPayload {
    /// Always "4".
    pub version: String,
    /// Group key.
    pub group_key: String,
    /// Receiver name.
    pub receiver: String,
    /// firing or resolved (the group).
    pub status: String,
    /// Labels common to the group.
    pub common_labels: BTreeMap<String, String>,
    /// The alerts.
    pub alerts: Vec<AlertmanagerAlert>,
}

/// One alert in the payload.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AlertmanagerAlert {
    /// firing or resolved.
    pub status: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// RFC 3339.
    pub starts_at: String,
    /// RFC 3339 (Go zero time while firing).
    pub ends_at: String,
    /// Link to the expression.
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    /// 16 hex digits, stable per label set (absent before Alertmanager 0.19).
    pub fingerprint: String,
}

/// Alertmanager's own fingerprint when the payload has none: FNV-1a 64 over
/// the sorted label names and values, separated by 0xff.
pub fn label_fingerprint(labels: &BTreeMap<String, String>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for (k, v) in labels {
        feed(k.as_bytes());
        feed(&[0xff]);
        feed(v.as_bytes());
        feed(&[0xff]);
    }
    format!("{h:016x}")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GenericEvent {
    device: String,
    kind: EventKind,
    entity: String,
    state: EventState,
    #[serde(default)]
    administrative: bool,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum GenericBody {
    Many(Vec<GenericEvent>),
    One(GenericEvent),
}

type DedupeKey = (String, String, String);

/// Alerts accepted within the window, oldest first, at most `max_entries`:
/// an Alertmanager pair posts every notification twice, and a flood of
/// distinct fingerprints must not grow memory without bound.
#[derive(Debug)]
struct Dedupe<K = DedupeKey> {
    seen: HashMap<K, i64>,
    order: VecDeque<(K, i64)>,
    max_entries: usize,
}

impl<K: std::hash::Hash + Eq + Clone> Dedupe<K> {
    fn new(max_entries: usize) -> Self {
        Self { seen: HashMap::new(), order: VecDeque::new(), max_entries: max_entries.max(1) }
    }

    fn forget_before(&mut self, cutoff: i64) {
        while let Some((k, t)) = self.order.front() {
            if *t > cutoff {
                break;
            }
            if self.seen.get(k) == Some(t) {
                self.seen.remove(k);
            }
            self.order.pop_front();
        }
    }

    /// `true` if this alert was accepted within the window. Asking does not
    /// remember it: only [`Dedupe::accepted`] does, so an alert refused
    /// with 503 is taken on Alertmanager's retry.
    fn is_duplicate(&mut self, key: &K, now: i64, window_ms: i64) -> bool {
        self.forget_before(now - window_ms);
        self.seen.contains_key(key)
    }

    /// Remembers an accepted alert; returns how many older ones were
    /// forgotten early to stay within `max_entries`.
    fn accepted(&mut self, key: K, now: i64) -> u64 {
        if self.seen.insert(key.clone(), now).is_none() {
            self.order.push_back((key, now));
        }
        let mut evicted = 0;
        while self.seen.len() > self.max_entries {
            let Some((k, t)) = self.order.pop_front() else { break };
            if self.seen.get(&k) == Some(&t) {
                self.seen.remove(&k);
                evicted += 1;
            }
        }
        evicted
    }

    fn len(&self) -> usize {
        self.seen.len()
    }
}

#[derive(Clone)]
struct Shared {
    config: Arc<WebhookConfig>,
    events: mpsc::Sender<Event>,
    metrics: Arc<SourceMetrics>,
    dedupe: Arc<Mutex<Dedupe>>,
    /// Signatures of requests answered 200 within `signature_max_age`: the
    /// timestamp stops a late replay, this one within the window.
    signatures: Arc<Mutex<Dedupe<Vec<u8>>>>,
}

fn reply(status: StatusCode, body: serde_json::Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    reply(status, serde_json::json!({ "error": message.into() }))
}

/// Why a request is refused before its body is read: the sender's message
/// says which header to fix (never the expected token or signature).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum Refused {
    #[error("missing or wrong bearer token")]
    Token,
    #[error("missing X-Megaflex-Signature: sha256=<hex> header")]
    NoSignature,
    #[error("signature is not hex")]
    SignatureNotHex,
    #[error("missing X-Megaflex-Timestamp header (unix seconds, signed with the body)")]
    NoTimestamp,
    #[error("X-Megaflex-Timestamp is not unix seconds")]
    TimestampNotSeconds,
    #[error("X-Megaflex-Timestamp is more than {max_age_secs} s from now: replayed or clock skew")]
    Stale { max_age_secs: i64 },
    #[error("bad HMAC key")]
    HmacKey,
    #[error("body signature does not match")]
    WrongSignature,
    #[error("this signed request was already accepted: replayed")]
    Replayed,
    /// The listener gave no peer address: our fault, not the sender's.
    #[error("no peer address")]
    NoPeer,
}

impl IntoResponse for Refused {
    /// The one place a refusal becomes an answer.
    fn into_response(self) -> Response {
        let status = match self {
            Self::NoPeer => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::UNAUTHORIZED,
        };
        error(status, self.to_string())
    }
}

/// Checks the bearer token and the body signature.
/// `Ok(Some(signature))` for a signed request.
fn authorise(config: &WebhookConfig, headers: &HeaderMap, body: &[u8]) -> Result<Option<Vec<u8>>, Refused> {
    if let Some(token) = &config.token {
        let given =
            headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        let ok = given.is_some_and(|g| secret_eq(g.as_bytes(), token.as_bytes()));
        if !ok {
            return Err(Refused::Token);
        }
    }
    if let Some(key) = &config.hmac_key {
        let sig = headers
            .get("x-megaflex-signature")
            .or_else(|| headers.get("x-hub-signature-256"))
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("sha256="))
            .ok_or(Refused::NoSignature)?;
        let sig = hex::decode(sig.trim()).map_err(|_| Refused::SignatureNotHex)?;
        let stamp =
            headers.get("x-megaflex-timestamp").and_then(|v| v.to_str().ok()).ok_or(Refused::NoTimestamp)?.trim();
        let secs: i64 = stamp.parse().map_err(|_| Refused::TimestampNotSeconds)?;
        let now_secs = EpochMillis::now().as_millis() / 1000;
        let max_age_secs = i64::try_from(config.signature_max_age.as_secs()).unwrap_or(i64::MAX);
        if now_secs.abs_diff(secs) > max_age_secs.unsigned_abs() {
            return Err(Refused::Stale { max_age_secs });
        }
        // verify_slice compares in constant time.
        let mut mac = Hmac::<Sha256>::new_from_slice(key).map_err(|_| Refused::HmacKey)?;
        mac.update(stamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.verify_slice(&sig).map_err(|_| Refused::WrongSignature)?;
        return Ok(Some(sig));
    }
    Ok(None)
}

impl Shared {
    fn forward(&self, event: Event) -> bool {
        self.metrics.inc(Counter::Classified);
        if self.events.try_send(event).is_err() {
            self.metrics.inc(Counter::QueueFull);
            return false;
        }
        true
    }

    /// Counts the request and checks its credentials: `Err(why)` refuses
    /// it (401), `Ok(Some(signature))` is a signed request to remember once answered 200.
    fn admit(&self, headers: &HeaderMap, body: &[u8]) -> Result<Option<Vec<u8>>, Refused> {
        self.metrics.inc(Counter::Received);
        let refuse = |e: Refused| {
            self.metrics.inc(Counter::Auth);
            e
        };
        let signature = authorise(&self.config, headers, body).map_err(refuse)?;
        if let Some(sig) = &signature {
            let window_ms = i64::try_from(self.config.signature_max_age.as_millis()).unwrap_or(i64::MAX);
            let mut seen = self.signatures.lock().unwrap_or_else(|e| e.into_inner());
            if seen.is_duplicate(sig, EpochMillis::now().as_millis(), window_ms.saturating_mul(2)) {
                return Err(refuse(Refused::Replayed));
            }
        }
        Ok(signature)
    }

    /// A signed request was answered 200: the same one again is a replay.
    fn answered(&self, signature: Option<Vec<u8>>) {
        if let Some(sig) = signature {
            self.signatures.lock().unwrap_or_else(|e| e.into_inner()).accepted(sig, EpochMillis::now().as_millis());
        }
    }

    fn queue_full() -> Response {
        // Alertmanager retries 5xx: a full queue is a temporary condition.
        let mut r = error(StatusCode::SERVICE_UNAVAILABLE, "event queue full; retry later");
        r.headers_mut().insert(header::RETRY_AFTER, axum::http::HeaderValue::from_static("5"));
        r
    }
}

/// What both webhook handlers open with: the sender's address, a body that
/// [`Shared::admit`] let in (counted; token and signature checked), and its
/// signature to remember once answered. A refused request is answered 401
/// here and never reaches a handler.
struct Admitted {
    peer: SocketAddr,
    signature: Option<Vec<u8>>,
    body: Bytes,
}

impl FromRequest<Shared> for Admitted {
    type Rejection = Response;

    async fn from_request(req: Request, s: &Shared) -> Result<Self, Response> {
        let peer = req.extensions().get::<ConnectInfo<Peer>>().map(|c| c.0.addr);
        let headers = req.headers().clone();
        // The body limit answers 413 before anything is counted, as before.
        let body = Bytes::from_request(req, s).await.map_err(IntoResponse::into_response)?;
        let signature = s.admit(&headers, &body).map_err(IntoResponse::into_response)?;
        let peer = peer.ok_or(Refused::NoPeer).map_err(IntoResponse::into_response)?;
        Ok(Self { peer, signature, body })
    }
}

async fn alertmanager(State(s): State<Shared>, Admitted { peer, signature, body }: Admitted) -> Response {
    let payload: AlertmanagerPayload = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            s.metrics.inc(Counter::Malformed);
            return error(StatusCode::BAD_REQUEST, format!("not an Alertmanager webhook payload: {e}"));
        }
    };
    if !payload.version.is_empty() && payload.version != "4" {
        s.metrics.inc(Counter::Malformed);
        return error(
            StatusCode::BAD_REQUEST,
            format!("unsupported Alertmanager payload version {:?}: expected \"4\"", payload.version),
        );
    }
    s.metrics.inc(Counter::Parsed);
    let now = EpochMillis::now();
    let window_ms = s.config.dedupe_window.as_millis() as i64;
    let (mut accepted, mut duplicates) = (0, 0);
    for alert in payload.alerts {
        let state = match alert.status.as_str() {
            "firing" => EventState::Firing,
            "resolved" => EventState::Resolved,
            other => {
                s.metrics.inc(Counter::Malformed);
                return error(StatusCode::BAD_REQUEST, format!("alert status {other:?}: expected firing or resolved"));
            }
        };
        let fingerprint =
            if alert.fingerprint.is_empty() { label_fingerprint(&alert.labels) } else { alert.fingerprint.clone() };
        let key = (fingerprint.clone(), alert.status.clone(), alert.starts_at.clone());
        if s.dedupe.lock().unwrap_or_else(|e| e.into_inner()).is_duplicate(&key, now.as_millis(), window_ms) {
            s.metrics.inc(Counter::Duplicate);
            duplicates += 1;
            continue;
        }
        let mut labels = payload.common_labels.clone();
        labels.extend(alert.labels.clone());
        let mut attributes = BTreeMap::new();
        for (k, v) in [
            ("alertname", labels.get("alertname").cloned().unwrap_or_default()),
            ("starts_at", alert.starts_at.clone()),
            ("ends_at", alert.ends_at.clone()),
            ("generator_url", alert.generator_url.clone()),
            ("receiver", payload.receiver.clone()),
            ("group_key", payload.group_key.clone()),
            ("summary", alert.annotations.get("summary").cloned().unwrap_or_default()),
        ] {
            if !v.is_empty() {
                attributes.insert(std::borrow::Cow::Borrowed(k), v);
            }
        }
        let raw = serde_json::json!({"status": alert.status, "labels": alert.labels, "startsAt": alert.starts_at, "fingerprint": fingerprint});
        let device = Device { hostname: labels.get("instance").cloned(), address: None, labels };
        let mut event = Event::new(
            SourceKind::Webhook,
            now,
            Some(peer),
            device,
            EventKind::Alert,
            fingerprint,
            state,
            &raw.to_string(),
        );
        event.attributes = attributes;
        if !s.forward(event) {
            return Shared::queue_full();
        }
        let mut dedupe = s.dedupe.lock().unwrap_or_else(|e| e.into_inner());
        let evicted = dedupe.accepted(key, now.as_millis());
        s.metrics.add(Counter::DedupeEvicted, evicted);
        s.metrics.set(Gauge::DedupeEntries, dedupe.len() as u64);
        drop(dedupe);
        accepted += 1;
    }
    s.answered(signature);
    reply(StatusCode::OK, serde_json::json!({ "accepted": accepted, "duplicates": duplicates }))
}

async fn generic(State(s): State<Shared>, Admitted { peer, signature, body }: Admitted) -> Response {
    let events = match serde_json::from_slice::<GenericBody>(&body) {
        Ok(GenericBody::One(e)) => vec![e],
        Ok(GenericBody::Many(v)) => v,
        Err(_) => {
            // Untagged enums hide the reason; decode as one object to say what is wrong.
            let detail = serde_json::from_slice::<GenericEvent>(&body).err().map(|e| e.to_string()).unwrap_or_default();
            s.metrics.inc(Counter::Malformed);
            return error(
                StatusCode::BAD_REQUEST,
                format!("expected {{device, kind, entity, state}} or an array of them: {detail}"),
            );
        }
    };
    s.metrics.inc(Counter::Parsed);
    let now = EpochMillis::now();
    let mut accepted = 0;
    for g in events {
        let raw = serde_json::json!({"device": g.device, "kind": g.kind, "entity": g.entity, "state": g.state});
        let device = Device { hostname: Some(g.device), address: None, labels: BTreeMap::new() };
        let mut event =
            Event::new(SourceKind::Webhook, now, Some(peer), device, g.kind, g.entity, g.state, &raw.to_string());
        event.administrative = g.administrative;
        event.attributes = g.attributes.into_iter().map(|(k, v)| (std::borrow::Cow::Owned(k), v)).collect();
        if !s.forward(event) {
            return Shared::queue_full();
        }
        accepted += 1;
    }
    s.answered(signature);
    reply(StatusCode::OK, serde_json::json!({ "accepted": accepted }))
}

/// The webhook routes, for embedding into another router (the engine's HTTP
/// listener) or serving alone.
fn router(shared: Shared) -> Router {
    let limit = shared.config.max_body_bytes;
    Router::new()
        .route("/alertmanager", post(alertmanager))
        .route("/events", post(generic))
        .route("/healthz", get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn(track_requests))
        .with_state(shared)
}

/// A running webhook source.
#[derive(Debug)]
pub struct WebhookSource {
    /// The bound address.
    pub local_addr: SocketAddr,
    /// Counters.
    pub metrics: Arc<SourceMetrics>,
    task: JoinHandle<()>,
}

impl WebhookSource {
    /// Binds and serves until `shutdown`; in-flight requests finish first.
    pub async fn spawn(
        config: WebhookConfig,
        events: mpsc::Sender<Event>,
        shutdown: CancellationToken,
    ) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let local_addr = listener.local_addr()?;
        let metrics = Arc::new(SourceMetrics::default());
        let listener = LimitedListener::new(listener, config.limits, metrics.clone());
        let dedupe = Arc::new(Mutex::new(Dedupe::new(config.dedupe_max_entries)));
        let signatures = Arc::new(Mutex::new(Dedupe::new(config.dedupe_max_entries)));
        let shared = Shared { config: Arc::new(config), events, metrics: metrics.clone(), dedupe, signatures };
        let app = router(shared).into_make_service_with_connect_info::<Peer>();
        tracing::info!(%local_addr, "webhook listening");
        let task = tokio::spawn(async move {
            let result =
                axum::serve(listener, app).with_graceful_shutdown(async move { shutdown.cancelled().await }).await;
            if let Err(e) = result {
                tracing::error!(error = %e, "webhook server stopped");
            }
        });
        Ok(Self { local_addr, metrics, task })
    }

    /// Waits until the server has stopped (after shutdown).
    pub async fn join(self) {
        let _ = self.task.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_stable_and_label_order_free() {
        let mut a = BTreeMap::new();
        a.insert("alertname".to_owned(), "X".to_owned());
        a.insert("instance".to_owned(), "h:9100".to_owned());
        let fp = label_fingerprint(&a);
        assert_eq!(fp.len(), 16);
        assert_eq!(fp, label_fingerprint(&a.clone()));
    }

    #[test]
    fn dedupe_window() {
        let mut d = Dedupe::new(100);
        let k = || ("fp".to_owned(), "firing".to_owned(), "t0".to_owned());
        assert!(!d.is_duplicate(&k(), 0, 1000));
        assert!(!d.is_duplicate(&k(), 10, 1000), "asking does not remember");
        d.accepted(k(), 10);
        assert!(d.is_duplicate(&k(), 500, 1000));
        assert!(!d.is_duplicate(&k(), 1500, 1000), "forgotten after the window");
    }

    #[test]
    fn dedupe_is_bounded_oldest_first() {
        let mut d = Dedupe::new(3);
        let k = |i: u32| (format!("fp{i}"), "firing".to_owned(), "t0".to_owned());
        let evicted: u64 = (0..10).map(|i| d.accepted(k(i), i64::from(i))).sum();
        assert_eq!((d.len(), d.order.len(), evicted), (3, 3, 7));
        assert!(d.is_duplicate(&k(9), 10, 1000) && !d.is_duplicate(&k(0), 10, 1000));
    }
}
