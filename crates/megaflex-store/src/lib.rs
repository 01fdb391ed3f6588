//! The durable store: what the engine saw, decided and did, and the state it
//! needs to resume after a restart. The engine talks to the [`Store`] trait;
//! [`SqliteStore`] (one node, the embedded default) and [`PgStore`]
//! (PostgreSQL) implement it with the same semantics, which
//! `tests/conformance.rs` checks on both. Everything is appended in small
//! batches inside one transaction, so a crash leaves either the whole batch
//! or none of it.

mod copy;
mod instance;
mod migrations;
mod model;
mod outbox;
mod pg;
mod pg_outbox;
mod pg_write;
mod snmp_engine;
mod sqlite;
mod url_check;

use std::sync::Arc;

pub use copy::{TableCount, sqlite_to_postgres};
pub use model::*;
pub use pg::PgStore;
pub use secrecy::SecretString;
pub use sqlite::{BUSY_TIMEOUT, SqliteStore, serde_name};
pub use url_check::{StoreKind, postgres_url_problem};

/// How to open a store, beyond its URL.
#[derive(Debug, Default, Clone)]
pub struct OpenOptions {
    /// SQLite: fsync every commit (`synchronous = FULL`, `[store] fsync`).
    pub fsync_each_commit: bool,
    /// PostgreSQL: the password (from the environment variable `[store]
    /// password_env` names; never in the URL). `SecretString` keeps it out
    /// of `Debug` and logs.
    pub password: Option<SecretString>,
}

/// Opens the store named by a `[store] url`.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    open_with(url, &OpenOptions::default()).await
}

/// Opens the store named by `url` (`sqlite://PATH` or `postgres://USER@HOST:PORT/DB`).
pub async fn open_with(url: &str, options: &OpenOptions) -> Result<Arc<dyn Store>, StoreError> {
    match StoreKind::of(url) {
        Some(StoreKind::Sqlite) => Ok(Arc::new(SqliteStore::open_with(url, options.fsync_each_commit).await?)),
        Some(StoreKind::Postgres) => Ok(Arc::new(PgStore::open(url, options.password.clone()).await?)),
        None => Err(StoreError::url(
            "open",
            // Only the scheme: whatever follows may be a credential.
            format!(
                "unsupported store URL (scheme {:?}): use sqlite://PATH or postgres://USER@HOST:PORT/DATABASE",
                url.split_once(':').map_or("", |(scheme, _)| scheme)
            ),
        )),
    }
}
