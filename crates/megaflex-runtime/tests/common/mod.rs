//! A simulator with a frozen clock, an engine on it (real UDP syslog, real
//! SQLite file, real HTTP to the simulator), and helpers to move time and
//! wait for what the engine does.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use megaflex_runtime::config::Config;
use megaflex_runtime::{Daemon, RunOptions};
use megaflex_sim::{SimConfig, SimHandle};
pub use megaflex_testkit::{CircuitToml, ConfigToml, LinkToml, quoted};
use megaport::Credentials;

#[path = "../../../../testing/peers.rs"]
mod peers;
#[path = "../../../../testing/postgres.rs"]
pub mod postgres;
// Not every test crate that includes `common` has a peer test.
#[allow(unused_imports)]
pub use peers::{peer_present, peers_required};

pub const VXC: &str = megaflex_sim::BLOG_VXC_UID;

/// A fresh directory under the system temp dir.
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "megaflex-{tag}-{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `[megaport]` on the simulator, its clock, a store at `db`, syslog on UDP.
fn header(sim: &SimHandle, db: &std::path::Path) -> ConfigToml {
    ConfigToml::simulator(&sim.base_url(), &sim.token_url())
        .engine("reconcile_every", quoted("60s"))
        .engine("confirm_within", quoted("2m"))
        .store(db)
        .syslog("udp://127.0.0.1:0")
}

/// The scenario configuration: link `bne-mel-primary` watched over syslog
/// (core-b1 Te0/1/0), circuit `bne-mel-backup` on [`VXC`] (10 Mbps, 500
/// after 30 s down, back after 10 min up).
pub fn scenario(sim: &SimHandle, db: &std::path::Path) -> ConfigToml {
    header(sim, db).link(LinkToml::syslog("bne-mel-primary", "core-b1", "TenGigabitEthernet0/1/0")).circuit(
        CircuitToml::new("bne-mel-backup", VXC, 10, 500, &["bne-mel-primary"]).boost_after("30s").restore_after("10m"),
    )
}

/// Compiles `toml` as a file named `name` would be.
pub fn compile(name: &str, toml: &ConfigToml) -> Config {
    Config::parse(std::path::Path::new(name), &toml.text()).unwrap_or_else(|e| panic!("{e}\n{}", toml.text()))
}

pub async fn sim() -> SimHandle {
    megaflex_sim::spawn(SimConfig { clock_scale: 0.0, ..SimConfig::default() }).await.unwrap()
}

pub fn options() -> RunOptions {
    RunOptions {
        http_listen: Some("127.0.0.1:0".parse().unwrap()),
        credentials: Some(Credentials::new(megaflex_sim::DEFAULT_ACCESS_KEY, megaflex_sim::DEFAULT_SECRET_KEY)),
        confirm_policy: Some(megaport::ConfirmPolicy {
            initial_poll: Duration::from_millis(20),
            max_poll: Duration::from_millis(100),
        }),
        servicenow: None,
        http_token: Some(HTTP_TOKEN.into()),
        ..RunOptions::default()
    }
}

/// The HTTP write token the test daemons take.
pub const HTTP_TOKEN: &str = "test-http-token";

pub async fn start(toml: &ConfigToml) -> Daemon {
    megaflex_runtime::start(compile("scenario.toml", toml), options()).await.unwrap()
}

pub fn syslog_addr(d: &Daemon) -> SocketAddr {
    d.sources.iter().find(|s| s.0 == "syslog").unwrap().2
}

/// A Cisco IOS line from core-b1 about the primary's interface.
pub fn cisco_line(seq: u32, state: &str) -> String {
    format!(
        "<189>{seq}: core-b1: *Dec  2 05:00:00.000: %LINEPROTO-5-UPDOWN: Line protocol on Interface TenGigabitEthernet0/1/0, changed state to {state}"
    )
}

pub async fn send(to: SocketAddr, line: &str) {
    let s = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    s.send_to(line.as_bytes(), to).await.unwrap();
}

pub fn advance(sim: &SimHandle, secs: f64) {
    sim.state().clock().advance_secs(secs);
}

/// Polls `cond` every 10 ms for up to 15 s of real time.
pub async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..1500 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Waits until the core has applied `n` events in all and decided on them
/// (timers fired, a read started if one is due): the signal to wait on
/// before asserting what an event did not cause.
pub async fn wait_processed(d: &Daemon, n: u64) {
    let mut progress = d.progress.clone();
    let wait = progress.wait_for(|p| p.events >= n);
    let waited = tokio::time::timeout(Duration::from_secs(15), wait).await.map(|r| r.is_ok());
    let last = *progress.borrow();
    assert!(
        waited.unwrap_or_else(|_| panic!("timed out waiting for {n} events processed; {last:?}")),
        "engine stopped"
    );
}

/// Waits until the engine has caught up with the simulator's clock as it
/// is now (its timers fired up to it) and has nothing in flight: whatever
/// that time made it decide has been read and sent, so an assertion that
/// no update was made cannot pass merely because it came too early.
pub async fn wait_settled(d: &Daemon, sim: &SimHandle) {
    let at = sim.state().now();
    let mut progress = d.progress.clone();
    let wait = progress.wait_for(|p| p.now >= at && p.idle);
    let waited = tokio::time::timeout(Duration::from_secs(15), wait).await.map(|r| r.is_ok());
    let last = *progress.borrow();
    assert!(
        waited.unwrap_or_else(|_| panic!("timed out waiting for the engine to settle at {at:?}; {last:?}")),
        "engine stopped"
    );
}

/// Events the core has applied so far.
pub fn processed(d: &Daemon) -> u64 {
    d.progress.borrow().events
}

/// Rates of the accepted updates, in order.
pub fn update_rates(sim: &SimHandle) -> Vec<u32> {
    sim.state().stats().updates.iter().filter_map(|u| u.rate_limit).collect()
}

pub fn breaches(sim: &SimHandle) -> u64 {
    let s = sim.state().stats();
    s.rate_limit_breaches + s.update_interval_breaches + s.monthly_update_breaches
}

/// Parsed, so a misspelt action fails the test instead of never matching.
fn action(name: &str) -> megaflex_domain::circuits::DecisionAction {
    name.parse().unwrap_or_else(|e| panic!("{e}"))
}

pub fn has_decision(d: &Daemon, name: &str) -> bool {
    let a = action(name);
    d.status.borrow().recent_decisions.iter().any(|x| x.action == a)
}

pub fn count_decisions(d: &Daemon, name: &str) -> usize {
    let a = action(name);
    d.status.borrow().recent_decisions.iter().filter(|x| x.action == a).count()
}

/// Waits for the first reconcile (the VXC's rate read).
pub async fn wait_ready(d: &Daemon) {
    wait_for("the first reconcile", || d.status.borrow().circuits.iter().all(|c| c.actual_mbps.is_some())).await;
}

pub async fn db(path: &std::path::Path) -> sqlx::SqlitePool {
    sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display())).await.unwrap()
}

pub async fn count(pool: &sqlx::SqlitePool, sql: &'static str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await.unwrap()
}

/// The default world plus `n` copies of the blog VXC.
pub fn world_with_vxcs(n: usize) -> megaflex_sim::WorldFile {
    megaflex_sim::default_world_with_vxcs(megaport::types::EpochMillis::now(), n)
}

pub fn bench_vxc(i: usize) -> String {
    megaflex_sim::extra_vxc_uid(i)
}

/// `n` links (`core-{i}` Te0/1/0) and `n` circuits on the bench VXCs.
pub fn scale_config(sim: &SimHandle, db: &std::path::Path, n: usize, boost_after: &str) -> ConfigToml {
    (0..n).fold(header(sim, db), |toml, i| {
        let link = format!("link-{i}");
        toml.link(LinkToml::syslog(&link, &format!("core-{i}"), "TenGigabitEthernet0/1/0")).circuit(
            CircuitToml::new(&format!("circuit-{i}"), &bench_vxc(i), 10, 500, &[&link])
                .boost_after(boost_after)
                .restore_after("1h"),
        )
    })
}
