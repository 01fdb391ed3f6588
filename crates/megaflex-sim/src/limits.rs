//! Megaport's per-service update rules: one update every 5 minutes and at
//! most 100 per calendar month (UTC).

use jiff::ToSpan;
use megaport_types::EpochMillis;

use crate::config::LimitMode;
use crate::http::ApiError;
use crate::state::{Counters, SimState};

/// Start of the UTC calendar month containing `ms`, and of the next one.
pub(crate) fn month_bounds(ms: i64) -> (i64, i64) {
    let Ok(ts) = jiff::Timestamp::from_millisecond(ms) else {
        return (ms, ms);
    };
    let zoned = ts.to_zoned(jiff::tz::TimeZone::UTC);
    let start = zoned.first_of_month().and_then(|d| d.start_of_day());
    match start {
        Ok(start) => {
            let next = start.checked_add(1.month()).map_or(ms, |n| n.timestamp().as_millisecond());
            (start.timestamp().as_millisecond(), next)
        }
        Err(_) => (ms, ms),
    }
}

/// Checks the update rules for one service against its log. Counts every
/// breach; in strict mode returns the 429 to send.
pub(crate) fn check_update(state: &SimState, uid: &str, log: &[i64], now_ms: i64) -> Result<(), ApiError> {
    let mode = state.limit_mode();
    if mode == LimitMode::Off {
        return Ok(());
    }
    let cfg = &state.0.config;
    let interval_ms = i64::from(cfg.update_interval_secs) * 1000;
    let mut refusal: Option<(String, i64)> = None;

    if let Some(&last) = log.last()
        && now_ms < last + interval_ms
    {
        Counters::bump(&state.0.counters.update_interval_breaches);
        let next = last + interval_ms;
        refusal = Some((
            format!(
                "Service update limit: only one update every {} minutes per service. Service {uid} was last updated at {}; the next update is allowed at {}.",
                cfg.update_interval_secs / 60,
                EpochMillis::from_millis(last),
                EpochMillis::from_millis(next)
            ),
            next,
        ));
    }
    let (month_start, next_month) = month_bounds(now_ms);
    let this_month = log.iter().filter(|&&t| t >= month_start && t < next_month).count();
    if this_month >= cfg.updates_per_month as usize {
        Counters::bump(&state.0.counters.monthly_update_breaches);
        let msg = format!(
            "Service update limit: at most {} updates per month per service. Service {uid} has had {this_month} updates this month; the next update is allowed at {}.",
            cfg.updates_per_month,
            EpochMillis::from_millis(next_month)
        );
        if refusal.as_ref().is_none_or(|(_, t)| next_month > *t) {
            refusal = Some((msg, next_month));
        }
    }
    match refusal {
        Some((message, next)) if mode == LimitMode::Strict => {
            let secs = state.0.clock.real_duration(next - now_ms).as_secs_f64().ceil() as u64;
            Err(ApiError::too_many(message, secs))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_bounds_utc() {
        // 2026-11-22T11:00:00Z
        let (start, next) = month_bounds(1_795_345_200_000);
        assert_eq!(EpochMillis::from_millis(start).to_string(), "2026-11-01T00:00:00.000Z");
        assert_eq!(EpochMillis::from_millis(next).to_string(), "2026-12-01T00:00:00.000Z");
    }
}
