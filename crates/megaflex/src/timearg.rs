//! Parsing durations (`30s`, `10m`, `24h`, `7d`) and times (RFC 3339, `now`,
//! or a duration meaning "that long ago") from the command line.

use std::str::FromStr;
use std::time::Duration;

use megaport::types::EpochMillis;

/// `30s`, `10m`, `1h30m`, `24h`, `7d`.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    // jiff's friendly format has no calendar-free days; a day here is 24 hours.
    let normalised = match t.strip_suffix('d').and_then(|n| n.trim().parse::<u64>().ok()) {
        Some(days) => format!("{}h", days * 24),
        None => t.to_owned(),
    };
    let d = jiff::SignedDuration::from_str(&normalised)
        .map_err(|_| format!("invalid duration {s:?}: use a number with a unit, like 30s, 10m, 24h or 7d"))?;
    if d.is_negative() {
        return Err(format!("invalid duration {s:?}: it must not be negative"));
    }
    Duration::try_from(d).map_err(|e| format!("invalid duration {s:?}: {e}"))
}

/// RFC 3339 (`2026-11-22T10:00:00Z`), `now`, or a duration ago (`2h`).
pub(crate) fn parse_time(s: &str, now: EpochMillis) -> Result<EpochMillis, String> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    if let Ok(ts) = jiff::Timestamp::from_str(t) {
        return Ok(EpochMillis::from(ts));
    }
    match parse_duration(t) {
        Ok(ago) => Ok(now.plus_millis(-(ago.as_millis() as i64))),
        Err(_) => {
            Err(format!("invalid time {s:?}: use RFC 3339 (2026-11-22T10:00:00Z), `now`, or how long ago (24h, 7d)"))
        }
    }
}

/// `2h 5m`, for "in ..." and "... ago".
pub(crate) fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {}s", s / 60, s % 60),
        3600..86_400 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {}h", s / 86_400, (s % 86_400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(7 * 86_400));
        assert!(parse_duration("soon").is_err());
        let now = EpochMillis::from_millis(1_795_345_200_000);
        assert_eq!(parse_time("1h", now).unwrap().as_millis(), 1_795_341_600_000);
        assert_eq!(parse_time("2026-11-22T10:00:00Z", now).unwrap().as_millis(), 1_795_341_600_000);
        assert!(parse_time("yesterday-ish", now).unwrap_err().contains("RFC 3339"));
    }
}
