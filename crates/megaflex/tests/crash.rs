//! Crash safety: the real `megaflex run` binary, killed with SIGKILL at
//! random moments across 30 boost/restore cycles and restarted each time.
//! The simulator (strict limits) must see exactly one update per change, no
//! two updates to the same rate in a row, no breach, and the store must end
//! with every intent settled.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Daemon, daemon_toml, free_tcp_port, free_udp_port, frozen_sim, syslog_line, temp_dir};
use megaflex_sim::SimHandle;
use megaflex_testkit::quoted;

const CYCLES: u32 = 30;

/// Waits until the engine has taken the link's new state in (so that
/// moving the simulator's clock does not overtake the event).
async fn link_is(engine: &Daemon, http: &reqwest::Client, state: &str) {
    engine.until(http, &format!("link {state}"), |v| v["links"][0]["status"] == state).await;
}

fn rate(sim: &SimHandle) -> Option<u32> {
    sim.state().stats().updates.last().and_then(|u| u.rate_limit)
}

fn write_config(dir: &Path, sim: &SimHandle, syslog: u16, http: u16) -> PathBuf {
    daemon_toml(sim, &dir.join("megaflex.db"))
        .engine("reconcile_every", quoted("60s"))
        .http(format!("127.0.0.1:{http}"))
        .syslog(format!("udp://127.0.0.1:{syslog}"))
        .map_circuits(|c| c.boost_after("30s").restore_after("10m").set("max_updates_per_month", 100))
        .write(dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_never_doubles_or_forgets_an_update() {
    let sim = frozen_sim().await;
    let dir = temp_dir("crash");
    let (syslog_port, http_port) = (free_udp_port(), free_tcp_port());
    let config = write_config(&dir, &sim, syslog_port, http_port);
    let syslog = format!("127.0.0.1:{syslog_port}");
    let mut engine = Daemon::new(config, format!("127.0.0.1:{http_port}").parse().unwrap(), dir.join("engine.log"));
    let mut starts = 0;
    megaport::install_crypto_provider();
    let http = reqwest::Client::new();
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let seed = std::env::var("MEGAFLEX_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20_261_202);
    eprintln!("seed {seed} (MEGAFLEX_CRASH_SEED to repeat)");
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut seq = 0;
    let mut kills = 0;
    engine.spawn();
    starts += 1;
    engine.ready(&http).await;

    for cycle in 0..CYCLES {
        for (state, hold_secs, target) in [("down", 31.0, 500), ("up", 601.0, 10)] {
            seq += 1;
            udp.send_to(syslog_line(state, seq).as_bytes(), &syslog).await.unwrap();
            link_is(&engine, &http, state).await;
            sim.state().clock().advance_secs(hold_secs);
            // Kill somewhere between "timer fired" and "update confirmed" (or
            // just after), most cycles.
            if rng.u8(0..4) != 0 {
                tokio::time::sleep(Duration::from_micros(rng.u64(0..60_000))).await;
                engine.kill();
                kills += 1;
                engine.spawn();
                starts += 1;
                engine.ready(&http).await;
                // Routers do not repeat themselves; the test re-sends the
                // current state in case the kill lost the datagram.
                seq += 1;
                udp.send_to(syslog_line(state, seq).as_bytes(), &syslog).await.unwrap();
                link_is(&engine, &http, state).await;
            }
            let mut waited = 0;
            while rate(&sim) != Some(target) {
                tokio::time::sleep(Duration::from_millis(20)).await;
                waited += 1;
                if waited % 50 == 0 {
                    // Let a restarted hold-down or a deferred update come due.
                    sim.state().clock().advance_secs(60.0);
                }
                assert!(waited < 1500, "cycle {cycle}: rate never reached {target} Mbps");
            }
            // Megaport's 5-minute rule between this change and the next.
            sim.state().clock().advance_secs(300.0);
        }
    }
    engine.terminate();
    let stats = sim.state().stats();
    let rates: Vec<u32> = stats.updates.iter().filter_map(|u| u.rate_limit).collect();
    eprintln!("{kills} kills, {} starts, {} updates", starts, rates.len());
    assert!(kills >= CYCLES / 2, "only {kills} kills");
    assert_eq!(rates.len() as u32, 2 * CYCLES, "exactly one update per change");
    for w in rates.windows(2) {
        assert_ne!(w[0], w[1], "two updates to the same rate in a row: {rates:?}");
    }
    assert_eq!(rates.last(), Some(&10), "the last restore happened");
    assert_eq!(stats.update_interval_breaches + stats.monthly_update_breaches + stats.rate_limit_breaches, 0);

    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", dir.join("megaflex.db").display())).await.unwrap();
    let open: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM intents WHERE state = 'open'").fetch_one(&pool).await.unwrap();
    let confirmed: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM intents WHERE state = 'confirmed'").fetch_one(&pool).await.unwrap();
    assert_eq!(open, 0, "every intent settled");
    assert_eq!(confirmed, i64::from(2 * CYCLES), "one confirmed intent per update");
}
