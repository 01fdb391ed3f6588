//! Table of real vendor lines and the canonical meaning each must have.

#[path = "common/vendor_lines.rs"]
mod vendor_lines;

use megaflex_domain::event::EventKind::Link;
use megaflex_domain::event::EventState::Down;
use megaflex_sources::syslog::classify::{UserPattern, classify, classify_with};
use megaflex_sources::syslog::parse::parse;
use vendor_lines::CASES;

#[test]
fn vendor_lines_classify_exactly() {
    for case in CASES {
        let msg = parse(case.line.as_bytes()).unwrap_or_else(|e| panic!("{e}: {}", case.line));
        let c = classify(&msg).unwrap_or_else(|| panic!("not classified: {}", case.line));
        let host = c.hostname.clone().map(String::from).or(msg.hostname.map(str::to_owned));
        assert_eq!(host.as_deref(), case.host, "{}", case.line);
        assert_eq!(
            (c.kind, c.entity.as_ref(), c.state, c.administrative),
            (case.kind, case.entity, case.state, case.admin),
            "{}",
            case.line
        );
    }
}

/// What stock relays really forwarded for each line of the table
/// (captured from rsyslog 8.2302 and syslog-ng 3.38, `INDEX<TAB>LINE`):
/// each must mean what the line sent directly means, host included.
/// `syslog_relays.rs` does the same live.
#[test]
fn relayed_forms_classify_like_the_direct_line() {
    let fixture = include_str!("common/relayed_lines.txt");
    let mut checked = 0;
    for row in fixture.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let (index, line) = row.split_once('\t').expect("INDEX<TAB>LINE");
        let case = &CASES[index.parse::<usize>().unwrap()];
        let msg = parse(line.as_bytes()).unwrap_or_else(|e| panic!("{e}: {line}"));
        let c = classify(&msg).unwrap_or_else(|| panic!("not classified: {line}"));
        let host = c.hostname.clone().map(String::from).or(msg.hostname.map(str::to_owned));
        assert_eq!(host.as_deref(), case.host, "{line}");
        assert_eq!(
            (c.kind, c.entity.as_ref(), c.state, c.administrative),
            (case.kind, case.entity, case.state, case.admin),
            "{line}"
        );
        checked += 1;
    }
    assert_eq!(checked, 7 * CASES.len());
}

#[test]
fn the_mnemonic_as_app_name_or_msgid() {
    // Issue 14: rsyslog (pmciscoios) forwarding with RSYSLOG_SyslogProtocol23Format.
    let line = "<189>1 2026-12-02T17:00:02.151+00:00 core-b1 %LINEPROTO-5-UPDOWN - - -  Line protocol on Interface TenGigabitEthernet0/1/0, changed state to down";
    for line in [
        line.to_owned(),
        line.replace("core-b1 %LINEPROTO-5-UPDOWN - -", "core-b1 - - %LINEPROTO-5-UPDOWN"),
        line.replace("core-b1 %LINEPROTO-5-UPDOWN - -", "core-b1 ios - LINEPROTO-5-UPDOWN"),
    ] {
        let msg = parse(line.as_bytes()).unwrap();
        let c = classify(&msg).unwrap_or_else(|| panic!("not classified: {line}"));
        assert_eq!((c.kind, c.entity.as_ref(), c.state), (Link, "TenGigabitEthernet0/1/0", Down), "{line}");
        assert_eq!(c.hostname.as_deref().or(msg.hostname), Some("core-b1"));
    }
    // Junos structured-data format: the event is the MSGID.
    let line = "<28>1 2026-12-02T17:00:02.151Z vmx01 mib2d 2424 SNMP_TRAP_LINK_DOWN [junos@2636.1.1.1.2.21 snmp-interface-index=\"502\"] ifIndex 502, ifAdminStatus up(1), ifOperStatus down(2), ifName xe-0/0/0";
    let msg = parse(line.as_bytes()).unwrap();
    let c = classify(&msg).unwrap();
    assert_eq!((c.entity.as_ref(), c.state, msg.hostname), ("xe-0/0/0", Down, Some("vmx01")));
    // A field that only looks like a mnemonic is not one.
    for line in ["<13>1 - h Ebra - - - Interface Ethernet1, changed state to down", "<13>1 - h - - UPDOWN - x"] {
        assert_eq!(classify(&parse(line.as_bytes()).unwrap()), None, "{line}");
    }
}

#[test]
fn attributes_carry_the_details() {
    let msg = parse(b"<189>94310: gw2 RP/0/RSP0/CPU0:Jul  7 20:16:20.000 : bgp[1052]: %ROUTING-BGP-5-ADJCHANGE : neighbor 10.1.1.1 Down - Interface flap (VRF: default) (AS: 65000)").unwrap();
    let c = classify(&msg).unwrap();
    let get = |k: &str| c.attributes.iter().find(|(key, _)| *key == k).map(|(_, v)| v.as_ref());
    assert_eq!(get("mnemonic"), Some("ROUTING-BGP-5-ADJCHANGE"));
    assert_eq!(get("reason"), Some("Interface flap"));
    assert_eq!(get("vrf"), Some("default"));
    assert_eq!(get("peer_as"), Some("65000"));
}

#[test]
fn noise_is_not_classified() {
    for line in [
        "<189>12: r1: Jun  1 12:00:00: %SEC-6-IPACCESSLOGP: list 101 denied tcp 10.1.1.1(1234) -> 10.2.2.2(22), 1 packet",
        "<189>13: r1: Jun  1 12:00:00: %SYS-5-CONFIG_I: Configured from console by admin on vty0 (10.0.0.5)",
        "<189>14: r1: Jun  1 12:00:00: %OSPF-5-ADJCHG: Process 1, Nbr 10.0.0.2 on Gi0/1 from FULL to DOWN, Neighbor Down: Dead timer expired",
        "<189>15: r1: Jun  1 12:00:00: %SNMP-3-AUTHFAIL: Authentication failure for SNMP req from host 10.9.9.9",
        "<13>Jun  1 12:00:00 host app: 100% done",
        "<13>Jun  1 12:00:00 host app: nothing here",
        "plain text",
    ] {
        let msg = parse(line.as_bytes()).unwrap();
        assert_eq!(classify(&msg), None, "{line}");
    }
}

#[test]
fn user_patterns_win_and_are_validated() {
    let p = UserPattern::new("mikrotik", r"interface,info (?P<entity>\S+) link (?P<state>up|down)", Link, &[], &[])
        .unwrap();
    let msg = parse(b"<30>Jun  1 12:00:00 mt1 interface,info ether1 link down").unwrap();
    assert_eq!(classify(&msg), None);
    let c = classify_with(&msg, std::slice::from_ref(&p)).unwrap();
    assert_eq!((c.entity.as_ref(), c.state), ("ether1", Down));
    assert!(UserPattern::new("bad", "(", Link, &[], &[]).unwrap_err().to_string().contains("invalid regex"));
    assert!(
        UserPattern::new("nogroup", "x (?P<entity>y)", Link, &[], &[]).unwrap_err().to_string().contains("(?P<state>")
    );
}

mod properties {
    use megaflex_sources::syslog::framing::{Frame, Framer};
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            if let Ok(m) = parse(&bytes) {
                let _ = classify(&m);
            }
            let mut f = Framer::new(256);
            f.push(&bytes);
            while f.next_frame().is_some() {}
        }

        #[test]
        fn arbitrary_text_after_a_header_never_panics(tail in ".{0,300}") {
            for head in ["<189>1: r1: *Jun  1 12:00:00.000: ", "<13>1 - - - - - ", "<28>Jul 20 21:45:59 vmx01 mib2d[1]: ", "<13>"] {
                let line = format!("{head}{tail}");
                if let Ok(m) = parse(line.as_bytes()) {
                    let _ = classify(&m);
                }
            }
        }
    }

    fn collect(f: &mut Framer, out: &mut Vec<Result<Vec<u8>, Frame>>) {
        while let Some(fr) = f.next_frame() {
            match fr {
                Frame::Message(r) => out.push(Ok(f.bytes(r).to_vec())),
                other => out.push(Err(other)),
            }
        }
    }

    /// The frames of `stream` fed whole, then checked equal when fed in two
    /// pieces split at every byte boundary.
    fn assert_split_invariant(stream: &[u8], max: usize) -> Vec<Result<Vec<u8>, Frame>> {
        let mut whole = Framer::new(max);
        whole.push(stream);
        let mut expected = Vec::new();
        collect(&mut whole, &mut expected);
        for cut in 0..=stream.len() {
            let mut f = Framer::new(max);
            let mut got = Vec::new();
            f.push(&stream[..cut]);
            collect(&mut f, &mut got);
            f.push(&stream[cut..]);
            collect(&mut f, &mut got);
            assert_eq!(got, expected, "{:?} split at {cut}", String::from_utf8_lossy(stream));
        }
        expected
    }

    #[test]
    fn framing_is_the_same_split_at_every_byte_boundary() {
        let stream: &[u8] =
            b"<13>first line\n35 <189>octet counted with\nnewline<14>third\r\n\n12 <13>abcdefgh<13>last\n";
        let expected = assert_split_invariant(stream, 1024);
        assert_eq!(expected.len(), 5, "{expected:?}");
        // Regression (found by cargo fuzz): a 7-digit length split before its space.
        for s in [&b"11\n1111001 "[..], b"1234567 x", b"12345678 x\n<13>after\n"] {
            assert_split_invariant(s, 512);
        }
        // And one byte at a time.
        let mut f = Framer::new(1024);
        let mut got = Vec::new();
        for b in stream {
            f.push(std::slice::from_ref(b));
            collect(&mut f, &mut got);
        }
        assert_eq!(got, expected);
    }
}
