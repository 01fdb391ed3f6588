//! The trap source with Net-SNMP's real `snmptrap` and `snmpinform`: v1,
//! v2c, v3 authPriv (SHA/AES and MD5/DES), informs answered, wrong
//! community and wrong password counted and dropped. Skipped when Net-SNMP
//! is missing, unless MEGAFLEX_REQUIRE_PEERS=1 (CI).

#[path = "common/counted.rs"]
mod counted;
#[path = "../../../testing/peers.rs"]
mod peers;

use std::process::Command;
use std::time::Duration;

use counted::wait_counted;
use megaflex_domain::event::{Event, EventKind, EventState, SourceKind};
use megaflex_sources::snmp::usm::{AuthProtocol, PrivProtocol, UsmUser};
use megaflex_sources::snmp::{SnmpTrapConfig, SnmpTrapSource};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const ENGINE: &str = "8000000001020304";

fn available() -> bool {
    let ok = Command::new("snmptrap").arg("-V").output().is_ok();
    peers::peer_present(ok, "Net-SNMP snmptrap", "apt-get install snmp")
}

fn net_snmp(tool: &str, args: &[String]) -> std::process::Output {
    let home = std::env::temp_dir().join("megaflex-netsnmp-home");
    std::fs::create_dir_all(&home).unwrap();
    Command::new(tool)
        .args(args)
        .env("MIBS", "")
        .env("HOME", &home)
        .env("SNMP_PERSISTENT_DIR", &home)
        .output()
        .expect("net-snmp tool runs")
}

fn link_varbinds(if_index: u32, admin: u32, oper: u32) -> Vec<String> {
    [
        (format!("1.3.6.1.2.1.2.2.1.1.{if_index}"), "i", if_index.to_string()),
        (format!("1.3.6.1.2.1.2.2.1.7.{if_index}"), "i", admin.to_string()),
        (format!("1.3.6.1.2.1.2.2.1.8.{if_index}"), "i", oper.to_string()),
        (format!("1.3.6.1.2.1.31.1.1.1.1.{if_index}"), "s", format!("TenGigE0/0/0/{if_index}")),
    ]
    .into_iter()
    .flat_map(|(o, t, v)| [o, t.to_owned(), v])
    .collect()
}

async fn start() -> (SnmpTrapSource, mpsc::Receiver<Event>, CancellationToken) {
    let (tx, rx) = mpsc::channel(64);
    let stop = CancellationToken::new();
    let engine = hex::decode(ENGINE).unwrap();
    let mut config = SnmpTrapConfig::new("127.0.0.1:0".parse().unwrap());
    config.communities = vec!["s3cret-community".into()];
    config.users = vec![
        UsmUser::new(
            "megaflex-sha",
            Some(&engine),
            Some((AuthProtocol::Sha1, "authpass123")),
            Some((PrivProtocol::Aes128, "privpass123")),
        )
        .unwrap(),
        UsmUser::new(
            "megaflex-md5",
            Some(&engine),
            Some((AuthProtocol::Md5, "authpass123")),
            Some((PrivProtocol::Des, "privpass123")),
        )
        .unwrap(),
        UsmUser::new("megaflex-sha256", Some(&engine), Some((AuthProtocol::Sha256, "authpass123")), None).unwrap(),
    ];
    let src = SnmpTrapSource::spawn(config, tx, stop.clone()).await.unwrap();
    (src, rx, stop)
}

async fn next(rx: &mut mpsc::Receiver<Event>) -> Event {
    tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.expect("an event within 5 s").unwrap()
}

fn assert_link(e: &Event, if_index: &str, state: EventState, admin: bool) {
    assert_eq!(e.source, SourceKind::SnmpTrap);
    assert_eq!(
        (e.kind, e.entity.as_str(), e.state, e.administrative),
        (EventKind::Link, if_index, state, admin),
        "{e:?}"
    );
    assert_eq!(e.attributes.get("if_name").map(String::as_str), Some(format!("TenGigE0/0/0/{if_index}").as_str()));
    assert_eq!(e.device.address.as_deref(), Some("127.0.0.1"));
}

// Multi-threaded: the Net-SNMP tools run as blocking child processes, and an
// inform needs the source to answer while snmpinform waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_v2c_and_inform_from_net_snmp() {
    if !available() {
        return;
    }
    let (src, mut rx, stop) = start().await;
    let target = format!("127.0.0.1:{}", src.local_addr.port());
    // v1 linkDown (generic 2) from agent 127.0.0.1.
    let mut args: Vec<String> =
        ["-v", "1", "-c", "s3cret-community", &target, "1.3.6.1.4.1.9.1.1", "127.0.0.1", "2", "0", ""]
            .map(str::to_owned)
            .to_vec();
    args.extend(link_varbinds(3, 1, 2));
    let out = net_snmp("snmptrap", &args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let e = next(&mut rx).await;
    assert_link(&e, "3", EventState::Down, false);
    assert_eq!(e.attributes.get("version").map(String::as_str), Some("V1"));
    assert_eq!(e.attributes.get("trap_oid").map(String::as_str), Some("1.3.6.1.6.3.1.1.5.3"));

    // v2c linkUp.
    let mut args: Vec<String> =
        ["-v", "2c", "-c", "s3cret-community", &target, "", "1.3.6.1.6.3.1.1.5.4"].map(str::to_owned).to_vec();
    args.extend(link_varbinds(3, 1, 1));
    assert!(net_snmp("snmptrap", &args).status.success());
    assert_link(&next(&mut rx).await, "3", EventState::Up, false);

    // v2c inform: snmpinform exits 0 only when it got our Response.
    let mut args: Vec<String> =
        ["-v", "2c", "-c", "s3cret-community", "-t", "2", "-r", "0", &target, "", "1.3.6.1.6.3.1.1.5.3"]
            .map(str::to_owned)
            .to_vec();
    args.extend(link_varbinds(7, 2, 2));
    let out = net_snmp("snmpinform", &args);
    assert!(out.status.success(), "inform not acknowledged: {}", String::from_utf8_lossy(&out.stderr));
    assert_link(&next(&mut rx).await, "7", EventState::Down, true);

    // Wrong community: counted and dropped.
    let mut args: Vec<String> =
        ["-v", "2c", "-c", "public", &target, "", "1.3.6.1.6.3.1.1.5.3"].map(str::to_owned).to_vec();
    args.extend(link_varbinds(9, 1, 2));
    assert!(net_snmp("snmptrap", &args).status.success());
    wait_counted(&src.metrics, "the wrong-community trap", |m| m.dropped_auth >= 1).await;
    stop.cancel();
    let metrics = src.metrics.clone();
    src.join().await;
    let m = metrics.snapshot();
    assert_eq!((m.received, m.classified, m.dropped_auth), (4, 3, 1), "{m:?}");
    assert!(rx.try_recv().is_err(), "the wrong-community trap was not forwarded");
}

#[tokio::test]
async fn v3_auth_priv_from_net_snmp() {
    if !available() {
        return;
    }
    let (src, mut rx, stop) = start().await;
    let target = format!("127.0.0.1:{}", src.local_addr.port());
    let engine = format!("0x{ENGINE}");
    for (user, auth, privacy, level, if_index) in [
        ("megaflex-sha", "SHA", Some("AES"), "authPriv", 11),
        ("megaflex-md5", "MD5", Some("DES"), "authPriv", 12),
        ("megaflex-sha256", "SHA-256", None, "authNoPriv", 13),
    ] {
        let mut args: Vec<String> =
            ["-v", "3", "-e", &engine, "-u", user, "-l", level, "-a", auth, "-A", "authpass123"]
                .map(str::to_owned)
                .to_vec();
        if let Some(p) = privacy {
            args.extend(["-x", p, "-X", "privpass123"].map(str::to_owned));
        }
        args.extend([target.clone(), String::new(), "1.3.6.1.6.3.1.1.5.3".into()]);
        args.extend(link_varbinds(if_index, 1, 2));
        let out = net_snmp("snmptrap", &args);
        assert!(out.status.success(), "{user}: {}", String::from_utf8_lossy(&out.stderr));
        let e = next(&mut rx).await;
        assert_link(&e, &if_index.to_string(), EventState::Down, false);
        assert_eq!(e.attributes.get("user").map(String::as_str), Some(user));
    }
    // Wrong authentication password: refused, counted.
    let mut args: Vec<String> = [
        "-v",
        "3",
        "-e",
        &engine,
        "-u",
        "megaflex-sha",
        "-l",
        "authPriv",
        "-a",
        "SHA",
        "-A",
        "wrongpass123",
        "-x",
        "AES",
        "-X",
        "privpass123",
    ]
    .map(str::to_owned)
    .to_vec();
    args.extend([target.clone(), String::new(), "1.3.6.1.6.3.1.1.5.3".into()]);
    args.extend(link_varbinds(14, 1, 2));
    assert!(net_snmp("snmptrap", &args).status.success());
    // Unknown user.
    let mut args: Vec<String> =
        ["-v", "3", "-e", &engine, "-u", "nobody", "-l", "noAuthNoPriv"].map(str::to_owned).to_vec();
    args.extend([target.clone(), String::new(), "1.3.6.1.6.3.1.1.5.3".into()]);
    assert!(net_snmp("snmptrap", &args).status.success());
    wait_counted(&src.metrics, "the unknown user's trap", |m| m.dropped_auth >= 2).await;
    stop.cancel();
    let metrics = src.metrics.clone();
    src.join().await;
    let m = metrics.snapshot();
    assert_eq!((m.classified, m.dropped_auth), (3, 2), "{m:?}");
    assert!(rx.try_recv().is_err());
}
