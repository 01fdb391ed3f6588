//! The request budget: a rolling-window limiter shared by every clone of a
//! client, so the whole process stays inside Megaport's 500 requests per
//! rolling 5 minutes per IP. Callers wait for a slot rather than break it.
//!
//! The API counts a request when it arrives; the client only knows when it
//! sent it and when the answer came back. A slot is therefore counted from
//! the moment it is taken until `window` after its answer arrived: the
//! arrival lies between the two, so however long a request spends in
//! flight, no window the API can draw holds more than `limit` of ours.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Megaport's published general limit.
pub const MEGAPORT_REQUESTS_PER_WINDOW: u32 = 500;
/// Megaport's rolling window.
pub const MEGAPORT_WINDOW: Duration = Duration::from_secs(300);

/// A snapshot of the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetState {
    /// Requests allowed per window.
    pub limit: u32,
    /// The window.
    pub window: Duration,
    /// Requests sent in the current window.
    pub used: u32,
    /// Requests that may be sent now without waiting.
    pub remaining: u32,
    /// How long until the next slot frees up (zero when one is free now).
    pub next_free_in: Duration,
}

#[derive(Debug)]
struct Inner {
    limit: u32,
    window: Duration,
    /// When the answers of finished requests arrived, oldest first.
    sent: VecDeque<Instant>,
    /// Slots taken whose request has not finished yet.
    in_flight: u32,
}

impl Inner {
    fn used(&self) -> u32 {
        self.sent.len() as u32 + self.in_flight
    }

    /// How long until a slot frees, when none is free now.
    fn next_free_in(&self, now: Instant) -> Duration {
        match self.sent.front() {
            Some(&t) => (t + self.window).saturating_duration_since(now),
            // Every slot is in flight: one frees a window after an answer,
            // which has not come yet.
            None => IN_FLIGHT_POLL,
        }
    }
}

/// How often a caller re-checks when every slot is held by a request in flight.
const IN_FLIGHT_POLL: Duration = Duration::from_millis(20);

/// A taken slot. Dropping it (when the request's answer has arrived, or it
/// failed) starts the window after which the slot is free again.
#[must_use = "the slot counts as in flight until dropped"]
#[derive(Debug)]
pub struct Slot {
    budget: RequestBudget,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let now = Instant::now();
        let mut inner = self.budget.lock();
        inner.in_flight = inner.in_flight.saturating_sub(1);
        inner.sent.push_back(now);
    }
}

/// Rolling-window request budget. Cloning shares it.
#[derive(Debug, Clone)]
pub struct RequestBudget {
    inner: Arc<Mutex<Inner>>,
}

impl RequestBudget {
    /// `limit` requests per `window`. The window is stretched by a small
    /// margin (1 % + 50 ms) because the API counts arrivals, not departures:
    /// a request delayed in flight must not land inside the next window.
    pub fn new(limit: u32, window: Duration) -> Self {
        let margin = window / 100 + Duration::from_millis(50);
        Self {
            inner: Arc::new(Mutex::new(Inner {
                limit: limit.max(1),
                window: window + margin,
                sent: VecDeque::new(),
                in_flight: 0,
            })),
        }
    }

    /// Megaport's limit: 500 per rolling 5 minutes.
    pub fn megaport_default() -> Self {
        Self::new(MEGAPORT_REQUESTS_PER_WINDOW, MEGAPORT_WINDOW)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn prune(inner: &mut Inner, now: Instant) {
        while inner.sent.front().is_some_and(|&t| now.duration_since(t) >= inner.window) {
            inner.sent.pop_front();
        }
    }

    /// Counts requests sent before this budget existed (e.g. by earlier runs
    /// of a command-line tool on this machine), `ages` being how long ago.
    pub fn record_past(&self, ages: impl IntoIterator<Item = Duration>) {
        let now = Instant::now();
        let mut inner = self.lock();
        let mut times: Vec<Instant> = ages.into_iter().filter_map(|age| now.checked_sub(age)).collect();
        times.extend(inner.sent.iter().copied());
        times.sort_unstable();
        inner.sent = times.into();
        Self::prune(&mut inner, now);
    }

    /// Takes a slot if one is free now; otherwise says how long to wait.
    pub fn try_acquire(&self) -> Result<Slot, Duration> {
        let now = Instant::now();
        let mut inner = self.lock();
        Self::prune(&mut inner, now);
        if inner.used() < inner.limit {
            inner.in_flight += 1;
            Ok(Slot { budget: self.clone() })
        } else {
            Err(inner.next_free_in(now).max(Duration::from_millis(1)))
        }
    }

    /// Waits for a slot and takes it. Hold the slot until the request's
    /// answer has arrived.
    pub async fn acquire(&self) -> Slot {
        loop {
            match self.try_acquire() {
                Ok(slot) => return slot,
                Err(wait) => {
                    tracing::debug!(wait_ms = wait.as_millis() as u64, "request budget exhausted; waiting for a slot");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// The budget as it stands.
    pub fn state(&self) -> BudgetState {
        let now = Instant::now();
        let mut inner = self.lock();
        Self::prune(&mut inner, now);
        let used = inner.used();
        let next_free_in = if used < inner.limit { Duration::ZERO } else { inner.next_free_in(now) };
        BudgetState {
            limit: inner.limit,
            window: inner.window,
            used,
            remaining: inner.limit.saturating_sub(used),
            next_free_in,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_limit_and_frees_after_the_window() {
        let b = RequestBudget::new(3, Duration::from_millis(100));
        for _ in 0..3 {
            drop(b.try_acquire().unwrap());
        }
        let wait = b.try_acquire().unwrap_err();
        assert!(wait <= Duration::from_millis(160));
        let s = b.state();
        assert_eq!((s.used, s.remaining), (3, 0));
        std::thread::sleep(wait);
        drop(b.try_acquire().unwrap());
    }

    #[test]
    fn a_slot_in_flight_counts_until_a_window_after_its_answer() {
        let window = Duration::from_millis(100);
        let b = RequestBudget::new(1, window);
        let slot = b.try_acquire().unwrap();
        // Longer in flight than the whole window: still counted.
        std::thread::sleep(window * 2);
        assert!(b.try_acquire().is_err(), "a request still in flight holds its slot");
        drop(slot);
        let wait = b.try_acquire().unwrap_err();
        assert!(wait > window / 2, "the window starts when the answer arrived, not when the request left: {wait:?}");
        std::thread::sleep(wait);
        drop(b.try_acquire().unwrap());
    }
}
