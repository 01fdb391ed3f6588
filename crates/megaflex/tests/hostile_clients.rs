//! `megaflex run` as a real process with 1,024 file descriptors (as systemd
//! starts it), against clients that open connections and never use them.

mod common;

use std::io::Read;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::Stdio;
use std::time::Duration;

use common::{
    Killed, TempDir, clean_env, daemon_toml, free_tcp_port, frozen_sim, sim_credentials, syslog_line, wait_for,
};
use megaflex_testkit::quoted;

fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    std::io::Write::write_all(
        &mut s,
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split(' ').nth(1)?.parse().ok()?;
    Some((status, text))
}

struct Daemon {
    _process: Killed,
    _rt: tokio::runtime::Runtime,
    sim: megaflex_sim::SimHandle,
    dir: TempDir,
    config: std::path::PathBuf,
    syslog_port: u16,
    http: SocketAddr,
    webhook: SocketAddr,
}

/// `megaflex run` with 1,024 descriptors, a simulator, syslog, a webhook
/// and `[http]` (with `token_env` when given); returns once it is ready.
fn start_daemon(tag: &str, http_token_env: Option<&str>) -> Daemon {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(frozen_sim());
    let dir = TempDir::new(&format!("hostile-{tag}"));
    let (syslog_port, http_port, webhook_port) = (free_tcp_port(), free_tcp_port(), free_tcp_port());
    let toml = daemon_toml(&sim, &dir.join("megaflex.db"))
        .http(format!("127.0.0.1:{http_port}"))
        .http_key("idle_timeout", quoted("60s"))
        .syslog(format!("udp://127.0.0.1:{syslog_port}"))
        .webhook(
            format!("127.0.0.1:{webhook_port}"),
            &[("token_env", &quoted("WEBHOOK_TOKEN")), ("idle_timeout", &quoted("60s"))],
        )
        .map_circuits(|c| c.boost_after("0s"));
    let toml = match http_token_env {
        Some(var) => toml.http_key("token_env", quoted(var)),
        None => toml,
    };
    let path = toml.write(&dir);
    // `ulimit -n` in sh sets soft and hard: the daemon cannot raise it.
    let mut sh = std::process::Command::new("sh");
    sh.arg("-c")
        .arg("ulimit -n 1024 && exec \"$0\" run --config \"$1\"")
        .arg(env!("CARGO_BIN_EXE_megaflex"))
        .arg(&path)
        .current_dir(&*dir);
    let process = Killed(
        sim_credentials(&mut sh)
            .env("WEBHOOK_TOKEN", "t0ken")
            .env("MEGAFLEX_HTTP_TOKEN", "http-t0ken")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let http: SocketAddr = format!("127.0.0.1:{http_port}").parse().unwrap();
    let webhook: SocketAddr = format!("127.0.0.1:{webhook_port}").parse().unwrap();
    wait_for("the daemon to be ready", Duration::from_secs(30), || get(http, "/readyz").is_some_and(|(s, _)| s == 200));
    Daemon { _process: process, _rt: rt, sim, dir, config: path, syslog_port, http, webhook }
}

#[test]
fn idle_connections_cannot_exhaust_a_1024_descriptor_daemon() {
    let d = start_daemon("fds", None);
    let (http, webhook, syslog_port, sim) = (d.http, d.webhook, d.syslog_port, &d.sim);

    // 1,100 idle connections on each listener: 2,200 > 1,024 descriptors.
    let mut idle = Vec::new();
    for to in [http, webhook] {
        for _ in 0..1_100 {
            idle.push(TcpStream::connect(to).unwrap());
        }
    }
    let (status, _) = get(http, "/healthz").expect("/healthz answers");
    assert_eq!(status, 200);
    let (status, _) = get(webhook, "/healthz").expect("the webhook's /healthz answers");
    assert_eq!(status, 200);
    // The longest-idle connections were closed to make room.
    let mut first = idle.remove(0);
    first.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(first.read(&mut [0u8; 16]).unwrap_or(0), 0, "the oldest idle connection was closed");

    // An outbound call still works: a link-down boosts the VXC on the simulator.
    let line = syslog_line("down", 1);
    UdpSocket::bind("127.0.0.1:0").unwrap().send_to(line.as_bytes(), ("127.0.0.1", syslog_port)).unwrap();
    wait_for("the boost on the simulator", Duration::from_secs(30), || {
        sim.state().stats().updates.iter().filter_map(|u| u.rate_limit).any(|r| r == 500)
    });
    let (_, metrics) = get(http, "/metrics").expect("/metrics answers");
    let evicted: u64 = metrics
        .lines()
        .filter(|l| l.starts_with("megaflex_source_connections_closed_total") && l.contains("reason=\"evicted\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert!(evicted >= 2 * (1_100 - 128), "evictions counted: {evicted}\n{metrics}");
    drop(idle);
}

/// `megaflex resume` sends the token `[http] token_env` names; without it
/// (or with a wrong one) the daemon refuses and the CLI says why.
#[test]
fn resume_sends_the_http_token() {
    let d = start_daemon("resume", Some("MEGAFLEX_HTTP_TOKEN"));
    let resume = |token: Option<&str>| {
        let mut c = common::megaflex();
        clean_env(c.args(["resume", "--config", d.config.to_str().unwrap(), "backup"]), &d.dir);
        if let Some(t) = token {
            c.env("MEGAFLEX_HTTP_TOKEN", t);
        }
        c.output().unwrap()
    };
    let out = resume(None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("MEGAFLEX_HTTP_TOKEN"), "{out:?}");
    let out = resume(Some("wrong"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing or wrong bearer token"), "{out:?}");
    let out = resume(Some("http-t0ken"));
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("resumed by the running daemon"), "{out:?}");
}
