//! The syslog source with real senders: util-linux `logger` over UDP and TCP
//! (RFC 3164 and 5424, both TCP framings), and raw sockets for hostile input.

#[path = "common/counted.rs"]
mod counted;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use counted::wait_counted;
use megaflex_domain::event::{Event, EventKind, EventState, SourceKind};
use megaflex_sources::syslog::{Listen, SyslogConfig, SyslogSource};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const LINK_DOWN: &str =
    "%LINEPROTO-5-UPDOWN: Line protocol on Interface TenGigabitEthernet0/1/0, changed state to down";

async fn start(listen: &str) -> (SyslogSource, mpsc::Receiver<Event>, CancellationToken) {
    let (tx, rx) = mpsc::channel(1024);
    let stop = CancellationToken::new();
    let mut config = SyslogConfig::new(listen.parse().unwrap());
    config.max_message_bytes = 16 * 1024;
    let src = SyslogSource::spawn(config, Arc::from(vec![]), tx, stop.clone()).await.unwrap();
    (src, rx, stop)
}

fn logger(addr: SocketAddr, args: &[&str], msg: &str) {
    let port = addr.port().to_string();
    let status = Command::new("logger")
        .args(["-n", "127.0.0.1", "-P", &port, "-t", "megaflex-test"])
        .args(args)
        .arg(msg)
        .status()
        .expect("logger (util-linux) is installed");
    assert!(status.success());
}

async fn next(rx: &mut mpsc::Receiver<Event>) -> Event {
    tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.expect("an event within 5 s").expect("channel open")
}

fn local_hostname() -> String {
    let out = Command::new("hostname").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn assert_link_down(e: &Event) {
    assert_eq!(e.source, SourceKind::Syslog);
    assert_eq!(
        (e.kind, e.entity.as_str(), e.state, e.administrative),
        (EventKind::Link, "TenGigabitEthernet0/1/0", EventState::Down, false)
    );
    assert_eq!(e.attributes.get("mnemonic").map(String::as_str), Some("LINEPROTO-5-UPDOWN"));
    assert_eq!(e.device.address.as_deref(), Some("127.0.0.1"));
    assert!(e.raw.contains("changed state to down"));
}

#[tokio::test]
async fn logger_rfc3164_and_rfc5424_over_udp() {
    let (src, mut rx, stop) = start("udp://127.0.0.1:0").await;
    assert!(
        src.recv_buffer_bytes.unwrap() >= 1 << 20,
        "asked the kernel for a large buffer: {:?}",
        src.recv_buffer_bytes
    );
    logger(src.local_addr, &["-d", "--rfc3164"], LINK_DOWN);
    let e = next(&mut rx).await;
    assert_link_down(&e);
    let host = local_hostname();
    assert!(e.device.hostname.as_deref().is_some_and(|h| host.starts_with(h)), "{:?} vs {host}", e.device.hostname);
    logger(src.local_addr, &["-d", "--rfc5424"], &LINK_DOWN.replace("down", "up"));
    let e = next(&mut rx).await;
    assert_eq!((e.entity.as_str(), e.state), ("TenGigabitEthernet0/1/0", EventState::Up));
    stop.cancel();
    let metrics = src.metrics.clone();
    src.join().await;
    let m = metrics.snapshot();
    assert_eq!((m.received, m.parsed, m.classified, m.dropped_malformed), (2, 2, 2, 0));
}

#[tokio::test]
async fn logger_over_tcp_octet_counting_and_lf() {
    let (src, mut rx, stop) = start("tcp://127.0.0.1:0").await;
    logger(src.local_addr, &["-T", "--octet-count", "--rfc5424"], LINK_DOWN);
    assert_link_down(&next(&mut rx).await);
    logger(src.local_addr, &["-T", "--rfc3164"], LINK_DOWN);
    assert_link_down(&next(&mut rx).await);
    stop.cancel();
    let metrics = src.metrics.clone();
    src.join().await;
    assert_eq!(metrics.snapshot().classified, 2);
}

#[tokio::test]
async fn hostile_udp_input_is_counted_and_skipped() {
    let (src, mut rx, stop) = start("udp://127.0.0.1:0").await;
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.send_to(b"<999>not a pri", src.local_addr).unwrap();
    sock.send_to(b"", src.local_addr).unwrap();
    sock.send_to(&[0xff; 100], src.local_addr).unwrap();
    sock.send_to(&vec![b'a'; 20_000], src.local_addr).unwrap();
    sock.send_to(b"<189>1: r1: *Jun  1 12:00:00: %SYS-5-CONFIG_I: Configured from console", src.local_addr).unwrap();
    sock.send_to(format!("<189>2: r1: *Jun  1 12:00:01: {LINK_DOWN}").as_bytes(), src.local_addr).unwrap();
    let e = next(&mut rx).await;
    assert_eq!(e.device.hostname.as_deref(), Some("r1"));
    assert_link_down(&e);
    stop.cancel();
    let metrics = src.metrics.clone();
    src.join().await;
    let m = metrics.snapshot();
    assert_eq!(m.received, 6);
    assert_eq!(m.dropped_oversize, 1);
    assert_eq!(m.dropped_malformed, 3, "bad PRI, empty, non-text: {m:?}");
    assert_eq!((m.unclassified, m.classified), (1, 1));
}

#[tokio::test]
async fn a_full_queue_drops_and_counts_instead_of_blocking() {
    let (tx, mut rx) = mpsc::channel(2);
    let stop = CancellationToken::new();
    let src = SyslogSource::spawn(
        SyslogConfig::new(Listen::Udp("127.0.0.1:0".parse().unwrap())),
        Arc::from(vec![]),
        tx,
        stop.clone(),
    )
    .await
    .unwrap();
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..10 {
        sock.send_to(format!("<189>{i}: r1: *Jun  1 12:00:00: {LINK_DOWN}").as_bytes(), src.local_addr).unwrap();
    }
    wait_counted(&src.metrics, "the eight lines that do not fit", |m| m.dropped_queue_full >= 8).await;
    stop.cancel();
    let metrics = src.metrics.clone();
    src.join().await;
    let m = metrics.snapshot();
    assert_eq!((m.classified, m.dropped_queue_full), (10, 8));
    assert!(rx.recv().await.is_some());
}

#[tokio::test]
async fn tcp_garbage_and_oversize_resync() {
    use tokio::io::AsyncWriteExt;
    let (src, mut rx, stop) = start("tcp://127.0.0.1:0").await;
    let mut s = tokio::net::TcpStream::connect(src.local_addr).await.unwrap();
    let line = format!("<189>2: r1: *Jun  1 12:00:01: {LINK_DOWN}");
    let mut payload = Vec::new();
    payload.extend_from_slice(b"garbage without a pri\n");
    payload.extend_from_slice(format!("20000 {}", "x".repeat(10)).as_bytes());
    payload.extend_from_slice(&vec![b'y'; 19_990]);
    payload.extend_from_slice(format!("{} {line}", line.len()).as_bytes());
    s.write_all(&payload).await.unwrap();
    s.shutdown().await.unwrap();
    assert_link_down(&next(&mut rx).await);
    stop.cancel();
    let metrics = src.metrics.clone();
    src.join().await;
    let m = metrics.snapshot();
    assert_eq!((m.dropped_malformed, m.dropped_oversize, m.classified), (1, 1, 1), "{m:?}");
}

#[tokio::test]
async fn udp_drains_the_kernel_queue_at_stop_and_stops_when_nobody_reads() {
    // Everything queued before the stop is handled: 3,000 datagrams sent in a
    // burst (more than a batch, so the receiver also gathers), then stop.
    let (tx, mut rx) = mpsc::channel(10_000);
    let stop = CancellationToken::new();
    let config = SyslogConfig::new(Listen::Udp("127.0.0.1:0".parse().unwrap()));
    let src = SyslogSource::spawn(config, Arc::from(vec![]), tx, stop.clone()).await.unwrap();
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..3_000 {
        let body = if i % 3 == 0 { LINK_DOWN } else { "%SYS-5-CONFIG_I: Configured from console" };
        sock.send_to(format!("<189>{i}: r1: *Jun  1 12:00:00: {body}").as_bytes(), src.local_addr).unwrap();
    }
    stop.cancel();
    let metrics = src.metrics.clone();
    tokio::time::timeout(Duration::from_secs(5), src.join()).await.expect("stops within 5 s");
    let m = metrics.snapshot();
    assert_eq!((m.received, m.classified, m.unclassified), (3_000, 1_000, 2_000), "{m:?}");
    let mut events = 0;
    while let Ok(e) = rx.try_recv() {
        assert_link_down(&e);
        events += 1;
    }
    assert_eq!(events, 1_000, "every classified message reached the reader");

    // A receiver whose reader went away stops by itself and frees its port.
    let (src, rx, _stop) = start("udp://127.0.0.1:0").await;
    let addr = src.local_addr;
    drop(rx);
    tokio::time::timeout(Duration::from_secs(5), src.join()).await.expect("stops once nobody reads");
    std::net::UdpSocket::bind(addr).expect("the port is free again");
}

#[tokio::test]
async fn relayed_lines_match_the_routers_watched_link_not_the_relay() {
    use megaflex_sources::syslog::watch::Watch;
    let (tx, mut rx) = mpsc::channel(64);
    let stop = CancellationToken::new();
    let mut config = SyslogConfig::new("tcp://127.0.0.1:0".parse().unwrap());
    let mut watch = Watch::default();
    watch.add(EventKind::Link, "core-b1", "TenGigabitEthernet0/1/0");
    config.watch = Some(Arc::new(watch));
    let src = SyslogSource::spawn(config, Arc::from(vec![]), tx, stop.clone()).await.unwrap();
    let lines = [
        // rsyslog pmciscoios + RSYSLOG_SyslogProtocol23Format (issue 14).
        "<189>1 2026-12-02T17:00:02.151+00:00 core-b1 %LINEPROTO-5-UPDOWN - - -  Line protocol on Interface TenGigabitEthernet0/1/0, changed state to down",
        // rsyslog's RFC 3164 parser took the sequence number for the TAG.
        "<189>1 2026-12-02T17:00:02.151+00:00 relay-1 88 - - -  core-b1: *Mar  1 00:01:02.123: %LINK-3-UPDOWN: Interface TenGigabitEthernet0/1/0, changed state to down",
        // syslog-ng read `88: core-b1:` as sequence and program.
        "<187>1 2026-12-02T17:00:02+00:00 relay-1 core-b1 - - [meta sequenceId=\"88\"] *Mar  1 00:01:02.123: %LINK-3-UPDOWN: Interface TenGigabitEthernet0/1/0, changed state to down",
        // The relay's own name with a watched interface: not core-b1's link.
        "<189>1 2026-12-02T17:00:02.151+00:00 relay-1 %LINEPROTO-5-UPDOWN - - -  Line protocol on Interface TenGigabitEthernet0/1/0, changed state to down",
    ];
    let mut s = tokio::net::TcpStream::connect(src.local_addr).await.unwrap();
    for l in lines {
        tokio::io::AsyncWriteExt::write_all(&mut s, format!("{} {l}", l.len()).as_bytes()).await.unwrap();
    }
    tokio::io::AsyncWriteExt::shutdown(&mut s).await.unwrap();
    for _ in 0..3 {
        let e = next(&mut rx).await;
        assert_eq!(
            (e.device.hostname.as_deref(), e.entity.as_str(), e.state),
            (Some("core-b1"), "TenGigabitEthernet0/1/0", EventState::Down)
        );
    }
    stop.cancel();
    let metrics = src.metrics.clone();
    src.join().await;
    let m = metrics.snapshot();
    assert_eq!((m.classified, m.unwatched), (3, 1), "{m:?}");
    assert!(rx.try_recv().is_err(), "the relay's own line was not forwarded");
}
