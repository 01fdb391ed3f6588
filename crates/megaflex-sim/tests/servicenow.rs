//! The ServiceNow Table API emulator over loopback HTTP.

use megaflex_sim::{DEFAULT_SERVICENOW_PASSWORD as PASSWORD, DEFAULT_SERVICENOW_USER as USER, SimConfig};
use serde_json::{Value, json};

async fn sim() -> megaflex_sim::SimHandle {
    megaflex_sim::spawn(SimConfig { clock_scale: 0.0, ..SimConfig::default() }).await.unwrap()
}

/// reqwest is built without a TLS provider of its own (root Cargo.toml).
fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

fn table(sim: &megaflex_sim::SimHandle) -> String {
    format!("{}/api/now/table/incident", sim.base_url())
}

#[tokio::test]
async fn create_find_by_correlation_id_note_and_resolve() {
    let sim = sim().await;
    let http = http();
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
    let http = http();
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

/// What pysnow and pysnc rely on: every field in every record, an empty
/// `sysparm_fields` meaning all of them, display values, reference links.
#[tokio::test]
async fn records_carry_every_field_display_values_and_reference_links() {
    let sim = sim().await;
    let http = http();
    let r = http
        .post(table(&sim))
        .basic_auth(USER, Some(PASSWORD))
        .json(&json!({"short_description": "x", "impact": "2", "urgency": "1", "caller_id": "abel.tuter",
                      "category": "network", "no_such_field": "ignored"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let inc = created["result"].as_object().unwrap();
    assert!(inc.len() >= 80, "every incident field: {}", inc.len());
    assert_eq!(inc["description"], "", "unset fields are empty strings");
    assert_eq!(inc["priority"], "2", "impact 2 x urgency 1 -> priority 2 (High)");
    assert!(!inc.contains_key("no_such_field"));
    let sys_id = inc["sys_id"].as_str().unwrap().to_owned();
    let host = sim.addr().to_string();
    assert_eq!(
        inc["caller_id"],
        json!({"link": format!("http://{host}/api/now/table/sys_user/abel.tuter"), "value": "abel.tuter"})
    );
    let opened_by = inc["opened_by"]["value"].as_str().unwrap().to_owned();
    assert_eq!(opened_by.len(), 32, "opened_by is the acting user's sys_id");
    assert_eq!(inc["assignment_group"], "", "an empty reference is an empty string");

    let get = |params: &'static [(&'static str, &'static str)]| {
        let http = http.clone();
        let url = format!("{}/{sys_id}", table(&sim));
        async move {
            let r = http.get(url).basic_auth(USER, Some(PASSWORD)).query(params).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()["result"].clone()
        }
    };
    // pysnow's query: an empty field list and `False` (capitalised).
    let v = get(&[("sysparm_fields", ""), ("sysparm_display_value", "False")]).await;
    assert_eq!(v["sys_id"], sys_id.as_str());
    assert_eq!(v["state"], "1");
    // pysnc's: `all`, links excluded.
    let v = get(&[("sysparm_display_value", "all"), ("sysparm_exclude_reference_link", "true")]).await;
    assert_eq!(v["state"], json!({"display_value": "New", "value": "1"}));
    assert_eq!(v["urgency"], json!({"display_value": "1 - High", "value": "1"}));
    assert_eq!(v["impact"], json!({"display_value": "2 - Medium", "value": "2"}));
    assert_eq!(v["priority"], json!({"display_value": "2 - High", "value": "2"}));
    assert_eq!(v["category"], json!({"display_value": "Network", "value": "network"}));
    assert_eq!(v["opened_by"], json!({"display_value": USER, "value": opened_by}));
    assert_eq!(v["close_code"], json!({"display_value": "", "value": ""}));
    let v = get(&[("sysparm_display_value", "TRUE"), ("sysparm_fields", "state,caller_id,nope")]).await;
    assert_eq!(
        v,
        json!({"state": "New", "caller_id": {"display_value": "abel.tuter",
               "link": format!("http://{host}/api/now/table/sys_user/abel.tuter")}})
    );

    // A work note reads back from the journal table and as the field's display value.
    let one = format!("{}/{sys_id}", table(&sim));
    let r = http.patch(&one).basic_auth(USER, Some(PASSWORD)).json(&json!({"work_notes": "boosted"})).send().await;
    let patched: Value = r.unwrap().json().await.unwrap();
    assert_eq!(patched["result"]["work_notes"], "", "a journal field's value is empty");
    assert_eq!(patched["result"]["sys_mod_count"], "1");
    let r = http
        .get(format!("{}/api/now/table/sys_journal_field", sim.base_url()))
        .basic_auth(USER, Some(PASSWORD))
        .query(&[
            ("sysparm_query", format!("element_id={sys_id}^element=work_notes")),
            ("sysparm_fields", "value,sys_created_by".into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["result"], json!([{"value": "boosted", "sys_created_by": USER}]));
    let v = get(&[("sysparm_display_value", "all"), ("sysparm_fields", "work_notes")]).await;
    let text = v["work_notes"]["display_value"].as_str().unwrap();
    assert!(text.ends_with(&format!(" - {USER} (Work notes)\nboosted\n\n")), "{text:?}");

    // The data policy names what is missing; a refused write changes nothing.
    let r = http
        .patch(&one)
        .basic_auth(USER, Some(PASSWORD))
        .json(&json!({"state": "6", "close_code": "Solution provided", "work_notes": "lost"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["error"]["message"], "Operation Failed");
    let detail = err["error"]["detail"].as_str().unwrap();
    assert!(detail.contains("mandatory: Resolution notes") && !detail.contains("Resolution code"), "{detail}");
    let r = http
        .patch(&one)
        .basic_auth(USER, Some(PASSWORD))
        .query(&[("sysparm_display_value", "all")])
        .json(&json!({"close_notes": "stable"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .patch(&one)
        .basic_auth(USER, Some(PASSWORD))
        .json(&json!({"state": "6", "close_code": "Solution provided"}))
        .send()
        .await
        .unwrap();
    let resolved: Value = r.json().await.unwrap();
    let res = &resolved["result"];
    assert_eq!(
        (res["state"].as_str(), res["incident_state"].as_str(), res["active"].as_str()),
        (Some("6"), Some("6"), Some("false"))
    );
    assert_eq!(res["resolved_by"]["value"], opened_by.as_str());
    assert!(!res["resolved_at"].as_str().unwrap().is_empty());
    let (_, journal) = sim.state().servicenow_incidents();
    assert_eq!(journal.len(), 1, "the refused write's note was not kept");
}

#[tokio::test]
async fn query_operators_and_order() {
    let sim = sim().await;
    let http = http();
    for (cid, urgency) in [("megaflex:a:1", "3"), ("megaflex:b:1", "1"), ("other:c", "2")] {
        let r = http
            .post(table(&sim))
            .basic_auth(USER, Some(PASSWORD))
            .json(&json!({"correlation_id": cid, "urgency": urgency}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let ids = |q: &'static str| {
        let http = http.clone();
        let url = table(&sim);
        async move {
            let r = http
                .get(url)
                .basic_auth(USER, Some(PASSWORD))
                .query(&[("sysparm_query", q), ("sysparm_fields", "correlation_id")])
                .send()
                .await
                .unwrap();
            let v: Value = r.json().await.unwrap();
            v["result"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["correlation_id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        ids("correlation_idSTARTSWITHmegaflex:^ORDERBYDESCcorrelation_id").await,
        ["megaflex:b:1", "megaflex:a:1"]
    );
    assert_eq!(ids("correlation_idLIKEb:^active=true").await, ["megaflex:b:1"]);
    assert_eq!(ids("urgencyIN1,2^ORDERBYurgency").await, ["megaflex:b:1", "other:c"]);
    assert_eq!(
        ids("close_codeISEMPTY^correlation_id!=other:c^ORDERBYcorrelation_id").await,
        ["megaflex:a:1", "megaflex:b:1"]
    );
    assert_eq!(ids("urgency=3^ORurgency=2^active=true^ORDERBYcorrelation_id").await, ["megaflex:a:1", "other:c"]);
    assert_eq!(ids("correlation_id=other:c^NQurgency=1^ORDERBYDESCcorrelation_id").await, ["other:c", "megaflex:b:1"]);
    assert_eq!(ids("urgency=9^ORurgency=8").await, Vec::<String>::new());

    // DELETE: 204 without a body, then 404.
    let r = http
        .get(table(&sim))
        .basic_auth(USER, Some(PASSWORD))
        .query(&[("sysparm_query", "correlation_id=other:c"), ("sysparm_fields", "sys_id")])
        .send()
        .await
        .unwrap();
    let sys_id = r.json::<Value>().await.unwrap()["result"][0]["sys_id"].as_str().unwrap().to_owned();
    let one = format!("{}/{sys_id}", table(&sim));
    let r = http.delete(&one).basic_auth(USER, Some(PASSWORD)).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert!(r.bytes().await.unwrap().is_empty());
    let r = http.delete(&one).basic_auth(USER, Some(PASSWORD)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(ids("correlation_id=other:c").await.is_empty());
}

/// requests-oauthlib (pysnc's OAuth) sends the client's credentials in HTTP
/// Basic, as RFC 6749 section 2.3.1 has every server accept.
#[tokio::test]
async fn oauth_token_accepts_client_credentials_in_basic_auth() {
    use megaflex_sim::{DEFAULT_SERVICENOW_CLIENT_ID as ID, DEFAULT_SERVICENOW_CLIENT_SECRET as SECRET};
    let sim = sim().await;
    let http = http();
    let url = format!("{}/oauth_token.do", sim.base_url());
    let form = [("grant_type", "password"), ("username", USER), ("password", PASSWORD)];
    let r = http.post(&url).basic_auth(ID, Some(SECRET)).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let token: Value = r.json().await.unwrap();
    let access = token["access_token"].as_str().unwrap();
    let r = http.get(table(&sim)).bearer_auth(access).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = http.post(&url).basic_auth(ID, Some("wrong")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "access_denied");
}
