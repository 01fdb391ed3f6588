//! The runtime under faults (issue 15, items 7, 9 and 10), on the simulator
//! over loopback with real SQLite files: a refused update waits for the time
//! Megaport names instead of looping; a fresh store learns the account's
//! recent updates; a stop ends within seconds and records what is deferred;
//! a stop while a sent update is being read back leaves its intent for the
//! next start; a VXC still being applied is waited for, not updated again; a
//! wall-clock step does not stretch a hold-down.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use megaflex_sim::{SimConfig, SimHandle};
use megaport::types::{EpochMillis, ProductUid, VxcUpdate};
use megaport::{Client, Clock, Credentials};

/// `megaflex vxc speed VXC <mbps> --yes`, as another tool would: one PUT.
async fn change_outside(sim: &SimHandle, mbps: u32) -> EpochMillis {
    let client = Client::builder()
        .urls(sim.base_url(), sim.token_url())
        .credentials(Credentials::new(megaflex_sim::DEFAULT_ACCESS_KEY, megaflex_sim::DEFAULT_SECRET_KEY))
        .build()
        .unwrap();
    let at = sim.state().now();
    client.update_vxc(&ProductUid::new(VXC), &VxcUpdate::rate_limit(mbps)).await.unwrap();
    at
}

fn puts(sim: &SimHandle) -> (usize, u64) {
    let s = sim.state().stats();
    (s.updates.len(), s.update_interval_breaches)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_update_waits_for_the_time_megaport_names_instead_of_looping() {
    let sim = sim().await;
    change_outside(&sim, 500).await;
    let dir = temp_dir("refused");
    let db_path = dir.join("megaflex.db");
    // A fresh store: the daemon does not know the update just made.
    let d = start(&scenario(&sim, &db_path)).await;
    wait_for("the refused restore to be deferred", || has_decision(&d, "wait")).await;
    assert_eq!(puts(&sim), (1, 1), "one refused PUT, not a loop of them");
    assert_eq!(count_decisions(&d, "update"), 1);
    let c = d.status.borrow().circuits[0].clone();
    assert!(!c.in_flight);
    // Periodic cycles while the rule holds send nothing; once it allows,
    // the restore is made.
    advance(&sim, 120.0);
    advance(&sim, 200.0);
    wait_for("the restore once allowed", || has_decision(&d, "confirmed")).await;
    assert_eq!(update_rates(&sim), vec![500, 10]);
    assert_eq!(puts(&sim), (2, 1), "the only breach is the first, refused PUT");
    d.stop();
    d.join().await;
    let pool = db(&db_path).await;
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM updates WHERE origin = 'observed'").await, 1, "learned from the 429");
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM api_calls WHERE method = 'PUT'").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_store_told_of_the_clis_update_sends_nothing_before_the_rule_allows() {
    let sim = sim().await;
    let at = change_outside(&sim, 500).await;
    let dir = temp_dir("known");
    let db_path = dir.join("megaflex.db");
    let config = compile("scenario.toml", &scenario(&sim, &db_path));
    let options = megaflex_runtime::RunOptions { known_updates: vec![(ProductUid::new(VXC), at)], ..options() };
    let d = megaflex_runtime::start(config, options).await.unwrap();
    wait_for("the restore to be deferred", || has_decision(&d, "wait")).await;
    assert_eq!(puts(&sim), (1, 0), "nothing sent: the update rule was known");
    advance(&sim, 301.0);
    wait_for("the restore once allowed", || has_decision(&d, "confirmed")).await;
    assert_eq!(puts(&sim), (2, 0));
    d.stop();
    d.join().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_during_a_long_confirmation_ends_in_seconds_and_the_next_start_carries_on() {
    let sim = megaflex_sim::spawn(SimConfig { clock_scale: 0.0, apply_delay_secs: 600.0, ..SimConfig::default() })
        .await
        .unwrap();
    change_outside(&sim, 500).await;
    advance(&sim, 601.0);
    let dir = temp_dir("stop");
    let db_path = dir.join("megaflex.db");
    let text = scenario(&sim, &db_path);
    let d = start(&text).await;
    // The restore is accepted; Megaport takes 10 (frozen) minutes to apply it.
    wait_for("the restore to be sent", || puts(&sim).0 == 2).await;
    wait_for("the update in flight", || d.status.borrow().circuits[0].in_flight).await;
    let asked = Instant::now();
    d.stop();
    tokio::time::timeout(Duration::from_secs(5), d.join())
        .await
        .expect("stopped within seconds, not after the confirmation");
    assert!(asked.elapsed() < Duration::from_secs(5));
    let pool = db(&db_path).await;
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM decisions WHERE action = 'deferred'").await, 1);
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM intents WHERE state = 'open'").await, 1, "left for the next start");
    pool.close().await;

    // The next start, while Megaport still applies it, waits: no second PUT.
    let d = start(&text).await;
    wait_for("the change being applied is waited for", || has_decision(&d, "applying")).await;
    assert_eq!(puts(&sim), (2, 0));
    advance(&sim, 600.0);
    wait_for("the intent found in force", || has_decision(&d, "intent_confirmed")).await;
    assert_eq!(puts(&sim), (2, 0), "one update for one intent");
    d.stop();
    d.join().await;
    let pool = db(&db_path).await;
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM intents WHERE state = 'open'").await, 0);
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM intents WHERE state = 'confirmed'").await, 1);
}

/// Fault rules posted to the simulator's admin API (`DELETE` clears them).
async fn sim_faults(sim: &SimHandle, rule: Option<serde_json::Value>) {
    let http = megaflex_http::bare_client();
    let url = format!("{}/_sim/faults", sim.base_url());
    let r = match rule {
        Some(rule) => http.post(url).json(&rule).send().await.unwrap(),
        None => http.delete(url).send().await.unwrap(),
    };
    assert!(r.status().is_success(), "fault rule refused: {}", r.text().await.unwrap_or_default());
}

/// Commit 843af3a: the update is out (Megaport took the PUT) and the stop
/// comes while its confirmation read is not yet sent (here waiting out a 503's
/// Retry-After; under load, the request budget). The read's own "nothing was
/// sent" must not drop the intent: it stays open and the next start settles it
/// against the account, without a second PUT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_during_the_confirmation_read_leaves_the_intent_for_the_next_start() {
    let sim = sim().await;
    change_outside(&sim, 500).await;
    advance(&sim, 301.0);
    // Every read of the one VXC is answered 503 "retry in 30 s"; the cycle's
    // account read (`/v2/products`) and the PUT are not touched.
    let read_refused = serde_json::json!({
        "method": "GET", "path_prefix": "/v2/product/", "status": 503, "retry_after_secs": 30, "count": 1000,
    });
    sim_faults(&sim, Some(read_refused)).await;
    let dir = temp_dir("stop-in-read");
    let db_path = dir.join("megaflex.db");
    let text = scenario(&sim, &db_path);
    let d = start(&text).await;
    wait_for("the restore to be sent", || puts(&sim).0 == 2).await;
    wait_for("the confirmation read refused", || sim.state().stats().faults_injected >= 1).await;
    assert!(d.status.borrow().circuits[0].in_flight, "the update job waits to read again");
    d.stop();
    tokio::time::timeout(Duration::from_secs(5), d.join()).await.expect("stopped within seconds, not after the retry");
    let pool = db(&db_path).await;
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM decisions WHERE action = 'deferred'").await, 1);
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM intents WHERE state = 'dropped'").await, 0, "not dropped");
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM intents WHERE state = 'open'").await, 1, "left for the next start");
    pool.close().await;

    // Megaport applied it meanwhile; the next start finds it in force.
    sim_faults(&sim, None).await;
    assert_eq!(update_rates(&sim), vec![500, 10]);
    let d = start(&text).await;
    wait_for("the intent found in force", || has_decision(&d, "intent_confirmed")).await;
    wait_settled(&d, &sim).await;
    assert_eq!(puts(&sim), (2, 0), "one update for one intent, no breach");
    d.stop();
    d.join().await;
    let pool = db(&db_path).await;
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM intents WHERE state = 'open'").await, 0);
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM intents WHERE state = 'confirmed'").await, 1);
}

/// The system clock plus an offset a test can step.
#[derive(Debug, Default)]
struct SteppedWall(AtomicI64);

impl Clock for SteppedWall {
    fn now(&self) -> EpochMillis {
        EpochMillis::from_millis(EpochMillis::now().as_millis() + self.0.load(Ordering::Relaxed))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wall_clock_stepped_back_an_hour_does_not_delay_the_boost() {
    let sim = megaflex_sim::spawn(SimConfig { clock_scale: 1.0, ..SimConfig::default() }).await.unwrap();
    let dir = temp_dir("step");
    let db_path = dir.join("megaflex.db");
    let toml = scenario(&sim, &db_path).engine("clock", quoted("system")).map_circuits(|c| c.boost_after("2s"));
    let config = compile("scenario.toml", &toml);
    let wall = Arc::new(SteppedWall::default());
    let options = megaflex_runtime::RunOptions { wall_clock: Some(wall.clone()), ..options() };
    let d = megaflex_runtime::start(config, options).await.unwrap();
    wait_ready(&d).await;
    let sent = Instant::now();
    send(syslog_addr(&d), &cisco_line(1, "down")).await;
    wait_for("hold-down", || has_decision(&d, "hold_down")).await;
    wall.0.store(-3_600_000, Ordering::Relaxed);
    wait_for("the boost after the 2 s hold-down", || has_decision(&d, "boost")).await;
    let took = sent.elapsed();
    assert!(took >= Duration::from_millis(1_900) && took < Duration::from_secs(10), "boost after {took:?}");
    d.stop();
    d.join().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_failure_says_whether_the_configuration_or_the_machine_is_at_fault() {
    use megaflex_runtime::sources::SourceError;
    use megaflex_runtime::{self, StartError};
    let parse = |toml: &ConfigToml| compile("start.toml", toml);
    let refused = |r: Result<megaflex_runtime::Daemon, StartError>| match r {
        Err(e) => e,
        Ok(d) => {
            d.stop();
            panic!("started");
        }
    };
    let sim = sim().await;
    let dir = temp_dir("start-errors");
    // A port another socket holds: the machine's state (exit code 1).
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let listen = format!("udp://{}", taken.local_addr().unwrap());
    let toml = scenario(&sim, &dir.join("a.db")).sources_key("listen", quoted(&listen));
    let err = refused(megaflex_runtime::start(parse(&toml), options()).await);
    assert!(matches!(err, StartError::Sources(SourceError::Bind { .. })) && !err.is_config(), "{err:?}");
    assert!(err.to_string().starts_with(&format!("syslog source {listen}: ")), "{err}");
    // A secret variable the configuration names and nobody set: usage (exit code 2).
    let toml =
        scenario(&sim, &dir.join("b.db")).webhook("127.0.0.1:0", &[("token_env", &quoted("MEGAFLEX_TEST_NEVER_SET"))]);
    let err = refused(megaflex_runtime::start(parse(&toml), options()).await);
    assert!(matches!(err, StartError::Sources(SourceError::MissingEnv { .. })) && err.is_config(), "{err:?}");
    assert_eq!(err.to_string(), "webhook token: environment variable MEGAFLEX_TEST_NEVER_SET is not set");
}
