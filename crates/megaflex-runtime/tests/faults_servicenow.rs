//! ServiceNow faults (issue 15, item 8), injected by the real simulator over
//! loopback: one 401 or an OAuth outage never loses an incident, a refusal
//! of the request is recorded and the others go on, an unreadable outbox row
//! blocks nothing, a create whose answer was lost is looked up rather than
//! sent again, `Retry-After` as an HTTP date is honoured, and a server that
//! never answers cannot hang the simulator-clock fetch.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::temp_dir;
use megaflex_domain::incident::{OpenIncident, OutboxItem, OutboxPayload};
use megaflex_runtime::clock::EngineClock;
use megaflex_runtime::outbox::{Deliverer, OutboxStats};
use megaflex_sim::{
    DEFAULT_SERVICENOW_CLIENT_ID as CLIENT_ID, DEFAULT_SERVICENOW_CLIENT_SECRET as SECRET,
    DEFAULT_SERVICENOW_PASSWORD as PASSWORD, DEFAULT_SERVICENOW_USER as USER, SimConfig, SimHandle,
};
use megaflex_store::{self as store, Record, Store};
use megaport::types::EpochMillis;
use serde_json::{Map, Value, json};
use servicenow_table::{OAuthClient, ServiceNowClient};
use tokio_util::sync::CancellationToken;

async fn sim() -> SimHandle {
    megaflex_sim::spawn(SimConfig { clock_scale: 0.0, ..SimConfig::default() }).await.unwrap()
}

async fn fault(sim: &SimHandle, body: Value) {
    let r =
        megaflex_http::bare_client().post(format!("{}/_sim/faults", sim.base_url())).json(&body).send().await.unwrap();
    assert!(r.status().is_success(), "{body}: {}", r.text().await.unwrap());
}

fn fields() -> Map<String, Value> {
    json!({"short_description": "megaflex: link down", "impact": "2", "urgency": "2"}).as_object().unwrap().clone()
}

fn client(sim: &SimHandle) -> ServiceNowClient {
    let mut c = ServiceNowClient::new(&sim.base_url(), USER, PASSWORD.to_owned().into());
    c.retry.initial_backoff = Duration::from_millis(20);
    c
}

fn oauth_client(sim: &SimHandle) -> ServiceNowClient {
    client(sim).with_oauth(OAuthClient { client_id: CLIENT_ID.into(), client_secret: SECRET.to_owned().into() })
}

fn incidents(sim: &SimHandle) -> Vec<Map<String, Value>> {
    sim.state().servicenow_incidents().0
}

#[tokio::test]
async fn a_5xx_from_the_oauth_token_endpoint_is_retried() {
    let sim = sim().await;
    fault(&sim, json!({"path_prefix": "/oauth_token.do", "status": 503, "count": 2})).await;
    let (inc, created) = oauth_client(&sim).upsert("megaflex:c:1", &fields()).await.expect("retried past the outage");
    assert!(created && !inc.sys_id.is_empty());
    assert_eq!(incidents(&sim).len(), 1);
    assert_eq!(sim.state().stats().faults_injected, 2, "both failures were seen and retried");
    // A create whose token could not be had never left: retried, not
    // treated as ambiguous.
    fault(&sim, json!({"path_prefix": "/oauth_token.do", "status": 502, "count": 1})).await;
    oauth_client(&sim).create(&fields()).await.expect("retried after the token endpoint failed");
    assert_eq!(incidents(&sim).len(), 2);
}

#[tokio::test]
async fn a_401_is_retried_with_renewed_credentials() {
    let sim = sim().await;
    // Basic auth: the directory behind the instance refused once.
    fault(&sim, json!({"method": "GET", "path_prefix": "/api/now/", "status": 401, "count": 1})).await;
    let (_, created) = client(&sim).upsert("megaflex:c:1", &fields()).await.expect("a single 401 is not final");
    assert!(created);
    // OAuth: two 401s in a row (the token renewed at once is refused too).
    fault(&sim, json!({"method": "GET", "path_prefix": "/api/now/", "status": 401, "count": 2})).await;
    let sn = oauth_client(&sim);
    let (_, created) = sn.upsert("megaflex:c:2", &fields()).await.expect("renewed and retried");
    assert!(created);
    assert_eq!(incidents(&sim).len(), 2);
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_looked_up_not_sent_again() {
    let sim = sim().await;
    // The incident is created, the client sees a 503 (then, separately, a reset).
    fault(
        &sim,
        json!({"method": "POST", "path_prefix": "/api/now/", "status": 503, "after_processing": true, "count": 1}),
    )
    .await;
    let sn = client(&sim);
    let (inc, created) = sn.upsert("megaflex:c:1", &fields()).await.unwrap();
    assert!(!created, "the incident the lost answer created was found");
    let all = incidents(&sim);
    assert_eq!(all.len(), 1, "one incident, not two: {all:?}");
    assert_eq!(all[0]["sys_id"], inc.sys_id.as_str());
    // A bare create is never re-sent after an ambiguous failure either.
    fault(
        &sim,
        json!({"method": "POST", "path_prefix": "/api/now/", "status": 502, "after_processing": true, "count": 1}),
    )
    .await;
    let err = sn.create(&fields()).await.unwrap_err();
    assert!(err.is_ambiguous(), "{err}");
    assert_eq!(incidents(&sim).len(), 2, "the create was made once and not repeated");
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_honoured() {
    let sim = sim().await;
    fault(
        &sim,
        json!({"method": "GET", "path_prefix": "/api/now/", "status": 429, "retry_after_secs": 3,
               "retry_after_http_date": true, "count": 1}),
    )
    .await;
    let started = Instant::now();
    client(&sim).find_active("megaflex:c:1").await.unwrap();
    // The date has one-second resolution: at least 2 s of the 3 remain.
    assert!(started.elapsed() >= Duration::from_secs(2), "waited {:?}", started.elapsed());
}

/// A store with `items` in its outbox and a deliverer over it, as the engine
/// runs one (no retries inside the client: the outbox retries).
async fn deliverer(sim: &SimHandle, tag: &str) -> (Arc<dyn Store>, Deliverer, Arc<OutboxStats>, std::path::PathBuf) {
    let dir = temp_dir(tag);
    let db = dir.join("megaflex.db");
    let store = store::open(&format!("sqlite://{}", db.display())).await.unwrap();
    let mut sn = client(sim);
    sn.retry.max_retries = 0;
    let stats = Arc::new(OutboxStats::default());
    let d = Deliverer {
        client: sn,
        store: store.clone(),
        fields: fields(),
        close_code: "Solution provided".into(),
        pricing: None,
        clock: Arc::new(EngineClock::system()),
        wake: Arc::default(),
        stats: stats.clone(),
    };
    (store, d, stats, db)
}

fn open(cid: &str) -> Record {
    Record::Outbox(OutboxItem {
        correlation_id: cid.into(),
        circuit: "c".into(),
        episode: 1,
        payload: OutboxPayload::Open(OpenIncident {
            description: format!("{cid} went down"),
            short_description: format!("{cid} down"),
        }),
        at: EpochMillis::now(),
    })
}

async fn wait_until(what: &str, mut cond: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn one_401_does_not_lose_the_incident() {
    let sim = sim().await;
    let (store, d, stats, _db) = deliverer(&sim, "sn-401").await;
    store.write(vec![open("megaflex:c:1")]).await.unwrap();
    fault(&sim, json!({"path_prefix": "/api/now/", "status": 401, "count": 1})).await;
    let stop = CancellationToken::new();
    let task = tokio::spawn(d.run(stop.clone()));
    wait_until("the incident opened", async || store.incident("megaflex:c:1").await.unwrap().is_some()).await;
    stop.cancel();
    task.await.unwrap();
    assert_eq!(incidents(&sim).len(), 1);
    assert_eq!(stats.failed.load(Ordering::Relaxed), 0, "a 401 is not a refusal of the incident");
    assert!(stats.auth_failures.load(Ordering::Relaxed) >= 1, "and it is counted");
    assert!(store.failed_outbox(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_refusal_is_recorded_and_an_unreadable_row_blocks_nothing() {
    let sim = sim().await;
    let (store, d, stats, db) = deliverer(&sim, "sn-refused").await;
    store.write(vec![open("megaflex:c:1"), open("megaflex:c:2"), open("megaflex:c:3")]).await.unwrap();
    // Row 1 becomes unreadable (written by hand, or by another version).
    let pool = common::db(&db).await;
    sqlx::query("UPDATE servicenow_outbox SET kind = 'bogus', payload = '{not json' WHERE id = 1")
        .execute(&pool)
        .await
        .unwrap();
    // c:2's create is refused with a reason; c:3 goes on.
    fault(
        &sim,
        json!({"method": "POST", "path_prefix": "/api/now/", "status": 400, "count": 1,
               "message": "Invalid value for field category: nosuch"}),
    )
    .await;
    let stop = CancellationToken::new();
    let task = tokio::spawn(d.run(stop.clone()));
    wait_until("c:3 opened", async || store.incident("megaflex:c:3").await.unwrap().is_some()).await;
    wait_until("c:2 refused", async || stats.failed.load(Ordering::Relaxed) == 1).await;
    stop.cancel();
    task.await.unwrap();
    assert_eq!(incidents(&sim).len(), 1, "only c:3 was created");
    let failed = store.failed_outbox(10).await.unwrap();
    assert_eq!(failed.len(), 2, "{failed:?}");
    let refused = failed.iter().find(|f| f.correlation_id == "megaflex:c:2").unwrap();
    assert!(refused.error.contains("Invalid value for field category"), "{refused:?}");
    let unreadable = failed.iter().find(|f| f.id == 1).unwrap();
    assert!(unreadable.error.contains("unreadable"), "{unreadable:?}");
    assert_eq!(store.outbox_pending_count().await.unwrap(), 0);
}

#[tokio::test]
async fn a_payload_missing_a_field_is_set_aside_with_why_not_sent_empty() {
    let path = temp_dir("sn-payload").join("megaflex.db");
    let store = store::open(&format!("sqlite://{}", path.display())).await.unwrap();
    store.write(vec![open("megaflex:c:1"), open("megaflex:c:2")]).await.unwrap();
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    let stored: String =
        sqlx::query_scalar("SELECT payload FROM servicenow_outbox WHERE id = 2").fetch_one(&pool).await.unwrap();
    assert_eq!(stored, r#"{"description":"megaflex:c:2 went down","short_description":"megaflex:c:2 down"}"#);
    // A note whose text is under a misspelt key: before, an empty work note.
    sqlx::query("UPDATE servicenow_outbox SET kind = 'note', payload = '{\"work_note\":\"typo\"}' WHERE id = 1")
        .execute(&pool)
        .await
        .unwrap();
    let pending = store.pending_outbox(10).await.unwrap();
    assert_eq!(pending.iter().map(|r| r.id).collect::<Vec<_>>(), [2], "the good row still goes");
    let failed = store.failed_outbox(10).await.unwrap();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].error.contains("note payload: missing field `work_notes`"), "{failed:?}");
}

#[tokio::test]
async fn the_simulator_clock_fetch_has_a_timeout() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let settings = megaport::HttpSettings::default().timeout(Duration::from_millis(500));
    let started = Instant::now();
    let result =
        tokio::time::timeout(Duration::from_secs(10), EngineClock::simulator(&format!("http://{addr}"), &settings))
            .await
            .expect("the fetch gave up by itself");
    let err = result.unwrap_err().to_string();
    assert!(err.contains("timed out") || err.contains("timeout"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    silent.abort();
}
