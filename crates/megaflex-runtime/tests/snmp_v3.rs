//! SNMPv3 against Net-SNMP's real `snmpinform` and `snmptrap` (RFC 3414):
//! informs found by discovery and answered, authNoPriv and authPriv, MD5,
//! SHA-1, SHA-256, SHA-512, DES, AES-128; noAuthNoPriv and wrong keys
//! refused and counted; replays outside the 150-second window refused,
//! for traps (sender's clock) and informs (megaflex's clock, a restart
//! later); engineBoots counted across restarts on one SQLite file.
//! Skipped when Net-SNMP is missing, unless MEGAFLEX_REQUIRE_PEERS=1 (CI).

#[path = "../../../testing/peers.rs"]
mod peers;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use megaflex_domain::event::{Event, EventKind, EventState, SourceKind};
use megaflex_runtime::config::{Config, Signal};
use megaflex_sources::snmp::ber::Reader;
use megaflex_sources::snmp::usm::{AuthProtocol, PrivProtocol, UsmUser};
use megaflex_sources::snmp::{SnmpTrapConfig, SnmpTrapSource};
use megaflex_store::{SqliteStore, Store};
use megaflex_testkit::{CircuitToml, ConfigToml, LinkToml};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// megaflex's engine ID in these tests (informs).
const OURS: &str = "80000000050a0b0c0d";
/// The router's engine ID (traps).
const SENDER: &str = "8000000001020304";
const LINK_DOWN: &str = "1.3.6.1.6.3.1.1.5.3";
/// usmStats OIDs as BER contents (1.3.6.1.6.3.15.1.1.N.0).
const NOT_IN_TIME_WINDOWS: &str = "2b060106030f01010200";
const UNKNOWN_ENGINE_IDS: &str = "2b060106030f01010400";
/// Net-SNMP 5.9's discovery probe, as snmpinform sent it (captured on loopback).
const PROBE: &str = "304f0201033011020458e1407b020300ffe30401040201030410300e04000201000201000400040004003025041180001f88805eb9412cd621116b000000000400a00e02042e3cc6290201000201003000";

/// (user, -a, -x or None) — each configured for informs and for traps from SENDER.
const USERS: [(&str, &str, Option<&str>); 4] = [
    ("u-md5-des", "MD5", Some("DES")),
    ("u-sha-aes", "SHA", Some("AES")),
    ("u-sha256", "SHA-256", None),
    ("u-sha512-aes", "SHA-512", Some("AES")),
];

fn available() -> bool {
    let ok = Command::new("snmpinform").arg("-V").output().is_ok();
    peers::peer_present(ok, "Net-SNMP snmpinform", "apt-get install snmp")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("megaflex-snmpv3-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs a Net-SNMP tool with its own empty home: no cached engine IDs or times.
fn net_snmp(home: &std::path::Path, tool: &str, args: &[String]) -> Output {
    Command::new(tool)
        .args(args)
        .env("MIBS", "")
        .env("HOME", home)
        .env("SNMP_PERSISTENT_DIR", home)
        .output()
        .expect("net-snmp tool runs")
}

fn auth_args(user: &str, level: &str, auth: &str, auth_pw: &str, privacy: Option<&str>) -> Vec<String> {
    let mut a: Vec<String> =
        ["-v", "3", "-u", user, "-l", level, "-a", auth, "-A", auth_pw].map(str::to_owned).to_vec();
    if let Some(p) = privacy {
        a.extend(["-x", p, "-X", "privpass123"].map(str::to_owned));
    }
    a
}

/// ` TARGET "" linkDown ifIndex ifName`, with a short timeout and one retry.
fn link_down(target: &str, if_index: u32) -> Vec<String> {
    [
        "-t".to_owned(),
        "2".to_owned(),
        "-r".to_owned(),
        "1".to_owned(),
        target.to_owned(),
        String::new(),
        LINK_DOWN.to_owned(),
        format!("1.3.6.1.2.1.2.2.1.1.{if_index}"),
        "i".to_owned(),
        if_index.to_string(),
        format!("1.3.6.1.2.1.31.1.1.1.1.{if_index}"),
        "s".to_owned(),
        format!("TenGigE0/0/0/{if_index}"),
    ]
    .to_vec()
}

fn users() -> Vec<UsmUser> {
    let sender = hex::decode(SENDER).unwrap();
    USERS
        .iter()
        .map(|(name, auth, privacy)| {
            UsmUser::new(
                name,
                Some(&sender),
                Some((AuthProtocol::parse(auth).unwrap(), "authpass123")),
                privacy.map(|p| (PrivProtocol::parse(p).unwrap(), "privpass123")),
            )
            .unwrap()
        })
        .collect()
}

async fn start(boots: u32) -> (SnmpTrapSource, mpsc::Receiver<Event>, CancellationToken) {
    let (tx, rx) = mpsc::channel(64);
    let stop = CancellationToken::new();
    let mut config = SnmpTrapConfig::new("127.0.0.1:0".parse().unwrap());
    config.communities = vec![];
    config.users = users();
    config.engine_id = hex::decode(OURS).unwrap();
    config.engine_boots = boots;
    let src = SnmpTrapSource::spawn(config, tx, stop.clone()).await.unwrap();
    (src, rx, stop)
}

async fn next(rx: &mut mpsc::Receiver<Event>) -> Event {
    tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.expect("an event within 5 s").unwrap()
}

/// The event is a linkDown that a link watching `snmp = { agent = "127.0.0.1", if_index }` takes.
fn assert_drives_link(e: &Event, if_index: u32, user: &str) {
    assert_eq!(e.source, SourceKind::SnmpTrap);
    assert_eq!(
        (e.kind, e.entity.as_str(), e.state),
        (EventKind::Link, if_index.to_string().as_str(), EventState::Down)
    );
    assert_eq!(e.attributes.get("user").map(String::as_str), Some(user));
    assert_eq!(e.attributes.get("version").map(String::as_str), Some("V3"));
    let signal = Signal::Snmp { agent: "127.0.0.1".into(), if_index: Some(if_index), if_name: None };
    assert!(megaflex_domain::signal::signal_matches(&signal, e), "{e:?}");
}

async fn stop_and_count(src: SnmpTrapSource, stop: CancellationToken) -> megaflex_sources::metrics::MetricsSnapshot {
    stop.cancel();
    let metrics = src.metrics.clone();
    src.join().await;
    metrics.snapshot()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// (engine ID hex, engineBoots, engineTime, first varbind OID hex) of a Report in clear.
fn report_fields(buf: &[u8]) -> (String, u32, u32, String) {
    let mut msg = Reader::new(buf).sequence().unwrap();
    msg.integer().unwrap();
    msg.sequence().unwrap();
    let mut usm = Reader::new(msg.octets().unwrap()).sequence().unwrap();
    let engine = hex::encode(usm.octets().unwrap());
    let (boots, time) = (usm.non_negative().unwrap(), usm.non_negative().unwrap());
    let mut scoped = msg.sequence().unwrap();
    scoped.octets().unwrap();
    scoped.octets().unwrap();
    let (tag, pdu) = scoped.tlv().unwrap();
    assert_eq!(tag, 0xa8, "a Report PDU");
    let mut pdu = Reader::new(pdu);
    pdu.integer().unwrap();
    pdu.integer().unwrap();
    pdu.integer().unwrap();
    let mut vb = pdu.sequence().unwrap().sequence().unwrap();
    let (_, oid) = vb.tlv().unwrap();
    (engine, boots, time, hex::encode(oid))
}

/// Sends `datagram` to `to` and waits for the answer.
async fn exchange(to: SocketAddr, datagram: &[u8]) -> Vec<u8> {
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    s.send_to(datagram, to).await.unwrap();
    let mut buf = vec![0u8; 65_536];
    let n = tokio::time::timeout(Duration::from_secs(5), s.recv(&mut buf)).await.expect("an answer").unwrap();
    buf.truncate(n);
    buf
}

/// A UDP relay in front of `target` that keeps what the client sent.
async fn relay(target: SocketAddr) -> (SocketAddr, Arc<Mutex<Vec<Vec<u8>>>>) {
    let front = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let back = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = front.local_addr().unwrap();
    let sent = Arc::new(Mutex::new(Vec::new()));
    let record = sent.clone();
    tokio::spawn(async move {
        let (mut a, mut b) = (vec![0u8; 65_536], vec![0u8; 65_536]);
        let mut client = None;
        loop {
            tokio::select! {
                r = front.recv_from(&mut a) => {
                    let Ok((n, from)) = r else { return };
                    client = Some(from);
                    record.lock().unwrap().push(a[..n].to_vec());
                    let _ = back.send_to(&a[..n], target).await;
                }
                r = back.recv(&mut b) => {
                    let Ok(n) = r else { return };
                    if let Some(c) = client {
                        let _ = front.send_to(&b[..n], c).await;
                    }
                }
            }
        }
    });
    (addr, sent)
}

// Multi-threaded: the Net-SNMP tools run as blocking child processes, and
// the source must answer while snmpinform waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn informs_found_by_discovery_and_answered() {
    if !available() {
        return;
    }
    let home = temp_dir("informs");
    let (src, mut rx, stop) = start(1).await;
    let target = format!("127.0.0.1:{}", src.local_addr.port());
    for (i, (user, auth, privacy)) in USERS.iter().enumerate() {
        let if_index = 20 + i as u32;
        let level = if privacy.is_some() { "authPriv" } else { "authNoPriv" };
        // No -e: snmpinform discovers megaflex's engine ID and clock first.
        let mut args = auth_args(user, level, auth, "authpass123", *privacy);
        args.extend(link_down(&target, if_index));
        let out = net_snmp(&home, "snmpinform", &args);
        assert!(out.status.success(), "{user}: inform not acknowledged: {}", stderr(&out));
        assert_drives_link(&next(&mut rx).await, if_index, user);
    }
    // noAuthNoPriv for a user that requires authentication: refused with a Report, so snmpinform fails.
    let mut args: Vec<String> = ["-v", "3", "-u", "u-sha-aes", "-l", "noAuthNoPriv"].map(str::to_owned).to_vec();
    args.extend(link_down(&target, 30));
    let out = net_snmp(&home, "snmpinform", &args);
    assert!(!out.status.success(), "noAuthNoPriv inform accepted");
    // Wrong authentication password.
    let mut args = auth_args("u-sha-aes", "authPriv", "SHA", "wrongpass123", Some("AES"));
    args.extend(link_down(&target, 31));
    let out = net_snmp(&home, "snmpinform", &args);
    assert!(!out.status.success(), "inform with a wrong key accepted");
    assert!(stderr(&out).to_ascii_lowercase().contains("authentication failure"), "{}", stderr(&out));
    let m = stop_and_count(src, stop).await;
    assert_eq!(m.classified, 4, "{m:?}");
    assert!(rx.try_recv().is_err(), "nothing refused was forwarded");
    // One discovery per snmpinform run (6), answered with usmStatsUnknownEngineIDs.
    assert_eq!(m.usm.unknown_engine_ids, 6, "{m:?}");
    assert!(m.usm.unsupported_sec_levels >= 1, "{m:?}");
    assert!(m.usm.wrong_digests >= 1, "{m:?}");
    assert!(m.dropped_auth >= 2, "{m:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traps_every_protocol_wrong_keys_and_no_auth_refused() {
    if !available() {
        return;
    }
    let home = temp_dir("traps");
    let (src, mut rx, stop) = start(1).await;
    let target = format!("127.0.0.1:{}", src.local_addr.port());
    let engine = format!("0x{SENDER}");
    for (i, (user, auth, privacy)) in USERS.iter().enumerate() {
        let if_index = 40 + i as u32;
        let level = if privacy.is_some() { "authPriv" } else { "authNoPriv" };
        let mut args = auth_args(user, level, auth, "authpass123", *privacy);
        args.extend(["-e".to_owned(), engine.clone()]);
        args.extend(link_down(&target, if_index));
        let out = net_snmp(&home, "snmptrap", &args);
        assert!(out.status.success(), "{user}: {}", stderr(&out));
        assert_drives_link(&next(&mut rx).await, if_index, user);
    }
    let send = |args: Vec<String>| {
        let out = net_snmp(&home, "snmptrap", &args);
        assert!(out.status.success(), "{}", stderr(&out));
    };
    // Wrong authentication key; wrong privacy key (authentic, but decrypts to garbage).
    let mut args = auth_args("u-sha-aes", "authPriv", "SHA", "wrongpass123", Some("AES"));
    args.extend(["-e".to_owned(), engine.clone()]);
    args.extend(link_down(&target, 50));
    send(args);
    let mut args = auth_args("u-md5-des", "authPriv", "MD5", "authpass123", None);
    args.extend(["-x", "DES", "-X", "wrongpriv123", "-e", &engine].map(str::to_owned));
    args.extend(link_down(&target, 51));
    send(args);
    // noAuthNoPriv as a user that requires authentication.
    let mut args: Vec<String> =
        ["-v", "3", "-u", "u-sha256", "-l", "noAuthNoPriv", "-e", &engine].map(str::to_owned).to_vec();
    args.extend(link_down(&target, 52));
    send(args);
    // authNoPriv as a user that requires privacy.
    let mut args = auth_args("u-sha-aes", "authNoPriv", "SHA", "authpass123", None);
    args.extend(["-e".to_owned(), engine.clone()]);
    args.extend(link_down(&target, 53));
    send(args);
    // A last good one: everything before it has been processed when it arrives.
    let mut args = auth_args("u-sha256", "authNoPriv", "SHA-256", "authpass123", None);
    args.extend(["-e".to_owned(), engine.clone()]);
    args.extend(link_down(&target, 54));
    send(args);
    assert_drives_link(&next(&mut rx).await, 54, "u-sha256");
    let m = stop_and_count(src, stop).await;
    assert_eq!((m.classified, m.dropped_auth), (5, 4), "{m:?}");
    assert_eq!((m.usm.wrong_digests, m.usm.decryption_errors, m.usm.unsupported_sec_levels), (1, 1, 2), "{m:?}");
    assert!(rx.try_recv().is_err());
}

/// RFC 3414 3.2 step 7b: megaflex keeps the latest engineBoots/engineTime
/// each sender engine sent and refuses traps older than that by > 150 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trap_replays_outside_the_senders_window_refused() {
    if !available() {
        return;
    }
    let home = temp_dir("trap-window");
    let (src, mut rx, stop) = start(1).await;
    let target = format!("127.0.0.1:{}", src.local_addr.port());
    let engine = format!("0x{SENDER}");
    let trap = |boots_time: &str, if_index: u32| {
        let mut args = auth_args("u-sha-aes", "authPriv", "SHA", "authpass123", Some("AES"));
        args.extend(["-e", &engine, "-Z", boots_time].map(str::to_owned));
        args.extend(link_down(&target, if_index));
        let out = net_snmp(&home, "snmptrap", &args);
        assert!(out.status.success(), "{}", stderr(&out));
    };
    trap("3,5000", 60);
    assert_drives_link(&next(&mut rx).await, 60, "u-sha-aes");
    trap("3,4000", 61); // 1000 s older than the last one seen: a replay
    trap("2,9000", 62); // an earlier boot
    trap("3,4900", 63); // 100 s older: inside the window
    assert_drives_link(&next(&mut rx).await, 63, "u-sha-aes");
    let m = stop_and_count(src, stop).await;
    assert_eq!((m.classified, m.usm.not_in_time_windows, m.dropped_auth), (2, 2, 2), "{m:?}");
    assert!(rx.try_recv().is_err(), "the replays were not forwarded");
}

/// Informs: megaflex's clock. snmpinform with `-e` and no idea of the time
/// is told it with an authenticated usmStatsNotInTimeWindows Report and
/// retries; its datagram, captured and sent again after a restart (a new
/// engineBoots from the same SQLite file), is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inform_time_sync_and_replay_after_restart_refused() {
    if !available() {
        return;
    }
    let dir = temp_dir("inform-replay");
    let url = format!("sqlite://{}", dir.join("megaflex.db").display());
    let ours = hex::decode(OURS).unwrap();
    let store = SqliteStore::open(&url).await.unwrap();
    let (id, boots) = store.next_snmp_engine_boots(Some(&ours), &ours).await.unwrap();
    assert_eq!((id.as_slice(), boots), (ours.as_slice(), 1));
    let (src, mut rx, stop) = start(boots).await;
    let (via, sent) = relay(src.local_addr).await;
    let mut args = auth_args("u-sha-aes", "authPriv", "SHA", "authpass123", Some("AES"));
    args.extend(["-e".to_owned(), format!("0x{OURS}")]);
    args.extend(link_down(&via.to_string(), 70));
    let out = net_snmp(&dir, "snmpinform", &args);
    assert!(out.status.success(), "inform not acknowledged: {}", stderr(&out));
    assert_drives_link(&next(&mut rx).await, 70, "u-sha-aes");
    let captured = sent.lock().unwrap().last().cloned().expect("the inform went through the relay");
    let m = stop_and_count(src, stop).await;
    assert_eq!(m.usm.not_in_time_windows, 1, "the first try carried no time: {m:?}");
    drop(store);

    // Restart on the same file: engineBoots 2.
    let store = SqliteStore::open(&url).await.unwrap();
    let (_, boots) = store.next_snmp_engine_boots(Some(&ours), &ours).await.unwrap();
    assert_eq!(boots, 2);
    let (src, mut rx, stop) = start(boots).await;
    let report = exchange(src.local_addr, &captured).await;
    let (engine, boots, _, oid) = report_fields(&report);
    assert_eq!((engine.as_str(), boots, oid.as_str()), (OURS, 2, NOT_IN_TIME_WINDOWS));
    // The same inform from a fresh snmpinform works: it learns boots 2.
    let mut args = auth_args("u-sha-aes", "authPriv", "SHA", "authpass123", Some("AES"));
    args.extend(link_down(&src.local_addr.to_string(), 71));
    let out = net_snmp(&dir, "snmpinform", &args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_drives_link(&next(&mut rx).await, 71, "u-sha-aes");
    let m = stop_and_count(src, stop).await;
    assert_eq!((m.classified, m.usm.not_in_time_windows), (1, 1), "{m:?}");
    assert!(rx.try_recv().is_err(), "the replay was not forwarded");
}

/// The daemon's path: `[[source]]` without engine_id gets one made at
/// random and kept in the store; engineBoots counts each start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_engine_id_kept_and_boots_counted_across_restarts() {
    let dir = temp_dir("boots");
    let url = format!("sqlite://{}", dir.join("megaflex.db").display());
    let config = |engine_id: Option<&str>| {
        // A circuit too: a configuration without one is refused.
        let keys: &[(&str, &str)] = match engine_id {
            Some(id) => &[("engine_id", id)],
            None => &[],
        };
        let text = ConfigToml::default()
            .snmp_trap("127.0.0.1:0", keys)
            .link(LinkToml::syslog("bne-mel-primary", "core-b1", "TenGigabitEthernet0/1/0"))
            .circuit(CircuitToml::new(
                "bne-mel-backup",
                "61a2b3c4-5b6d-44e8-af90-b6c1d2e3f4a5",
                10,
                500,
                &["bne-mel-primary"],
            ))
            .text();
        Config::parse(std::path::Path::new("megaflex.toml"), &text).unwrap()
    };
    let mut seen = Vec::new();
    for engine_id in [None, None, Some("\"0x80000000050102030405\"")] {
        let store = SqliteStore::open(&url).await.unwrap();
        let stop = CancellationToken::new();
        let (running, _events) =
            megaflex_runtime::sources::start(&config(engine_id), &store, stop.clone()).await.unwrap();
        let report = exchange(running[0].local_addr, &hex::decode(PROBE).unwrap()).await;
        let (engine, boots, time, oid) = report_fields(&report);
        assert_eq!(oid, UNKNOWN_ENGINE_IDS);
        assert!(time < 5, "engineTime counts from the start: {time}");
        seen.push((engine, boots));
        stop.cancel();
        for r in running {
            r.join().await;
        }
    }
    let default_id = &seen[0].0;
    assert!(default_id.starts_with("8000000005") && default_id.len() == 26, "{default_id}");
    assert_eq!(seen[1], (default_id.clone(), 2), "same engine ID, next boot");
    assert_eq!(seen[2], ("80000000050102030405".to_owned(), 1), "a configured engine ID counts its own boots");
}
