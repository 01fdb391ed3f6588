//! Incidents are resolved however an episode ends (issue 15, item 7): the
//! real `megaflex run` binary, the simulator taking 10 minutes to apply each
//! change, and a restore that is either cut short by SIGKILL while Megaport
//! applies it, or outlasts `confirm_within`. Either way: one update per
//! change, the incident resolved exactly once, the next episode a new one.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use megaflex_sim::{SimConfig, SimHandle};
use serde_json::{Map, Value};

const VXC: &str = megaflex_sim::BLOG_VXC_UID;

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Daemon {
    config: PathBuf,
    http: SocketAddr,
    syslog: SocketAddr,
    log: PathBuf,
    child: Option<Child>,
}

impl Daemon {
    fn new(dir: &Path, sim: &SimHandle, confirm_within: &str) -> Self {
        let (syslog, http) = (free_udp_port(), free_tcp_port());
        let text = format!(
            r#"
[megaport]
environment = {{ api_url = "{api}", token_url = "{token}" }}
[engine]
clock = "simulator"
reconcile_every = "60s"
confirm_within = "{confirm_within}"
[store]
url = "sqlite://{db}"
[http]
listen = "127.0.0.1:{http}"
[servicenow]
instance = "{api}"
assignment_group = "Network Operations"
caller_id = "megaflex.automation"
close_code = "Solved (Permanently)"
[[source]]
type = "syslog"
listen = "udp://127.0.0.1:{syslog}"
[[link]]
name = "primary"
signals = [ {{ syslog = {{ host = "core-b1", interface = "TenGigabitEthernet0/1/0" }} }} ]
[[circuit]]
name = "backup"
vxc = "{VXC}"
normal_mbps = 10
boost_mbps = 500
boost_when_down = ["primary"]
boost_after = "30s"
restore_after = "10m"
incident = true
"#,
            api = sim.base_url(),
            token = sim.token_url(),
            db = dir.join("megaflex.db").display(),
        );
        let config = dir.join("megaflex.toml");
        std::fs::write(&config, text).unwrap();
        Self {
            config,
            http: format!("127.0.0.1:{http}").parse().unwrap(),
            syslog: format!("127.0.0.1:{syslog}").parse().unwrap(),
            log: dir.join("engine.log"),
            child: None,
        }
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_megaflex"))
            .args(["run", "--config"])
            .arg(&self.config)
            .env("MEGAPORT_ACCESS_KEY", megaflex_sim::DEFAULT_ACCESS_KEY)
            .env("MEGAPORT_SECRET_KEY", megaflex_sim::DEFAULT_SECRET_KEY)
            .env("SERVICENOW_USER", megaflex_sim::DEFAULT_SERVICENOW_USER)
            .env("SERVICENOW_PASSWORD", megaflex_sim::DEFAULT_SERVICENOW_PASSWORD)
            .env("MEGAFLEX_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap(); // SIGKILL
            c.wait().unwrap();
        }
    }

    fn terminate(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
            let status = c.wait().unwrap();
            assert!(status.success(), "SIGTERM should exit 0, got {status}");
        }
    }

    async fn status(&self, http: &reqwest::Client) -> Option<Value> {
        let r = http.get(format!("http://{}/api/status", self.http)).send().await.ok()?;
        r.json::<Value>().await.ok()
    }

    /// Polls the status every 10 ms (up to 20 s) until `cond` holds.
    async fn until(&self, http: &reqwest::Client, what: &str, cond: impl Fn(&Value) -> bool) {
        for _ in 0..2000 {
            if let Some(v) = self.status(http).await
                && cond(&v)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("timed out waiting for {what}; log:\n{}", std::fs::read_to_string(&self.log).unwrap_or_default());
    }

    async fn send(&self, state: &str, seq: u32) {
        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let line = format!(
            "<189>{seq}: core-b1: *Dec  2 05:00:00.000: %LINEPROTO-5-UPDOWN: Line protocol on Interface TenGigabitEthernet0/1/0, changed state to {state}"
        );
        udp.send_to(line.as_bytes(), self.syslog).await.unwrap();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

fn incidents(sim: &SimHandle) -> Vec<Map<String, Value>> {
    sim.state().servicenow_incidents().0
}

fn updates(sim: &SimHandle) -> usize {
    sim.state().stats().updates.len()
}

async fn wait_sim(what: &str, cond: impl Fn() -> bool) {
    for _ in 0..2000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Boost (confirmed) then link up and the hold-up over: the restore is sent
/// and Megaport starts applying it (10 frozen minutes).
async fn boost_then_restore_sent(sim: &SimHandle, d: &Daemon, http: &reqwest::Client) {
    d.until(http, "the first read", |v| v["circuits"][0]["actual_mbps"] == 10).await;
    d.send("down", 1).await;
    d.until(http, "link down", |v| v["links"][0]["status"] == "down").await;
    sim.state().clock().advance_secs(31.0);
    wait_sim("the boost sent", || updates(sim) == 1).await;
    sim.state().clock().advance_secs(601.0);
    d.until(http, "the boost confirmed", |v| v["circuits"][0]["actual_mbps"] == 500).await;
    wait_sim("the incident opened", || incidents(sim).len() == 1).await;
    d.send("up", 2).await;
    d.until(http, "link up", |v| v["links"][0]["status"] == "up").await;
    sim.state().clock().advance_secs(601.0);
    wait_sim("the restore sent", || updates(sim) == 2).await;
}

async fn setup(tag: &str, confirm_within: &str) -> (SimHandle, Daemon, PathBuf) {
    let sim = megaflex_sim::spawn(SimConfig { clock_scale: 0.0, apply_delay_secs: 600.0, ..SimConfig::default() })
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("megaflex-faults-incident-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let d = Daemon::new(&dir, &sim, confirm_within);
    (sim, d, dir)
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
    let (sim, mut d, dir) = setup("kill", "10m").await;
    megaport::install_crypto_provider();
    let http = reqwest::Client::new();
    d.spawn();
    boost_then_restore_sent(&sim, &d, &http).await;
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
    let (sim, mut d, dir) = setup("slow", "1s").await;
    megaport::install_crypto_provider();
    let http = reqwest::Client::new();
    d.spawn();
    // The boost itself outlasts 1 s too: the test advances the clock for it.
    d.until(&http, "the first read", |v| v["circuits"][0]["actual_mbps"] == 10).await;
    d.send("down", 1).await;
    d.until(&http, "link down", |v| v["links"][0]["status"] == "down").await;
    sim.state().clock().advance_secs(31.0);
    wait_sim("the boost sent", || updates(&sim) == 1).await;
    sim.state().clock().advance_secs(601.0);
    d.until(&http, "the boost in force", |v| v["circuits"][0]["actual_mbps"] == 500).await;
    wait_sim("the incident opened", || incidents(&sim).len() == 1).await;
    d.send("up", 2).await;
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
