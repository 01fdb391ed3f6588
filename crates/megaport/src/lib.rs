//! An async client for the Megaport API, built for unattended use: it never
//! breaks Megaport's limits, never loses its token, and never reports a
//! change as done before it is.
//!
//! - **Environments**: production, staging, a local `megaflex sim`, or
//!   explicit URLs ([`Environment`]); credentials from arguments, the
//!   environment or a `.env` file, including the seed blog's
//!   `MP_STAGE_API_KEY` form ([`Settings`]).
//! - **Token**: OAuth2 client credentials, cached, renewed ahead of expiry,
//!   fetched again once on a 401; concurrent callers share one refresh.
//! - **Request budget** ([`RequestBudget`]): 500 requests per rolling 5
//!   minutes by default, shared by clones; callers wait for a slot.
//! - **Update guard** ([`UpdatePolicy`], [`UpdateLedger`]): one update per
//!   service every 5 minutes and 100 per calendar month; a refusal is
//!   [`Error::UpdateRefused`] with the time the next update is allowed.
//! - **Retries** ([`RetryPolicy`]): 429/502/503/504 with backoff and jitter,
//!   honouring `Retry-After`; transport errors retried for reads only; an
//!   update whose outcome is unknown is re-read, never blindly repeated.
//! - **Confirmed rate changes**: [`Client::set_rate_limit`] reads until the
//!   new rate is in force (`rateLimit`, `resources.vll.rate_limit_mbps` and a
//!   LIVE or CONFIGURED status).
//!
//! The seed blog's whole workflow:
//!
//! ```no_run
//! use std::time::Duration;
//! use megaport::{Client, types::ProductUid};
//!
//! # async fn run() -> megaport::Result<()> {
//! let client = Client::from_env()?; // MEGAPORT_ACCESS_KEY / MEGAPORT_SECRET_KEY or .env
//! let active = client.active_vxcs().await?; // one GET /v2/products
//! println!("{} active circuits", active.len());
//! let uid = ProductUid::new("61a2b3c4-5b6d-44e8-af90-b6c1d2e3f4a5");
//! let vxc = client.vxc(&uid).await?;
//! println!("{} runs at {} Mbps", vxc.product_name, vxc.rate_limit_mbps);
//! let change = client.set_rate_limit(&uid, 500, Duration::from_secs(120)).await?;
//! println!("{} -> {} Mbps in {:?}", change.before_mbps, change.after_mbps, change.took);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod api;
mod budget;
mod client;
mod config;
mod error;
mod ledger;
mod rate;
mod update;

pub use megaport_types as types;

pub use api::TelemetryRange;
pub use budget::{BudgetState, MEGAPORT_REQUESTS_PER_WINDOW, MEGAPORT_WINDOW, RequestBudget};
pub use client::{CallObserver, CallRecord, Client, ClientBuilder, Clock, ConfirmPolicy, SystemClock, TokenInfo};
pub use config::{
    CredentialSource, Credentials, ENV_VARS, Environment, PRODUCTION_API_URL, PRODUCTION_TOKEN_URL, Resolved,
    SIMULATOR_API_URL, STAGING_API_URL, STAGING_TOKEN_URL, Settings,
};
pub use error::{ApiError, AuthError, DecodeError, Error, Result, UpdateRule};
// The HTTP policy shared with megaflex's other HTTP clients lives in
// `megaflex-http`; re-exported so these names keep their paths.
pub use ledger::{LedgerFuture, MemoryLedger, UpdateLedger, UpdatePolicy};
pub use megaflex_http::{
    CA_FILE_ENV, HttpSettings, RetryPolicy, ca_file_from_env, install_crypto_provider,
    load_ca_file as http_ca_certificates, parse_retry_after, proxy_for, redact_userinfo,
};
// The pure rules live in `megaport-types` (usable without an HTTP client);
// re-exported so `megaport::UpdateBudget` and friends keep their paths.
pub use megaport_types::rules::{
    MEGAPORT_UPDATE_INTERVAL, MEGAPORT_UPDATES_PER_MONTH, UpdateBudget, UpdateOrigin, UpdateRefusal, UpdateRules,
    month_bounds, rate_in_force,
};
pub use rate::RateChange;
pub use update::change_in_progress;
