//! Issue 15, item 10, with the real binaries: `megaflex vxc speed` changes
//! the VXC, then `megaflex run` starts on a fresh store wanting the normal
//! rate back. It learns the CLI's update from the state directory, sends
//! nothing the 5-minute rule would refuse, and a SIGTERM ends it within
//! seconds with the deferred restore recorded.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use megaflex_sim::SimConfig;
use serde_json::Value;

const VXC: &str = megaflex_sim::BLOG_VXC_UID;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_the_update_rule_refuses_is_deferred_not_looped_and_sigterm_is_prompt() {
    // A real-time simulator clock: the CLI's ledger is stamped with the system clock.
    let sim = megaflex_sim::spawn(SimConfig { clock_scale: 1.0, ..SimConfig::default() }).await.unwrap();
    let dir = std::env::temp_dir().join(format!("megaflex-faults-refused-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cmd = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_megaflex"));
        c.args(args)
            .env("HOME", &dir)
            .env("XDG_STATE_HOME", dir.join("state"))
            .env("MEGAPORT_API_URL", sim.base_url())
            .env("MEGAPORT_TOKEN_URL", sim.token_url())
            .env("MEGAPORT_ACCESS_KEY", megaflex_sim::DEFAULT_ACCESS_KEY)
            .env("MEGAPORT_SECRET_KEY", megaflex_sim::DEFAULT_SECRET_KEY)
            .env("MEGAFLEX_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        c
    };
    let out = cmd(&["vxc", "speed", VXC, "500", "--yes"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(sim.state().stats().updates.len(), 1);

    let http_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = dir.join("megaflex.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[megaport]
environment = {{ api_url = "{api}", token_url = "{token}" }}
[engine]
clock = "simulator"
[store]
url = "sqlite://{db}"
[http]
listen = "127.0.0.1:{http_port}"
[[link]]
name = "primary"
signals = [ {{ syslog = {{ host = "core-b1", interface = "TenGigabitEthernet0/1/0" }} }} ]
[[circuit]]
name = "backup"
vxc = "{VXC}"
normal_mbps = 10
boost_mbps = 500
boost_when_down = ["primary"]
"#,
            api = sim.base_url(),
            token = sim.token_url(),
            db = dir.join("megaflex.db").display(),
        ),
    )
    .unwrap();
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
    let log_text = || std::fs::read_to_string(dir.join("engine.log")).unwrap_or_default();
    assert!(deferred, "the restore was never deferred; log:\n{}", log_text());
    let stats = sim.state().stats();
    assert_eq!(stats.updates.len(), 1, "no second update");
    assert_eq!(stats.update_interval_breaches, 0, "not even one refused PUT: the CLI's update was known");

    let asked = Instant::now();
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(asked.elapsed() < Duration::from_secs(10), "SIGTERM took more than 10 s; log:\n{}", log_text());
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
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
