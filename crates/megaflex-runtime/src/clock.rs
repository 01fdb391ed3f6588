//! The engine's time: the system clock, or a megaflex simulator's scaled
//! clock (demos and tests run the 5-minute rule in seconds). Either way the
//! engine computes deadlines in API time and sleeps the real equivalent.
//!
//! The system clock is read once, at start, and then advanced by the
//! monotonic clock: a hold-down or hold-up must last what it says even if
//! the wall clock is stepped (an NTP correction, an operator's `date -s`).
//! A step is logged; the engine adopts the wall clock again at its next start.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use megaport::Clock;
use megaport::types::EpochMillis;

#[derive(Debug, Clone, Copy)]
struct Anchor {
    real: Instant,
    sim_ms: f64,
    scale: f64,
}

/// System time, or a simulator's.
#[derive(Debug)]
pub struct EngineClock(Kind);

#[derive(Debug)]
enum Kind {
    /// The wall clock at the first reading, advanced by the monotonic clock.
    System {
        /// The wall clock (the system's, or a test's).
        wall: Option<Arc<dyn Clock>>,
        anchor: OnceLock<(Instant, i64)>,
        /// The last step seen, in ms, so each is logged once.
        step_logged_ms: std::sync::atomic::AtomicI64,
    },
    /// Follows `GET /_sim/clock`, extrapolated between syncs.
    Simulator { url: String, http: reqwest::Client, anchor: Mutex<Anchor> },
}

#[derive(serde::Deserialize)]
struct ClockView {
    now_ms: i64,
    scale: f64,
}

impl EngineClock {
    /// The system clock (monotonic after the first reading).
    pub fn system() -> Self {
        Self(Kind::System { wall: None, anchor: OnceLock::new(), step_logged_ms: std::sync::atomic::AtomicI64::new(0) })
    }

    /// Like [`EngineClock::system`], reading the wall time from `wall` (tests
    /// step it to show that timers do not follow a step).
    pub fn system_from(wall: Arc<dyn Clock>) -> Self {
        Self(Kind::System {
            wall: Some(wall),
            anchor: OnceLock::new(),
            step_logged_ms: std::sync::atomic::AtomicI64::new(0),
        })
    }

    fn wall_now(wall: &Option<Arc<dyn Clock>>) -> EpochMillis {
        wall.as_ref().map_or_else(EpochMillis::now, |w| w.now())
    }

    /// How far engine time is ahead of the system wall clock that sources
    /// stamp events with (0 for a simulator clock: events are restamped).
    /// Logs a step of the wall clock once.
    pub fn wall_offset_ms(&self) -> i64 {
        let Kind::System { wall, step_logged_ms, .. } = &self.0 else { return 0 };
        let engine = self.now().as_millis();
        let offset = engine - EpochMillis::now().as_millis();
        let stepped = engine - Self::wall_now(wall).as_millis();
        if stepped.abs() > 2_000 {
            let before = step_logged_ms.swap(stepped, std::sync::atomic::Ordering::Relaxed);
            if (before - stepped).abs() > 2_000 {
                tracing::warn!(
                    step_ms = -stepped,
                    "the wall clock was stepped; timers keep running on the monotonic clock (the engine adopts the new wall time at its next start)"
                );
            }
        }
        offset
    }

    /// Syncs with the simulator at `api_url` once, then follows it. The
    /// fetch has `http`'s timeout (a simulator that accepts but never answers
    /// must not hang the engine) and goes through its CA file and proxies.
    pub async fn simulator(api_url: &str, http: &megaport::HttpSettings) -> Result<Self, ClockError> {
        let url = format!("{}/_sim/clock", api_url.trim_end_matches('/'));
        let http = http.client()?;
        let anchor = fetch(&http, &url).await?;
        Ok(Self(Kind::Simulator { url, http, anchor: Mutex::new(anchor) }))
    }

    /// Whether this is the system clock (sources stamp events with it).
    pub fn is_system(&self) -> bool {
        matches!(self.0, Kind::System { .. })
    }

    /// Re-reads the simulator's clock (it may have been advanced or rescaled).
    pub async fn sync(&self) {
        if let Kind::Simulator { url, http, anchor } = &self.0 {
            match fetch(http, url).await {
                Ok(a) => *anchor.lock().unwrap_or_else(|e| e.into_inner()) = a,
                Err(e) => tracing::warn!(error = %e, "cannot read the simulator's clock; extrapolating"),
            }
        }
    }

    /// Real time until `at` (zero if past). A frozen simulator clock (scale
    /// 0) is polled every 100 ms so that an advance is seen.
    pub fn real_until(&self, at: EpochMillis) -> Duration {
        let left_ms = (at.as_millis() - self.now().as_millis()).max(0) as f64;
        match &self.0 {
            Kind::System { .. } => Duration::from_secs_f64(left_ms / 1000.0),
            Kind::Simulator { anchor, .. } => {
                let scale = anchor.lock().unwrap_or_else(|e| e.into_inner()).scale;
                if scale <= 0.0 {
                    Duration::from_millis(100)
                } else {
                    Duration::from_secs_f64(left_ms / 1000.0 / scale).min(Duration::from_secs(1))
                }
            }
        }
    }

    /// Real time for `d` of engine time (for periodic work).
    pub fn real_duration(&self, d: Duration) -> Duration {
        match &self.0 {
            Kind::System { .. } => d,
            Kind::Simulator { anchor, .. } => {
                let scale = anchor.lock().unwrap_or_else(|e| e.into_inner()).scale;
                if scale <= 0.0 { Duration::from_millis(100) } else { d.div_f64(scale).max(Duration::from_millis(10)) }
            }
        }
    }
}

impl Clock for EngineClock {
    fn now(&self) -> EpochMillis {
        match &self.0 {
            Kind::System { wall, anchor, .. } => {
                let (at, wall_ms) = *anchor.get_or_init(|| (Instant::now(), Self::wall_now(wall).as_millis()));
                EpochMillis::from_millis(wall_ms + at.elapsed().as_millis() as i64)
            }
            Kind::Simulator { anchor, .. } => {
                let a = *anchor.lock().unwrap_or_else(|e| e.into_inner());
                EpochMillis::from_millis((a.sim_ms + a.real.elapsed().as_secs_f64() * 1000.0 * a.scale) as i64)
            }
        }
    }
}

/// Why the simulator's clock cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ClockError {
    /// The HTTP client cannot be built (CA file, proxy).
    #[error(transparent)]
    Http(#[from] megaflex_http::Error),
    /// No answer, or an error status.
    #[error(
        "{url}: {}: {source} (clock = \"simulator\" needs a megaflex simulator)",
        if *timed_out { "timed out" } else { "failed" }
    )]
    Unreachable {
        /// The clock's URL.
        url: String,
        /// The request timed out.
        timed_out: bool,
        /// What failed (without the URL, said once).
        source: reqwest::Error,
    },
    /// An answer that is not the simulator's clock.
    #[error("{url}: {source}")]
    Decode {
        /// The clock's URL.
        url: String,
        /// Why.
        source: reqwest::Error,
    },
}

async fn fetch(http: &reqwest::Client, url: &str) -> Result<Anchor, ClockError> {
    let body = http
        .get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| ClockError::Unreachable {
            url: url.to_owned(),
            timed_out: e.is_timeout(),
            source: e.without_url(),
        })?
        .json::<ClockView>()
        .await
        .map_err(|source| ClockError::Decode { url: url.to_owned(), source })?;
    Ok(Anchor { real: Instant::now(), sim_ms: body.now_ms as f64, scale: body.scale })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI64, Ordering};

    #[derive(Debug, Default)]
    struct Stepped(AtomicI64);

    impl Clock for Stepped {
        fn now(&self) -> EpochMillis {
            EpochMillis::from_millis(EpochMillis::now().as_millis() + self.0.load(Ordering::Relaxed))
        }
    }

    #[test]
    fn a_wall_clock_step_does_not_move_engine_time() {
        let wall = Arc::new(Stepped::default());
        let clock = EngineClock::system_from(wall.clone());
        let t0 = clock.now();
        wall.0.store(-3_600_000, Ordering::Relaxed);
        let t1 = clock.now();
        assert!(t1 >= t0 && t1.as_millis() - t0.as_millis() < 1_000, "{t0} -> {t1}");
        assert!(clock.real_until(t0.plus_millis(5_000)) <= Duration::from_secs(5));
        assert!(clock.wall_offset_ms().abs() < 1_000);
    }
}
