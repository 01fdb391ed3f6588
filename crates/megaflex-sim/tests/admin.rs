mod common;

use std::time::Instant;

use common::*;
use megaflex_sim::WorldFile;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn next_n_requests_fail_with_the_injected_status() {
    let sim = Sim::start().await;
    sim.admin(
        Method::POST,
        "/_sim/faults",
        json!({"path_prefix": "/v2/products", "status": 429, "retry_after_secs": 7, "count": 2}),
    )
    .await;
    for _ in 0..2 {
        let r = sim.get("/v2/products").await;
        r.expect(429);
        assert_eq!(r.headers["retry-after"], "7");
        assert!(r.body["trace_id"].is_string());
    }
    sim.get("/v2/products").await.expect(200);
    // Other routes were never affected.
    sim.admin(Method::POST, "/_sim/faults", json!({"method": "PUT", "status": 503, "count": 1})).await;
    sim.get("/v2/products").await.expect(200);
    sim.put(&format!("/v3/product/vxc/{BLOG_VXC}"), r#"{"rateLimit": 20}"#).await.expect(503);
    assert!(
        sim.stats().await["updates"].as_array().unwrap().is_empty(),
        "a failed-before-processing PUT changes nothing"
    );
    assert_eq!(sim.stats().await["faults_injected"], 3);
}

#[tokio::test]
async fn a_fraction_of_requests_fail() {
    let sim = Sim::with(|c| c.limits = megaflex_sim::LimitMode::Off).await;
    sim.admin(Method::POST, "/_sim/faults", json!({"status": 500, "fraction": 0.2})).await;
    let mut failed = 0;
    for _ in 0..400 {
        if sim.get("/v2/products").await.status == 500 {
            failed += 1;
        }
    }
    assert!((40..=120).contains(&failed), "about 20 % of 400, got {failed}");
    sim.http.delete(sim.url("/_sim/faults")).send().await.unwrap();
    sim.get("/v2/products").await.expect(200);
}

#[tokio::test]
async fn latency_and_token_revocation() {
    let sim = Sim::start().await;
    sim.admin(Method::POST, "/_sim/faults", json!({"latency_ms": 150, "count": 1})).await;
    let t = Instant::now();
    sim.get("/v2/products").await.expect(200);
    assert!(t.elapsed().as_millis() >= 150);
    sim.admin(Method::POST, "/_sim/faults", json!({"revoke_tokens": true, "count": 1})).await;
    sim.get("/v2/products").await.expect(401);
}

#[tokio::test]
async fn after_processing_fault_makes_an_ambiguous_failure() {
    let sim = Sim::start().await;
    sim.admin(
        Method::POST,
        "/_sim/faults",
        json!({"method": "PUT", "status": 502, "count": 1, "after_processing": true}),
    )
    .await;
    sim.put(&format!("/v3/product/vxc/{BLOG_VXC}"), r#"{"rateLimit": 500}"#).await.expect(502);
    // The change was made even though the client saw a failure.
    assert_eq!(sim.get(&format!("/v2/product/{BLOG_VXC}")).await.body["data"]["rateLimit"], 500);
    assert_eq!(sim.stats().await["updates"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_fault_definitions_are_refused() {
    let sim = Sim::start().await;
    for body in [
        json!({"count": 1}),
        json!({"status": 500}),
        json!({"status": 500, "fraction": 2.0}),
        json!({"status": 500, "count": 1, "bogus": 1}),
    ] {
        let r = sim.http.post(sim.url("/_sim/faults")).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 400, "{body}");
    }
}

#[tokio::test]
async fn clock_scale_makes_five_minutes_pass_quickly() {
    let sim = Sim::start().await;
    let before = sim.stats().await["now_ms"].as_i64().unwrap();
    sim.admin(Method::POST, "/_sim/clock", json!({"scale": 600.0})).await;
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let after = sim.stats().await["now_ms"].as_i64().unwrap();
    assert!(after - before >= 300_000, "0.6 s at 600x is at least 5 simulated minutes: {}", after - before);
}

#[tokio::test]
async fn world_dump_and_reset() {
    let sim = Sim::start().await;
    sim.put(&format!("/v3/product/vxc/{BLOG_VXC}"), r#"{"rateLimit": 500}"#).await.expect(200);
    let dump: WorldFile =
        serde_json::from_value(sim.http.get(sim.url("/_sim/world")).send().await.unwrap().json().await.unwrap())
            .unwrap();
    assert_eq!(dump.vxcs.iter().find(|v| v.uid == BLOG_VXC).unwrap().rate_limit_mbps, 500);
    dump.validate().unwrap();
    let r = sim.http.post(sim.url("/_sim/reset")).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let token = sim.new_token().await;
    let v = sim.call(Method::GET, &format!("/v2/product/{BLOG_VXC}"), None, Some(&token)).await;
    assert_eq!(v.body["data"]["rateLimit"], 10);
    let stats = sim.stats().await;
    assert!(stats["updates"].as_array().unwrap().is_empty());
    assert_eq!(stats["requests"], 1);
}

#[tokio::test]
async fn limit_mode_switches_at_runtime() {
    let sim = Sim::start().await;
    sim.admin(Method::POST, "/_sim/limits", json!({"mode": "record"})).await;
    let path = format!("/v3/product/vxc/{BLOG_VXC}");
    sim.put(&path, r#"{"rateLimit": 500}"#).await.expect(200);
    sim.put(&path, r#"{"rateLimit": 10}"#).await.expect(200);
    assert_eq!(sim.stats().await["limits"], "record");
    assert_eq!(sim.stats().await["update_interval_breaches"], 1);
}

#[tokio::test]
async fn world_file_errors_name_the_problem() {
    let mut world = megaflex_sim::default_world(megaport_types::EpochMillis::from_millis(0));
    world.vxcs[0].a_end.product_uid = "missing-port".into();
    assert!(world.validate().unwrap_err().contains("aEnd.productUid missing-port is not in ports"));
    let err =
        WorldFile::from_json("{\n  \"company\": {\"uid\": \"x\", \"name\": \"y\"},\n  \"portz\": []\n}").unwrap_err();
    assert!(err.contains("unknown field `portz`") && err.contains("line 3"), "{err}");
}
