//! The engine's HTTP listener: `/metrics`, `/healthz`, `/readyz`,
//! `/api/status`, and `POST /api/circuits/{name}/resume`. Access rules
//! (token, `Host`, `Origin`) are in [`crate::http_auth`].

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::http_auth::{HttpAccess, guard};
use crate::outbox::OutboxStats;
use crate::status::{Counters, StatusView, render_metrics};
use crate::writer::StoreHealth;
use megaflex_sources::metrics::SourceMetrics;
use megaflex_sources::net::{ConnLimits, LimitedListener, Peer, track_requests};

/// A source's counters, read live at each scrape: `(kind, listen, counters)`.
pub type SourceRef = (String, String, Arc<SourceMetrics>);

#[derive(Clone)]
struct Views {
    status: watch::Receiver<StatusView>,
    counters: watch::Receiver<Counters>,
    commands: mpsc::Sender<Command>,
    sources: Arc<[SourceRef]>,
    outbox: Option<Arc<OutboxStats>>,
    store: Arc<StoreHealth>,
}

/// What an operator asks the running engine to do.
#[derive(Debug)]
pub enum Command {
    /// Resume automation of a paused circuit.
    Resume {
        /// Circuit name.
        circuit: String,
        /// Whether the circuit exists.
        reply: oneshot::Sender<bool>,
    },
}

/// `POST /api/circuits/{name}/resume`.
async fn resume(State(v): State<Views>, Path(circuit): Path<String>) -> Response {
    let (reply, answer) = oneshot::channel();
    if v.commands.send(Command::Resume { circuit: circuit.clone(), reply }).await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "the engine is stopping\n").into_response();
    }
    match answer.await {
        Ok(true) => (StatusCode::OK, format!("circuit {circuit} resumed\n")).into_response(),
        Ok(false) => (StatusCode::NOT_FOUND, format!("no circuit named {circuit:?}\n")).into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "the engine is stopping\n").into_response(),
    }
}

async fn metrics(State(v): State<Views>) -> Response {
    let mut counters = v.counters.borrow().clone();
    counters.sources = v.sources.iter().map(|(k, l, m)| (k.clone(), l.clone(), m.snapshot())).collect();
    counters.servicenow = v.outbox.as_ref().map(|o| {
        let get = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        [get(&o.pending), get(&o.delivered), get(&o.retried), get(&o.failed), get(&o.auth_failures)]
    });
    let mut text = render_metrics(&v.status.borrow(), &counters);
    v.store.render_metrics(&mut text);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

async fn status(State(v): State<Views>) -> Response {
    axum::Json(v.status.borrow().clone()).into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready once a reconcile cycle has read the account, and while the store
/// can be written (a daemon that cannot record cannot act).
async fn readyz(State(v): State<Views>) -> Response {
    if let Some(error) = v.store.state().error {
        (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: the store cannot be written: {error}\n")).into_response()
    } else if v.counters.borrow().reconciles > 0 {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready: the account has not been read yet\n").into_response()
    }
}

/// What the listener reports besides the core's views.
#[derive(Debug, Clone)]
pub struct Health {
    /// The ServiceNow outbox's counters, when incidents are on.
    pub outbox: Option<Arc<OutboxStats>>,
    /// Whether the store can be written (`/readyz`, `/metrics`).
    pub store: Arc<StoreHealth>,
}

/// Binds `addr` and serves until `shutdown`.
#[allow(clippy::too_many_arguments)]
pub async fn serve(
    addr: SocketAddr,
    mut access: HttpAccess,
    limits: ConnLimits,
    status_rx: watch::Receiver<StatusView>,
    counters: watch::Receiver<Counters>,
    commands: mpsc::Sender<Command>,
    sources: Vec<SourceRef>,
    health: Health,
    shutdown: CancellationToken,
) -> std::io::Result<SocketAddr> {
    let Health { outbox, store } = health;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    access.allow_addr(local);
    // Its connections are counted like a source's, under kind "http".
    let conn_metrics = Arc::new(SourceMetrics::default());
    let listener = LimitedListener::new(listener, limits, conn_metrics.clone());
    let mut sources = sources;
    sources.push(("http".to_owned(), format!("http://{local}"), conn_metrics));
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/status", get(status))
        .route("/api/circuits/{name}/resume", post(resume))
        .with_state(Views { status: status_rx, counters, commands, sources: sources.into(), outbox, store })
        .layer(axum::middleware::from_fn_with_state(Arc::new(access), guard))
        .layer(axum::middleware::from_fn(track_requests))
        .into_make_service_with_connect_info::<Peer>();
    tracing::info!(%local, "HTTP listening: /metrics /healthz /readyz /api/status");
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned()).await {
            tracing::error!(error = %e, "HTTP listener stopped");
        }
    });
    Ok(local)
}
