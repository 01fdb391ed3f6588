//! Hostile TCP/TLS clients against the syslog stream listener (issue 15
//! §11): slow-loris connections over the connection limit must not keep a
//! real router out, and the idle and read timeouts close what never
//! finishes a message or says nothing.

#[path = "common/certs.rs"]
mod certs;
#[path = "common/relays.rs"]
mod relays;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use megaflex_domain::event::{Event, EventKind, EventState};
use megaflex_sources::metrics::ConnectionSnapshot;
use megaflex_sources::syslog::tls::TlsFiles;
use megaflex_sources::syslog::{SyslogConfig, SyslogSource};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const ROUTER_LINE: &str = "<189>7: core-b1: *Jun  1 12:00:00.000: %LINEPROTO-5-UPDOWN: Line protocol on Interface TenGigabitEthernet0/1/0, changed state to down";

/// Room for a few thousand sockets on both ends, whatever the soft limit.
fn raise_fd_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < hard
    {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

async fn start(config: SyslogConfig) -> (SyslogSource, mpsc::Receiver<Event>, CancellationToken) {
    let (tx, rx) = mpsc::channel(64);
    let stop = CancellationToken::new();
    let src = SyslogSource::spawn(config, Arc::from(vec![]), tx, stop.clone()).await.unwrap();
    (src, rx, stop)
}

async fn wait_conns(src: &SyslogSource, what: &str, done: impl Fn(&ConnectionSnapshot) -> bool) -> ConnectionSnapshot {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let c = src.metrics.connections.snapshot();
        if done(&c) {
            return c;
        }
        assert!(Instant::now() < deadline, "{what}: {c:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Opens `n` connections that each send one byte of a message that never ends.
fn slow_loris(addr: SocketAddr, n: usize) -> Vec<std::net::TcpStream> {
    (0..n)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(addr).expect("connect");
            s.write_all(b"<").unwrap();
            s
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_gets_in_past_1100_slow_loris_connections() {
    raise_fd_limit();
    let (src, mut rx, stop) = start(SyslogConfig::new("tcp://127.0.0.1:0".parse().unwrap())).await;
    assert_eq!(SyslogConfig::new("tcp://127.0.0.1:0".parse().unwrap()).max_connections, 1024, "the default limit");
    const LORIS: usize = 1_100;
    let mut loris = slow_loris(src.local_addr, LORIS);
    let over = (LORIS - 1_024) as u64;
    wait_conns(&src, "every slow-loris connection accepted, the limit held", |c| {
        c.accepted == LORIS as u64 && c.evicted == over && c.open <= 1_024
    })
    .await;
    // They keep trickling, a byte each every 2 s, while the router connects.
    let trickle_stop = CancellationToken::new();
    let trickle = {
        let stop = trickle_stop.clone();
        std::thread::spawn(move || {
            while !stop.is_cancelled() {
                for s in &mut loris {
                    let _ = s.write_all(b"1");
                }
                std::thread::sleep(Duration::from_secs(2));
            }
        })
    };

    let started = Instant::now();
    let mut router = tokio::net::TcpStream::connect(src.local_addr).await.unwrap();
    router.write_all(format!("{}\n", ROUTER_LINE).as_bytes()).await.unwrap();
    let e = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("the router's message within 5 s")
        .unwrap();
    assert_eq!((e.device.hostname.as_deref(), e.kind, e.state), (Some("core-b1"), EventKind::Link, EventState::Down));
    let c = src.metrics.connections.snapshot();
    assert!(c.evicted > over, "an attacker's connection made room: {c:?}");
    eprintln!("router's message in {:?} past {LORIS} slow-loris connections: {c:?}", started.elapsed());

    // The router's connection stays up for its next message.
    router.write_all(format!("{}\n", ROUTER_LINE.replace("down", "up")).as_bytes()).await.unwrap();
    let e = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.unwrap().unwrap();
    assert_eq!(e.state, EventState::Up);
    trickle_stop.cancel();
    trickle.join().unwrap();
    stop.cancel();
    src.join().await;
}

#[tokio::test]
async fn read_and_idle_timeouts_close_what_never_finishes() {
    let mut config = SyslogConfig::new("tcp://127.0.0.1:0".parse().unwrap());
    config.read_timeout = Duration::from_millis(500);
    config.idle_timeout = Duration::from_millis(1_500);
    let (src, mut rx, stop) = start(config).await;

    // A message begun and never finished: closed by the read timeout.
    let mut partial = tokio::net::TcpStream::connect(src.local_addr).await.unwrap();
    partial.write_all(b"<189>1: r1: half a mess").await.unwrap();
    let t = Instant::now();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), partial.read(&mut buf)).await.expect("closed").unwrap_or(0);
    assert_eq!(n, 0, "the server closed it");
    assert!(t.elapsed() < Duration::from_millis(1_400), "by the read timeout, not the idle one: {:?}", t.elapsed());

    // A router that sent a message and went quiet: closed by the idle timeout,
    // after its message was handled.
    let mut quiet = tokio::net::TcpStream::connect(src.local_addr).await.unwrap();
    quiet.write_all(format!("{ROUTER_LINE}\n").as_bytes()).await.unwrap();
    assert_eq!(tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.unwrap().unwrap().state, EventState::Down);
    let t = Instant::now();
    let n = tokio::time::timeout(Duration::from_secs(5), quiet.read(&mut buf)).await.expect("closed").unwrap_or(0);
    assert_eq!(n, 0);
    assert!(t.elapsed() >= Duration::from_millis(1_000), "not before the idle timeout: {:?}", t.elapsed());
    let c = wait_conns(&src, "both counted", |c| c.timed_out == 2 && c.open == 0).await;
    assert_eq!((c.accepted, c.evicted), (2, 0));
    stop.cancel();
    src.join().await;
}

#[tokio::test]
async fn tls_stalled_handshakes_over_the_limit_do_not_keep_a_client_out() {
    if !certs::openssl_available() {
        return;
    }
    let dir = relays::temp_dir("tls-limits");
    let pki = certs::make(&dir);
    let mut config = SyslogConfig::new("tls://127.0.0.1:0".parse().unwrap());
    config.max_connections = 50;
    config.tls =
        Some(TlsFiles { cert_file: pki.server_cert.clone(), key_file: pki.server_key.clone(), client_ca_file: None });
    let (src, mut rx, stop) = start(config).await;
    // Connections that never send a ClientHello.
    let stalled: Vec<_> = (0..60).map(|_| std::net::TcpStream::connect(src.local_addr).unwrap()).collect();
    wait_conns(&src, "stalled handshakes accepted", |c| c.accepted == 60).await;

    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::pem::PemObject;
    for c in rustls::pki_types::CertificateDer::pem_file_iter(&pki.ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(src.local_addr).await.unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(client))
        .connect(rustls::pki_types::ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("handshake past the stalled ones");
    tls.write_all(format!("{} {ROUTER_LINE}", ROUTER_LINE.len()).as_bytes()).await.unwrap();
    tls.flush().await.unwrap();
    let e = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.expect("within 5 s").unwrap();
    assert_eq!(e.entity, "TenGigabitEthernet0/1/0");
    let c = src.metrics.connections.snapshot();
    assert!(c.evicted >= 11 && c.open <= 50, "{c:?}");
    drop(stalled);
    stop.cancel();
    src.join().await;
}
