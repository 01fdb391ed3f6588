//! Every line of the vendor classifier table, sent directly and through
//! real relays (rsyslogd with its RFC 3164 parser and with `pmciscoios`,
//! syslog-ng), forwarded over UDP and TCP with both RFC 6587 framings, with
//! the relays' default templates and their RFC 5424 ones, must mean the
//! same: same host (the router's, never the relay's), kind, entity, state.
//! Skipped when a relay is missing, unless MEGAFLEX_REQUIRE_PEERS=1 (CI).

#[path = "common/relays.rs"]
mod relays;
#[path = "common/vendor_lines.rs"]
mod vendor_lines;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use megaflex_domain::event::{Event, EventKind, EventState};
use megaflex_sources::syslog::{SyslogConfig, SyslogSource};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use vendor_lines::CASES;

type Meaning = (Option<String>, EventKind, String, EventState, bool);

/// One megaflex listener fed by one relay action.
struct Sink {
    name: String,
    src: SyslogSource,
    rx: mpsc::Receiver<Event>,
}

async fn sink(name: &str, listen: &str, stop: &CancellationToken) -> Sink {
    let (tx, rx) = mpsc::channel(1024);
    let config = SyslogConfig::new(listen.parse().unwrap());
    let src = SyslogSource::spawn(config, Arc::from(vec![]), tx, stop.clone()).await.unwrap();
    Sink { name: name.to_owned(), src, rx }
}

impl Sink {
    fn port(&self) -> u16 {
        self.src.local_addr.port()
    }
}

fn expected() -> Vec<Meaning> {
    let mut v: Vec<Meaning> =
        CASES.iter().map(|c| (c.host.map(str::to_owned), c.kind, c.entity.to_owned(), c.state, c.admin)).collect();
    v.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    v
}

fn meaning(e: &Event) -> Meaning {
    (e.device.hostname.clone(), e.kind, e.entity.clone(), e.state, e.administrative)
}

const PROBE: &str = "<13>Jan  1 00:00:00 probe megaflex-probe: relay ready";

/// Sends the probe through the relay until every sink has seen a message:
/// the relay is listening and its connections to megaflex are up.
async fn wait_until_flowing(sinks: &[Sink], inputs: &[SocketAddr], relay: &relays::Relay) {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if sinks.iter().all(|s| s.src.metrics.snapshot().parsed > 0) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} never forwarded to {:?}; its log:\n{}",
            relay.name,
            sinks.iter().filter(|s| s.src.metrics.snapshot().parsed == 0).map(|s| &s.name).collect::<Vec<_>>(),
            relay.log()
        );
        for input in inputs {
            sock.send_to(PROBE.as_bytes(), input).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every sink's events, once each has one per table line, compared with
/// the table's meanings (as multisets: UDP need not keep the order).
async fn assert_every_sink_agrees(sinks: &mut [Sink], log: &dyn Fn() -> String) {
    let want = expected();
    for s in sinks.iter_mut() {
        let mut got = Vec::new();
        while got.len() < CASES.len() {
            match tokio::time::timeout(Duration::from_secs(15), s.rx.recv()).await {
                Ok(Some(e)) => got.push(meaning(&e)),
                _ => panic!(
                    "{}: {} of {} lines arrived classified ({:?}); relay log:\n{}",
                    s.name,
                    got.len(),
                    CASES.len(),
                    s.src.metrics.snapshot(),
                    log()
                ),
            }
        }
        got.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g, w, "{}: a line means something else after the relay", s.name);
        }
        let m = s.src.metrics.snapshot();
        assert_eq!((m.classified, m.dropped_malformed), (CASES.len() as u64, 0), "{}: {m:?}", s.name);
    }
}

fn send_table(input: SocketAddr) {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for c in CASES {
        sock.send_to(c.line.as_bytes(), input).unwrap();
    }
}

#[tokio::test]
async fn the_table_sent_directly_over_udp_and_both_tcp_framings() {
    let stop = CancellationToken::new();
    let mut sinks = vec![
        sink("direct udp", "udp://127.0.0.1:0", &stop).await,
        sink("direct tcp octet-counted", "tcp://127.0.0.1:0", &stop).await,
        sink("direct tcp lf", "tcp://127.0.0.1:0", &stop).await,
    ];
    send_table(sinks[0].src.local_addr);
    let mut octets = tokio::net::TcpStream::connect(sinks[1].src.local_addr).await.unwrap();
    let mut lf = tokio::net::TcpStream::connect(sinks[2].src.local_addr).await.unwrap();
    for c in CASES {
        octets.write_all(format!("{} {}", c.line.len(), c.line).as_bytes()).await.unwrap();
        lf.write_all(format!("{}\n", c.line).as_bytes()).await.unwrap();
    }
    assert_every_sink_agrees(&mut sinks, &|| String::new()).await;
    stop.cancel();
}

#[tokio::test]
async fn the_table_through_rsyslog() {
    if !relays::rsyslog_available() {
        return;
    }
    let stop = CancellationToken::new();
    let mut sinks = Vec::new();
    // (name, listen, omfwd parameters), default parser.
    let plain = [
        ("udp default template", "udp", r#"protocol="udp""#),
        ("udp RFC 5424", "udp", r#"protocol="udp" template="RSYSLOG_SyslogProtocol23Format""#),
        ("tcp lf default template", "tcp", r#"protocol="tcp" TCP_Framing="traditional""#),
        (
            "tcp lf RFC 5424",
            "tcp",
            r#"protocol="tcp" TCP_Framing="traditional" template="RSYSLOG_SyslogProtocol23Format""#,
        ),
        ("tcp octet-counted default template", "tcp", r#"protocol="tcp" TCP_Framing="octet-counted""#),
        (
            "tcp octet-counted RFC 5424",
            "tcp",
            r#"protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format""#,
        ),
    ];
    // The issue's own setup: pmciscoios with present.origin, RFC 5424 over octet-counted TCP.
    let cisco = [
        ("pmciscoios udp default template", "udp", r#"protocol="udp""#),
        (
            "pmciscoios tcp octet-counted RFC 5424",
            "tcp",
            r#"protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format""#,
        ),
    ];
    let mut actions = [String::new(), String::new()];
    for (i, set) in [&plain[..], &cisco[..]].into_iter().enumerate() {
        for (name, transport, params) in set {
            let s = sink(&format!("rsyslog {name}"), &format!("{transport}://127.0.0.1:0"), &stop).await;
            actions[i] += &format!("  action(type=\"omfwd\" target=\"127.0.0.1\" port=\"{}\" {params})\n", s.port());
            sinks.push(s);
        }
    }
    let (plain_in, cisco_in) = (relays::free_udp_port(), relays::free_udp_port());
    let dir = relays::temp_dir("rsyslog-relay");
    let relay = relays::rsyslog(
        &dir,
        "",
        &format!(
            r#"module(load="imudp")
module(load="pmciscoios")
parser(name="p.cisco" type="pmciscoios" present.origin="on")
input(type="imudp" address="127.0.0.1" port="{plain_in}" ruleset="relay")
input(type="imudp" address="127.0.0.1" port="{cisco_in}" ruleset="cisco")
ruleset(name="relay") {{
{}}}
ruleset(name="cisco" parser=["p.cisco", "rsyslog.rfc5424", "rsyslog.rfc3164"]) {{
{}}}"#,
            actions[0], actions[1]
        ),
    );
    let inputs: Vec<SocketAddr> = [plain_in, cisco_in].iter().map(|p| SocketAddr::from(([127, 0, 0, 1], *p))).collect();
    wait_until_flowing(&sinks, &inputs, &relay).await;
    for input in &inputs {
        send_table(*input);
    }
    assert_every_sink_agrees(&mut sinks, &|| relay.log()).await;
    stop.cancel();
}

#[tokio::test]
async fn the_table_through_syslog_ng() {
    if !relays::syslog_ng_available() {
        return;
    }
    let stop = CancellationToken::new();
    // (name, listen, destination driver with `PORT` for megaflex's port).
    let setups = [
        ("udp default template", "udp", r#"network("127.0.0.1" port(PORT) transport("udp"))"#),
        ("udp RFC 5424", "udp", r#"network("127.0.0.1" port(PORT) transport("udp") flags(syslog-protocol))"#),
        ("tcp lf default template", "tcp", r#"network("127.0.0.1" port(PORT) transport("tcp"))"#),
        ("tcp lf RFC 5424", "tcp", r#"network("127.0.0.1" port(PORT) transport("tcp") flags(syslog-protocol))"#),
        ("tcp octet-counted RFC 5424 (syslog driver)", "tcp", r#"syslog("127.0.0.1" port(PORT) transport("tcp"))"#),
        ("udp RFC 5424 (syslog driver)", "udp", r#"syslog("127.0.0.1" port(PORT) transport("udp"))"#),
    ];
    let mut sinks = Vec::new();
    let mut body = String::new();
    let input = relays::free_udp_port();
    body += &format!("source s_in {{ network(ip(\"127.0.0.1\") port({input}) transport(\"udp\")); }};\n");
    for (i, (name, transport, driver)) in setups.iter().enumerate() {
        let s = sink(&format!("syslog-ng {name}"), &format!("{transport}://127.0.0.1:0"), &stop).await;
        body += &format!(
            "destination d{i} {{ {}; }};\nlog {{ source(s_in); destination(d{i}); }};\n",
            driver.replace("PORT", &s.port().to_string())
        );
        sinks.push(s);
    }
    let dir = relays::temp_dir("syslog-ng-relay");
    let relay = relays::syslog_ng(&dir, &body);
    let inputs = [SocketAddr::from(([127, 0, 0, 1], input))];
    wait_until_flowing(&sinks, &inputs, &relay).await;
    send_table(inputs[0]);
    assert_every_sink_agrees(&mut sinks, &|| relay.log()).await;
    stop.cancel();
}
