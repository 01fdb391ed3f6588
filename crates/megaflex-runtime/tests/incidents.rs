//! The ServiceNow incident lifecycle: the engine on the simulator with its
//! Table API emulator, over loopback. One incident per episode that tells
//! the story in work notes and is resolved with a summary; ServiceNow being
//! down or throttling never delays the bandwidth change and loses nothing.

mod common;

use std::sync::{Arc, Mutex, OnceLock};

use common::*;
use megaflex_runtime::Daemon;
use megaflex_sim::{DEFAULT_SERVICENOW_PASSWORD as PASSWORD, DEFAULT_SERVICENOW_USER as USER, SimHandle};
use serde_json::{Map, Value};
use servicenow_table::ServiceNowClient;

const CID1: &str = "megaflex:bne-mel-backup:1";

/// Everything the engine logs in this test binary.
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        let writer = move || LogSink(sink.clone());
        let _ = tracing_subscriber::fmt()
            .with_writer(writer)
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .try_init();
        buf
    })
    .clone()
}

struct LogSink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogSink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn with_servicenow(toml: ConfigToml, sim: &SimHandle) -> ConfigToml {
    toml.servicenow(&sim.base_url())
        .servicenow_key("assignment_group", quoted("Network Operations"))
        .servicenow_key("caller_id", quoted("megaflex.automation"))
        .servicenow_key("category", quoted("network"))
        .servicenow_key("impact", 1)
        .servicenow_key("urgency", 2)
        .servicenow_key("close_code", quoted("Solved (Permanently)"))
}

async fn start_with_servicenow(sim: &SimHandle, db: &std::path::Path) -> Daemon {
    let toml = with_servicenow(scenario(sim, db).map_circuits(CircuitToml::incident), sim);
    let config = compile("incidents.toml", &toml);
    let mut options = options();
    options.servicenow = Some(ServiceNowClient::new(&sim.base_url(), USER, PASSWORD.to_owned().into()));
    megaflex_runtime::start(config, options).await.unwrap()
}

fn incidents(sim: &SimHandle) -> Vec<Map<String, Value>> {
    sim.state().servicenow_incidents().0
}

/// The work notes of incident `sys_id`, in order, without their timestamps.
fn notes(sim: &SimHandle, sys_id: &str) -> Vec<String> {
    let (_, journal) = sim.state().servicenow_incidents();
    journal
        .iter()
        .filter(|j| j.element_id == sys_id && j.element == "work_notes")
        .map(|j| j.value.split_once("] ").map_or(j.value.clone(), |(_, t)| t.to_owned()))
        .map(|t| t.split_once(':').map_or(t.clone(), |(head, _)| head.to_owned()))
        .collect()
}

fn field<'a>(inc: &'a Map<String, Value>, k: &str) -> &'a str {
    inc.get(k).and_then(Value::as_str).unwrap_or_default()
}

async fn fault(sim: &SimHandle, body: &str) {
    let r =
        megaflex_http::bare_client().post(format!("{}/_sim/faults", sim.base_url())).body(body.to_owned()).send().await;
    let r = r.unwrap();
    assert!(r.status().is_success(), "{body}: {}", r.text().await.unwrap());
}

async fn clear_faults(sim: &SimHandle) {
    megaflex_http::bare_client().delete(format!("{}/_sim/faults", sim.base_url())).send().await.unwrap();
}

/// Link down, hold-down over, boost confirmed.
async fn fail_primary(sim: &SimHandle, d: &Daemon, seq: u32) {
    let confirmed = count_decisions(d, "confirmed");
    send(syslog_addr(d), &cisco_line(seq, "down")).await;
    wait_for("hold-down", || d.status.borrow().circuits[0].pending.is_some()).await;
    advance(sim, 31.0);
    wait_for("boost confirmed", || count_decisions(d, "confirmed") > confirmed).await;
}

/// Link up, hold-up over, restore confirmed.
async fn recover_primary(sim: &SimHandle, d: &Daemon, seq: u32) {
    let confirmed = count_decisions(d, "confirmed");
    send(syslog_addr(d), &cisco_line(seq, "up")).await;
    wait_for("hold-up", || d.status.borrow().circuits[0].pending.is_some()).await;
    advance(sim, 601.0);
    wait_for("restore confirmed", || count_decisions(d, "confirmed") > confirmed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_incident_per_episode_tells_the_story_and_is_resolved_with_a_summary() {
    let logs = logs();
    let sim = sim().await;
    let dir = temp_dir("incident");
    let db_path = dir.join("megaflex.db");
    let d = start_with_servicenow(&sim, &db_path).await;
    wait_ready(&d).await;

    fail_primary(&sim, &d, 1).await;
    wait_for("the incident", || incidents(&sim).len() == 1).await;
    let inc = incidents(&sim).remove(0);
    assert_eq!(field(&inc, "number"), "INC0010001");
    assert_eq!(field(&inc, "correlation_id"), CID1);
    assert_eq!(field(&inc, "impact"), "1");
    assert_eq!(field(&inc, "urgency"), "2");
    assert_eq!(field(&inc, "assignment_group"), "Network Operations");
    assert_eq!(field(&inc, "caller_id"), "megaflex.automation");
    assert_eq!(field(&inc, "category"), "network");
    let short = field(&inc, "short_description");
    assert!(
        short.contains("bne-mel-primary down") && short.contains(&format!("{VXC} raised 10 -> 500 Mbps")),
        "{short}"
    );
    let sys_id = field(&inc, "sys_id").to_owned();

    recover_primary(&sim, &d, 2).await;
    wait_for("the resolution", || field(&incidents(&sim)[0], "state") == "6").await;
    let inc = incidents(&sim).remove(0);
    assert_eq!(field(&inc, "close_code"), "Solved (Permanently)");
    assert_eq!(field(&inc, "active"), "false");
    let close = field(&inc, "close_notes");
    assert!(close.contains("lasted 10m 0") && close.contains("2 VXC update(s)"), "{close}");
    assert!(close.contains("Estimated cost of the boost:") && close.contains("/month more at 500 Mbps"), "{close}");
    assert_eq!(
        notes(&sim, &sys_id),
        [
            "Boost decided",
            "Update requested",
            "Update confirmed",
            "Watched links up again",
            "Restore decided",
            "Update requested",
            "Update confirmed"
        ]
    );

    // The next failure (after the 5-minute rule) is a new episode and a new incident.
    advance(&sim, 300.0);
    fail_primary(&sim, &d, 3).await;
    wait_for("the second incident", || incidents(&sim).len() == 2).await;
    let second = incidents(&sim).remove(1);
    assert_eq!(
        (field(&second, "number"), field(&second, "correlation_id")),
        ("INC0010002", "megaflex:bne-mel-backup:2")
    );
    d.stop();
    d.join().await;

    let pool = db(&db_path).await;
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM incidents").await, 2);
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM incidents WHERE resolved_ms IS NOT NULL").await, 1);
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM servicenow_outbox WHERE state != 'delivered'").await, 0);
    pool.close().await;
    // The password is in no log line and nowhere in the database files.
    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(logged.contains("opened ServiceNow incident"), "logs are captured");
    assert!(!logged.contains(PASSWORD));
    for entry in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!bytes.windows(PASSWORD.len()).any(|w| w == PASSWORD.as_bytes()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servicenow_down_during_a_boost_delays_only_the_incident() {
    let sim = sim().await;
    let dir = temp_dir("incident-down");
    let db_path = dir.join("megaflex.db");
    let d = start_with_servicenow(&sim, &db_path).await;
    wait_ready(&d).await;
    fault(&sim, r#"{"path_prefix": "/api/now/", "status": 503, "retry_after_secs": 1, "fraction": 1.0}"#).await;

    let before_ms = sim.state().now().as_millis();
    fail_primary(&sim, &d, 1).await;
    // On time: the boost was applied at the end of the hold-down, in
    // simulated time, while every ServiceNow call failed.
    let update = sim.state().stats().updates[0].clone();
    assert_eq!(update.rate_limit, Some(500));
    assert!(update.at - before_ms <= 31_000, "boost at the end of the hold-down");
    // Several simulated minutes of ServiceNow being down, the outbox trying
    // in each of them (a try is refused with a 503 the simulator counts).
    for _ in 0..5 {
        let refused = sim.state().stats().faults_injected;
        advance(&sim, 60.0);
        wait_settled(&d, &sim).await;
        wait_for("a refused ServiceNow call", || sim.state().stats().faults_injected > refused).await;
    }
    assert!(incidents(&sim).is_empty());
    let pool = db(&db_path).await;
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM servicenow_outbox WHERE state = 'pending'").await, 4);
    assert!(count(&pool, "SELECT MAX(attempts) FROM servicenow_outbox").await >= 1);

    clear_faults(&sim).await;
    wait_for("the incident with every note", || {
        incidents(&sim).first().is_some_and(|i| notes(&sim, field(i, "sys_id")).len() == 3)
    })
    .await;
    let inc = incidents(&sim).remove(0);
    assert_eq!(notes(&sim, field(&inc, "sys_id")), ["Boost decided", "Update requested", "Update confirmed"]);
    // The last delivery is recorded just after ServiceNow has it.
    wait_for("the outbox drained", || {
        block_on(count(&pool, "SELECT COUNT(*) FROM servicenow_outbox WHERE state = 'pending'")) == 0
    })
    .await;
    d.stop();
    d.join().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_a_lost_answer_still_make_exactly_one_incident() {
    let sim = sim().await;
    let dir = temp_dir("incident-429");
    let db_path = dir.join("megaflex.db");
    let d = start_with_servicenow(&sim, &db_path).await;
    wait_ready(&d).await;
    // The create is made but its answer is lost, then two 429s.
    fault(
        &sim,
        r#"{"method": "POST", "path_prefix": "/api/now/", "status": 503, "after_processing": true, "count": 1}"#,
    )
    .await;
    fault(&sim, r#"{"method": "GET", "path_prefix": "/api/now/", "status": 429, "retry_after_secs": 1, "count": 2}"#)
        .await;
    fail_primary(&sim, &d, 1).await;
    wait_for("the notes", || incidents(&sim).first().is_some_and(|i| notes(&sim, field(i, "sys_id")).len() == 3)).await;
    assert_eq!(incidents(&sim).len(), 1, "the retry found the incident the lost answer created");
    d.stop();
    d.join().await;

    // A crash between the create and recording it: the entry is pending
    // again at the next start, and the upsert finds the open incident.
    let pool = db(&db_path).await;
    sqlx::query("UPDATE servicenow_outbox SET state = 'pending' WHERE kind = 'open'").execute(&pool).await.unwrap();
    sqlx::query("DELETE FROM incidents").execute(&pool).await.unwrap();
    let d = start_with_servicenow(&sim, &db_path).await;
    wait_for("the open entry delivered again", || block_on(count(&pool, "SELECT COUNT(*) FROM incidents")) == 1).await;
    assert_eq!(incidents(&sim).len(), 1, "still one incident");
    d.stop();
    d.join().await;
}

/// `wait_for` takes a plain closure; this reads the store from inside one.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}
