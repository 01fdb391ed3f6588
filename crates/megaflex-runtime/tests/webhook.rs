//! The webhook source over loopback HTTP: Alertmanager payloads (new and old
//! field sets, HA duplicates), the generic form, auth, limits, and that bad
//! input is a 4xx with a message.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use megaflex_domain::event::{Event, EventKind, EventState, SourceKind};
use megaflex_sources::webhook::{WebhookConfig, WebhookSource};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const NEW_PAYLOAD: &str = r#"{
  "version": "4", "groupKey": "{}/{severity=\"critical\"}:{alertname=\"BneMelPrimaryDown\"}", "truncatedAlerts": 0,
  "status": "firing", "receiver": "megaflex", "groupLabels": {"alertname": "BneMelPrimaryDown"},
  "commonLabels": {"alertname": "BneMelPrimaryDown", "severity": "critical"}, "commonAnnotations": {},
  "externalURL": "http://alertmanager:9093", "notification_reason": "first notification", "routeLabels": {},
  "alerts": [{
    "status": "firing", "labels": {"alertname": "BneMelPrimaryDown", "instance": "core-b1:9116", "severity": "critical"},
    "annotations": {"summary": "BNE-MEL primary down"}, "startsAt": "2026-11-22T10:00:00.000Z",
    "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus:9090/graph?g0.expr=up", "fingerprint": "1a30ba71cca2921f"
  }]
}"#;

const OLD_PAYLOAD: &str = r#"{
  "version": "4", "groupKey": "{}:{alertname=\"X\"}", "status": "resolved", "receiver": "megaflex",
  "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am:9093",
  "alerts": [{"status": "resolved", "labels": {"alertname": "X", "instance": "a"}, "annotations": {},
              "startsAt": "2026-11-22T10:00:00Z", "endsAt": "2026-11-22T10:05:00Z", "generatorURL": ""}]
}"#;

struct Env {
    src: WebhookSource,
    rx: mpsc::Receiver<Event>,
    stop: CancellationToken,
    http: reqwest::Client,
}

async fn start(f: impl FnOnce(&mut WebhookConfig)) -> Env {
    let (tx, rx) = mpsc::channel(64);
    let stop = CancellationToken::new();
    let mut config = WebhookConfig::new("127.0.0.1:0".parse().unwrap());
    f(&mut config);
    let src = WebhookSource::spawn(config, tx, stop.clone()).await.unwrap();
    Env { src, rx, stop, http: megaflex_http::bare_client() }
}

impl Env {
    async fn post(&self, path: &str, body: &str, headers: &[(&str, &str)]) -> (u16, serde_json::Value) {
        let mut req = self.http.post(format!("http://{}{path}", self.src.local_addr)).body(body.to_owned());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }
    async fn next(&mut self) -> Event {
        tokio::time::timeout(Duration::from_secs(5), self.rx.recv()).await.unwrap().unwrap()
    }
}

#[tokio::test]
async fn alertmanager_new_field_set() {
    let mut env = start(|_| {}).await;
    let (status, body) = env.post("/alertmanager", NEW_PAYLOAD, &[("content-type", "application/json")]).await;
    assert_eq!((status, body["accepted"].as_u64()), (200, Some(1)));
    let e = env.next().await;
    assert_eq!((e.source, e.kind, e.state), (SourceKind::Webhook, EventKind::Alert, EventState::Firing));
    assert_eq!(e.entity, "1a30ba71cca2921f");
    assert_eq!(e.device.labels.get("alertname").map(String::as_str), Some("BneMelPrimaryDown"));
    assert_eq!(e.device.hostname.as_deref(), Some("core-b1:9116"));
    assert_eq!(e.attributes.get("summary").map(String::as_str), Some("BNE-MEL primary down"));
    // The HA twin posts the same notification: recognised, not forwarded twice.
    let (status, body) = env.post("/alertmanager", NEW_PAYLOAD, &[]).await;
    assert_eq!((status, body["accepted"].as_u64(), body["duplicates"].as_u64()), (200, Some(0), Some(1)));
    env.stop.cancel();
    let m = env.src.metrics.snapshot();
    assert_eq!((m.received, m.parsed, m.classified), (2, 2, 1));
}

#[tokio::test]
async fn alertmanager_old_field_set_gets_a_computed_fingerprint() {
    let mut env = start(|_| {}).await;
    let (status, _) = env.post("/alertmanager", OLD_PAYLOAD, &[]).await;
    assert_eq!(status, 200);
    let e = env.next().await;
    assert_eq!(e.state, EventState::Resolved);
    assert_eq!(e.entity.len(), 16);
    assert!(e.entity.chars().all(|c| c.is_ascii_hexdigit()));
}

#[tokio::test]
async fn generic_form_one_or_many() {
    let mut env = start(|_| {}).await;
    let one = r#"{"device":"core-b1","kind":"link","entity":"Te0/1/0","state":"down","attributes":{"reason":"LOS"}}"#;
    assert_eq!(env.post("/events", one, &[]).await.0, 200);
    let e = env.next().await;
    assert_eq!(
        (e.kind, e.entity.as_str(), e.state, e.device.hostname.as_deref()),
        (EventKind::Link, "Te0/1/0", EventState::Down, Some("core-b1"))
    );
    assert_eq!(e.attributes.get("reason").map(String::as_str), Some("LOS"));
    let many = r#"[{"device":"r1","kind":"bgp_peer","entity":"192.0.2.1","state":"up"},{"device":"r1","kind":"link","entity":"x","state":"up","administrative":true}]"#;
    let (status, body) = env.post("/events", many, &[]).await;
    assert_eq!((status, body["accepted"].as_u64()), (200, Some(2)));
    assert_eq!(env.next().await.kind, EventKind::BgpPeer);
    assert!(env.next().await.administrative);
}

#[tokio::test]
async fn bad_input_is_4xx_with_a_message_never_500() {
    let env = start(|c| c.max_body_bytes = 4096).await;
    let cases: &[(&str, &str, u16, &str)] = &[
        ("/alertmanager", "{not json", 400, "not an Alertmanager webhook payload"),
        ("/alertmanager", r#"{"version":"3","alerts":[]}"#, 400, "unsupported Alertmanager payload version"),
        ("/alertmanager", r#"{"version":"4","alerts":[{"status":"maybe"}]}"#, 400, "expected firing or resolved"),
        ("/events", r#"{"device":"r1","kind":"link","entity":"x","state":"sideways"}"#, 400, "unknown variant"),
        ("/events", r#"{"device":"r1"}"#, 400, "missing field"),
        ("/events", "[1,2,3]", 400, "expected {device, kind, entity, state}"),
    ];
    for (path, body, status, needle) in cases {
        let (s, b) = env.post(path, body, &[]).await;
        assert_eq!(s, *status, "{body}");
        assert!(b["error"].as_str().unwrap_or_default().contains(needle), "{body}: {b}");
    }
    let (s, _) = env.post("/events", &"x".repeat(10_000), &[]).await;
    assert_eq!(s, 413, "body limit");
    // Arbitrary bodies never produce a server error.
    for i in 0..200u32 {
        let junk: String =
            (0..(i % 50)).map(|k| char::from(b"{}[]\":,ab1 \\"[((i * 7 + k * 13) % 12) as usize])).collect();
        for path in ["/alertmanager", "/events"] {
            let (s, _) = env.post(path, &junk, &[]).await;
            assert!(s < 500, "{path} {junk:?} -> {s}");
        }
    }
    let m = env.src.metrics.snapshot();
    assert!(m.dropped_malformed >= 6);
}

#[tokio::test]
async fn bearer_token_and_hmac_signature() {
    let mut env = start(|c| {
        c.token = Some("t0ken".into());
        c.hmac_key = Some(b"k3y".to_vec());
    })
    .await;
    let body = r#"{"device":"r1","kind":"link","entity":"x","state":"down"}"#;
    let now = jiff::Timestamp::now().as_second();
    let sign = |stamp: i64, body: &str| {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"k3y").unwrap();
        mac.update(format!("{stamp}.{body}").as_bytes());
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    };
    let (sig, ts) = (sign(now, body), now.to_string());
    let (s, b) = env.post("/events", body, &[("x-megaflex-signature", &sig), ("x-megaflex-timestamp", &ts)]).await;
    assert_eq!(s, 401, "no token: {b}");
    let bearer = ("authorization", "Bearer t0ken");
    let (s, b) = env
        .post(
            "/events",
            body,
            &[("authorization", "Bearer wrong"), ("x-megaflex-signature", &sig), ("x-megaflex-timestamp", &ts)],
        )
        .await;
    assert_eq!((s, b["error"].as_str()), (401, Some("missing or wrong bearer token")));
    let (s, b) = env
        .post("/events", body, &[bearer, ("x-megaflex-signature", "sha256=00"), ("x-megaflex-timestamp", &ts)])
        .await;
    assert_eq!((s, b["error"].as_str()), (401, Some("body signature does not match")));
    // A signature without its timestamp, or the body signed without it (the old form), is refused.
    let (s, b) = env.post("/events", body, &[bearer, ("x-megaflex-signature", &sig)]).await;
    assert_eq!(s, 401, "{b}");
    assert!(b["error"].as_str().unwrap().contains("X-Megaflex-Timestamp"), "{b}");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"k3y").unwrap();
    mac.update(body.as_bytes());
    let body_only = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let (s, _) =
        env.post("/events", body, &[bearer, ("x-megaflex-signature", &body_only), ("x-megaflex-timestamp", &ts)]).await;
    assert_eq!(s, 401);
    // A captured request replayed after the window: the signature is right, the time is not.
    let old = now - 301;
    let (s, b) = env
        .post(
            "/events",
            body,
            &[bearer, ("x-megaflex-signature", &sign(old, body)), ("x-megaflex-timestamp", &old.to_string())],
        )
        .await;
    assert_eq!(s, 401, "{b}");
    assert!(b["error"].as_str().unwrap().contains("replayed"), "{b}");
    // A changed timestamp breaks the signature.
    let (s, _) = env
        .post(
            "/events",
            body,
            &[bearer, ("x-megaflex-signature", &sig), ("x-megaflex-timestamp", &(now + 1).to_string())],
        )
        .await;
    assert_eq!(s, 401);
    let (s, _) =
        env.post("/events", body, &[bearer, ("x-hub-signature-256", &sig), ("x-megaflex-timestamp", &ts)]).await;
    assert_eq!(s, 200);
    assert_eq!(env.next().await.entity, "x");
    // The same signed request again, inside the window: a replay.
    let (s, b) =
        env.post("/events", body, &[bearer, ("x-megaflex-signature", &sig), ("x-megaflex-timestamp", &ts)]).await;
    assert_eq!(s, 401, "{b}");
    assert!(b["error"].as_str().unwrap().contains("replayed"), "{b}");
    assert_eq!(env.src.metrics.snapshot().dropped_auth, 8);
}

/// Over real HTTP: an alert refused with 503 (queue full) is not remembered,
/// so the sender's retry is accepted; once accepted, the repeat is a duplicate.
#[tokio::test]
async fn refused_alert_is_accepted_on_retry_then_deduplicated() {
    let (tx, mut rx) = mpsc::channel(1);
    let stop = CancellationToken::new();
    let src = WebhookSource::spawn(WebhookConfig::new("127.0.0.1:0".parse().unwrap()), tx, stop.clone()).await.unwrap();
    let http = megaflex_http::bare_client();
    let post = || http.post(format!("http://{}/alertmanager", src.local_addr)).body(NEW_PAYLOAD).send();
    let filler = OLD_PAYLOAD;
    let r = http.post(format!("http://{}/alertmanager", src.local_addr)).body(filler).send().await.unwrap();
    assert_eq!(r.status(), 200, "the filler takes the only slot");
    let r = post().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "5");
    assert_eq!(
        rx.recv().await.unwrap().entity,
        megaflex_sources::webhook::label_fingerprint(
            &[("alertname", "X"), ("instance", "a")].into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
        )
    );
    let r: serde_json::Value = post().await.unwrap().json().await.unwrap();
    assert_eq!((r["accepted"].as_u64(), r["duplicates"].as_u64()), (Some(1), Some(0)), "the retry is taken");
    assert_eq!(rx.recv().await.unwrap().entity, "1a30ba71cca2921f");
    let r: serde_json::Value = post().await.unwrap().json().await.unwrap();
    assert_eq!((r["accepted"].as_u64(), r["duplicates"].as_u64()), (Some(0), Some(1)));
    let m = src.metrics.snapshot();
    assert_eq!((m.dropped_queue_full, m.duplicates, m.dedupe_entries), (1, 1, 2));
    stop.cancel();
}

/// 60 notifications of 900 distinct alerts each: the dedupe table holds at
/// most its bound (counted in entries), and says how many it forgot.
#[tokio::test]
async fn dedupe_table_is_bounded() {
    let (tx, mut rx) = mpsc::channel(100_000);
    let stop = CancellationToken::new();
    let mut config = WebhookConfig::new("127.0.0.1:0".parse().unwrap());
    config.dedupe_max_entries = 5_000;
    let src = WebhookSource::spawn(config, tx, stop.clone()).await.unwrap();
    let http = megaflex_http::bare_client();
    for batch in 0..60 {
        let alerts: Vec<serde_json::Value> = (0..900)
            .map(|i| {
                serde_json::json!({"status": "firing", "labels": {"alertname": "Flood", "n": format!("{batch}-{i}")},
                                   "startsAt": "2026-11-22T10:00:00Z", "fingerprint": format!("{batch:04x}{i:012x}")})
            })
            .collect();
        let body = serde_json::json!({"version": "4", "status": "firing", "alerts": alerts});
        let r = http.post(format!("http://{}/alertmanager", src.local_addr)).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 200);
        while rx.try_recv().is_ok() {}
    }
    let m = src.metrics.snapshot();
    assert_eq!(m.classified, 54_000);
    assert_eq!(m.dedupe_entries, 5_000, "bounded");
    assert_eq!(m.dedupe_evicted, 49_000);
    stop.cancel();
}

/// A slow-loris client (one header byte every 50 ms) and an idle one are cut
/// after the idle timeout; a client that completes requests is not.
#[tokio::test]
async fn slow_and_idle_connections_are_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (tx, _rx) = mpsc::channel(4);
    let stop = CancellationToken::new();
    let mut config = WebhookConfig::new("127.0.0.1:0".parse().unwrap());
    config.limits.idle_timeout = Duration::from_millis(400);
    let src = WebhookSource::spawn(config, tx, stop.clone()).await.unwrap();
    let mut idle = tokio::net::TcpStream::connect(src.local_addr).await.unwrap();
    let mut slow = tokio::net::TcpStream::connect(src.local_addr).await.unwrap();
    let header = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut cut = false;
    for b in header {
        if slow.write_all(&[*b]).await.is_err() {
            cut = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), slow.read(&mut buf)).await.unwrap().unwrap_or(0);
    assert!(cut || n == 0, "the slow client was not cut");
    let n = tokio::time::timeout(Duration::from_secs(5), idle.read(&mut buf)).await.unwrap().unwrap_or(0);
    assert_eq!(n, 0, "the idle client was not cut");
    assert!(src.metrics.snapshot().connections_timed_out >= 2, "{:?}", src.metrics.snapshot());
    // Keep-alive requests within the timeout keep the connection.
    let http = megaflex_http::bare_client();
    for _ in 0..4 {
        let r = http.get(format!("http://{}/healthz", src.local_addr)).send().await.unwrap();
        assert_eq!(r.status(), 200);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(src.metrics.snapshot().connections_open, 1, "one keep-alive connection served all four");
    stop.cancel();
}
