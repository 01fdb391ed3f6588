//! The ServiceNow Table API emulator over loopback HTTP.

use megaflex_sim::{DEFAULT_SERVICENOW_PASSWORD as PASSWORD, DEFAULT_SERVICENOW_USER as USER, SimConfig};
use serde_json::{Value, json};

async fn sim() -> megaflex_sim::SimHandle {
    megaflex_sim::spawn(SimConfig { clock_scale: 0.0, ..SimConfig::default() }).await.unwrap()
}

fn table(sim: &megaflex_sim::SimHandle) -> String {
    format!("{}/api/now/table/incident", sim.base_url())
}

#[tokio::test]
async fn create_find_by_correlation_id_note_and_resolve() {
    let sim = sim().await;
    let http = reqwest::Client::new();
    let r = http
        .post(table(&sim))
        .basic_auth(USER, Some(PASSWORD))
        .json(&json!({
            "short_description": "megaflex: bne-mel-primary down; VXC boosted 10 -> 500 Mbps",
            "correlation_id": "megaflex:bne-mel-backup:1",
            "impact": 2, "urgency": 2, "assignment_group": "Network Ops",
            "work_notes": "boost requested",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = r.json().await.unwrap();
    let inc = &body["result"];
    let sys_id = inc["sys_id"].as_str().unwrap().to_owned();
    assert_eq!(sys_id.len(), 32);
    assert!(sys_id.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(location, format!("/api/now/table/incident/{sys_id}"));
    assert_eq!(inc["number"], "INC0010001");
    assert_eq!(
        (inc["impact"].as_str(), inc["state"].as_str(), inc["active"].as_str()),
        (Some("2"), Some("1"), Some("true"))
    );

    // The upsert query an integration uses, on the v2 path.
    let r = http
        .get(format!("{}/api/now/v2/table/incident", sim.base_url()))
        .basic_auth(USER, Some(PASSWORD))
        .query(&[
            ("sysparm_query", "correlation_id=megaflex:bne-mel-backup:1^active=true^ORDERBYDESCsys_created_on"),
            ("sysparm_fields", "sys_id,number,state"),
            ("sysparm_limit", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-total-count"], "1");
    let found: Value = r.json().await.unwrap();
    assert_eq!(found["result"], json!([{"sys_id": sys_id, "number": "INC0010001", "state": "1"}]));

    let one = format!("{}/{sys_id}", table(&sim));
    let r = http
        .patch(&one)
        .basic_auth(USER, Some(PASSWORD))
        .json(&json!({"work_notes": "confirmed after 4 s"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Resolving needs close_code and close_notes.
    let r = http.patch(&one).basic_auth(USER, Some(PASSWORD)).json(&json!({"state": "6"})).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["status"], "failure");
    assert!(err["error"]["detail"].as_str().unwrap().contains("Data Policy Exception"), "{err}");
    let r = http
        .put(&one)
        .basic_auth(USER, Some(PASSWORD))
        .json(&json!({"state": 6, "close_code": "Solution provided", "close_notes": "primary stable; restored to 10 Mbps"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let resolved: Value = r.json().await.unwrap();
    assert_eq!(
        (resolved["result"]["state"].as_str(), resolved["result"]["active"].as_str()),
        (Some("6"), Some("false"))
    );
    let r = http
        .get(table(&sim))
        .basic_auth(USER, Some(PASSWORD))
        .query(&[("sysparm_query", "correlation_id=megaflex:bne-mel-backup:1^active=true")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-total-count"], "0", "a resolved incident is no longer active");

    let (incidents, journal) = sim.state().servicenow_incidents();
    assert_eq!(incidents.len(), 1);
    let notes: Vec<&str> = journal.iter().map(|j| j.value.as_str()).collect();
    assert_eq!(notes, ["boost requested", "confirmed after 4 s"]);
    assert!(journal.iter().all(|j| j.element == "work_notes" && j.element_id == sys_id && j.sys_created_by == USER));
    let admin: Value =
        http.get(format!("{}/_sim/servicenow", sim.base_url())).send().await.unwrap().json().await.unwrap();
    assert_eq!(admin["journal"].as_array().unwrap().len(), 2);
    assert_eq!(sim.state().stats().servicenow_requests, 6);
}

#[tokio::test]
async fn bad_auth_bad_json_missing_records_and_injected_429() {
    let sim = sim().await;
    let http = reqwest::Client::new();
    let r = http.post(table(&sim)).basic_auth(USER, Some("wrong")).json(&json!({})).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["error"]["message"], "User Not Authenticated");
    let r = http.post(table(&sim)).basic_auth(USER, Some(PASSWORD)).body("[1,2").send().await.unwrap();
    assert_eq!(r.status(), 400);
    let r =
        http.get(format!("{}/{}", table(&sim), "0".repeat(32))).basic_auth(USER, Some(PASSWORD)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = http
        .post(format!("{}/_sim/faults", sim.base_url()))
        .body(r#"{"path_prefix": "/api/now/", "status": 429, "retry_after_secs": 7, "count": 1}"#)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let r = http.get(table(&sim)).basic_auth(USER, Some(PASSWORD)).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["status"], "failure");
    let r = http.get(table(&sim)).basic_auth(USER, Some(PASSWORD)).send().await.unwrap();
    assert_eq!(r.status(), 200, "the fault fired once");
    assert_eq!(sim.state().stats().requests, 0, "Table API calls are not Megaport API requests");
}
