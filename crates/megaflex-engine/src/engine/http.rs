//! The engine's HTTP listener: `/metrics`, `/healthz`, `/readyz`,
//! `/api/status`.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::status::{Counters, StatusView, render_metrics};

#[derive(Clone)]
struct Views {
    status: watch::Receiver<StatusView>,
    counters: watch::Receiver<Counters>,
}

async fn metrics(State(v): State<Views>) -> Response {
    let text = render_metrics(&v.status.borrow(), &v.counters.borrow());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

async fn status(State(v): State<Views>) -> Response {
    axum::Json(v.status.borrow().clone()).into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready once a reconcile cycle has read the account.
async fn readyz(State(v): State<Views>) -> Response {
    if v.counters.borrow().reconciles > 0 {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready: the account has not been read yet\n").into_response()
    }
}

/// Binds `addr` and serves until `shutdown`.
pub async fn serve(
    addr: SocketAddr,
    status_rx: watch::Receiver<StatusView>,
    counters: watch::Receiver<Counters>,
    shutdown: CancellationToken,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/status", get(status))
        .with_state(Views { status: status_rx, counters });
    tracing::info!(%local, "HTTP listening: /metrics /healthz /readyz /api/status");
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned()).await {
            tracing::error!(error = %e, "HTTP listener stopped");
        }
    });
    Ok(local)
}
