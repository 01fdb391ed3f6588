mod common;

use std::time::{Duration, Instant};

use common::*;
use megaflex_sim::LimitMode;
use megaport::types::{ProductUid, VxcUpdate};
use megaport::{Error, RequestBudget, UpdateRule};
use serde_json::json;

#[tokio::test]
async fn budget_is_never_exceeded_by_16_tasks_making_2000_calls() {
    // A 1-second window with 250 requests stands in for 5 minutes with 500,
    // on both sides, so the test takes seconds.
    let env = setup_with(
        |c| {
            c.limits = LimitMode::Record;
            c.request_window_secs = 1;
            c.requests_per_window = 250;
            c.clock_scale = 1.0;
        },
        |b| b.budget(RequestBudget::new(250, Duration::from_secs(1))),
    )
    .await;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let c = env.client.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..125 {
                c.vxc(&blog_vxc()).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let stats = env.stats();
    assert_eq!(stats.requests, 2000);
    assert_eq!(stats.rate_limit_breaches, 0, "the client waited for slots instead");
    assert!(started.elapsed() >= Duration::from_secs(7), "2000 calls at 250/s need about 8 s: {:?}", started.elapsed());
    let state = env.client.budget().state();
    assert!(state.used <= 250 && state.limit == 250);
}

#[tokio::test]
async fn second_update_within_five_minutes_is_refused_locally() {
    let env = setup().await;
    let uid = blog_vxc();
    env.client.update_vxc(&uid, &VxcUpdate::rate_limit(500)).await.unwrap();
    let t0 = env.client.now();
    env.advance(60.0);
    let err = env.client.update_vxc(&uid, &VxcUpdate::rate_limit(10)).await.unwrap_err();
    match &err {
        Error::UpdateRefused { rule: UpdateRule::Interval, next_allowed_at, .. } => {
            let delta = next_allowed_at.as_millis() - t0.as_millis();
            assert!((299_000..=301_000).contains(&delta), "next allowed {delta} ms after the first update");
        }
        other => panic!("expected an interval refusal, got {other}"),
    }
    assert!(err.is_limit());
    assert_eq!(env.stats().updates.len(), 1, "nothing was sent");
    assert_eq!(env.stats().update_interval_breaches, 0);
    env.advance(241.0);
    env.client.update_vxc(&uid, &VxcUpdate::rate_limit(10)).await.unwrap();
    let budget = env.client.update_budget(&uid).await.unwrap();
    assert_eq!(budget.used_this_month, 2);
    assert_eq!(budget.left_this_month, 98);
}

#[tokio::test]
async fn monthly_cap_refusal_names_the_first_of_next_month() {
    let env = setup().await;
    let uid = blog_vxc();
    let month_start = megaport::month_bounds(env.client.now()).0;
    for _ in 0..100 {
        env.client.ledger().record(&uid, month_start, megaport::UpdateOrigin::Observed).await.unwrap();
    }
    let err = env.client.update_vxc(&uid, &VxcUpdate::rate_limit(500)).await.unwrap_err();
    let next = megaport::month_bounds(env.client.now()).1;
    assert!(matches!(err, Error::UpdateRefused { rule: UpdateRule::Monthly, .. }), "{err}");
    assert_eq!(err.next_allowed_at(), Some(next));
    assert!(err.to_string().contains("100 of 100 updates used this month"), "{err}");
    assert!(env.stats().updates.is_empty());
}

#[tokio::test]
async fn retries_honour_retry_after_on_429_and_503() {
    let env = setup().await;
    env.fault(json!({"path_prefix": "/v2/products", "status": 429, "retry_after_secs": 1, "count": 1})).await;
    let t = Instant::now();
    env.client.products().await.unwrap();
    assert!(t.elapsed() >= Duration::from_secs(1), "waited for Retry-After");
    env.fault(json!({"path_prefix": "/v2/product/", "status": 503, "count": 2})).await;
    env.client.vxc(&blog_vxc()).await.unwrap();
    env.fault(json!({"path_prefix": "/v2/product/", "status": 502, "count": 10})).await;
    let err = env.client.vxc(&blog_vxc()).await.unwrap_err();
    assert_eq!(err.status(), Some(502));
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_retry_after_longer_than_allowed_is_returned_not_slept() {
    let env = setup().await;
    env.fault(json!({"path_prefix": "/v2/products", "status": 429, "retry_after_secs": 3600, "count": 1})).await;
    let t = Instant::now();
    let err = env.client.products().await.unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(err.api().unwrap().retry_after, Some(Duration::from_secs(3600)));
}

#[tokio::test]
async fn ambiguous_update_failure_is_resolved_by_reading_not_resending() {
    let env = setup().await;
    // The API makes the change but the answer is lost.
    env.fault(json!({"method": "PUT", "status": 502, "count": 1, "after_processing": true})).await;
    let vxc = env.client.update_vxc(&blog_vxc(), &VxcUpdate::rate_limit(500)).await.unwrap();
    assert_eq!(vxc.rate_limit_mbps, 500);
    assert_eq!(env.stats().updates.len(), 1, "no second update");
    assert_eq!(env.stats().update_interval_breaches, 0);
}

#[tokio::test]
async fn update_that_failed_before_processing_is_sent_again_once_seen_unapplied() {
    let env = setup().await;
    env.fault(json!({"method": "PUT", "status": 503, "count": 1})).await;
    let vxc = env.client.update_vxc(&blog_vxc(), &VxcUpdate::rate_limit(500)).await.unwrap();
    assert_eq!(vxc.rate_limit_mbps, 500);
    assert_eq!(env.stats().updates.len(), 1);
}

#[tokio::test]
async fn confirmation_waits_through_configuring() {
    let env = setup_with(
        |c| {
            c.clock_scale = 1.0;
            c.apply_delay_secs = 0.6;
        },
        |b| b,
    )
    .await;
    let change = env.client.set_rate_limit(&blog_vxc(), 500, Duration::from_secs(10)).await.unwrap();
    assert!(change.updated);
    assert_eq!((change.before_mbps, change.after_mbps), (10, 500));
    assert!(change.polls >= 2, "the first read showed CONFIGURING at the old rate: {} polls", change.polls);
    assert!(change.took >= Duration::from_millis(600));
    assert_eq!(change.vxc.vll_rate_limit_mbps(), Some(500));
}

#[tokio::test]
async fn confirmation_times_out_with_the_last_state_seen() {
    let env = setup_with(|c| c.apply_delay_secs = 3600.0, |b| b).await;
    let err = env.client.set_rate_limit(&blog_vxc(), 500, Duration::from_millis(400)).await.unwrap_err();
    match err {
        Error::ConfirmTimeout { wanted_mbps, last_rate_mbps, last_status, .. } => {
            assert_eq!((wanted_mbps, last_rate_mbps, last_status.as_str()), (500, 10, "CONFIGURING"));
        }
        other => panic!("expected a confirm timeout, got {other}"),
    }
}

#[tokio::test]
async fn setting_the_current_rate_sends_nothing() {
    let env = setup().await;
    let change = env.client.set_rate_limit(&blog_vxc(), 10, Duration::from_secs(5)).await.unwrap();
    assert!(!change.updated);
    assert!(env.stats().updates.is_empty());
}

#[tokio::test]
async fn inactive_or_too_fast_is_refused_before_sending() {
    let env = setup().await;
    let decom = ProductUid::new("7a1b2c3d-000e-4e5f-9a0b-c1d2e3f4a50e");
    assert!(
        env.client
            .set_rate_limit(&decom, 50, Duration::from_secs(1))
            .await
            .unwrap_err()
            .to_string()
            .contains("DECOMMISSIONED")
    );
    assert!(
        env.client
            .set_rate_limit(&blog_vxc(), 20_000, Duration::from_secs(1))
            .await
            .unwrap_err()
            .to_string()
            .contains("maximum rate")
    );
    // The API's own refusal comes back with its message.
    let err = env.client.update_vxc(&ProductUid::new(PER_VXC), &VxcUpdate::rate_limit(2000)).await.unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(err.to_string().contains("COMPANY-EDGE-P1-1G (1000 Mbps)"), "{err}");
    assert!(env.stats().updates.is_empty());
}

#[tokio::test]
async fn an_outside_update_counts_against_the_guard() {
    let env = setup().await;
    env.client.note_outside_update(&blog_vxc(), env.client.now()).await.unwrap();
    let err = env.client.update_vxc(&blog_vxc(), &VxcUpdate::rate_limit(500)).await.unwrap_err();
    assert!(matches!(err, Error::UpdateRefused { .. }));
}
