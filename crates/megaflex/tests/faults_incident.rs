//! Incidents are resolved however an episode ends (issue 15, item 7): the
//! real `megaflex run` binary, the simulator taking 10 minutes to apply each
//! change, and a restore that is either cut short by SIGKILL while Megaport
//! applies it, or outlasts `confirm_within`. Either way: one update per
//! change, the incident resolved exactly once, the next episode a new one.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Daemon, daemon_toml, free_tcp_port, free_udp_port, sim_with, syslog_line, temp_dir, wait_until};
use megaflex_sim::SimHandle;
use megaflex_testkit::quoted;
use serde_json::{Map, Value};

/// `megaflex run` with syslog, `[http]` and ServiceNow on the simulator,
/// and where its syslog listens.
fn daemon(dir: &Path, sim: &SimHandle, confirm_within: &str) -> (Daemon, SocketAddr) {
    let (syslog, http) = (free_udp_port(), free_tcp_port());
    let config = daemon_toml(sim, &dir.join("megaflex.db"))
        .engine("reconcile_every", quoted("60s"))
        .engine("confirm_within", quoted(confirm_within))
        .http(format!("127.0.0.1:{http}"))
        .servicenow(&sim.base_url())
        .servicenow_key("assignment_group", quoted("Network Operations"))
        .servicenow_key("caller_id", quoted("megaflex.automation"))
        .servicenow_key("close_code", quoted("Solved (Permanently)"))
        .syslog(format!("udp://127.0.0.1:{syslog}"))
        .map_circuits(|c| c.boost_after("30s").restore_after("10m").incident())
        .write(dir);
    let mut d = Daemon::new(config, format!("127.0.0.1:{http}").parse().unwrap(), dir.join("engine.log"));
    for (k, v) in [
        ("SERVICENOW_USER", megaflex_sim::DEFAULT_SERVICENOW_USER),
        ("SERVICENOW_PASSWORD", megaflex_sim::DEFAULT_SERVICENOW_PASSWORD),
    ] {
        d.env.push((k.to_owned(), v.to_owned()));
    }
    (d, format!("127.0.0.1:{syslog}").parse().unwrap())
}

async fn send(syslog: SocketAddr, state: &str, seq: u32) {
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    udp.send_to(syslog_line(state, seq).as_bytes(), syslog).await.unwrap();
}

fn incidents(sim: &SimHandle) -> Vec<Map<String, Value>> {
    sim.state().servicenow_incidents().0
}

fn updates(sim: &SimHandle) -> usize {
    sim.state().stats().updates.len()
}

async fn wait_sim(what: &str, cond: impl Fn() -> bool) {
    wait_until(what, Duration::from_secs(20), cond).await;
}

/// Boost (confirmed) then link up and the hold-up over: the restore is sent
/// and Megaport starts applying it (10 frozen minutes).
async fn boost_then_restore_sent(sim: &SimHandle, d: &Daemon, syslog: SocketAddr, http: &reqwest::Client) {
    d.until(http, "the first read", |v| v["circuits"][0]["actual_mbps"] == 10).await;
    send(syslog, "down", 1).await;
    d.until(http, "link down", |v| v["links"][0]["status"] == "down").await;
    sim.state().clock().advance_secs(31.0);
    wait_sim("the boost sent", || updates(sim) == 1).await;
    sim.state().clock().advance_secs(601.0);
    d.until(http, "the boost confirmed", |v| v["circuits"][0]["actual_mbps"] == 500).await;
    wait_sim("the incident opened", || incidents(sim).len() == 1).await;
    send(syslog, "up", 2).await;
    d.until(http, "link up", |v| v["links"][0]["status"] == "up").await;
    sim.state().clock().advance_secs(601.0);
    wait_sim("the restore sent", || updates(sim) == 2).await;
}

async fn setup(tag: &str, confirm_within: &str) -> (SimHandle, Daemon, SocketAddr, PathBuf) {
    let sim = sim_with(|c| c.apply_delay_secs = 600.0).await;
    let dir = temp_dir(&format!("faults-incident-{tag}"));
    let (d, syslog) = daemon(&dir, &sim, confirm_within);
    (sim, d, syslog, dir)
}

async fn assert_resolved_once(sim: &SimHandle, dir: &Path) {
    wait_sim("the incident resolved", || incidents(sim).first().is_some_and(|i| i["state"] == "6")).await;
    assert_eq!(incidents(sim).len(), 1, "the episode kept one incident");
    let s = sim.state().stats();
    assert_eq!(s.updates.iter().filter_map(|u| u.rate_limit).collect::<Vec<_>>(), [500, 10], "one update per change");
    assert_eq!(s.update_interval_breaches + s.monthly_update_breaches + s.rate_limit_breaches, 0);
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", dir.join("megaflex.db").display())).await.unwrap();
    // The daemon records the resolution after ServiceNow answered it.
    let mut open = -1;
    for _ in 0..1000 {
        open = sqlx::query_scalar("SELECT COUNT(*) FROM incidents WHERE resolved_ms IS NULL")
            .fetch_one(&pool)
            .await
            .unwrap();
        if open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(open, 0, "no incident left open in the store");
    let resolves: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM servicenow_outbox WHERE kind = 'resolve'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(resolves, 1, "resolved exactly once");
    let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM servicenow_outbox WHERE state != 'delivered'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(pending, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_cut_short_by_sigkill_while_megaport_applies_it_resolves_the_incident_once() {
    let (sim, mut d, syslog, dir) = setup("kill", "10m").await;
    megaport::install_crypto_provider();
    let http = reqwest::Client::new();
    d.spawn();
    boost_then_restore_sent(&sim, &d, syslog, &http).await;
    d.kill();
    d.spawn();
    // Megaport still applies it: the restarted daemon waits, sends nothing.
    d.until(&http, "the restart read", |v| v["circuits"][0]["actual_mbps"].is_u64()).await;
    assert_eq!(updates(&sim), 2);
    sim.state().clock().advance_secs(601.0);
    assert_resolved_once(&sim, &dir).await;
    d.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_outlasting_confirm_within_resolves_the_incident_once() {
    let (sim, mut d, syslog, dir) = setup("slow", "1s").await;
    megaport::install_crypto_provider();
    let http = reqwest::Client::new();
    d.spawn();
    // The boost itself outlasts 1 s too: the test advances the clock for it.
    d.until(&http, "the first read", |v| v["circuits"][0]["actual_mbps"] == 10).await;
    send(syslog, "down", 1).await;
    d.until(&http, "link down", |v| v["links"][0]["status"] == "down").await;
    sim.state().clock().advance_secs(31.0);
    wait_sim("the boost sent", || updates(&sim) == 1).await;
    sim.state().clock().advance_secs(601.0);
    d.until(&http, "the boost in force", |v| v["circuits"][0]["actual_mbps"] == 500).await;
    wait_sim("the incident opened", || incidents(&sim).len() == 1).await;
    send(syslog, "up", 2).await;
    d.until(&http, "link up", |v| v["links"][0]["status"] == "up").await;
    sim.state().clock().advance_secs(601.0);
    wait_sim("the restore sent", || updates(&sim) == 2).await;
    d.until(&http, "the confirmation given up", |v| {
        v["recent_decisions"].as_array().is_some_and(|a| a.iter().any(|d| d["action"] == "failed"))
    })
    .await;
    sim.state().clock().advance_secs(601.0);
    assert_resolved_once(&sim, &dir).await;
    d.terminate();
}
