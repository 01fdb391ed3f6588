//! Crash safety: the real `megaflex run` binary, killed with SIGKILL at
//! random moments across 30 boost/restore cycles and restarted each time.
//! The simulator (strict limits) must see exactly one update per change, no
//! two updates to the same rate in a row, no breach, and the store must end
//! with every intent settled.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use megaflex_sim::{SimConfig, SimHandle};

const VXC: &str = megaflex_sim::BLOG_VXC_UID;
const CYCLES: u32 = 30;

fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Engine {
    config: PathBuf,
    http: SocketAddr,
    log: PathBuf,
    child: Option<Child>,
    starts: u32,
}

impl Engine {
    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_megaflex"))
            .args(["run", "--config"])
            .arg(&self.config)
            .env("MEGAPORT_ACCESS_KEY", megaflex_sim::DEFAULT_ACCESS_KEY)
            .env("MEGAPORT_SECRET_KEY", megaflex_sim::DEFAULT_SECRET_KEY)
            .env("MEGAFLEX_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        self.starts += 1;
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

    /// Waits until the engine has taken the link's new state in (so that
    /// moving the simulator's clock does not overtake the event).
    async fn link_is(&self, http: &reqwest::Client, state: &str) {
        for _ in 0..1000 {
            if let Ok(r) = http.get(format!("http://{}/api/status", self.http)).send().await
                && let Ok(v) = r.json::<serde_json::Value>().await
                && v["links"][0]["status"] == state
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("link never {state}");
    }

    async fn ready(&self, http: &reqwest::Client) {
        for _ in 0..1000 {
            if let Ok(r) = http.get(format!("http://{}/readyz", self.http)).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("engine not ready; log:\n{}", std::fs::read_to_string(&self.log).unwrap_or_default());
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.kill();
    }
}

fn rate(sim: &SimHandle) -> Option<u32> {
    sim.state().stats().updates.last().and_then(|u| u.rate_limit)
}

fn line(state: &str, seq: u32) -> String {
    format!(
        "<189>{seq}: core-b1: *Dec  2 05:00:00.000: %LINEPROTO-5-UPDOWN: Line protocol on Interface TenGigabitEthernet0/1/0, changed state to {state}"
    )
}

fn write_config(dir: &Path, sim: &SimHandle, syslog: u16, http: u16) -> PathBuf {
    let text = format!(
        r#"
[megaport]
environment = {{ api_url = "{api}", token_url = "{token}" }}
[engine]
clock = "simulator"
reconcile_every = "60s"
[store]
url = "sqlite://{db}"
[http]
listen = "127.0.0.1:{http}"
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
max_updates_per_month = 100
"#,
        api = sim.base_url(),
        token = sim.token_url(),
        db = dir.join("megaflex.db").display(),
    );
    let path = dir.join("megaflex.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_never_doubles_or_forgets_an_update() {
    let sim = megaflex_sim::spawn(SimConfig { clock_scale: 0.0, ..SimConfig::default() }).await.unwrap();
    let dir = std::env::temp_dir().join(format!("megaflex-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (syslog_port, http_port) = (free_port(), free_tcp_port());
    let config = write_config(&dir, &sim, syslog_port, http_port);
    let syslog: SocketAddr = format!("127.0.0.1:{syslog_port}").parse().unwrap();
    let mut engine = Engine {
        config,
        http: format!("127.0.0.1:{http_port}").parse().unwrap(),
        log: dir.join("engine.log"),
        child: None,
        starts: 0,
    };
    megaport::install_crypto_provider();
    let http = reqwest::Client::new();
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let seed = std::env::var("MEGAFLEX_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20_261_202);
    eprintln!("seed {seed} (MEGAFLEX_CRASH_SEED to repeat)");
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut seq = 0;
    let mut kills = 0;
    engine.spawn();
    engine.ready(&http).await;

    for cycle in 0..CYCLES {
        for (state, hold_secs, target) in [("down", 31.0, 500), ("up", 601.0, 10)] {
            seq += 1;
            udp.send_to(line(state, seq).as_bytes(), syslog).await.unwrap();
            engine.link_is(&http, state).await;
            sim.state().clock().advance_secs(hold_secs);
            // Kill somewhere between "timer fired" and "update confirmed" (or
            // just after), most cycles.
            if rng.u8(0..4) != 0 {
                tokio::time::sleep(Duration::from_micros(rng.u64(0..60_000))).await;
                engine.kill();
                kills += 1;
                engine.spawn();
                engine.ready(&http).await;
                // Routers do not repeat themselves; the test re-sends the
                // current state in case the kill lost the datagram.
                seq += 1;
                udp.send_to(line(state, seq).as_bytes(), syslog).await.unwrap();
                engine.link_is(&http, state).await;
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
    eprintln!("{kills} kills, {} starts, {} updates", engine.starts, rates.len());
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
