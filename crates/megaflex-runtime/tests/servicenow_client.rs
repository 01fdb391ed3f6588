//! The ServiceNow client against the simulator's Table API emulator.

use std::time::{Duration, Instant};

use megaflex_sim::{DEFAULT_SERVICENOW_PASSWORD as PASSWORD, DEFAULT_SERVICENOW_USER as USER, SimConfig};
use serde_json::{Map, Value, json};
use servicenow_table::{ServiceNowClient, ServiceNowError};

fn fields() -> Map<String, Value> {
    json!({"short_description": "megaflex: bne-mel-primary down; boosting 10 -> 500 Mbps", "impact": 2, "urgency": 2})
        .as_object()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn upsert_is_idempotent_notes_append_and_resolve_closes() {
    let sim = megaflex_sim::spawn(SimConfig { clock_scale: 0.0, ..SimConfig::default() }).await.unwrap();
    let sn = ServiceNowClient::new(&sim.base_url(), USER, PASSWORD.to_owned().into());
    let (first, created) = sn.upsert("megaflex:bne-mel-backup:1", &fields()).await.unwrap();
    assert!(created);
    assert_eq!(first.number, "INC0010001");
    let (again, created) = sn.upsert("megaflex:bne-mel-backup:1", &fields()).await.unwrap();
    assert!(!created, "a retry finds the open incident");
    assert_eq!(again, first);
    sn.add_work_note(&first.sys_id, "boost confirmed after 4 s").await.unwrap();
    let resolved = sn.resolve(&first.sys_id, "Solution provided", "restored to 10 Mbps").await.unwrap();
    assert_eq!(resolved.state, "6");
    assert_eq!(sn.find_active("megaflex:bne-mel-backup:1").await.unwrap(), None);
    let (second, created) = sn.upsert("megaflex:bne-mel-backup:2", &fields()).await.unwrap();
    assert!(created && second.number == "INC0010002", "a new episode opens a new incident");
    let (incidents, journal) = sim.state().servicenow_incidents();
    assert_eq!(incidents.len(), 2);
    assert_eq!(incidents[0]["close_code"], "Solution provided");
    assert_eq!(journal.iter().map(|j| j.value.as_str()).collect::<Vec<_>>(), ["boost confirmed after 4 s"]);
}

#[tokio::test]
async fn retries_honour_retry_after_and_errors_carry_servicenows_message() {
    let sim = megaflex_sim::spawn(SimConfig { clock_scale: 0.0, ..SimConfig::default() }).await.unwrap();
    let http = megaflex_http::bare_client();
    http.post(format!("{}/_sim/faults", sim.base_url()))
        .body(r#"{"path_prefix": "/api/now/", "status": 429, "retry_after_secs": 1, "count": 1}"#)
        .send()
        .await
        .unwrap();
    let sn = ServiceNowClient::new(&sim.base_url(), USER, PASSWORD.to_owned().into());
    let started = Instant::now();
    let (inc, _) = sn.upsert("megaflex:c:1", &fields()).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1), "waited for Retry-After");
    assert!(!inc.sys_id.is_empty());

    let wrong = ServiceNowClient::new(&sim.base_url(), USER, "not-the-password".to_owned().into());
    let err = wrong.find_active("megaflex:c:1").await.unwrap_err();
    assert!(matches!(err, ServiceNowError::Api { status: 401, .. }), "{err}");
    assert!(err.to_string().contains("User Not Authenticated"), "{err}");
    assert!(!err.to_string().contains("not-the-password") && !format!("{wrong:?}").contains("not-the-password"));
    let err = sn.resolve(&inc.sys_id, "", "").await.unwrap_err();
    assert!(err.to_string().contains("Data Policy Exception"), "{err}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn oauth_password_grant_then_refresh_after_the_token_ends() {
    use megaflex_sim::{DEFAULT_SERVICENOW_CLIENT_ID as CLIENT_ID, DEFAULT_SERVICENOW_CLIENT_SECRET as SECRET};
    use servicenow_table::OAuthClient;
    let sim = megaflex_sim::spawn(SimConfig { clock_scale: 0.0, ..SimConfig::default() }).await.unwrap();
    let oauth = OAuthClient { client_id: CLIENT_ID.into(), client_secret: SECRET.to_owned().into() };
    let sn = ServiceNowClient::new(&sim.base_url(), USER, PASSWORD.to_owned().into()).with_oauth(oauth);
    let (inc, created) = sn.upsert("megaflex:c:1", &fields()).await.unwrap();
    assert!(created);
    // Every access token ends: the next call gets a 401, refreshes, and goes on.
    let r = megaflex_http::bare_client()
        .post(format!("{}/_sim/servicenow/expire-tokens", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["expired"], 1);
    sn.add_work_note(&inc.sys_id, "after the token ended").await.unwrap();
    let (_, journal) = sim.state().servicenow_incidents();
    assert_eq!(journal[0].sys_created_by, USER, "OAuth acts as the user");

    let bad = OAuthClient { client_id: CLIENT_ID.into(), client_secret: "wrong-secret".to_owned().into() };
    let wrong = ServiceNowClient::new(&sim.base_url(), USER, PASSWORD.to_owned().into()).with_oauth(bad);
    let err = wrong.find_active("megaflex:c:1").await.unwrap_err();
    assert!(matches!(err, ServiceNowError::Auth(_)), "{err}");
    assert!(err.to_string().contains("client_id or client_secret is not valid"), "{err}");
    assert!(!format!("{err} {wrong:?}").contains("wrong-secret") && !format!("{wrong:?}").contains(PASSWORD));
    // A bearer the instance does not know is a 401 in ServiceNow's envelope.
    let r = megaflex_http::bare_client()
        .get(format!("{}/api/now/table/incident", sim.base_url()))
        .bearer_auth("sn.unknown")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}
