//! The simulator's clock: wall-clock time that tests can advance or speed up,
//! so the 5-minute and monthly rules are testable in seconds.

use std::sync::Mutex;
use std::time::Instant;

use megaport_types::EpochMillis;

#[derive(Debug)]
struct Anchor {
    real: Instant,
    sim_ms: f64,
    scale: f64,
}

/// Simulated time = anchor + real time elapsed since the anchor x scale.
#[derive(Debug)]
pub struct SimClock {
    anchor: Mutex<Anchor>,
}

impl SimClock {
    /// A clock starting at `start` and running `scale` times faster than real time.
    pub fn new(start: EpochMillis, scale: f64) -> Self {
        Self { anchor: Mutex::new(Anchor { real: Instant::now(), sim_ms: start.as_millis() as f64, scale }) }
    }

    /// Now, in simulated time.
    pub fn now(&self) -> EpochMillis {
        let a = self.anchor.lock().unwrap_or_else(|e| e.into_inner());
        Self::now_of(&a)
    }

    fn now_of(a: &Anchor) -> EpochMillis {
        let elapsed_ms = a.real.elapsed().as_secs_f64() * 1000.0 * a.scale;
        EpochMillis::from_millis((a.sim_ms + elapsed_ms) as i64)
    }

    /// Jumps forward (or back, with a negative value) by `secs`.
    pub fn advance_secs(&self, secs: f64) {
        let mut a = self.anchor.lock().unwrap_or_else(|e| e.into_inner());
        a.sim_ms += secs * 1000.0;
    }

    /// Sets the absolute simulated time.
    pub fn set(&self, at: EpochMillis) {
        let mut a = self.anchor.lock().unwrap_or_else(|e| e.into_inner());
        a.real = Instant::now();
        a.sim_ms = at.as_millis() as f64;
    }

    /// Changes the speed; simulated time so far is kept.
    pub fn set_scale(&self, scale: f64) {
        let mut a = self.anchor.lock().unwrap_or_else(|e| e.into_inner());
        let now = Self::now_of(&a);
        a.real = Instant::now();
        a.sim_ms = now.as_millis() as f64;
        a.scale = scale;
    }

    /// Current speed factor.
    pub fn scale(&self) -> f64 {
        self.anchor.lock().unwrap_or_else(|e| e.into_inner()).scale
    }

    /// How long `sim_ms` of simulated time takes in real time. A frozen
    /// clock (scale 0) only moves when told to, so simulated time is returned.
    pub fn real_duration(&self, sim_ms: i64) -> std::time::Duration {
        let scale = self.scale();
        let secs = sim_ms.max(0) as f64 / 1000.0;
        std::time::Duration::from_secs_f64(if scale > 0.0 { secs / scale } else { secs })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_and_scale() {
        let c = SimClock::new(EpochMillis::from_millis(1_000_000), 0.0);
        assert_eq!(c.now().as_millis(), 1_000_000);
        c.advance_secs(300.0);
        assert_eq!(c.now().as_millis(), 1_300_000);
        c.set_scale(1000.0);
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(c.now().as_millis() >= 1_300_000 + 15_000);
    }
}
