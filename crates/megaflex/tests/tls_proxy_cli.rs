//! The real `megaflex` binary behind a corporate proxy: `HTTPS_PROXY` names
//! a real HTTP CONNECT proxy (Debian's tinyproxy on loopback), the
//! simulator serves HTTPS with a CA generated at start, and
//! `MEGAFLEX_CA_FILE` trusts it. The CLI, `megaflex check` (the daemon's
//! Megaport and ServiceNow clients, built from the config) and `doctor` go
//! through the proxy; `NO_PROXY` sends them direct; proxy credentials never
//! show.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    Killed, clean_env, daemon_toml, free_tcp_port, free_udp_port, megaflex, peer_present, read_log, sim_env, sim_url,
    stdout_lines, temp_dir, terminate_within, text, wait_for,
};
use megaflex_sim::{SimConfig, TlsIdentity};
use megaflex_testkit::quoted;

struct Proxy {
    _child: Killed,
    port: u16,
    log: PathBuf,
}

fn tinyproxy(dir: &Path) -> Option<Proxy> {
    let installed = Command::new("tinyproxy").arg("-v").output().is_ok();
    if !peer_present(installed, "tinyproxy", "apt-get install tinyproxy") {
        return None;
    }
    let port = free_tcp_port();
    let (conf, log) = (dir.join("tinyproxy.conf"), dir.join("tinyproxy.log"));
    let text = format!(
        "Port {port}\nListen 127.0.0.1\nTimeout 30\nAllow 127.0.0.1\nLogLevel Connect\nLogFile \"{}\"\n",
        log.display()
    );
    std::fs::write(&conf, text).unwrap();
    let mut child =
        Killed(Command::new("tinyproxy").arg("-d").arg("-c").arg(&conf).stdin(Stdio::null()).spawn().unwrap());
    wait_for("tinyproxy to listen", Duration::from_secs(10), || {
        assert!(child.0.try_wait().unwrap().is_none(), "tinyproxy exited");
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    Some(Proxy { _child: child, port, log })
}

impl Proxy {
    fn connects(&self, authority: &str) -> usize {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines().filter(|l| l.contains(&format!("CONNECT {authority}"))).count()
    }
}

#[test]
fn the_cli_and_the_daemons_clients_go_through_https_proxy_with_a_ca_bundle() {
    let home = temp_dir("tlsproxy-cli");
    let Some(proxy) = tinyproxy(&home) else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let identity = TlsIdentity::generate().unwrap();
    let ca = home.join("sim-ca.pem");
    std::fs::write(&ca, identity.ca_pem.as_deref().unwrap()).unwrap();
    let sim = rt.block_on(megaflex_sim::spawn_tls(SimConfig { clock_scale: 0.0, ..SimConfig::default() }, &identity));
    let sim = sim.unwrap();
    let authority = sim.addr().to_string();
    let cmd = |args: &[&str], proxy_url: &str| {
        let mut c = megaflex();
        sim_env(clean_env(c.args(args), &home), &sim)
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

/// `megaflex sim --tls` as a user runs it: prints an https:// URL and where
/// the CA is; a client trusting that CA gets in, one that does not is refused.
#[test]
fn sim_tls_prints_its_ca_and_serves_https() {
    let dir = temp_dir("simtls");
    let ca_out = dir.join("ca.pem");
    let mut child = megaflex()
        .args(["sim", "--tls", "--listen", "127.0.0.1:0", "--tls-ca-out"])
        .arg(&ca_out)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = stdout_lines(&mut child);
    let url = sim_url(&mut lines);
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let rest: Vec<String> = lines.by_ref().take(10).map(Result::unwrap).collect();
    let banner = rest.join("\n");
    assert!(banner.contains(&format!("CA cert      {}", ca_out.display())), "{banner}");
    assert!(banner.contains(&format!("MEGAFLEX_CA_FILE={}", ca_out.display())), "{banner}");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let settings = megaport::HttpSettings { ca_file: Some(ca_out.clone()), ..Default::default() };
        let trusted = settings.client().unwrap();
        let r = trusted.get(format!("{url}/_sim/clock")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let localhost = url.replace("127.0.0.1", "localhost");
        assert_eq!(trusted.get(format!("{localhost}/_sim/clock")).send().await.unwrap().status(), 200);
        let untrusted = megaport::HttpSettings::default().client().unwrap();
        assert!(
            untrusted.get(format!("{url}/_sim/clock")).send().await.is_err(),
            "a self-made CA is not trusted by default"
        );
    });
    assert!(terminate_within(&mut child, Duration::from_secs(10)).success());

    // A certificate of one's own: --tls-cert/--tls-key.
    let identity = TlsIdentity::generate().unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, &identity.cert_chain_pem).unwrap();
    std::fs::write(&key, &identity.key_pem).unwrap();
    let out = megaflex()
        .args(["sim", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&cert)
        .arg("--tls-key")
        .arg(&cert) // a certificate is not a key: refused with a clear error
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("cert.pem"), "{}", text(&out));
    let mut child = megaflex()
        .args(["sim", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Keep reading its banner: a closed pipe would stop the simulator.
    let mut banner = stdout_lines(&mut child);
    let url = sim_url(&mut banner);
    assert!(url.starts_with("https://"), "{url}");
    assert!(banner.by_ref().take(10).map(Result::unwrap).any(|l| l.starts_with("Press Ctrl-C")));
    let own_ca = dir.join("own-ca.pem");
    std::fs::write(&own_ca, identity.ca_pem.as_deref().unwrap()).unwrap();
    let settings = megaport::HttpSettings { ca_file: Some(own_ca), ..Default::default() };
    let status = rt.block_on(async { settings.client().unwrap().get(format!("{url}/_sim/clock")).send().await });
    assert_eq!(status.unwrap().status(), 200, "served with the certificate given");
    assert!(terminate_within(&mut child, Duration::from_secs(10)).success());
    let _ = std::fs::remove_dir_all(&dir);
}

/// `megaflex run` (the daemon) with `HTTPS_PROXY` and `ca_file` in its
/// config: its clock fetch, token and account reads go through the proxy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_goes_through_https_proxy_with_ca_file_from_its_config() {
    let dir = temp_dir("daemon-proxy");
    let Some(proxy) = tinyproxy(&dir) else { return };
    let identity = TlsIdentity::generate().unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, identity.ca_pem.as_deref().unwrap()).unwrap();
    let sim = megaflex_sim::spawn_tls(SimConfig { clock_scale: 0.0, ..SimConfig::default() }, &identity).await.unwrap();
    let authority = sim.addr().to_string();
    let (http_port, syslog_port) = (free_tcp_port(), free_udp_port());
    let config = daemon_toml(&sim, &dir.join("megaflex.db"))
        .megaport("ca_file", quoted(&ca.display().to_string()))
        .http(format!("127.0.0.1:{http_port}"))
        .syslog(format!("udp://127.0.0.1:{syslog_port}"))
        .write(&dir);
    let log = dir.join("daemon.log");
    let mut run = megaflex();
    let mut child = common::sim_credentials(run.args(["run", "--config"]).arg(&config).env_remove("MEGAFLEX_CA_FILE"))
        .env("HTTPS_PROXY", format!("http://127.0.0.1:{}", proxy.port))
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    megaport::install_crypto_provider();
    let local = reqwest::Client::builder().no_proxy().build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = local.get(format!("http://127.0.0.1:{http_port}/readyz")).send().await
            && r.status().is_success()
        {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "daemon exited: {}", read_log(&log));
        assert!(Instant::now() < deadline, "daemon not ready: {}", read_log(&log));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while sim.state().stats().requests == 0 || proxy.connects(&authority) == 0 {
        assert!(Instant::now() < deadline, "no request through the proxy: {:?}", std::fs::read_to_string(&proxy.log));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = terminate_within(&mut child, Duration::from_secs(10));
    assert!(status.success(), "{status}: {}", read_log(&log));
    let _ = std::fs::remove_dir_all(&dir);
}
