//! A local simulator of the Megaport API, for tests, demos and trying
//! megaflex without an account.
//!
//! One listener serves the OAuth2 token endpoint (`/oauth2/token`), the API
//! (`/v2/...`, `/v3/...`, `/ens/v1/...`) and an admin API (`/_sim/...`). It
//! is an independent implementation of the contract: it depends on
//! `megaport-types` only, never on the `megaport` client, so a client bug is
//! never "confirmed" by its own server.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let sim = megaflex_sim::spawn(megaflex_sim::SimConfig::default()).await?;
//! println!("API at {}, token URL {}", sim.base_url(), sim.token_url());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod admin;
mod auth;
mod clock;
mod config;
mod default_world;
mod faults;
mod http;
mod injection;
mod limits;
mod middleware;
mod pricing;
mod products;
mod servicenow;
mod servicenow_oauth;
mod servicenow_record;
pub use servicenow_record::JournalEntry;
mod servicenow_store;
mod state;
mod status_api;
mod telemetry;
mod tls;
pub use tls::{TlsError, TlsIdentity};
mod world;
mod world_state;

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::Response;
use axum::routing::{get, post, put};

pub use admin::Stats;
pub use clock::SimClock;
pub use config::{DEFAULT_ACCESS_KEY, DEFAULT_LISTEN, DEFAULT_SECRET_KEY, LimitMode, SimConfig};
pub use default_world::{
    BLOG_VXC_UID, DEFAULT_SERVICENOW_CLIENT_ID, DEFAULT_SERVICENOW_CLIENT_SECRET, DEFAULT_SERVICENOW_PASSWORD,
    DEFAULT_SERVICENOW_USER, default_world, default_world_with_vxcs, extra_vxc_uid,
};
pub use faults::Fault;
pub use state::{SimState, UpdateRecord};
pub use world::{Company, EndSpec, PortSpec, ServiceNowUser, VxcSpec, WorldFile};

async fn get_v2_product(
    State(state): State<SimState>,
    Path(rest): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, http::ApiError> {
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        [uid] => products::get(State(state), Path((*uid).to_owned())).await,
        [kind, uid, "telemetry"] => telemetry::telemetry(&state, kind, uid, &params),
        [uid, "rating", year, month] => pricing::rating(&state, uid, year, month, &params),
        _ => Err(http::ApiError::new(StatusCode::NOT_FOUND, format!("No API route for GET /v2/product/{rest}"))),
    }
}

async fn put_v2_product(
    State(state): State<SimState>,
    Path(rest): Path<String>,
    body: Bytes,
) -> Result<Response, http::ApiError> {
    products::put_v2(State(state), Path(rest), body).await
}

/// The whole simulator as an axum router (tests can `oneshot` it).
pub fn app(state: SimState) -> Router {
    let api = Router::new()
        .route("/v2/products", get(products::list))
        .route("/v2/product/{*rest}", get(get_v2_product).put(put_v2_product))
        .route("/v3/product/vxc/{uid}", put(products::put_vxc_v3))
        .route("/v3/locations", get(status_api::locations))
        .route("/ens/v1/status/maintenance", get(status_api::maintenance))
        .route("/ens/v1/status/outage", get(status_api::outages))
        .fallback(middleware::no_route)
        .layer(from_fn_with_state(state.clone(), middleware::api_layer));
    let token = Router::new()
        .route("/oauth2/token", post(auth::token))
        .layer(from_fn_with_state(state.clone(), middleware::token_layer));
    let servicenow = Router::new()
        .route("/api/now/table/incident", post(servicenow::create).get(servicenow::list))
        .route("/api/now/v2/table/incident", post(servicenow::create).get(servicenow::list))
        .route("/api/now/table/sys_journal_field", get(servicenow::journal))
        .route("/api/now/v2/table/sys_journal_field", get(servicenow::journal))
        .route(
            "/api/now/table/incident/{sys_id}",
            get(servicenow::get_one).patch(servicenow::update).put(servicenow::update).delete(servicenow::delete),
        )
        .route(
            "/api/now/v2/table/incident/{sys_id}",
            get(servicenow::get_one).patch(servicenow::update).put(servicenow::update).delete(servicenow::delete),
        )
        .layer(from_fn_with_state(state.clone(), servicenow::layer));
    let servicenow_token = Router::new()
        .route("/oauth_token.do", post(servicenow_oauth::token))
        .layer(from_fn_with_state(state.clone(), servicenow_oauth::layer));
    let admin = Router::new()
        .route("/_sim/servicenow", get(servicenow::admin_view))
        .route("/_sim/servicenow/expire-tokens", post(servicenow_oauth::expire_tokens))
        .route("/_sim/stats", get(admin::stats))
        .route("/_sim/clock", get(admin::get_clock).post(admin::post_clock))
        .route("/_sim/faults", get(admin::get_faults).post(admin::post_fault).delete(admin::clear_faults))
        .route("/_sim/tokens/revoke", post(admin::revoke_tokens))
        .route("/_sim/limits", post(admin::post_limits))
        .route("/_sim/services/{uid}/updates", post(admin::seed_updates))
        .route("/_sim/world", get(admin::world))
        .route("/_sim/reset", post(admin::reset));
    Router::new().merge(token).merge(servicenow_token).merge(admin).merge(servicenow).merge(api).with_state(state)
}

/// A running simulator. Dropping it shuts the server down.
#[derive(Debug)]
pub struct SimHandle {
    addr: SocketAddr,
    scheme: &'static str,
    state: SimState,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl SimHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// `http://ADDR` or `https://ADDR` (the API base URL).
    pub fn base_url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }
    /// `http://ADDR/oauth2/token` (or `https://`).
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/token", self.base_url())
    }
    /// The live state (clock, stats, world).
    pub fn state(&self) -> &SimState {
        &self.state
    }
    /// Stops accepting connections and waits for the server task to end.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Binds `127.0.0.1:0` and serves the simulator in the background.
pub async fn spawn(config: SimConfig) -> std::io::Result<SimHandle> {
    spawn_on("127.0.0.1:0".parse().expect("static address"), config).await
}

/// Binds `addr` and serves the simulator in the background.
pub async fn spawn_on(addr: SocketAddr, config: SimConfig) -> std::io::Result<SimHandle> {
    spawn_with(addr, config, None).await
}

/// Binds `127.0.0.1:0` and serves the simulator over HTTPS with `identity`
/// (e.g. [`TlsIdentity::generate`]).
pub async fn spawn_tls(config: SimConfig, identity: &TlsIdentity) -> std::io::Result<SimHandle> {
    spawn_with("127.0.0.1:0".parse().expect("static address"), config, Some(identity)).await
}

async fn spawn_with(addr: SocketAddr, config: SimConfig, tls: Option<&TlsIdentity>) -> std::io::Result<SimHandle> {
    config.validate().map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let tls = tls.map(|t| t.server_config().map_err(std::io::Error::other)).transpose()?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let state = SimState::new(config);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async {
        let _ = rx.await;
    };
    let task = tokio::spawn(serve_any(listener, state.clone(), tls, shutdown));
    let task = tokio::spawn(async move {
        if let Ok(Err(e)) = task.await {
            tracing::error!(error = %e, "simulator server stopped with an error");
        }
    });
    Ok(SimHandle { addr, scheme, state, shutdown: Some(tx), task: Some(task) })
}

async fn serve_any(
    listener: tokio::net::TcpListener,
    state: SimState,
    tls: Option<rustls::ServerConfig>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    let service = app(state).into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        None => axum::serve(listener, service).with_graceful_shutdown(shutdown).await,
        // `tap_io` only to get `ConnectInfo<SocketAddr>` for a custom listener.
        Some(config) => {
            let listener = tls::TlsListener::new(listener, config)?.tap_io(|_| {});
            axum::serve(listener, service).with_graceful_shutdown(shutdown).await
        }
    }
}

/// Serves HTTPS with `identity` on an already-bound listener until
/// `shutdown` resolves (used by `megaflex sim --tls`).
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    state: SimState,
    identity: &TlsIdentity,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let config = identity.server_config().map_err(std::io::Error::other)?;
    serve_any(listener, state, Some(config), shutdown).await
}

/// Serves on an already-bound listener until `shutdown` resolves (used by
/// `megaflex sim`).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: SimState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_any(listener, state, None, shutdown).await
}
