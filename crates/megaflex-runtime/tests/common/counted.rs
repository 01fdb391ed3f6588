//! For tests that run a source on its own, without a daemon: wait until the
//! source has counted what the test sent.

use std::time::{Duration, Instant};

use megaflex_sources::metrics::{MetricsSnapshot, SourceMetrics};

/// Waits until the source has counted what a test sent (up to 10 s): the
/// signal that it handled it, before asserting what it did not forward.
pub async fn wait_counted(metrics: &SourceMetrics, what: &str, done: impl Fn(&MetricsSnapshot) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done(&metrics.snapshot()) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}: {:?}", metrics.snapshot());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
