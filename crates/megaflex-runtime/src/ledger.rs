//! The store as the Megaport client's update ledger. It lives here, where
//! the client and the store meet, so the store needs no client.

use std::sync::Arc;

use megaflex_store::{Record, Store};
use megaport::types::{EpochMillis, ProductUid};
use megaport::{LedgerFuture, UpdateLedger, UpdateOrigin};

/// The client's update ledger kept in the store, so the 5-minute and monthly
/// rules survive restarts. Each record is its own write (the CLI and the
/// daemon's start use it; the running daemon writes through its writer).
#[derive(Debug, Clone)]
pub struct StoreLedger(pub Arc<dyn Store>);

impl UpdateLedger for StoreLedger {
    fn updates_since<'a>(&'a self, uid: &'a ProductUid, since: EpochMillis) -> LedgerFuture<'a, Vec<EpochMillis>> {
        Box::pin(
            async move { self.0.updates_since(uid, since).await.map_err(|e| megaport::Error::Ledger(e.to_string())) },
        )
    }

    fn record<'a>(&'a self, uid: &'a ProductUid, at: EpochMillis, origin: UpdateOrigin) -> LedgerFuture<'a, ()> {
        Box::pin(async move {
            self.0
                .write(vec![Record::Update { uid: uid.clone(), at, origin }])
                .await
                .map_err(|e| megaport::Error::Ledger(e.to_string()))
        })
    }
}
