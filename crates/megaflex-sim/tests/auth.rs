mod common;

use common::*;
use reqwest::Method;

const BAD_SESSION: &str = "Bad session token - try logging in again.";

async fn token_call(
    sim: &Sim,
    creds: Option<(&str, &str)>,
    query: &str,
    form: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut req = sim.http.post(format!("{}{query}", sim.handle.token_url()));
    if let Some((k, s)) = creds {
        req = req.basic_auth(k, Some(s));
    }
    if let Some(f) = form {
        req = req.header("content-type", "application/x-www-form-urlencoded").body(f.to_owned());
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn grant_type_in_query_or_form_body() {
    let sim = Sim::start().await;
    let creds = Some((megaflex_sim::DEFAULT_ACCESS_KEY, megaflex_sim::DEFAULT_SECRET_KEY));
    // The Go SDK's form: query string, empty body with a form content type.
    let (status, body) = token_call(&sim, creds, "?grant_type=client_credentials", Some("")).await;
    assert_eq!(status, 200);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 86_400);
    // The seed blog's form: form body.
    let (status, body) = token_call(&sim, creds, "", Some("grant_type=client_credentials")).await;
    assert_eq!(status, 200);
    let token = body["access_token"].as_str().unwrap();
    sim.call(Method::GET, "/v2/products", None, Some(token)).await.expect(200);
}

#[tokio::test]
async fn token_errors() {
    let sim = Sim::start().await;
    let good = Some((megaflex_sim::DEFAULT_ACCESS_KEY, megaflex_sim::DEFAULT_SECRET_KEY));
    let (s, b) = token_call(&sim, Some(("megaflex-sim-key", "wrong")), "", Some("grant_type=client_credentials")).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_client")));
    let (s, b) = token_call(&sim, None, "", Some("grant_type=client_credentials")).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_client")));
    let (s, b) = token_call(&sim, good, "", Some("grant_type=password")).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("unsupported_grant_type")));
    let (s, b) = token_call(&sim, good, "", None).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_request")));
    assert_eq!(sim.stats().await["tokens_issued"], 1, "only the helper's token");
}

#[tokio::test]
async fn every_api_route_needs_a_valid_bearer() {
    let sim = Sim::start().await;
    let routes = [
        "/v2/products",
        &format!("/v2/product/{BLOG_VXC}"),
        &format!("/v2/product/vxc/{BLOG_VXC}/telemetry?type=A_BITS&days=1"),
        &format!("/v2/product/{BLOG_VXC}/rating/2099/1?newSpeed=100"),
        "/ens/v1/status/maintenance",
        "/ens/v1/status/outage",
        "/v3/locations",
    ];
    for route in routes {
        for token in [None, Some("not-a-token")] {
            let r = sim.call(Method::GET, route, None, token).await;
            assert_eq!(r.expect(401)["message"], BAD_SESSION, "{route}");
            assert!(r.body["trace_id"].is_string());
            assert_eq!(r.trace_id(), r.body["trace_id"].as_str());
        }
        sim.get(route).await.expect(200);
    }
    let r = sim.call(Method::PUT, &format!("/v3/product/vxc/{BLOG_VXC}"), Some(r#"{"rateLimit":20}"#), None).await;
    r.expect(401);
    assert!(sim.stats().await["updates"].as_array().unwrap().is_empty(), "an unauthorised PUT changes nothing");
}

#[tokio::test]
async fn tokens_really_expire() {
    let sim = Sim::with(|c| c.token_ttl_secs = 300).await;
    sim.get("/v2/products").await.expect(200);
    sim.advance(299.0).await;
    sim.get("/v2/products").await.expect(200);
    sim.advance(2.0).await;
    assert_eq!(sim.get("/v2/products").await.expect(401)["message"], BAD_SESSION);
    let fresh = sim.new_token().await;
    sim.call(Method::GET, "/v2/products", None, Some(&fresh)).await.expect(200);
}

#[tokio::test]
async fn token_ttl_is_validated() {
    for ttl in [299, 86_401] {
        let config = megaflex_sim::SimConfig { token_ttl_secs: ttl, ..Default::default() };
        let err = megaflex_sim::spawn(config).await.unwrap_err();
        assert!(err.to_string().contains("300..=86400"), "{err}");
    }
}

#[tokio::test]
async fn revoking_tokens_gives_401() {
    let sim = Sim::start().await;
    sim.admin(Method::POST, "/_sim/tokens/revoke", serde_json::json!({})).await;
    sim.get("/v2/products").await.expect(401);
}
