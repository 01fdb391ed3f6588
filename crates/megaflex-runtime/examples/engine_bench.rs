//! Engine figures for `bench/engine.sh` (release build, loopback only).
//!
//! `engine_bench latency [N] [EVENTS]`: a simulator and the engine in one
//! process, N links and N circuits (default 1000), zero hold-down, system
//! clock. For EVENTS links (default 150: each update and its confirmation
//! spend two of the 400 requests per 5 minutes the engine allows itself) a
//! Cisco link-down datagram is sent over UDP and the engine is watched: datagram sent -> decision published (`/api/status` view), and
//! datagram sent -> the update request arriving at the simulator. Prints
//! percentiles, and the API requests of one reconcile cycle over N circuits.
//!
//! `engine_bench files DIR [N]`: writes `world.json` (the default world plus
//! N VXCs) and `megaflex.toml` (N links, N circuits) for the RSS runs of the
//! real binary.

use std::path::Path;
use std::time::{Duration, Instant};

use megaflex_runtime::config::Config;
use megaflex_runtime::{self as engine, RunOptions};
use megaflex_sim::SimConfig;
use megaflex_testkit::{CircuitToml, ConfigToml, LinkToml, quoted};
use megaport::types::EpochMillis;

fn bench_vxc(i: usize) -> String {
    megaflex_sim::extra_vxc_uid(i)
}

fn world(n: usize) -> megaflex_sim::WorldFile {
    megaflex_sim::default_world_with_vxcs(EpochMillis::now(), n)
}

fn config(api: &str, db: &Path, syslog: &str, http: Option<&str>, n: usize) -> String {
    let toml = ConfigToml::default()
        .megaport(
            "environment",
            format!("{{ api_url = {}, token_url = {} }}", quoted(api), quoted(&format!("{api}/oauth2/token"))),
        )
        .engine("reconcile_every", quoted("5m"))
        .store(db)
        .syslog(syslog);
    let toml = match http {
        Some(h) => toml.http(h),
        None => toml,
    };
    (0..n)
        .fold(toml, |toml, i| {
            let link = format!("link-{i}");
            toml.link(LinkToml::syslog(&link, &format!("core-{i}"), "TenGigabitEthernet0/1/0")).circuit(
                CircuitToml::new(&format!("circuit-{i}"), &bench_vxc(i), 10, 500, &[&link])
                    .boost_after("0s")
                    .restore_after("1h"),
            )
        })
        .text()
}

fn line(i: usize, state: &str) -> String {
    format!(
        "<189>{i}: core-{i}: *Dec  2 05:00:00.000: %LINEPROTO-5-UPDOWN: Line protocol on Interface TenGigabitEthernet0/1/0, changed state to {state}"
    )
}

fn wall_us() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn report(name: &str, v: &mut [f64], target_ms: f64) {
    let (p50, p99, max) = (pct(v, 0.5), pct(v, 0.99), pct(v, 1.0));
    println!(
        "{name}: n={} p50={p50:.3} ms p99={p99:.3} ms max={max:.3} ms (target p99 < {target_ms} ms: {:.2}x of target)",
        v.len(),
        p99 / target_ms
    );
}

async fn latency(n: usize, events: usize) {
    let sim = megaflex_sim::spawn(SimConfig { world: world(n), ..SimConfig::default() }).await.unwrap();
    let dir = std::env::temp_dir().join(format!("megaflex-runtime-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = config(&sim.base_url(), &dir.join("megaflex.db"), "udp://127.0.0.1:0", None, n);
    let cfg = Config::parse(Path::new("bench.toml"), &text).unwrap();
    let options = RunOptions {
        credentials: Some(megaport::Credentials::new(
            megaflex_sim::DEFAULT_ACCESS_KEY,
            megaflex_sim::DEFAULT_SECRET_KEY,
        )),
        ..RunOptions::default()
    };
    let d = engine::start(cfg, options).await.unwrap();
    let mut status = d.status.clone();
    while status.borrow().circuits.iter().any(|c| c.actual_mbps.is_none()) {
        status.changed().await.unwrap();
    }
    let reads = sim.state().stats().requests;
    println!("reconcile cycle over {n} circuits: {reads} API request(s)");

    let to = d.sources[0].2;
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut decision_ms = Vec::new();
    let mut sent = Vec::new();
    for i in 0..events.min(n) {
        let t0 = Instant::now();
        let sent_us = wall_us();
        udp.send_to(line(i, "down").as_bytes(), to).await.unwrap();
        loop {
            status.changed().await.unwrap();
            if status.borrow().circuits[i].wanted_mbps == 500 {
                break;
            }
        }
        decision_ms.push(t0.elapsed().as_secs_f64() * 1e3);
        sent.push(sent_us);
        // Let the update land before the next event so the two are not mixed.
        while sim.state().stats().updates.len() < i + 1 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    // The simulator stamps each update with the system clock when it applies it.
    let updates = sim.state().stats().updates;
    let mut update_ms: Vec<f64> = updates.iter().zip(&sent).map(|(u, s)| (u.wall_us - s) as f64 / 1e3).collect();
    report("datagram sent -> decision published", &mut decision_ms, 1.0);
    report("datagram sent -> update applied by the simulator", &mut update_ms, 10.0);
    let stats = sim.state().stats();
    println!(
        "updates {} breaches {}",
        stats.updates.len(),
        stats.update_interval_breaches + stats.monthly_update_breaches + stats.rate_limit_breaches
    );
    d.stop();
    d.join().await;
    let _ = std::fs::remove_dir_all(&dir);
}

fn files(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("world.json"), serde_json::to_string(&world(n)).unwrap()).unwrap();
    let text =
        config("http://127.0.0.1:18480", &dir.join("megaflex.db"), "udp://127.0.0.1:15515", Some("127.0.0.1:19190"), n);
    std::fs::write(dir.join("megaflex.toml"), text).unwrap();
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("latency") => {
            let n = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1000);
            latency(n, args.get(3).and_then(|s| s.parse().ok()).unwrap_or(150)).await
        }
        Some("files") => files(Path::new(&args[2]), args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1000)),
        _ => eprintln!("usage: engine_bench latency [N] [EVENTS] | files DIR [N]"),
    }
}
