//! The one way megaflex reads and writes durations: config values, CLI
//! arguments, work notes and status lines all go through these two
//! functions, so `2d` means the same everywhere and no caller multiplies
//! unchecked.

use std::time::Duration;

/// No timer of megaflex means anything beyond a year; a longer value is a typo.
pub const MAX_DURATION_DAYS: u64 = 366;

/// Why a duration was refused; the message names the input and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {reason}")]
pub struct DurationError {
    input: String,
    reason: &'static str,
}

/// `30s`, `10m`, `1h30m`, `2d` (a day is 24 hours), up to
/// [`MAX_DURATION_DAYS`]. Parsing is jiff's friendly format; only the day
/// suffix is ours, because jiff's days are calendar days.
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    let err = |reason| DurationError { input: s.to_owned(), reason };
    let t = s.trim();
    let normalised = match t.strip_suffix('d').and_then(|n| n.trim().parse::<u64>().ok()) {
        // Checked: an unchecked multiply wrapped "768614336404564651d" to 8 h.
        Some(days) if days <= MAX_DURATION_DAYS => format!("{}h", days * 24),
        Some(_) => return Err(err("longer than 366d")),
        None => t.to_owned(),
    };
    let d: jiff::SignedDuration =
        normalised.parse().map_err(|_| err("write a number and a unit, like 30s, 10m, 1h or 2d"))?;
    if d.is_negative() {
        return Err(err("it must not be negative"));
    }
    let d = Duration::try_from(d).map_err(|_| err("out of range"))?;
    if d > Duration::from_secs(MAX_DURATION_DAYS * 86_400) {
        return Err(err("longer than 366d"));
    }
    Ok(d)
}

/// `45s`, `2m 05s`, `1h 02m 03s`, `2d 03h 04m`: whole seconds, the two or
/// three largest units, fixed width after the first so columns line up.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h {:02}m {:02}s", s / 3600, s / 60 % 60, s % 60),
        _ => format!("{}d {:02}h {:02}m", s / 86_400, s / 3600 % 24, s / 60 % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_days_and_refuses_nonsense() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration(" 1h30m "), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(2 * 86_400)));
        assert_eq!(parse_duration("366d"), Ok(Duration::from_secs(366 * 86_400)));
        for bad in ["367d", "768614336404564651d", "soon", "-5s", "", "9000h"] {
            let e = parse_duration(bad).unwrap_err().to_string();
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
    }

    #[test]
    fn prints_the_largest_units() {
        let h = |s| human_duration(Duration::from_secs(s));
        assert_eq!(h(0), "0s");
        assert_eq!(h(59), "59s");
        assert_eq!(h(125), "2m 05s");
        assert_eq!(h(3723), "1h 02m 03s");
        assert_eq!(h(2 * 86_400 + 3 * 3600 + 4 * 60 + 5), "2d 03h 04m");
    }
}
