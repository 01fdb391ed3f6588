//! What the CLI's integration tests share: the real `megaflex` binary (as a
//! command or as a daemon), the simulator, temp directories, free ports,
//! waiting on a signal (a line, a port, a status, a condition) and the
//! peer-skip rule. Each test file uses a part of it.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Lines};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use megaflex_sim::{SimConfig, SimHandle};
use megaflex_testkit::{CircuitToml, ConfigToml, LinkToml};
use serde_json::Value;

/// The blog's VXC: the circuit every daemon test boosts.
pub const VXC: &str = megaflex_sim::BLOG_VXC_UID;

/// How the first line `megaflex sim` prints starts, before its URL.
pub const SIM_BANNER: &str = "megaflex simulator listening on ";

/// The binary under test.
pub fn megaflex() -> Command {
    Command::new(env!("CARGO_BIN_EXE_megaflex"))
}

/// The simulator's default API key and secret in the environment.
pub fn sim_credentials(cmd: &mut Command) -> &mut Command {
    cmd.env("MEGAPORT_ACCESS_KEY", megaflex_sim::DEFAULT_ACCESS_KEY)
        .env("MEGAPORT_SECRET_KEY", megaflex_sim::DEFAULT_SECRET_KEY)
}

/// The simulator's URLs and credentials in the environment, as a user
/// pointing the CLI at it sets them.
pub fn sim_env<'a>(cmd: &'a mut Command, sim: &SimHandle) -> &'a mut Command {
    sim_credentials(cmd).env("MEGAPORT_API_URL", sim.base_url()).env("MEGAPORT_TOKEN_URL", sim.token_url())
}

/// An environment holding only `PATH` and `HOME` (no stray `MEGAPORT_*`
/// from the developer's shell), run in `home`.
pub fn clean_env<'a>(cmd: &'a mut Command, home: &Path) -> &'a mut Command {
    cmd.current_dir(home).env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default()).env("HOME", home)
}

/// A simulator on port 0 with a frozen clock (time moves when a test says).
pub async fn frozen_sim() -> SimHandle {
    sim_with(|_| {}).await
}

/// A frozen simulator, configured further by `f`.
pub async fn sim_with(f: impl FnOnce(&mut SimConfig)) -> SimHandle {
    let mut config = SimConfig { clock_scale: 0.0, ..SimConfig::default() };
    f(&mut config);
    megaflex_sim::spawn(config).await.expect("the simulator starts")
}

/// A `megaflex run` config with what every daemon test shares: the
/// simulator as Megaport, the simulated clock, a store at `db`, link
/// `primary` (syslog from core-b1 Te0/1/0) and circuit `backup` on [`VXC`]
/// (10 Mbps, 500 when `primary` is down). Tests add sources, `[http]` and
/// the rest, then [`ConfigToml::write`] it.
pub fn daemon_toml(sim: &SimHandle, db: &Path) -> ConfigToml {
    ConfigToml::simulator(&sim.base_url(), &sim.token_url())
        .store(db)
        .link(LinkToml::syslog("primary", "core-b1", "TenGigabitEthernet0/1/0"))
        .circuit(CircuitToml::new("backup", VXC, 10, 500, &["primary"]))
}

/// A fresh, empty directory under the system temp dir, kept after the test
/// (its logs are what a failure is read from).
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("megaflex-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A [`temp_dir`] removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        Self(temp_dir(tag))
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Standard output then standard error.
pub fn text(o: &Output) -> String {
    format!("{}{}", stdout(o), stderr(o))
}

/// A file's text, or nothing (for failure messages).
pub fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// A Cisco IOS line-protocol change of `core-b1` Te0/1/0, as syslog sends it.
pub fn syslog_line(state: &str, seq: u32) -> String {
    format!(
        "<189>{seq}: core-b1: *Dec  2 05:00:00.000: %LINEPROTO-5-UPDOWN: Line protocol on Interface TenGigabitEthernet0/1/0, changed state to {state}"
    )
}

/// Polls `cond` every 20 ms until it holds; fails naming `what` after `limit`.
pub fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// [`wait_for`] without blocking the runtime.
pub async fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until something accepts TCP connections on `addr`.
pub fn wait_for_port(addr: SocketAddr, limit: Duration) {
    wait_for(&format!("a listener on {addr}"), limit, || std::net::TcpStream::connect(addr).is_ok());
}

/// The lines a child prints on standard output.
pub fn stdout_lines(child: &mut Child) -> Lines<BufReader<ChildStdout>> {
    BufReader::new(child.stdout.take().expect("stdout piped")).lines()
}

/// Reads lines until one starts with `prefix` and returns the rest of it;
/// fails if the output ends first.
pub fn wait_for_line(lines: &mut impl Iterator<Item = std::io::Result<String>>, prefix: &str) -> String {
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix(prefix) {
            return rest.to_owned();
        }
    }
    panic!("the output ended without a line starting {prefix:?}");
}

/// The URL `megaflex sim` prints on its first line (which must be that line).
pub fn sim_url(lines: &mut impl Iterator<Item = std::io::Result<String>>) -> String {
    let first = lines.next().expect("megaflex sim printed nothing").unwrap();
    first.strip_prefix(SIM_BANNER).unwrap_or_else(|| panic!("not the banner: {first}")).to_owned()
}

/// Sends SIGTERM (the way systemd and Ctrl-C stop the binary).
pub fn sigterm(child: &Child) {
    let sent = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    assert!(sent.is_ok_and(|s| s.success()), "kill -TERM {}", child.id());
}

/// SIGTERM, then the exit status; fails if the process outlives `limit`.
pub fn terminate_within(child: &mut Child, limit: Duration) -> ExitStatus {
    sigterm(child);
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "pid {} did not stop within {limit:?} of SIGTERM", child.id());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A child killed (SIGKILL) and reaped however the test ends.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `megaflex run` on a config, restartable, its standard error appended to
/// `log`; killed when dropped.
pub struct Daemon {
    pub config: PathBuf,
    /// Its `[http]` listener.
    pub http: SocketAddr,
    pub log: PathBuf,
    /// Extra environment for every start.
    pub env: Vec<(String, String)>,
    pub child: Option<Child>,
}

impl Daemon {
    pub fn new(config: PathBuf, http: SocketAddr, log: PathBuf) -> Self {
        Self { config, http, log, env: Vec::new(), child: None }
    }

    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        let mut cmd = megaflex();
        cmd.args(["run", "--config"]).arg(&self.config).env("MEGAFLEX_LOG", "info").env("NO_COLOR", "1");
        sim_credentials(&mut cmd).envs(self.env.iter().map(|(k, v)| (k, v)));
        self.child = Some(cmd.stdout(Stdio::null()).stderr(log).spawn().unwrap());
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// SIGTERM, which must end it with exit code 0.
    pub fn terminate(&mut self) {
        if let Some(mut c) = self.child.take() {
            sigterm(&c);
            let status = c.wait().unwrap();
            assert!(status.success(), "SIGTERM should exit 0, got {status}; log:\n{}", read_log(&self.log));
        }
    }

    /// `GET /api/status`, or `None` while it does not answer.
    pub async fn status(&self, http: &reqwest::Client) -> Option<Value> {
        let r = http.get(format!("http://{}/api/status", self.http)).send().await.ok()?;
        r.json::<Value>().await.ok()
    }

    /// Polls the status every 10 ms (up to 20 s) until `cond` holds.
    pub async fn until(&self, http: &reqwest::Client, what: &str, cond: impl Fn(&Value) -> bool) {
        for _ in 0..2000 {
            if let Some(v) = self.status(http).await
                && cond(&v)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("timed out waiting for {what}; log:\n{}", read_log(&self.log));
    }

    /// Waits until `/readyz` answers 200 (up to 10 s).
    pub async fn ready(&self, http: &reqwest::Client) {
        for _ in 0..1000 {
            if let Ok(r) = http.get(format!("http://{}/readyz", self.http)).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("daemon not ready; log:\n{}", read_log(&self.log));
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

#[path = "../../../../testing/peers.rs"]
mod peers;
// Not every test crate that includes `common` has a peer test.
#[allow(unused_imports)]
pub use peers::{peer_present, peers_required};
