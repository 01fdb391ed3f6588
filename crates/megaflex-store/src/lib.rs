//! The durable store: what the engine saw, decided and did, and the state it
//! needs to resume after a restart. The engine talks to the [`Store`] trait;
//! [`SqliteStore`] implements it (PostgreSQL can follow behind the same
//! trait). Everything is appended in small batches inside one transaction,
//! so a crash leaves either the whole batch or none of it.

mod instance;
mod migrations;
mod model;
mod outbox;
mod snmp_engine;
mod sqlite;

use std::sync::Arc;

pub use model::*;
pub use sqlite::{BUSY_TIMEOUT, SqliteStore, serde_name};

/// Opens the store named by a `[store] url`.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    open_with(url, false).await
}

/// Opens the store; `fsync_each_commit` makes every commit durable against
/// power loss too (`[store] fsync = true`).
pub async fn open_with(url: &str, fsync_each_commit: bool) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open_with(url, fsync_each_commit).await?))
    } else {
        Err(StoreError::url(
            "open",
            format!("unsupported store URL {url:?}: use sqlite://PATH (PostgreSQL is not supported yet)"),
        ))
    }
}
