//! Syslog over TLS (RFC 5425): a rustls client writing frames that straddle
//! TLS records and reads (N sent, N received), client certificates checked
//! against a CA, rsyslog's own TLS forwarding (gtls) with and without a
//! client certificate, a wrong one refused, and syslog-ng's `syslog()`
//! driver over TLS with a client certificate. The relay cases are skipped
//! when the relay is missing, unless MEGAFLEX_REQUIRE_PEERS=1 (CI).

#[path = "common/certs.rs"]
mod certs;
#[path = "common/relays.rs"]
mod relays;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use megaflex_domain::event::{Event, EventKind, EventState};
use megaflex_sources::metrics::MetricsSnapshot;
use megaflex_sources::syslog::tls::TlsFiles;
use megaflex_sources::syslog::{SyslogConfig, SyslogSource};
use megaflex_testkit::{CircuitToml, ConfigToml, LinkToml, quoted};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const LINK_DOWN: &str =
    "%LINEPROTO-5-UPDOWN: Line protocol on Interface TenGigabitEthernet0/1/0, changed state to down";

fn line(i: usize) -> String {
    format!("<189>{i}: core-b1: *Jun  1 12:00:00.000: {LINK_DOWN}")
}

struct Server {
    src: SyslogSource,
    rx: mpsc::Receiver<Event>,
    stop: CancellationToken,
}

async fn server(pki: &certs::Pki, verify_clients: bool) -> Server {
    let (tx, rx) = mpsc::channel(16_384);
    let stop = CancellationToken::new();
    let mut config = SyslogConfig::new("tls://127.0.0.1:0".parse().unwrap());
    config.tls = Some(TlsFiles {
        cert_file: pki.server_cert.clone(),
        key_file: pki.server_key.clone(),
        client_ca_file: verify_clients.then(|| pki.ca.clone()),
    });
    let src = SyslogSource::spawn(config, Arc::from(vec![]), tx, stop.clone()).await.unwrap();
    Server { src, rx, stop }
}

fn client_config(ca: &Path, client: Option<(&Path, &Path)>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let b = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    Arc::new(match client {
        Some((cert, key)) => b
            .with_client_auth_cert(
                CertificateDer::pem_file_iter(cert).unwrap().map(Result::unwrap).collect(),
                PrivateKeyDer::from_pem_file(key).unwrap(),
            )
            .unwrap(),
        None => b.with_no_client_auth(),
    })
}

async fn connect(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    tokio_rustls::TlsConnector::from(config).connect(ServerName::try_from("localhost").unwrap(), tcp).await
}

/// Waits until `done` holds for the source's counters (or panics after 30 s).
async fn wait_for(src: &SyslogSource, what: &str, done: impl Fn(&MetricsSnapshot) -> bool) -> MetricsSnapshot {
    // Generous: rsyslog and the source share a loaded CI machine.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let m = src.metrics.snapshot();
        if done(&m) {
            return m;
        }
        assert!(Instant::now() < deadline, "{what}: {m:?} {:?}", src.metrics.connections.snapshot());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn frames_split_across_tls_records_and_reads_all_arrive() {
    if !certs::openssl_available() {
        return;
    }
    let dir = relays::temp_dir("tls-direct");
    let pki = certs::make(&dir);
    let mut s = server(&pki, true).await;
    const N: usize = 5_000;
    let mut stream = connect(s.src.local_addr, client_config(&pki.ca, Some((&pki.client_cert, &pki.client_key))))
        .await
        .expect("handshake with a good client certificate");
    let mut payload = Vec::new();
    for i in 0..N {
        let l = line(i);
        payload.extend_from_slice(format!("{} {l}", l.len()).as_bytes());
    }
    // Writes of odd sizes: frames straddle writes, TLS records (16 KiB) and reads.
    for (k, chunk) in payload.chunks(7_777).enumerate() {
        let (a, b) = chunk.split_at(k % chunk.len().max(1));
        stream.write_all(a).await.unwrap();
        stream.write_all(b).await.unwrap();
    }
    stream.shutdown().await.unwrap();
    // Gone without reading, as a sender that exits does: anything the server
    // sent after the handshake and the client never read would make this
    // close a RST, and the kernel would drop what the server had not read yet.
    drop(stream);
    let m = wait_for(&s.src, "every message", |m| m.classified == N as u64).await;
    assert_eq!((m.received, m.dropped_malformed, m.dropped_queue_full), (N as u64, 0, 0), "{m:?}");
    let e = s.rx.recv().await.unwrap();
    assert_eq!((e.device.hostname.as_deref(), e.kind, e.state), (Some("core-b1"), EventKind::Link, EventState::Down));

    // A client certificate from another CA, and none at all: refused, counted, nothing read.
    let wrong = client_config(&pki.ca, Some((&pki.wrong_cert, &pki.wrong_key)));
    for config in [wrong, client_config(&pki.ca, None)] {
        let before = s.src.metrics.connections.snapshot().tls_refused;
        if let Ok(mut st) = connect(s.src.local_addr, config).await {
            // TLS 1.3: the client learns of the refusal only when it writes or reads.
            let l = line(0);
            let _ = st.write_all(format!("{} {l}", l.len()).as_bytes()).await;
            let _ = st.flush().await;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while s.src.metrics.connections.snapshot().tls_refused == before {
            assert!(Instant::now() < deadline, "refusal counted");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let m = s.src.metrics.snapshot();
    assert_eq!((m.classified, m.dropped_auth), (N as u64, 2), "{m:?}");
    s.stop.cancel();
    s.src.join().await;
}

/// rsyslog forwarding over TLS (gtls, RFC 5424 template, octet-counted),
/// fed over plain TCP (imptcp) by the test.
fn rsyslog_tls(dir: &Path, pki: &certs::Pki, client: Option<(&Path, &Path)>, to: SocketAddr) -> (relays::Relay, u16) {
    let input = relays::free_tcp_port();
    let mut global = format!("DefaultNetstreamDriverCAFile=\"{}\"", pki.ca.display());
    if let Some((cert, key)) = client {
        global += &format!(
            " DefaultNetstreamDriverCertFile=\"{}\" DefaultNetstreamDriverKeyFile=\"{}\"",
            cert.display(),
            key.display()
        );
    }
    let relay = relays::rsyslog(
        dir,
        &global,
        &format!(
            r#"module(load="imptcp")
input(type="imptcp" address="127.0.0.1" port="{input}" ruleset="fwd")
ruleset(name="fwd") {{
  action(type="omfwd" target="127.0.0.1" port="{}" protocol="tcp"
         StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="x509/name"
         StreamDriverPermittedPeers="localhost" TCP_Framing="octet-counted"
         template="RSYSLOG_SyslogProtocol23Format"
         queue.type="LinkedList" action.resumeRetryCount="-1" action.resumeInterval="1")
}}"#,
            to.port()
        ),
    );
    (relay, input)
}

/// A plain TCP connection to the relay's input, retried while it starts.
async fn feed(relay: &relays::Relay, port: u16) -> tokio::net::TcpStream {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            Ok(s) => return s,
            Err(e) => assert!(Instant::now() < deadline, "rsyslog input never opened: {e}\n{}", relay.log()),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Writes `n` lines to the relay's plain input and checks that all `n`
/// arrive through its TLS forwarding, classified, none refused.
async fn relay_loses_nothing(s: &mut Server, relay: &relays::Relay, input: u16, n: usize, what: &str) {
    let mut feed = feed(relay, input).await;
    let mut all = String::new();
    for i in 0..n {
        all += &line(i);
        all.push('\n');
    }
    feed.write_all(all.as_bytes()).await.unwrap();
    feed.shutdown().await.unwrap();
    let m =
        wait_for(&s.src, &format!("{n} messages through {what}\n{}", relay.log()), |m| m.classified >= n as u64).await;
    assert_eq!((m.classified, m.dropped_malformed, m.dropped_auth), (n as u64, 0, 0), "{m:?}");
    let e = s.rx.recv().await.unwrap();
    assert_eq!((e.device.hostname.as_deref(), e.entity.as_str()), (Some("core-b1"), "TenGigabitEthernet0/1/0"));
}

#[tokio::test]
async fn rsyslog_tls_forwarding_without_client_certificate_loses_nothing() {
    if !certs::openssl_available() || !relays::rsyslog_gtls_available() {
        return;
    }
    let dir = relays::temp_dir("tls-rsyslog-anon");
    let pki = certs::make(&dir);
    let mut s = server(&pki, false).await;
    let (relay, input) = rsyslog_tls(&dir, &pki, None, s.src.local_addr);
    relay_loses_nothing(&mut s, &relay, input, 5_000, "rsyslog TLS").await;
    s.stop.cancel();
}

#[tokio::test]
async fn rsyslog_tls_client_certificates_good_accepted_wrong_and_missing_refused() {
    if !certs::openssl_available() || !relays::rsyslog_gtls_available() {
        return;
    }
    let dir = relays::temp_dir("tls-rsyslog-mutual");
    let pki = certs::make(&dir);
    let s = server(&pki, true).await;
    for (name, client, accepted) in [
        ("good", Some((pki.client_cert.as_path(), pki.client_key.as_path())), true),
        ("wrong CA", Some((pki.wrong_cert.as_path(), pki.wrong_key.as_path())), false),
        ("none", None, false),
    ] {
        let relay_dir = dir.join(name.replace(' ', "-"));
        std::fs::create_dir_all(&relay_dir).unwrap();
        let before = (s.src.metrics.snapshot(), s.src.metrics.connections.snapshot());
        let (relay, input) = rsyslog_tls(&relay_dir, &pki, client, s.src.local_addr);
        let mut feed = feed(&relay, input).await;
        feed.write_all(format!("{}\n", line(1)).as_bytes()).await.unwrap();
        if accepted {
            wait_for(&s.src, &format!("{name}: accepted\n{}", relay.log()), |m| m.classified > before.0.classified)
                .await;
        } else {
            let deadline = Instant::now() + Duration::from_secs(20);
            while s.src.metrics.connections.snapshot().tls_refused == before.1.tls_refused {
                assert!(Instant::now() < deadline, "{name}: refusal never counted\n{}", relay.log());
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert_eq!(s.src.metrics.snapshot().classified, before.0.classified, "{name}: nothing got through");
        }
        drop(relay);
    }
    s.stop.cancel();
}

#[tokio::test]
async fn syslog_ng_tls_forwarding_with_a_client_certificate_loses_nothing() {
    if !certs::openssl_available() || !relays::syslog_ng_available() {
        return;
    }
    let dir = relays::temp_dir("tls-syslog-ng");
    let pki = certs::make(&dir);
    let mut s = server(&pki, true).await;
    let input = relays::free_tcp_port();
    let relay = relays::syslog_ng(
        &dir,
        &format!(
            r#"source s_in {{ network(ip("127.0.0.1") port({input}) transport("tcp")); }};
destination d_tls {{ syslog("localhost" port({}) transport("tls")
    tls(ca-file("{}") cert-file("{}") key-file("{}") peer-verify(required-trusted))); }};
log {{ source(s_in); destination(d_tls); }};"#,
            s.src.local_addr.port(),
            pki.ca.display(),
            pki.client_cert.display(),
            pki.client_key.display()
        ),
    );
    relay_loses_nothing(&mut s, &relay, input, 2_000, "syslog-ng TLS").await;
    s.stop.cancel();
}

/// A whole configuration (a link and a circuit, so nothing else in it is
/// wrong) whose only `[[source]]` is a syslog source on `listen` with `keys`
/// (TOML values).
fn config_text(listen: &str, keys: &[(&str, &str)]) -> String {
    ConfigToml::default()
        .megaport("environment", quoted("staging"))
        .source("syslog", listen, keys)
        .link(LinkToml::syslog("bne-mel-primary", "core-b1", "TenGigabitEthernet0/1/0"))
        .circuit(CircuitToml::new(
            "bne-mel-backup",
            "61a2b3c4-5b6d-44e8-af90-b6c1d2e3f4a5",
            10,
            500,
            &["bne-mel-primary"],
        ))
        .text()
}

/// The line of the `[[source]]`, where its errors point.
fn source_line(text: &str) -> usize {
    text.lines().position(|l| l == "[[source]]").expect("a [[source]]") + 1
}

fn tls_files(cert: &Path, key: &Path, ca: &Path) -> [(&'static str, String); 3] {
    [
        ("tls_cert_file", quoted(&cert.display().to_string())),
        ("tls_key_file", quoted(&key.display().to_string())),
        ("tls_client_ca_file", quoted(&ca.display().to_string())),
    ]
}

fn check(text: &str) -> Result<megaflex_runtime::config::Config, megaflex_runtime::config::ConfigError> {
    megaflex_runtime::config::Config::parse(Path::new("megaflex.toml"), text)
}

#[test]
fn megaflex_check_refuses_wrong_tls_and_limit_settings() {
    let (tls, tcp) = ("tls://127.0.0.1:6514", "tcp://127.0.0.1:6514");
    type Keys = &'static [(&'static str, &'static str)];
    let cases: [(&str, Keys, &str); 6] = [
        (tls, &[], "needs tls_cert_file and tls_key_file"),
        (tcp, &[("tls_cert_file", "\"c.pem\""), ("tls_key_file", "\"k.pem\"")], "TLS files need a tls:// listener"),
        (tls, &[("tls_cert_file", "\"c.pem\"")], "give both"),
        (
            tls,
            &[("tls_cert_file", "\"/nonexistent/c.pem\""), ("tls_key_file", "\"/nonexistent/k.pem\"")],
            "certificate /nonexistent/c.pem",
        ),
        (tcp, &[("max_connections", "0")], "max_connections must be at least 1"),
        (tcp, &[("read_timeout", "\"0s\"")], "read_timeout must be more than 0s"),
    ];
    for (listen, keys, want) in cases {
        let text = config_text(listen, keys);
        let e = check(&text).unwrap_err();
        assert!(e.message.contains(want), "{keys:?}: {e}");
        assert_eq!((e.line, e.file.to_str()), (source_line(&text), Some("megaflex.toml")), "{e}");
    }
    check(&config_text(tcp, &[("max_connections", "4096"), ("idle_timeout", "\"1h\""), ("read_timeout", "\"10s\"")]))
        .expect("limits load");
}

#[test]
fn megaflex_check_reads_the_tls_files() {
    if !certs::openssl_available() {
        return;
    }
    let dir = relays::temp_dir("tls-check");
    let pki = certs::make(&dir);
    let config = |cert: &Path, key: &Path| {
        let files = tls_files(cert, key, &pki.ca);
        config_text("tls://127.0.0.1:6514", &files.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>())
    };
    let path = Path::new("megaflex.toml");
    megaflex_runtime::config::Config::parse(path, &config(&pki.server_cert, &pki.server_key)).expect("good files load");
    // A key that is not the certificate's: refused at check, naming no secret.
    let e = megaflex_runtime::config::Config::parse(path, &config(&pki.server_cert, &pki.client_key)).unwrap_err();
    assert!(e.message.contains("is not the key of the certificate"), "{e}");
    assert_eq!(e.line, source_line(&config(&pki.server_cert, &pki.client_key)), "the [[source]]: {e}");
    let key_text = std::fs::read_to_string(&pki.client_key).unwrap();
    let secret_line = key_text.lines().nth(1).unwrap();
    assert!(!e.to_string().contains(secret_line), "{e}");
    // A certificate file that holds a key: refused, naming the file.
    let e = megaflex_runtime::config::Config::parse(path, &config(&pki.server_key, &pki.server_key)).unwrap_err();
    assert!(e.message.contains("certificate") && e.message.contains("server.key"), "{e}");
}

#[tokio::test]
async fn the_daemons_sources_start_a_tls_listener_from_the_config() {
    if !certs::openssl_available() {
        return;
    }
    let dir = relays::temp_dir("tls-daemon");
    let pki = certs::make(&dir);
    let files = tls_files(&pki.server_cert, &pki.server_key, &pki.ca);
    let mut keys: Vec<(&str, &str)> = files.iter().map(|(k, v)| (*k, v.as_str())).collect();
    keys.extend([("max_connections", "8"), ("read_timeout", "\"5s\"")]);
    let text = config_text("tls://127.0.0.1:0", &keys);
    let config = megaflex_runtime::config::Config::parse(Path::new("megaflex.toml"), &text).unwrap();
    let store =
        megaflex_store::SqliteStore::open(&format!("sqlite://{}", dir.join("megaflex.db").display())).await.unwrap();
    let stop = CancellationToken::new();
    let (running, mut rx) = megaflex_runtime::sources::start(&config, &store, stop.clone()).await.unwrap();
    assert_eq!((running[0].kind, running[0].transport), ("syslog", "tls"));
    let addr = running[0].local_addr;
    let mut stream = connect(addr, client_config(&pki.ca, Some((&pki.client_cert, &pki.client_key)))).await.unwrap();
    // The daemon forwards only what a link watches: core-b1's TenGigabitEthernet0/1/0.
    let l = line(1).replace("TenGigabitEthernet0/1/0", "TenGigabitEthernet0/9/9");
    stream.write_all(format!("{} {l}", l.len()).as_bytes()).await.unwrap();
    stream.flush().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while running[0].metrics.snapshot().parsed == 0 {
        assert!(Instant::now() < deadline, "{:?}", running[0].metrics.snapshot());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let m = running[0].metrics.snapshot();
    assert_eq!((m.received, m.unwatched, m.dropped_auth), (1, 1, 0), "{m:?}");
    assert!(rx.try_recv().is_err());
    stop.cancel();
    for r in running {
        r.join().await;
    }
}
