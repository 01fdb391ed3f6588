//! USM processing without a peer: discovery answered, the two timeliness
//! rules, informs answered under the user's keys, counters. The Net-SNMP
//! tests (tests/snmp_v3.rs) check the same against the real peer.

use std::time::Duration;

use super::*;
use crate::snmp::usm::{AuthProtocol, PrivProtocol};

const OURS: &[u8] = &[0x80, 0, 0, 0, 5, 1, 2, 3, 4];
const SENDER: &[u8] = &[0x80, 0, 0, 0, 5, 9, 9, 9, 9];

/// Net-SNMP 5.9's discovery probe, as snmpinform sent it (captured on loopback).
const PROBE: &str = "304f0201033011020458e1407b020300ffe30401040201030410300e04000201000201000400040004003025041180001f88805eb9412cd621116b000000000400a00e02042e3cc6290201000201003000";

fn users() -> Vec<UsmUser> {
    vec![
        UsmUser::new(
            "sha-aes",
            Some(SENDER),
            Some((AuthProtocol::Sha1, "authpass123")),
            Some((PrivProtocol::Aes128, "privpass123")),
        )
        .unwrap(),
        UsmUser::new(
            "md5-des",
            None,
            Some((AuthProtocol::Md5, "authpass123")),
            Some((PrivProtocol::Des, "privpass123")),
        )
        .unwrap(),
        UsmUser::new("sha512", None, Some((AuthProtocol::Sha512, "authpass123")), None).unwrap(),
    ]
}

struct Fixture {
    now: Instant,
    ours: Usm,
    metrics: Arc<SourceMetrics>,
    /// A sender whose engine is SENDER (traps) and one that speaks as megaflex's engine (informs).
    trap_sender: Usm,
    inform_sender: Usm,
}

fn fixture() -> Fixture {
    let now = Instant::now();
    let metrics = Arc::new(SourceMetrics::default());
    let ours = Usm::new(OURS, 7, now, &users(), metrics.clone());
    let m = Arc::new(SourceMetrics::default());
    Fixture {
        now,
        ours,
        metrics,
        trap_sender: Usm::new(SENDER, 1, now, &users(), m.clone()),
        inform_sender: Usm::new(OURS, 7, now, &users(), m),
    }
}

fn link_down_pdu(tag: u8, request_id: i64) -> Vec<u8> {
    let mut vb = Vec::new();
    ber::put(&mut vb, OID, &ber::oid_contents(&[1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0]));
    ber::put(&mut vb, OID, &ber::oid_contents(&[1, 3, 6, 1, 6, 3, 1, 1, 5, 3]));
    let mut vb2 = Vec::new();
    ber::put(&mut vb2, OID, &ber::oid_contents(&[1, 3, 6, 1, 2, 1, 2, 2, 1, 1, 4]));
    ber::put_int(&mut vb2, INTEGER, 4);
    let list = ber::constructed(SEQUENCE, &[&ber::constructed(SEQUENCE, &[&vb]), &ber::constructed(SEQUENCE, &[&vb2])]);
    pdu(tag, request_id, &list)
}

/// A notification from `sender` as user `name` at `(boots, time)`, reportable if an inform.
fn notification(sender: &Usm, name: &str, tag: u8, clock: (u32, u32)) -> Vec<u8> {
    let user = sender.users.iter().find(|u| u.name == name.as_bytes() && u.engine_id == sender.engine_id).unwrap();
    let level = if user.privacy.is_some() { Level::AuthPriv(user) } else { Level::Auth(user) };
    let scoped = scoped_pdu(&sender.engine_id, b"", &link_down_pdu(tag, 4242));
    let mut msg = sender.message(77, b"", level, &scoped, clock).unwrap();
    if tag == PDU_INFORM {
        // A sender marks a confirmed PDU reportable; the MAC covers the flags, so sign again.
        let at = flags_offset(&msg);
        msg[at] |= FLAG_REPORTABLE;
        resign(user, &mut msg);
    }
    msg
}

fn flags_offset(msg: &[u8]) -> usize {
    let mut m = Reader::new(msg).sequence().unwrap();
    m.integer().unwrap();
    let mut g = m.sequence().unwrap();
    g.integer().unwrap();
    g.integer().unwrap();
    ber::offset_in(msg, g.octets().unwrap()).unwrap()
}

fn resign(user: &LocalizedUser, msg: &mut [u8]) {
    let h = parse_header(msg).unwrap();
    let (at, len) = (h.auth_offset, h.auth_params.len());
    msg[at..at + len].fill(0);
    let (proto, key) = user.auth.as_ref().unwrap();
    let mut mac = [0u8; 48];
    sign(*proto, key, &[msg], &mut mac[..len]);
    msg[at..at + len].copy_from_slice(&mac[..len]);
}

fn report_of(reply: &[u8], user: Option<&LocalizedUser>) -> (Vec<u8>, u32, u32, u8, i64, Vec<u8>) {
    let h = parse_header(reply).unwrap();
    let plain = match user {
        Some(u) if h.encrypted => {
            let (p, k) = u.privacy.as_ref().unwrap();
            let mut d = h.data.to_vec();
            assert!(decrypt(*p, k, h.boots, h.time, h.priv_params, &mut d));
            d
        }
        _ => h.data.to_vec(),
    };
    let s = parse_scoped(&plain).unwrap();
    (h.engine_id.to_vec(), h.boots, h.time, s.pdu_tag, s.request_id, s.varbinds.to_vec())
}

#[test]
fn net_snmp_probe_gets_a_report_with_our_engine_id() {
    let f = fixture();
    let out = f.ours.process(&hex::decode(PROBE).unwrap(), f.now + Duration::from_secs(42));
    assert_eq!(out.result, Err(UsmError::Discovery));
    let reply = out.reply.expect("a Report");
    let (engine, boots, time, tag, request_id, varbinds) = report_of(&reply, None);
    assert_eq!((engine.as_slice(), boots, time, tag, request_id), (OURS, 7, 42, PDU_REPORT, 0x2e3c_c629));
    // usmStatsUnknownEngineIDs.0 = Counter32 1
    assert_eq!(hex::encode(varbinds), "300f060a2b060106030f01010400410101");
    // Same msgID as the probe, not reportable, noAuthNoPriv.
    let h = parse_header(&reply).unwrap();
    assert_eq!((h.msg_id, h.flags), (0x58e1_407b, 0));
    assert_eq!(f.metrics.snapshot().usm.unknown_engine_ids, 1);
}

#[test]
fn inform_answered_with_a_response_under_the_users_keys() {
    let f = fixture();
    for name in ["md5-des", "sha512", "sha-aes"] {
        let msg = notification(&f.inform_sender, name, PDU_INFORM, (7, 10));
        let out = f.ours.process(&msg, f.now + Duration::from_secs(12));
        let n = out.result.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            (n.trap_oid.as_str(), n.user.as_deref(), n.inform_request_id),
            ("1.3.6.1.6.3.1.1.5.3", Some(name), Some(4242))
        );
        let reply = out.reply.expect("a Response");
        let user = f.ours.users.iter().find(|u| u.name == name.as_bytes() && u.engine_id == OURS).unwrap();
        // The Response verifies under the user's key localised to our engine.
        let h = parse_header(&reply).unwrap();
        let (proto, key) = user.auth.as_ref().unwrap();
        let zeros = [0u8; 48];
        let tag = h.auth_params;
        assert!(verify(
            *proto,
            key,
            &[&reply[..h.auth_offset], &zeros[..tag.len()], &reply[h.auth_offset + tag.len()..]],
            tag
        ));
        assert_eq!(h.encrypted, user.privacy.is_some(), "{name}");
        let (engine, boots, time, pdu_tag, request_id, _) = report_of(&reply, Some(user));
        assert_eq!((engine.as_slice(), boots, time, pdu_tag, request_id), (OURS, 7, 12, PDU_RESPONSE, 4242));
    }
}

#[test]
fn inform_outside_our_window_gets_an_authenticated_report_with_our_clock() {
    let f = fixture();
    let now = f.now + Duration::from_secs(1000);
    for clock in [(7, 1000 - 151), (7, 1000 + 151), (6, 1000)] {
        let msg = notification(&f.inform_sender, "sha512", PDU_INFORM, clock);
        let out = f.ours.process(&msg, now);
        assert!(matches!(out.result, Err(UsmError::NotInTimeWindow { .. })), "{clock:?}: {:?}", out.result);
        let reply = out.reply.unwrap();
        let h = parse_header(&reply).unwrap();
        assert_eq!((h.boots, h.time, h.flags, h.user), (7, 1000, FLAG_AUTH, &b"sha512"[..]));
        let (_, _, _, tag, request_id, varbinds) = report_of(&reply, None);
        assert_eq!((tag, request_id), (PDU_REPORT, 4242));
        assert!(hex::encode(varbinds).contains("2b060106030f01010200"), "usmStatsNotInTimeWindows.0");
    }
    // Inside the window, both ways.
    for clock in [(7, 1000 - 150), (7, 1000 + 150)] {
        assert!(f.ours.process(&notification(&f.inform_sender, "sha512", PDU_INFORM, clock), now).result.is_ok());
    }
    assert_eq!(f.metrics.snapshot().usm.not_in_time_windows, 3);
}

#[test]
fn traps_are_refused_when_older_than_the_senders_latest_clock() {
    let f = fixture();
    let t0 = f.now;
    let trap = |clock| notification(&f.trap_sender, "sha-aes", PDU_TRAP, clock);
    let ok = |clock, at: Instant| f.ours.process(&trap(clock), at).result.is_ok();
    assert!(ok((3, 5000), t0), "the first trap sets the sender's clock");
    let captured = trap((3, 5010));
    assert!(f.ours.process(&captured, t0 + Duration::from_secs(10)).result.is_ok());
    assert!(ok((3, 4860), t0 + Duration::from_secs(10)), "150 s behind is still in the window");
    assert!(!ok((3, 4859), t0 + Duration::from_secs(10)), "151 s behind is not");
    assert!(!ok((2, 99_999), t0 + Duration::from_secs(10)), "an earlier boot is not");
    // The captured trap replayed 200 s later: our notion of the sender's clock moved on.
    let out = f.ours.process(&captured, t0 + Duration::from_secs(210));
    assert!(matches!(out.result, Err(UsmError::NotInTimeWindow { boots: 3, time: 5010, .. })), "{:?}", out.result);
    assert!(out.reply.is_none(), "traps are not reportable");
    // A new boot of the sender is accepted and becomes the reference.
    assert!(ok((4, 1), t0 + Duration::from_secs(220)));
    assert!(!ok((3, 5300), t0 + Duration::from_secs(220)));
    assert_eq!(f.metrics.snapshot().usm.not_in_time_windows, 4);
}

#[test]
fn wrong_key_level_user_and_engine_are_counted() {
    let f = fixture();
    let good = notification(&f.trap_sender, "sha-aes", PDU_TRAP, (1, 1));
    let mut tampered = good.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert_eq!(f.ours.process(&tampered, f.now).result, Err(UsmError::AuthFailed("sha-aes".into())));
    // A user with a different password: same name, other keys.
    let other = Usm::new(
        SENDER,
        1,
        f.now,
        &[UsmUser::new(
            "sha-aes",
            None,
            Some((AuthProtocol::Sha1, "wrongpass1")),
            Some((PrivProtocol::Aes128, "privpass123")),
        )
        .unwrap()],
        Arc::new(SourceMetrics::default()),
    );
    let forged = notification(&other, "sha-aes", PDU_TRAP, (1, 1));
    assert_eq!(f.ours.process(&forged, f.now).result, Err(UsmError::AuthFailed("sha-aes".into())));
    // Unknown engine (a trap: no report), and md5-des is not a user of SENDER.
    let stranger = Usm::new(&[0x80, 0, 0, 0, 5, 7, 7, 7, 7], 1, f.now, &users(), Arc::new(SourceMetrics::default()));
    let out = f.ours.process(&notification(&stranger, "sha512", PDU_TRAP, (1, 1)), f.now);
    assert!(matches!(out.result, Err(UsmError::UnknownEngineId(_))) && out.reply.is_none());
    let sender_md5 = Usm::new(
        SENDER,
        1,
        f.now,
        &[UsmUser::new(
            "md5-des",
            Some(SENDER),
            Some((AuthProtocol::Md5, "authpass123")),
            Some((PrivProtocol::Des, "privpass123")),
        )
        .unwrap()],
        Arc::new(SourceMetrics::default()),
    );
    let out = f.ours.process(&notification(&sender_md5, "md5-des", PDU_TRAP, (1, 1)), f.now);
    assert!(matches!(out.result, Err(UsmError::UnknownUser { .. })), "{:?}", out.result);
    let u = f.metrics.snapshot().usm;
    assert_eq!((u.wrong_digests, u.unknown_engine_ids, u.unknown_user_names), (2, 1, 1));
    // The good one still passes.
    assert!(f.ours.process(&good, f.now).result.is_ok());
}

#[test]
fn garbage_is_malformed_not_a_panic() {
    let f = fixture();
    let probe = hex::decode(PROBE).unwrap();
    for cut in 0..probe.len() {
        let out = f.ours.process(&probe[..cut], f.now);
        assert!(matches!(out.result, Err(UsmError::Decode(_))), "{cut}");
        assert!(out.reply.is_none());
    }
}
