//! TLS and proxies as an enterprise deploys them (issue 14, section 4): the
//! Megaport and ServiceNow clients reach the simulator served over HTTPS
//! (`spawn_tls`, a CA generated at start) through a real HTTP CONNECT proxy
//! (Debian's tinyproxy on loopback), trusting the CA from a bundle file; and
//! refuse the server without the bundle.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{peer_present, temp_dir};
use megaflex_sim::{DEFAULT_SERVICENOW_PASSWORD as PASSWORD, DEFAULT_SERVICENOW_USER as USER, SimConfig, TlsIdentity};
use serde_json::json;
use servicenow_table::ServiceNowClient;

/// tinyproxy on a free loopback port, logging each CONNECT to a file.
struct Tinyproxy {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Tinyproxy {
    /// `None` (after one line saying so) when tinyproxy is not installed,
    /// unless `MEGAFLEX_REQUIRE_PEERS=1`.
    fn start(dir: &Path) -> Option<Self> {
        let installed = Command::new("tinyproxy").arg("-v").output().is_ok();
        if !peer_present(installed, "tinyproxy", "apt-get install tinyproxy") {
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = dir.join("tinyproxy.log");
        let conf = dir.join("tinyproxy.conf");
        // No ConnectPort line: CONNECT to any port (the simulator's is random).
        std::fs::write(
            &conf,
            format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 30\nAllow 127.0.0.1\nMaxClients 50\nLogLevel Connect\nLogFile \"{}\"\n",
                log.display()
            ),
        )
        .unwrap();
        let mut child = Command::new("tinyproxy")
            .args(["-d", "-c"])
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                for line in BufReader::new(child.stderr.take().unwrap()).lines() {
                    err.push_str(&line.unwrap_or_default());
                }
                panic!("tinyproxy exited ({status}): {err}");
            }
            assert!(Instant::now() < deadline, "tinyproxy did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Self { child, url: format!("http://127.0.0.1:{port}"), log })
    }

    /// CONNECT requests logged so far for `authority` (host:port).
    fn connects_to(&self, authority: &str) -> usize {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines().filter(|l| l.contains(&format!("CONNECT {authority}"))).count()
    }

    /// Waits until at least `n` CONNECTs to `authority` are logged.
    async fn wait_connects(&self, authority: &str, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.connects_to(authority) < n {
            assert!(
                Instant::now() < deadline,
                "tinyproxy logged no CONNECT {authority}: {:?}",
                std::fs::read_to_string(&self.log)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The simulator over HTTPS, and its CA written to a PEM file.
async fn tls_sim(dir: &Path) -> (megaflex_sim::SimHandle, PathBuf) {
    let identity = TlsIdentity::generate().unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, identity.ca_pem.as_deref().unwrap()).unwrap();
    let sim = megaflex_sim::spawn_tls(SimConfig { clock_scale: 0.0, ..SimConfig::default() }, &identity).await.unwrap();
    assert!(sim.base_url().starts_with("https://"));
    (sim, ca)
}

fn megaport_client(sim: &megaflex_sim::SimHandle, ca: Option<PathBuf>, proxy: &str) -> megaport::Client {
    megaport::Client::builder()
        .urls(sim.base_url(), sim.token_url())
        .credentials(megaport::Credentials::new(megaflex_sim::DEFAULT_ACCESS_KEY, megaflex_sim::DEFAULT_SECRET_KEY))
        .retry(megaport::RetryPolicy::none())
        .ca_file(ca)
        .proxy(Some(proxy.to_owned()))
        .build()
        .unwrap()
}

#[tokio::test]
async fn megaport_client_over_https_through_a_connect_proxy_with_a_ca_bundle() {
    let dir = temp_dir("tls-proxy-mp");
    let Some(proxy) = Tinyproxy::start(&dir) else { return };
    let (sim, ca) = tls_sim(&dir).await;
    let authority = sim.addr().to_string();

    let client = megaport_client(&sim, Some(ca), &proxy.url);
    let products = client.products().await.expect("products over HTTPS via the proxy");
    assert!(!products.is_empty());
    proxy.wait_connects(&authority, 1).await;

    // Without the bundle the simulator's certificate is not trusted.
    let before = proxy.connects_to(&authority);
    let untrusted = megaport::Client::builder()
        .urls(sim.base_url(), sim.token_url())
        .credentials(megaport::Credentials::new(megaflex_sim::DEFAULT_ACCESS_KEY, megaflex_sim::DEFAULT_SECRET_KEY))
        .retry(megaport::RetryPolicy::none())
        .proxy(Some(proxy.url.clone()))
        .build()
        .unwrap();
    let err = untrusted.products().await.unwrap_err();
    assert!(!err.to_string().is_empty());
    proxy.wait_connects(&authority, before + 1).await;
}

#[tokio::test]
async fn servicenow_client_over_https_through_a_connect_proxy_with_a_ca_bundle() {
    let dir = temp_dir("tls-proxy-sn");
    let Some(proxy) = Tinyproxy::start(&dir) else { return };
    let (sim, ca) = tls_sim(&dir).await;
    let authority = sim.addr().to_string();
    let settings = megaport::HttpSettings { ca_file: Some(ca), proxy: Some(proxy.url.clone()), ..Default::default() };
    let sn = ServiceNowClient::new(&sim.base_url(), USER, PASSWORD.to_owned().into()).with_http(&settings).unwrap();
    let fields = json!({"short_description": "megaflex: link down"}).as_object().unwrap().clone();
    let (inc, created) = sn.upsert("megaflex:c:1", &fields).await.expect("incident over HTTPS via the proxy");
    assert!(created);
    sn.add_work_note(&inc.sys_id, "through the proxy").await.unwrap();
    assert_eq!(sim.state().servicenow_incidents().0.len(), 1);
    proxy.wait_connects(&authority, 1).await;

    let mut untrusted = ServiceNowClient::new(&sim.base_url(), USER, PASSWORD.to_owned().into())
        .with_http(&megaport::HttpSettings { proxy: Some(proxy.url.clone()), ..Default::default() })
        .unwrap();
    untrusted.retry.max_retries = 0;
    let err = untrusted.find_active("megaflex:c:1").await.unwrap_err();
    assert!(matches!(err, servicenow_table::ServiceNowError::Transport { .. }), "{err}");
}
