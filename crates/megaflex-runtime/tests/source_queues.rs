//! Per-source queues over real sockets: a webhook flood fills the webhook's
//! queue (refused with 503, counted against the webhook) while a syslog
//! link-down sent during the flood keeps its room and is read next.

use std::sync::Arc;
use std::time::Duration;

use megaflex_domain::event::{EventKind, EventState, SourceKind};
use megaflex_sources::queue::FairReceiver;
use megaflex_sources::syslog::classify::UserPattern;
use megaflex_sources::syslog::{Listen, SyslogConfig, SyslogSource};
use megaflex_sources::webhook::{WebhookConfig, WebhookSource};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_flood_does_not_delay_a_syslog_link_down() {
    let stop = CancellationToken::new();
    let mut queues = FairReceiver::new();
    let (webhook_tx, webhook_rx) = mpsc::channel(256);
    let mut wc = WebhookConfig::new("127.0.0.1:0".parse().unwrap());
    wc.token = Some("t".into());
    let webhook = WebhookSource::spawn(wc, webhook_tx, stop.clone()).await.unwrap();
    queues.add_queue(webhook_rx, webhook.metrics.clone());
    let (syslog_tx, syslog_rx) = mpsc::channel(256);
    let patterns: Arc<[UserPattern]> = Arc::from(Vec::new());
    let syslog = SyslogSource::spawn(
        SyslogConfig::new(Listen::Udp("127.0.0.1:0".parse().unwrap())),
        patterns,
        syslog_tx,
        stop.clone(),
    )
    .await
    .unwrap();
    queues.add_queue(syslog_rx, syslog.metrics.clone());

    // The flood: until the webhook's own queue refuses with 503.
    let http = megaflex_http::bare_client();
    let url = format!("http://{}/events", webhook.local_addr);
    let batch: Vec<serde_json::Value> = (0..50)
        .map(|i| serde_json::json!({"device": "noisy", "kind": "alert", "entity": format!("a{i}"), "state": "firing"}))
        .collect();
    let mut refused = 0;
    for _ in 0..20 {
        let r = http.post(&url).bearer_auth("t").json(&batch).send().await.unwrap();
        if r.status() == 503 {
            refused += 1;
        }
    }
    assert!(refused > 0, "the flood was never refused");
    // The link-down, sent while the webhook queue is full.
    let line = "<189>1: core-b1: *Dec  2 05:00:00.000: %LINEPROTO-5-UPDOWN: Line protocol on Interface TenGigabitEthernet0/1/0, changed state to down";
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    udp.send_to(line.as_bytes(), syslog.local_addr).await.unwrap();
    for _ in 0..500 {
        if syslog.metrics.snapshot().classified == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(syslog.metrics.snapshot().classified, 1, "the link-down never arrived");
    // Read next: it waits behind at most one webhook event, not 256.
    let first = queues.recv().await.unwrap();
    let second = queues.recv().await.unwrap();
    let link_down = [&first, &second]
        .into_iter()
        .find(|e| e.source == SourceKind::Syslog)
        .expect("the link-down is among the first two events read");
    assert_eq!((link_down.kind, link_down.state), (EventKind::Link, EventState::Down));
    let (w, s) = (webhook.metrics.snapshot(), syslog.metrics.snapshot());
    assert!(w.dropped_queue_full >= 1, "the flood's drops are the webhook's: {w:?}");
    assert_eq!(s.dropped_queue_full, 0, "the syslog queue had room: {s:?}");
    assert_eq!(w.queue_depth, 255, "{w:?}");
    stop.cancel();
}
