//! The engine's time: the system clock, or a megaflex simulator's scaled
//! clock (demos and tests run the 5-minute rule in seconds). Either way the
//! engine computes deadlines in API time and sleeps the real equivalent.

use std::sync::Mutex;
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
    System,
    /// Follows `GET /_sim/clock`, extrapolated between syncs.
    Simulator {
        url: String,
        http: reqwest::Client,
        anchor: Mutex<Anchor>,
    },
}

#[derive(serde::Deserialize)]
struct ClockView {
    now_ms: i64,
    scale: f64,
}

impl EngineClock {
    /// The system clock.
    pub const SYSTEM: Self = Self(Kind::System);

    /// Syncs with the simulator at `api_url` once, then follows it. The
    /// fetch has `http`'s timeout (a simulator that accepts but never answers
    /// must not hang the engine) and goes through its CA file and proxies.
    pub async fn simulator(api_url: &str, http: &megaport::HttpSettings) -> Result<Self, String> {
        let url = format!("{}/_sim/clock", api_url.trim_end_matches('/'));
        let http = http.client().map_err(|e| e.to_string())?;
        let anchor = fetch(&http, &url).await?;
        Ok(Self(Kind::Simulator { url, http, anchor: Mutex::new(anchor) }))
    }

    /// Whether this is the system clock (sources stamp events with it).
    pub fn is_system(&self) -> bool {
        matches!(self.0, Kind::System)
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
            Kind::System => Duration::from_secs_f64(left_ms / 1000.0),
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
            Kind::System => d,
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
            Kind::System => EpochMillis::now(),
            Kind::Simulator { anchor, .. } => {
                let a = *anchor.lock().unwrap_or_else(|e| e.into_inner());
                EpochMillis::from_millis((a.sim_ms + a.real.elapsed().as_secs_f64() * 1000.0 * a.scale) as i64)
            }
        }
    }
}

async fn fetch(http: &reqwest::Client, url: &str) -> Result<Anchor, String> {
    let body = http
        .get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| {
            let what = if e.is_timeout() { "timed out" } else { "failed" };
            format!("{url}: {what}: {} (clock = \"simulator\" needs a megaflex simulator)", e.without_url())
        })?
        .json::<ClockView>()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    Ok(Anchor { real: Instant::now(), sim_ms: body.now_ms as f64, scale: body.scale })
}
