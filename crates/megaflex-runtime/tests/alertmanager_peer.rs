//! A real Prometheus Alertmanager (Debian's `prometheus-alertmanager`)
//! posting to the webhook source after an alert is pushed to its API.
//! Skipped when the binary is missing, unless MEGAFLEX_REQUIRE_PEERS=1 (CI).

#[path = "../../../testing/peers.rs"]
mod peers;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use megaflex_domain::event::{Device, Event, EventKind, EventState, SourceKind};
use megaflex_sources::webhook::{WebhookConfig, WebhookSource};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const BIN: &str = "/usr/bin/prometheus-alertmanager";

fn peer_available() -> bool {
    peers::peer_present(std::path::Path::new(BIN).exists(), BIN, "apt-get install prometheus-alertmanager")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Alertmanager in `dir`, notifying the webhook at `webhook` with the test
/// token every `group_interval`; returns it and its alerts API URL.
fn alertmanager(
    dir: &std::path::Path,
    webhook: SocketAddr,
    group_interval: &str,
    send_resolved: bool,
) -> (Killed, String) {
    let port = free_port();
    let resolved = if send_resolved { "        send_resolved: true\n" } else { "" };
    std::fs::write(
        dir.join("alertmanager.yml"),
        format!(
            "route:\n  receiver: megaflex\n  group_by: [alertname]\n  group_wait: 0s\n  group_interval: {group_interval}\n  repeat_interval: 1h\n\
             receivers:\n  - name: megaflex\n    webhook_configs:\n      - url: http://{webhook}/alertmanager\n{resolved}\
             \x20       http_config:\n          authorization:\n            credentials: am-token\n"
        ),
    )
    .unwrap();
    let child = Command::new(BIN)
        .arg(format!("--config.file={}", dir.join("alertmanager.yml").display()))
        .arg(format!("--storage.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (Killed(child), format!("http://127.0.0.1:{port}/api/v2/alerts"))
}

#[tokio::test]
async fn alertmanager_posts_firing_then_resolved() {
    if !peer_available() {
        return;
    }
    let (tx, mut rx) = mpsc::channel(16);
    let stop = CancellationToken::new();
    let mut config = WebhookConfig::new("127.0.0.1:0".parse().unwrap());
    config.token = Some("am-token".into());
    let src = WebhookSource::spawn(config, tx, stop.clone()).await.unwrap();

    let dir = std::env::temp_dir().join(format!("megaflex-am-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (_am, api) = alertmanager(&dir, src.local_addr, "1s", true);
    let http = megaflex_http::bare_client();
    let started = Instant::now();
    let alert = |ends: Option<&str>| {
        let mut a = serde_json::json!({"labels": {"alertname": "BneMelPrimaryDown", "instance": "core-b1"},
                                       "annotations": {"summary": "primary down"}, "startsAt": "2026-11-22T10:00:00Z"});
        if let Some(e) = ends {
            a["endsAt"] = e.into();
        }
        serde_json::json!([a])
    };
    loop {
        match http.post(&api).json(&alert(None)).send().await {
            Ok(r) if r.status().is_success() => break,
            _ if started.elapsed() < Duration::from_secs(20) => tokio::time::sleep(Duration::from_millis(200)).await,
            other => panic!("alertmanager did not accept the alert: {other:?}"),
        }
    }
    let e = tokio::time::timeout(Duration::from_secs(30), rx.recv()).await.expect("a firing notification").unwrap();
    assert_eq!((e.kind, e.state), (EventKind::Alert, EventState::Firing));
    assert_eq!(e.device.labels.get("alertname").map(String::as_str), Some("BneMelPrimaryDown"));
    assert_eq!(e.attributes.get("receiver").map(String::as_str), Some("megaflex"));
    let fingerprint = e.entity.clone();
    assert_eq!(fingerprint.len(), 16);

    // Resolve it: endsAt in the past.
    let past = jiff::Timestamp::now().checked_sub(jiff::SignedDuration::from_secs(1)).unwrap().to_string();
    http.post(&api).json(&alert(Some(&past))).send().await.unwrap();
    let r = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let e = rx.recv().await.unwrap();
            if e.state == EventState::Resolved {
                return e;
            }
        }
    })
    .await
    .expect("a resolved notification");
    assert_eq!(r.entity, fingerprint);
    stop.cancel();
    let _ = std::fs::remove_dir_all(&dir);
}

/// An event that holds the queue's only slot.
fn filler() -> Event {
    Event::new(
        SourceKind::Webhook,
        megaport::types::EpochMillis::now(),
        None,
        Device::default(),
        EventKind::Other,
        "filler".into(),
        EventState::Down,
        "",
    )
}

/// Alertmanager retries a notification refused with 503; the retry must be
/// taken, not dropped as a duplicate of the refused one.
#[tokio::test]
async fn alert_refused_with_503_is_accepted_on_alertmanagers_retry() {
    if !peer_available() {
        return;
    }
    let (tx, mut rx) = mpsc::channel(1);
    tx.try_send(filler()).unwrap();
    let stop = CancellationToken::new();
    let mut config = WebhookConfig::new("127.0.0.1:0".parse().unwrap());
    config.token = Some("am-token".into());
    let src = WebhookSource::spawn(config, tx, stop.clone()).await.unwrap();
    let dir = std::env::temp_dir().join(format!("megaflex-am-retry-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (_am, api) = alertmanager(&dir, src.local_addr, "30s", false);
    let http = megaflex_http::bare_client();
    let alert = serde_json::json!([{"labels": {"alertname": "BneMelPrimaryDown", "instance": "core-b1"},
                                    "startsAt": "2026-11-22T10:00:00Z"}]);
    let started = Instant::now();
    loop {
        match http.post(&api).json(&alert).send().await {
            Ok(r) if r.status().is_success() => break,
            _ if started.elapsed() < Duration::from_secs(20) => tokio::time::sleep(Duration::from_millis(200)).await,
            other => panic!("alertmanager did not accept the alert: {other:?}"),
        }
    }
    // The first notification meets a full queue and is refused with 503.
    let deadline = Instant::now() + Duration::from_secs(30);
    while src.metrics.snapshot().dropped_queue_full == 0 {
        assert!(Instant::now() < deadline, "alertmanager never posted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(rx.recv().await.unwrap().entity, "filler");
    let e = tokio::time::timeout(Duration::from_secs(30), rx.recv()).await.expect("the retried notification").unwrap();
    assert_eq!((e.kind, e.state), (EventKind::Alert, EventState::Firing));
    assert_eq!(e.device.labels.get("alertname").map(String::as_str), Some("BneMelPrimaryDown"));
    let m = src.metrics.snapshot();
    assert!(m.received >= 2 && m.dropped_queue_full >= 1, "{m:?}");
    assert_eq!(m.dedupe_entries, 1, "remembered once accepted");
    stop.cancel();
    let _ = std::fs::remove_dir_all(&dir);
}
