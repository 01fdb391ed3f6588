//! Real syslog relays run unprivileged for a test: rsyslogd (Debian
//! package) and syslog-ng (Debian's `syslog-ng-core` unpacked with
//! `dpkg -x`, found through `MEGAFLEX_SYSLOG_NG_ROOT`, because as a package
//! it conflicts with rsyslog; `.ci/fetch-syslog-ng` makes that directory).
//! Each gets its own config, pid and state files in a fresh directory and
//! is killed when dropped.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// A fresh directory under the system temp dir.
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "megaflex-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// Each helper file brings the shared rule along, so a test crate may include
// several of them: the copies are the same stateless functions.
#[allow(clippy::duplicate_mod)]
#[path = "../../../../testing/peers.rs"]
mod peers;
use peers::peer_present as present;

/// A port free right now on 127.0.0.1 for both UDP and TCP, for a relay's
/// input: relays cannot be told to bind port 0 and report it. Taken below
/// the kernel's ephemeral range (32768 and up on Linux), so a listener that
/// another test binds to port 0 meanwhile cannot be handed the same one.
fn free_port() -> u16 {
    static N: AtomicU32 = AtomicU32::new(0);
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos()
        ^ std::process::id().rotate_left(16)
        ^ N.fetch_add(7919, Ordering::Relaxed);
    for i in 0..1000u32 {
        let port = 20_000 + (seed.wrapping_add(i.wrapping_mul(104_729)) % 12_000) as u16;
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok()
            && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
        {
            return port;
        }
    }
    panic!("no free port in 20000..32000");
}

/// A UDP port free right now on 127.0.0.1 (see `free_port`).
pub fn free_udp_port() -> u16 {
    free_port()
}

/// A TCP port free right now on 127.0.0.1 (see `free_port`).
pub fn free_tcp_port() -> u16 {
    free_port()
}

/// A running relay, killed on drop.
#[derive(Debug)]
pub struct Relay {
    child: Child,
    pub dir: PathBuf,
    pub name: &'static str,
}

impl Relay {
    /// The relay's own output so far (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("relay.log")).unwrap_or_default()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(mut cmd: Command, dir: &Path, name: &'static str) -> Relay {
    let log = std::fs::File::create(dir.join("relay.log")).unwrap();
    cmd.stdout(Stdio::from(log.try_clone().unwrap())).stderr(Stdio::from(log));
    let child = cmd.spawn().unwrap_or_else(|e| panic!("{name} starts: {e}"));
    Relay { child, dir: dir.to_owned(), name }
}

/// Whether rsyslogd is installed.
pub fn rsyslog_available() -> bool {
    present(Command::new("rsyslogd").arg("-v").output().is_ok(), "rsyslogd", "apt-get install rsyslog")
}

/// Whether rsyslog's GnuTLS network stream driver is installed.
pub fn rsyslog_gtls_available() -> bool {
    // Not `rsyslog_available()`: a missing rsyslogd would print a second line.
    let ok = Command::new("rsyslogd").arg("-v").output().is_ok()
        && ["/usr/lib/x86_64-linux-gnu/rsyslog", "/usr/lib/aarch64-linux-gnu/rsyslog", "/usr/lib/rsyslog"]
            .iter()
            .any(|d| Path::new(d).join("lmnsd_gtls.so").exists());
    present(ok, "rsyslogd with its gtls driver", "apt-get install rsyslog rsyslog-gnutls")
}

/// rsyslogd in the foreground with `body` after a `global()` that keeps
/// its state in `dir`.
pub fn rsyslog(dir: &Path, global_extra: &str, body: &str) -> Relay {
    let conf = dir.join("rsyslog.conf");
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(&conf, format!("global(workDirectory=\"{}\" {global_extra})\n{body}\n", work.display())).unwrap();
    let check = Command::new("rsyslogd").arg("-N1").arg("-f").arg(&conf).output().unwrap();
    assert!(check.status.success(), "rsyslog config: {}", String::from_utf8_lossy(&check.stderr));
    let mut cmd = Command::new("rsyslogd");
    cmd.arg("-n").arg("-f").arg(&conf).arg("-i").arg(dir.join("rsyslog.pid"));
    spawn(cmd, dir, "rsyslog")
}

/// The syslog-ng binary and the environment it needs, if there is one.
fn syslog_ng_command() -> Option<Command> {
    if let Some(root) = std::env::var_os("MEGAFLEX_SYSLOG_NG_ROOT").map(PathBuf::from) {
        let bin = root.join("usr/sbin/syslog-ng");
        if bin.exists() {
            let libs = ["usr/lib/syslog-ng", "usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu"]
                .map(|l| root.join(l).display().to_string())
                .join(":");
            // The plugin directory is named after the version (`3.38`).
            let modules =
                std::fs::read_dir(root.join("usr/lib/syslog-ng")).ok()?.flatten().map(|e| e.path()).find(|p| {
                    p.is_dir() && p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(char::is_numeric))
                })?;
            let mut cmd = Command::new(bin);
            cmd.env("LD_LIBRARY_PATH", libs).arg(format!("--module-path={}", modules.display()));
            return Some(cmd);
        }
    }
    Command::new("syslog-ng").arg("--version").output().is_ok().then(|| Command::new("syslog-ng"))
}

/// Whether syslog-ng can be run.
pub fn syslog_ng_available() -> bool {
    present(
        syslog_ng_command().is_some(),
        "syslog-ng",
        "set MEGAFLEX_SYSLOG_NG_ROOT to a `dpkg -x` of syslog-ng-core and its libraries: .ci/fetch-syslog-ng DIR",
    )
}

/// syslog-ng in the foreground with `body` (after `@version`).
pub fn syslog_ng(dir: &Path, body: &str) -> Relay {
    let conf = dir.join("syslog-ng.conf");
    std::fs::write(&conf, format!("@version: 3.38\noptions {{ keep-hostname(yes); stats-freq(0); }};\n{body}\n"))
        .unwrap();
    let mut cmd = syslog_ng_command().expect("syslog-ng available");
    cmd.arg("-F")
        .arg("-f")
        .arg(&conf)
        .arg("-p")
        .arg(dir.join("syslog-ng.pid"))
        .arg("-R")
        .arg(dir.join("syslog-ng.persist"))
        .arg("-c")
        .arg(dir.join("syslog-ng.ctl"));
    spawn(cmd, dir, "syslog-ng")
}
