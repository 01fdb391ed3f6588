//! The real `megaflex` binary behind a corporate proxy: `HTTPS_PROXY` names
//! a real HTTP CONNECT proxy (Debian's tinyproxy on loopback), the
//! simulator serves HTTPS with a CA generated at start, and
//! `MEGAFLEX_CA_FILE` trusts it. The CLI, `megaflex check` (the daemon's
//! Megaport and ServiceNow clients, built from the config) and `doctor` go
//! through the proxy; `NO_PROXY` sends them direct; proxy credentials never
//! show.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use megaflex_sim::{SimConfig, TlsIdentity};

struct Proxy {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tinyproxy(dir: &Path) -> Option<Proxy> {
    if Command::new("tinyproxy").arg("-v").output().is_err() {
        if std::env::var("MEGAFLEX_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!("tinyproxy is required (MEGAFLEX_REQUIRE_PEERS=1): apt-get install tinyproxy");
        }
        eprintln!("skipping: tinyproxy (Debian package tinyproxy) is not installed");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (conf, log) = (dir.join("tinyproxy.conf"), dir.join("tinyproxy.log"));
    let text = format!(
        "Port {port}\nListen 127.0.0.1\nTimeout 30\nAllow 127.0.0.1\nLogLevel Connect\nLogFile \"{}\"\n",
        log.display()
    );
    std::fs::write(&conf, text).unwrap();
    let mut child = Command::new("tinyproxy").arg("-d").arg("-c").arg(&conf).stdin(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(child.try_wait().unwrap().is_none(), "tinyproxy exited");
        assert!(Instant::now() < deadline, "tinyproxy did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(Proxy { child, port, log })
}

impl Proxy {
    fn connects(&self, authority: &str) -> usize {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines().filter(|l| l.contains(&format!("CONNECT {authority}"))).count()
    }
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn the_cli_and_the_daemons_clients_go_through_https_proxy_with_a_ca_bundle() {
    let home = std::env::temp_dir().join(format!("megaflex-tlsproxy-cli-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let Some(proxy) = tinyproxy(&home) else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let identity = TlsIdentity::generate().unwrap();
    let ca = home.join("sim-ca.pem");
    std::fs::write(&ca, identity.ca_pem.as_deref().unwrap()).unwrap();
    let sim = rt.block_on(megaflex_sim::spawn_tls(SimConfig { clock_scale: 0.0, ..SimConfig::default() }, &identity));
    let sim = sim.unwrap();
    let authority = sim.addr().to_string();
    let cmd = |args: &[&str], proxy_url: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_megaflex"));
        c.args(args)
            .current_dir(&home)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("MEGAPORT_API_URL", sim.base_url())
            .env("MEGAPORT_TOKEN_URL", sim.token_url())
            .env("MEGAPORT_ACCESS_KEY", megaflex_sim::DEFAULT_ACCESS_KEY)
            .env("MEGAPORT_SECRET_KEY", megaflex_sim::DEFAULT_SECRET_KEY)
            .env("MEGAFLEX_CA_FILE", &ca)
            .env("HTTPS_PROXY", proxy_url)
            .stdin(Stdio::null());
        c
    };
    let proxy_url = format!("http://127.0.0.1:{}", proxy.port);

    let out = cmd(&["products", "-o", "json"], &proxy_url).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let after_products = proxy.connects(&authority);
    assert!(after_products >= 1, "the CLI went through the proxy");

    // Without the CA the simulator is not trusted: no silent fallback.
    let out = cmd(&["products"], &proxy_url).env_remove("MEGAFLEX_CA_FILE").output().unwrap();
    assert!(!out.status.success(), "{}", text(&out));

    // The daemon's clients, built from its config as `megaflex run` builds
    // them: Megaport (VXCs) and ServiceNow (a read of the incident table).
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/megaflex.toml");
    let config_text = std::fs::read_to_string(example)
        .unwrap()
        .replace("[store]", &format!("[servicenow]\ninstance = \"{}\"\n\n[store]", sim.base_url()));
    let config = home.join("megaflex.toml");
    std::fs::write(&config, config_text).unwrap();
    let before = proxy.connects(&authority);
    let out = cmd(&["check", "--config", config.to_str().unwrap()], &proxy_url)
        .env("SERVICENOW_USER", megaflex_sim::DEFAULT_SERVICENOW_USER)
        .env("SERVICENOW_PASSWORD", megaflex_sim::DEFAULT_SERVICENOW_PASSWORD)
        .env("MEGAFLEX_WEBHOOK_TOKEN", "t")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("incident table readable"), "{}", text(&out));
    assert!(proxy.connects(&authority) >= before + 2, "Megaport and ServiceNow both went through the proxy");

    // doctor names the proxy without its credentials, and the CA file.
    let with_user = format!("http://ops:hunter2@127.0.0.1:{}", proxy.port);
    let out = cmd(&["doctor"], &with_user).output().unwrap();
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    assert!(report.contains(&format!("via proxy http://127.0.0.1:{}", proxy.port)), "{report}");
    assert!(report.contains("sim-ca.pem") && !report.contains("hunter2"), "{report}");

    // NO_PROXY sends it direct.
    let before = proxy.connects(&authority);
    let out = cmd(&["products"], &proxy_url).env("NO_PROXY", "127.0.0.1").output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(proxy.connects(&authority), before, "NO_PROXY bypassed the proxy");
    let _ = std::fs::remove_dir_all(&home);
}
