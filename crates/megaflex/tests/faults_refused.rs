//! Issue 15, item 10, with the real binaries: `megaflex vxc speed` changes
//! the VXC, then `megaflex run` starts on a fresh store wanting the normal
//! rate back. It learns the CLI's update from the state directory, sends
//! nothing the 5-minute rule would refuse, and a SIGTERM ends it within
//! seconds with the deferred restore recorded.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{VXC, daemon_toml, free_tcp_port, megaflex, read_log, sim_env, temp_dir, terminate_within};
use megaflex_sim::SimConfig;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_the_update_rule_refuses_is_deferred_not_looped_and_sigterm_is_prompt() {
    // A real-time simulator clock: the CLI's ledger is stamped with the system clock.
    let sim = megaflex_sim::spawn(SimConfig { clock_scale: 1.0, ..SimConfig::default() }).await.unwrap();
    let dir = temp_dir("faults-refused");
    let cmd = |args: &[&str]| {
        let mut c = megaflex();
        sim_env(c.args(args), &sim)
            .env("HOME", &dir)
            .env("XDG_STATE_HOME", dir.join("state"))
            .env("MEGAFLEX_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        c
    };
    let out = cmd(&["vxc", "speed", VXC, "500", "--yes"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(sim.state().stats().updates.len(), 1);

    let http_port = free_tcp_port();
    let config = daemon_toml(&sim, &dir.join("megaflex.db")).http(format!("127.0.0.1:{http_port}")).write(&dir);
    let log = std::fs::File::create(dir.join("engine.log")).unwrap();
    let mut child = cmd(&["run", "--config"]).arg(&config).stdout(Stdio::null()).stderr(log).spawn().unwrap();
    megaport::install_crypto_provider();
    let http = reqwest::Client::new();
    let mut deferred = false;
    for _ in 0..1500 {
        if let Ok(r) = http.get(format!("http://127.0.0.1:{http_port}/api/status")).send().await
            && let Ok(v) = r.json::<Value>().await
            && v["recent_decisions"].as_array().is_some_and(|a| a.iter().any(|d| d["action"] == "wait"))
        {
            deferred = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let log_text = || read_log(&dir.join("engine.log"));
    assert!(deferred, "the restore was never deferred; log:\n{}", log_text());
    let stats = sim.state().stats();
    assert_eq!(stats.updates.len(), 1, "no second update");
    assert_eq!(stats.update_interval_breaches, 0, "not even one refused PUT: the CLI's update was known");

    let status = terminate_within(&mut child, Duration::from_secs(10));
    assert!(status.success(), "{status}");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", dir.join("megaflex.db").display())).await.unwrap();
    let deferred: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM decisions WHERE action = 'deferred'").fetch_one(&pool).await.unwrap();
    assert_eq!(deferred, 1, "the stop recorded the restore left to do");
    let learned: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM updates WHERE origin = 'observed'").fetch_one(&pool).await.unwrap();
    assert_eq!(learned, 1, "the CLI's update is in the daemon's ledger");
    assert_eq!(sim.state().stats().update_interval_breaches, 0);
}
