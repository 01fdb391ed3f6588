mod common;

use common::*;
use megaflex_sim::LimitMode;
use reqwest::Method;
use serde_json::json;

async fn hammer(sim: &Sim, total: usize, tasks: usize) -> (usize, usize, Vec<u64>) {
    let per = total / tasks;
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let http = sim.http.clone();
        let url = sim.url(&format!("/v2/product/{BLOG_VXC}"));
        let token = sim.token.clone();
        handles.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for _ in 0..per {
                let r = http.get(&url).bearer_auth(&token).send().await.unwrap();
                let retry = r.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
                out.push((r.status().as_u16(), retry));
            }
            out
        }));
    }
    let mut ok = 0;
    let mut refused = 0;
    let mut retry_afters = Vec::new();
    for h in handles {
        for (status, retry) in h.await.unwrap() {
            match status {
                200 => ok += 1,
                429 => {
                    refused += 1;
                    retry_afters.extend(retry);
                }
                other => panic!("unexpected {other}"),
            }
        }
    }
    (ok, refused, retry_afters)
}

#[tokio::test]
async fn strict_mode_serves_exactly_500_in_a_window() {
    let sim = Sim::start().await;
    let (ok, refused, retry_afters) = hammer(&sim, 600, 8).await;
    assert_eq!((ok, refused), (500, 100));
    assert_eq!(retry_afters.len(), 100, "every 429 carries Retry-After");
    assert!(retry_afters.iter().all(|&s| (1..=300).contains(&s)));
    assert_eq!(sim.stats().await["rate_limit_breaches"], 100);
    let r = sim.get("/v2/products").await;
    assert!(r.expect(429)["message"].as_str().unwrap().contains("500 requests in a rolling 5 minute period"));
    // The window rolls: 5 minutes later there is room again.
    sim.advance(301.0).await;
    sim.get("/v2/products").await.expect(200);
}

#[tokio::test]
async fn record_mode_serves_all_and_counts() {
    let sim = Sim::with(|c| c.limits = LimitMode::Record).await;
    let (ok, refused, _) = hammer(&sim, 600, 8).await;
    assert_eq!((ok, refused), (600, 0));
    assert_eq!(sim.stats().await["rate_limit_breaches"], 100);
}

#[tokio::test]
async fn off_mode_neither_refuses_nor_counts() {
    let sim = Sim::with(|c| c.limits = LimitMode::Off).await;
    let (ok, _, _) = hammer(&sim, 600, 8).await;
    assert_eq!(ok, 600);
    assert_eq!(sim.stats().await["rate_limit_breaches"], 0);
}

#[tokio::test]
async fn one_update_per_service_per_five_minutes() {
    let sim = Sim::start().await;
    let path = format!("/v3/product/vxc/{BLOG_VXC}");
    sim.put(&path, r#"{"rateLimit": 500}"#).await.expect(200);
    sim.advance(120.0).await;
    let r = sim.put(&path, r#"{"rateLimit": 10}"#).await;
    let msg = r.expect(429)["message"].as_str().unwrap().to_owned();
    assert!(msg.contains("only one update every 5 minutes"), "{msg}");
    assert_eq!(r.headers["retry-after"], "180");
    // Another service is not affected.
    sim.put(&format!("/v3/product/vxc/{PER_VXC}"), r#"{"rateLimit": 100}"#).await.expect(200);
    sim.advance(180.0).await;
    sim.put(&path, r#"{"rateLimit": 10}"#).await.expect(200);
    let stats = sim.stats().await;
    assert_eq!(stats["update_interval_breaches"], 1);
    assert_eq!(stats["updates"].as_array().unwrap().len(), 3);
    assert_eq!(sim.get(&format!("/v2/product/{BLOG_VXC}")).await.body["data"]["rateLimit"], 10);
}

#[tokio::test]
async fn record_mode_serves_early_updates_but_counts_them() {
    let sim = Sim::with(|c| c.limits = LimitMode::Record).await;
    let path = format!("/v3/product/vxc/{BLOG_VXC}");
    sim.put(&path, r#"{"rateLimit": 500}"#).await.expect(200);
    sim.put(&path, r#"{"rateLimit": 10}"#).await.expect(200);
    assert_eq!(sim.stats().await["update_interval_breaches"], 1);
}

#[tokio::test]
async fn at_most_100_updates_per_calendar_month() {
    // Start on the 2nd of a month so 100 updates at 5-minute spacing fit.
    let start = jiff::civil::date(2026, 11, 2).at(0, 0, 0, 0).to_zoned(jiff::tz::TimeZone::UTC).unwrap().timestamp();
    let sim = Sim::with(|c| c.start = Some(megaport_types::EpochMillis::from(start))).await;
    sim.admin(Method::POST, &format!("/_sim/services/{BLOG_VXC}/updates"), json!({ "count": 99 })).await;
    let path = format!("/v3/product/vxc/{BLOG_VXC}");
    sim.put(&path, r#"{"rateLimit": 500}"#).await.expect(200);
    sim.advance(301.0).await;
    let r = sim.put(&path, r#"{"rateLimit": 10}"#).await;
    let msg = r.expect(429)["message"].as_str().unwrap().to_owned();
    assert!(msg.contains("at most 100 updates per month") && msg.contains("2026-12-01T00:00:00.000Z"), "{msg}");
    assert_eq!(sim.stats().await["monthly_update_breaches"], 1);
    // The next calendar month (UTC) starts afresh.
    sim.admin(Method::POST, "/_sim/clock", json!({ "set_ms": 1_796_083_200_000_i64 })).await; // 2026-12-01T00:00:00Z
    let token = sim.new_token().await; // a month later the old token has expired
    sim.call(Method::PUT, &path, Some(r#"{"rateLimit": 10}"#), Some(&token)).await.expect(200);
}
