//! Parsing durations (`30s`, `10m`, `24h`, `7d`) and times (RFC 3339, `now`,
//! or a duration meaning "that long ago") from the command line.

use std::str::FromStr;

pub(crate) use megaflex_domain::duration::{human_duration as human, parse_duration};

use megaport::types::EpochMillis;

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
