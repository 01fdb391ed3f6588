//! Megaport's service-update rules as pure functions: one update per service
//! every 5 minutes, at most 100 per calendar month (UTC), and when a VXC
//! counts as running at a rate. No I/O: the client (`megaport`) feeds them
//! from its ledger, and the reconciler can reason with them without a client.

use std::fmt;
use std::time::Duration;

use jiff::ToSpan;

use crate::{EpochMillis, ProductUid, Vxc};

/// Megaport's interval between two updates of one service.
pub const MEGAPORT_UPDATE_INTERVAL: Duration = Duration::from_secs(300);
/// Megaport's monthly cap per service.
pub const MEGAPORT_UPDATES_PER_MONTH: u32 = 100;

/// Which service-update rule refused an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateRule {
    /// One update per service every 5 minutes.
    Interval,
    /// At most N updates per service per calendar month (UTC).
    Monthly,
}

impl fmt::Display for UpdateRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Interval => "one update per service every 5 minutes",
            Self::Monthly => "monthly update cap per service",
        })
    }
}

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

/// An update the rules do not allow yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("update to {uid} refused ({rule}): the next update is allowed at {next_allowed_at}; {detail}")]
pub struct UpdateRefusal {
    /// The service.
    pub uid: ProductUid,
    /// The rule.
    pub rule: UpdateRule,
    /// When an update becomes allowed.
    pub next_allowed_at: EpochMillis,
    /// What the ledger shows (last update, updates used).
    pub detail: String,
}

/// The rules in force: Megaport's by default, stricter ones for tests and
/// for operators who want headroom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpdateRules {
    /// Minimum time between two updates of one service.
    pub min_interval: Duration,
    /// Updates allowed per service per calendar month (UTC).
    pub monthly_cap: u32,
}

impl Default for UpdateRules {
    fn default() -> Self {
        Self { min_interval: MEGAPORT_UPDATE_INTERVAL, monthly_cap: MEGAPORT_UPDATES_PER_MONTH }
    }
}

impl UpdateRules {
    /// How far back the rules look at `now`: the start of the month, or one
    /// interval back if that is earlier.
    pub fn history_since(&self, now: EpochMillis) -> EpochMillis {
        let month_start = month_bounds(now).0;
        EpochMillis::from_millis(month_start.as_millis().min(now.as_millis() - self.min_interval.as_millis() as i64))
    }

    /// Evaluates the rules for `uid` at `now` from its update times since
    /// [`UpdateRules::history_since`].
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

    /// `Ok` when `budget` allows an update now, else why not.
    pub fn check(&self, budget: UpdateBudget) -> Result<UpdateBudget, UpdateRefusal> {
        let Some(rule) = budget.blocked_by else { return Ok(budget) };
        let detail = match rule {
            UpdateRule::Interval => {
                format!("last update at {}", budget.last_update.map_or_else(|| "?".to_owned(), |t| t.to_string()))
            }
            UpdateRule::Monthly => {
                format!("{} of {} updates used this month", budget.used_this_month, self.monthly_cap)
            }
        };
        Err(UpdateRefusal { uid: budget.uid, rule, next_allowed_at: budget.next_allowed_at, detail })
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

/// Whether `vxc` runs at `mbps`: `rateLimit` and, where present,
/// `resources.vll.rate_limit_mbps` equal it, and the status is LIVE or
/// CONFIGURED. LIVE alone is not enough.
pub fn rate_in_force(vxc: &Vxc, mbps: u32) -> bool {
    vxc.rate_limit_mbps == mbps
        && vxc.vll_rate_limit_mbps().is_none_or(|v| v == mbps)
        && vxc.provisioning_status.is_active()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOV_22: i64 = 1_795_345_200_000; // 2026-11-22T11:00:00Z

    #[test]
    fn interval_and_monthly_rules() {
        let rules = UpdateRules::default();
        let uid = ProductUid::new("vxc-1");
        let now = EpochMillis::from_millis(NOV_22);
        assert!(rules.check(rules.budget_from(&uid, &[], now)).is_ok());

        let refused = rules.check(rules.budget_from(&uid, &[now], now.plus_millis(60_000))).unwrap_err();
        assert_eq!((refused.rule, refused.next_allowed_at), (UpdateRule::Interval, now.plus_millis(300_000)));
        assert!(refused.detail.contains("2026-11-22T11:00:00.000Z"), "{refused}");
        assert!(rules.check(rules.budget_from(&uid, &[now], now.plus_millis(300_000))).is_ok());

        let mut history = vec![EpochMillis::from_millis(NOV_22 - 86_400_000); 99];
        history.push(now);
        let later = now.plus_millis(600_000);
        let b = rules.budget_from(&uid, &history, later);
        assert_eq!((b.used_this_month, b.left_this_month), (100, 0));
        let refused = rules.check(b).unwrap_err();
        assert_eq!(refused.rule, UpdateRule::Monthly);
        assert_eq!(refused.next_allowed_at.to_string(), "2026-12-01T00:00:00.000Z");
        assert_eq!(refused.detail, "100 of 100 updates used this month");
    }

    #[test]
    fn history_reaches_back_one_interval_across_a_month_start() {
        let rules = UpdateRules::default();
        let dec_1 = "2026-12-01T00:02:00Z".parse::<jiff::Timestamp>().unwrap();
        let since = rules.history_since(EpochMillis::from(dec_1));
        assert_eq!(since.to_string(), "2026-11-30T23:57:00.000Z");
        let (start, next) = month_bounds(EpochMillis::from_millis(NOV_22));
        assert_eq!(
            (start.to_string().as_str(), next.to_string().as_str()),
            ("2026-11-01T00:00:00.000Z", "2026-12-01T00:00:00.000Z")
        );
    }
}
