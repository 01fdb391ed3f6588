//! The ledger of past updates that Megaport's service-update rules (one
//! update per service every 5 minutes, at most 100 per calendar month, UTC;
//! pure, in `megaport_types::rules`) are checked against. The ledger is a
//! trait so the engine can persist it; [`MemoryLedger`] ships here.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use megaport_types::rules::{UpdateBudget, UpdateOrigin, UpdateRules};
use megaport_types::{EpochMillis, ProductUid};

use crate::error::Result;
#[cfg(test)]
use crate::error::{Error, UpdateRule};

/// A boxed future returned by ledger methods.
pub type LedgerFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// Where past updates are kept.
pub trait UpdateLedger: Send + Sync + std::fmt::Debug {
    /// Times of the updates of `uid` at or after `since`, ascending.
    fn updates_since<'a>(&'a self, uid: &'a ProductUid, since: EpochMillis) -> LedgerFuture<'a, Vec<EpochMillis>>;
    /// Records an update of `uid` at `at`.
    fn record<'a>(&'a self, uid: &'a ProductUid, at: EpochMillis, origin: UpdateOrigin) -> LedgerFuture<'a, ()>;
}

/// An in-memory ledger (lost at exit).
#[derive(Debug, Default)]
pub struct MemoryLedger {
    entries: Mutex<HashMap<ProductUid, Vec<EpochMillis>>>,
}

impl UpdateLedger for MemoryLedger {
    fn updates_since<'a>(&'a self, uid: &'a ProductUid, since: EpochMillis) -> LedgerFuture<'a, Vec<EpochMillis>> {
        let list = self
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(uid)
            .map(|v| v.iter().copied().filter(|t| *t >= since).collect())
            .unwrap_or_default();
        Box::pin(async move { Ok(list) })
    }

    fn record<'a>(&'a self, uid: &'a ProductUid, at: EpochMillis, _origin: UpdateOrigin) -> LedgerFuture<'a, ()> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let list = entries.entry(uid.clone()).or_default();
        list.push(at);
        list.sort_unstable();
        Box::pin(async { Ok(()) })
    }
}

/// The rules in force, checked against a ledger. The rules themselves are
/// pure ([`UpdateRules`], in `megaport-types`); this adds reading the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpdatePolicy {
    /// Minimum time between two updates of one service.
    pub min_interval: Duration,
    /// Updates allowed per service per calendar month (UTC).
    pub monthly_cap: u32,
}

impl Default for UpdatePolicy {
    fn default() -> Self {
        UpdateRules::default().into()
    }
}

impl From<UpdateRules> for UpdatePolicy {
    fn from(r: UpdateRules) -> Self {
        Self { min_interval: r.min_interval, monthly_cap: r.monthly_cap }
    }
}

impl From<UpdatePolicy> for UpdateRules {
    fn from(p: UpdatePolicy) -> Self {
        Self { min_interval: p.min_interval, monthly_cap: p.monthly_cap }
    }
}

impl UpdatePolicy {
    /// The pure rules of this policy.
    pub fn rules(&self) -> UpdateRules {
        (*self).into()
    }

    /// Evaluates the rules for `uid` at `now` against the ledger.
    pub async fn budget(&self, ledger: &dyn UpdateLedger, uid: &ProductUid, now: EpochMillis) -> Result<UpdateBudget> {
        let history = ledger.updates_since(uid, self.history_since(now)).await?;
        Ok(self.budget_from(uid, &history, now))
    }

    /// See [`UpdateRules::history_since`].
    pub fn history_since(&self, now: EpochMillis) -> EpochMillis {
        self.rules().history_since(now)
    }

    /// See [`UpdateRules::budget_from`] (for callers that read many
    /// services' histories at once).
    pub fn budget_from(&self, uid: &ProductUid, history: &[EpochMillis], now: EpochMillis) -> UpdateBudget {
        self.rules().budget_from(uid, history, now)
    }

    /// `Ok` when an update of `uid` is allowed at `now`, else the typed refusal.
    pub async fn check(&self, ledger: &dyn UpdateLedger, uid: &ProductUid, now: EpochMillis) -> Result<UpdateBudget> {
        let budget = self.budget(ledger, uid, now).await?;
        Ok(self.rules().check(budget)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOV_22: i64 = 1_795_345_200_000; // 2026-11-22T11:00:00Z

    #[tokio::test]
    async fn interval_and_monthly_rules() {
        let ledger = MemoryLedger::default();
        let policy = UpdatePolicy::default();
        let uid = ProductUid::new("vxc-1");
        let now = EpochMillis::from_millis(NOV_22);
        policy.check(&ledger, &uid, now).await.unwrap();
        ledger.record(&uid, now, UpdateOrigin::Made).await.unwrap();
        let err = policy.check(&ledger, &uid, now.plus_millis(60_000)).await.unwrap_err();
        assert_eq!(err.next_allowed_at(), Some(now.plus_millis(300_000)));
        policy.check(&ledger, &uid, now.plus_millis(300_000)).await.unwrap();

        for _ in 0..99 {
            ledger.record(&uid, EpochMillis::from_millis(NOV_22 - 86_400_000), UpdateOrigin::Observed).await.unwrap();
        }
        let err = policy.check(&ledger, &uid, now.plus_millis(600_000)).await.unwrap_err();
        assert!(matches!(err, Error::UpdateRefused { rule: UpdateRule::Monthly, .. }));
        assert_eq!(err.next_allowed_at().unwrap().to_string(), "2026-12-01T00:00:00.000Z");
        let b = policy.budget(&ledger, &uid, now.plus_millis(600_000)).await.unwrap();
        assert_eq!((b.used_this_month, b.left_this_month), (100, 0));
    }
}
