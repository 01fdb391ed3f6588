//! Megaport's service-update rules (one update per service every 5 minutes,
//! at most 100 per calendar month, UTC) and the ledger of past updates they
//! are checked against. The ledger is a trait so the engine can persist it;
//! [`MemoryLedger`] ships here.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use jiff::ToSpan;
use megaport_types::{EpochMillis, ProductUid};

use crate::error::{Error, Result, UpdateRule};

/// Megaport's interval between two updates of one service.
pub const MEGAPORT_UPDATE_INTERVAL: Duration = Duration::from_secs(300);
/// Megaport's monthly cap per service.
pub const MEGAPORT_UPDATES_PER_MONTH: u32 = 100;

/// A boxed future returned by ledger methods.
pub type LedgerFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// How an update came to be known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateOrigin {
    /// This process made it.
    Made,
    /// Seen on read: someone else changed the service (portal, Terraform),
    /// or learned from Megaport's refusal naming the last update.
    Observed,
    /// Sent by this process, answered with an ambiguous failure (a 5xx or a
    /// broken connection), then seen being applied (CONFIGURING, DEPLOYABLE,
    /// a pending change): Megaport accepted it, so the rules count it.
    Unconfirmed,
}

impl UpdateOrigin {
    /// Stable name for storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Made => "made",
            Self::Observed => "observed",
            Self::Unconfirmed => "unconfirmed",
        }
    }
}

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

/// The rules in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpdatePolicy {
    /// Minimum time between two updates of one service.
    pub min_interval: Duration,
    /// Updates allowed per service per calendar month (UTC).
    pub monthly_cap: u32,
}

impl Default for UpdatePolicy {
    fn default() -> Self {
        Self { min_interval: MEGAPORT_UPDATE_INTERVAL, monthly_cap: MEGAPORT_UPDATES_PER_MONTH }
    }
}

/// Start of the UTC calendar month containing `at`, and of the next.
pub fn month_bounds(at: EpochMillis) -> (EpochMillis, EpochMillis) {
    let Some(ts) = at.to_timestamp() else { return (at, at) };
    let start = ts.to_zoned(jiff::tz::TimeZone::UTC).first_of_month().and_then(|d| d.start_of_day());
    match start {
        Ok(start) => {
            let next = start.checked_add(1.month()).map_or(at, |n| EpochMillis::from(n.timestamp()));
            (EpochMillis::from(start.timestamp()), next)
        }
        Err(_) => (at, at),
    }
}

/// What the ledger says about one service now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateBudget {
    /// The service.
    pub uid: ProductUid,
    /// Last known update.
    pub last_update: Option<EpochMillis>,
    /// Updates this calendar month.
    pub used_this_month: u32,
    /// Updates left this calendar month.
    pub left_this_month: u32,
    /// When the next update is allowed (now or later).
    pub next_allowed_at: EpochMillis,
    /// Which rule sets `next_allowed_at`, if any.
    pub blocked_by: Option<UpdateRule>,
}

impl UpdatePolicy {
    /// Evaluates the rules for `uid` at `now` against the ledger.
    pub async fn budget(&self, ledger: &dyn UpdateLedger, uid: &ProductUid, now: EpochMillis) -> Result<UpdateBudget> {
        let history = ledger.updates_since(uid, self.history_since(now)).await?;
        Ok(self.budget_from(uid, &history, now))
    }

    /// How far back the rules look at `now`: the start of the month, or one
    /// interval back if that is earlier.
    pub fn history_since(&self, now: EpochMillis) -> EpochMillis {
        let month_start = month_bounds(now).0;
        EpochMillis::from_millis(month_start.as_millis().min(now.as_millis() - self.min_interval.as_millis() as i64))
    }

    /// Evaluates the rules for `uid` at `now` from its update times since
    /// [`UpdatePolicy::history_since`] (for callers that read many services'
    /// histories at once).
    pub fn budget_from(&self, uid: &ProductUid, history: &[EpochMillis], now: EpochMillis) -> UpdateBudget {
        let (month_start, next_month) = month_bounds(now);
        let interval_ms = self.min_interval.as_millis() as i64;
        let last_update = history.iter().copied().max();
        let used_this_month = history.iter().filter(|t| **t >= month_start && **t < next_month).count() as u32;
        let mut next_allowed_at = now;
        let mut blocked_by = None;
        if let Some(last) = last_update {
            let next = last.plus_millis(interval_ms);
            if next > now {
                next_allowed_at = next;
                blocked_by = Some(UpdateRule::Interval);
            }
        }
        if used_this_month >= self.monthly_cap && next_month > next_allowed_at {
            next_allowed_at = next_month;
            blocked_by = Some(UpdateRule::Monthly);
        }
        UpdateBudget {
            uid: uid.clone(),
            last_update,
            used_this_month,
            left_this_month: self.monthly_cap.saturating_sub(used_this_month),
            next_allowed_at,
            blocked_by,
        }
    }

    /// `Ok` when an update of `uid` is allowed at `now`, else the typed refusal.
    pub async fn check(&self, ledger: &dyn UpdateLedger, uid: &ProductUid, now: EpochMillis) -> Result<UpdateBudget> {
        let budget = self.budget(ledger, uid, now).await?;
        match budget.blocked_by {
            None => Ok(budget),
            Some(rule) => Err(Error::UpdateRefused {
                uid: uid.clone(),
                rule,
                next_allowed_at: budget.next_allowed_at,
                detail: Some(match rule {
                    UpdateRule::Interval => format!(
                        "last update at {}",
                        budget.last_update.map_or_else(|| "?".to_owned(), |t| t.to_string())
                    ),
                    UpdateRule::Monthly => {
                        format!("{} of {} updates used this month", budget.used_this_month, self.monthly_cap)
                    }
                }),
            }),
        }
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
