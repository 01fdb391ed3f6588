//! `megaflex run` as a real process with 1,024 file descriptors (as systemd
//! starts it), against clients that open connections and never use them.

use std::io::Read;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use megaflex_sim::SimConfig;

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

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

fn wait_for(what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn idle_connections_cannot_exhaust_a_1024_descriptor_daemon() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(megaflex_sim::spawn(SimConfig { clock_scale: 0.0, ..SimConfig::default() })).unwrap();
    let dir = std::env::temp_dir().join(format!("megaflex-hostile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (syslog_port, http_port, webhook_port) = (free_port(), free_port(), free_port());
    let config = format!(
        r#"
[megaport]
environment = {{ api_url = "{api}", token_url = "{token}" }}

[engine]
clock = "simulator"

[store]
url = "sqlite://{db}"

[http]
listen = "127.0.0.1:{http_port}"
idle_timeout = "60s"

[[source]]
type = "syslog"
listen = "udp://127.0.0.1:{syslog_port}"

[[source]]
type = "webhook"
listen = "127.0.0.1:{webhook_port}"
token_env = "WEBHOOK_TOKEN"
idle_timeout = "60s"

[[link]]
name = "bne-mel-primary"
signals = [ {{ syslog = {{ host = "core-b1", interface = "TenGigabitEthernet0/1/0" }} }} ]

[[circuit]]
name = "bne-mel-backup"
vxc = "{vxc}"
normal_mbps = 10
boost_mbps = 500
boost_when_down = ["bne-mel-primary"]
boost_after = "0s"
"#,
        api = sim.base_url(),
        token = sim.token_url(),
        db = dir.join("megaflex.db").display(),
        vxc = megaflex_sim::BLOG_VXC_UID,
    );
    let path = dir.join("megaflex.toml");
    std::fs::write(&path, config).unwrap();
    // `ulimit -n` in sh sets soft and hard: the daemon cannot raise it.
    let _daemon = Killed(
        Command::new("sh")
            .arg("-c")
            .arg("ulimit -n 1024 && exec \"$0\" run --config \"$1\"")
            .arg(env!("CARGO_BIN_EXE_megaflex"))
            .arg(&path)
            .current_dir(&dir)
            .env("MEGAPORT_ACCESS_KEY", megaflex_sim::DEFAULT_ACCESS_KEY)
            .env("MEGAPORT_SECRET_KEY", megaflex_sim::DEFAULT_SECRET_KEY)
            .env("WEBHOOK_TOKEN", "t0ken")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let http: SocketAddr = format!("127.0.0.1:{http_port}").parse().unwrap();
    let webhook: SocketAddr = format!("127.0.0.1:{webhook_port}").parse().unwrap();
    wait_for("the daemon to be ready", 30, || get(http, "/readyz").is_some_and(|(s, _)| s == 200));

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
    let line = "<189>1: core-b1: *Dec  2 05:00:00.000: %LINEPROTO-5-UPDOWN: Line protocol on Interface TenGigabitEthernet0/1/0, changed state to down";
    UdpSocket::bind("127.0.0.1:0").unwrap().send_to(line.as_bytes(), ("127.0.0.1", syslog_port)).unwrap();
    wait_for("the boost on the simulator", 30, || {
        sim.state().stats().updates.iter().filter_map(|u| u.rate_limit).any(|r| r == 500)
    });
    let (_, metrics) = get(http, "/metrics").expect("/metrics answers");
    let evicted: u64 = metrics
        .lines()
        .filter(|l| l.starts_with("megaflex_source_connections_closed_total") && l.contains("evicted_idle"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert!(evicted >= 2 * (1_100 - 128), "evictions counted: {evicted}\n{metrics}");
    drop(idle);
    let _ = std::fs::remove_dir_all(&dir);
}
