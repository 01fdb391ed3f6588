//! Ambiguous update failures and Megaport's refusals, against the simulator:
//! an update Megaport accepted is made once, counted once, and never
//! repeated faster than the update rule allows (issue 15, items 6 and 10).

mod common;

use std::time::Duration;

use common::*;
use megaport::types::{EpochMillis, ProvisioningStatus, VxcUpdate};
use megaport::{Error, UpdateRule};
use serde_json::json;

#[tokio::test]
async fn a_503_after_processing_while_megaport_applies_is_one_update_one_entry_no_breach() {
    let env = setup_with(|c| c.apply_delay_secs = 600.0, |b| b).await;
    let uid = blog_vxc();
    let before = env.client.vxc(&uid).await.unwrap().rate_limit_mbps;
    env.fault(json!({"method":"PUT","path_prefix":"/v3/product/vxc/","status":503,"after_processing":true,"count":1}))
        .await;
    let since = env.client.now();
    let vxc = env.client.update_vxc(&uid, &VxcUpdate::rate_limit(500)).await.expect("accepted, being applied");
    // The old rate still shows while Megaport applies the change: that is no
    // reason to send it again.
    assert_eq!(vxc.provisioning_status, ProvisioningStatus::Configuring);
    assert_eq!(vxc.rate_limit_mbps, before);
    let stats = env.stats();
    assert_eq!(stats.updates.len(), 1, "exactly one update reached Megaport: {:?}", stats.updates);
    assert_eq!(stats.update_interval_breaches, 0);
    assert_eq!(stats.faults_injected, 1);
    let ledger = env.client.ledger().updates_since(&uid, since).await.unwrap();
    assert_eq!(ledger.len(), 1, "the accepted update is in the ledger once");

    // A confirmation that runs out while Megaport applies sends nothing more.
    let err = env.client.set_rate_limit(&uid, 500, Duration::from_millis(300)).await.unwrap_err();
    assert!(matches!(err, Error::UpdateRefused { rule: UpdateRule::Interval, .. }), "{err}");
    let stats = env.stats();
    assert_eq!((stats.updates.len(), stats.update_interval_breaches), (1, 0));

    // Once applied, the rate is confirmed without another update.
    env.advance(601.0);
    let change = env.client.set_rate_limit(&uid, 500, Duration::from_secs(5)).await.unwrap();
    assert!(!change.updated);
    assert_eq!((env.stats().updates.len(), env.stats().update_interval_breaches), (1, 0));
}

#[tokio::test]
async fn a_429_naming_the_update_rule_is_learned_not_retried() {
    // A running clock with Retry-After well under a minute: a client that
    // retried 429s on writes would breach the rule again and again.
    let env = setup_with(
        |c| {
            c.clock_scale = 60.0;
        },
        |b| b,
    )
    .await;
    let uid = blog_vxc();
    // Someone changed the VXC a minute ago (the CLI, the portal): this
    // client's ledger does not know it.
    let a_minute_ago = env.client.now().as_millis() - 60_000;
    env.admin(&format!("/_sim/services/{uid}/updates"), json!({"count": 1, "at_ms": a_minute_ago})).await;
    let err = env.client.update_vxc(&uid, &VxcUpdate::rate_limit(500)).await.unwrap_err();
    let next = match &err {
        Error::UpdateRefused { rule: UpdateRule::Interval, next_allowed_at, .. } => *next_allowed_at,
        other => panic!("expected a refusal learned from Megaport, got {other}"),
    };
    assert_eq!(next, EpochMillis::from_millis(a_minute_ago + 300_000), "the time Megaport named");
    assert_eq!(env.stats().update_interval_breaches, 1, "one refused PUT, not retried");
    // The ledger now knows the outside update; the next try is refused
    // locally, without a request.
    let ledger = env.client.ledger().updates_since(&uid, EpochMillis::from_millis(0)).await.unwrap();
    assert_eq!(ledger, vec![EpochMillis::from_millis(a_minute_ago)]);
    let requests = env.stats().requests;
    let again = env.client.update_vxc(&uid, &VxcUpdate::rate_limit(500)).await.unwrap_err();
    assert!(matches!(again, Error::UpdateRefused { .. }), "{again}");
    let budget = env.client.update_budget(&uid).await.unwrap();
    assert_eq!(budget.next_allowed_at, next);
    let stats = env.stats();
    assert_eq!((stats.requests, stats.update_interval_breaches, stats.updates.len()), (requests, 1, 0));
}

#[tokio::test]
async fn a_stop_interrupts_a_confirmation_and_a_backoff() {
    let env = setup_with(|c| c.apply_delay_secs = 600.0, |b| b).await;
    let uid = blog_vxc();
    let token = tokio_util::sync::CancellationToken::new();
    let client = env.client.stop_on(token.clone());
    let task = tokio::spawn(async move { client.set_rate_limit(&blog_vxc(), 500, Duration::from_secs(600)).await });
    // Wait for the update to be accepted, then stop.
    let mut polls = 0;
    while env.stats().updates.is_empty() {
        polls += 1;
        assert!(polls < 500, "the update was never sent");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    token.cancel();
    let err = tokio::time::timeout(Duration::from_secs(2), task).await.expect("stopped promptly").unwrap().unwrap_err();
    assert!(matches!(err, Error::Stopped { request_sent: true, .. }), "{err}");
    let _ = uid;
}
