use std::fmt;

use serde::{Deserialize, Serialize};

/// A point in time as the Megaport API sends it: milliseconds since the Unix
/// epoch, UTC.
///
/// Constructors name their unit (`from_millis`, `from_secs`) so that passing
/// seconds where milliseconds are meant, the telemetry pitfall Megaport's
/// troubleshooting page describes, cannot happen silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct EpochMillis(i64);

impl EpochMillis {
    /// From milliseconds since the epoch.
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    /// From whole seconds since the epoch.
    pub const fn from_secs(secs: i64) -> Self {
        Self(secs.saturating_mul(1000))
    }

    /// Milliseconds since the epoch.
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch (floored).
    pub const fn as_secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// The current wall-clock time.
    pub fn now() -> Self {
        Self::from(jiff::Timestamp::now())
    }

    /// As a `jiff::Timestamp`, or `None` if out of jiff's range.
    pub fn to_timestamp(self) -> Option<jiff::Timestamp> {
        jiff::Timestamp::from_millisecond(self.0).ok()
    }

    /// Adds a number of milliseconds (saturating).
    pub const fn plus_millis(self, ms: i64) -> Self {
        Self(self.0.saturating_add(ms))
    }
}

impl From<jiff::Timestamp> for EpochMillis {
    fn from(ts: jiff::Timestamp) -> Self {
        Self(ts.as_millisecond())
    }
}

impl fmt::Display for EpochMillis {
    /// RFC 3339 in UTC with milliseconds, or the raw number when out of range.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_timestamp() {
            Some(ts) => write!(f, "{ts:.3}"),
            None => write!(f, "{}ms", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_millis_are_distinct_constructors() {
        assert_eq!(EpochMillis::from_secs(1_627_998_743).as_millis(), 1_627_998_743_000);
        assert_eq!(EpochMillis::from_millis(1_627_998_743_000).as_secs(), 1_627_998_743);
    }

    #[test]
    fn displays_rfc3339() {
        assert_eq!(EpochMillis::from_millis(1_619_501_590_224).to_string(), "2021-04-27T05:33:10.224Z");
    }
}
