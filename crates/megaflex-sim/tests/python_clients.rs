//! The ServiceNow emulator against the clients administrators really run:
//! pysnow (plain HTTP) and ServiceNow's own pysnc (HTTPS only, Basic and
//! OAuth, against the simulator serving HTTPS itself, as `megaflex sim --tls`
//! does, with its generated CA given to pysnc). The Python scripts in
//! `tests/py/` print what the client saw; this file checks it and the
//! emulator's own state. Skipped when python3, pysnow or pysnc is missing,
//! unless MEGAFLEX_REQUIRE_PEERS=1 (CI).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use megaflex_sim::{
    DEFAULT_SERVICENOW_CLIENT_ID, DEFAULT_SERVICENOW_CLIENT_SECRET, DEFAULT_SERVICENOW_PASSWORD as PASSWORD,
    DEFAULT_SERVICENOW_USER as USER, SimConfig,
};
use serde_json::{Value, json};

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py").join(name)
}

/// Runs a script off the runtime's threads (the simulator answers it) and
/// returns the JSON object it printed.
async fn run_python(args: Vec<String>, env: Vec<(&'static str, String)>) -> Value {
    let out = tokio::task::spawn_blocking(move || Command::new("python3").args(&args).envs(env).output())
        .await
        .unwrap()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "python failed ({}):\n{stderr}\n{stdout}", out.status);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: not JSON:\n{stdout}\n{stderr}"))
}

async fn sim() -> megaflex_sim::SimHandle {
    megaflex_sim::spawn(SimConfig { clock_scale: 0.0, ..SimConfig::default() }).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pysnow_creates_finds_notes_and_resolves() {
    if !common::python_peer("pysnow", "pip install pysnow") {
        return;
    }
    let sim = sim().await;
    let cid = "megaflex:bne-mel-backup:1";
    let args = vec![
        script("pysnow_client.py").display().to_string(),
        sim.addr().to_string(),
        USER.into(),
        PASSWORD.into(),
        cid.into(),
    ];
    let seen = run_python(args, vec![]).await;

    assert_eq!(seen["created"]["number"], "INC0010001");
    assert_eq!(seen["created"]["priority"], "3", "impact 2 x urgency 2 -> 3 (Moderate)");
    let sys_id = seen["created"]["sys_id"].as_str().unwrap();
    assert_eq!(seen["found"]["sys_id"], sys_id);
    assert!(seen["found"]["fields"].as_u64().unwrap() >= 80, "every field: {}", seen["found"]);
    assert_eq!(seen["found"]["description"], "");
    assert_eq!(
        seen["display"],
        json!({"state": "New", "urgency": "2 - Medium", "impact": "2 - Medium", "priority": "3 - Moderate", "category": "Network"})
    );
    assert_eq!(seen["journal"], json!(["pysnow: boost confirmed"]));
    assert_eq!(seen["refused"]["status"], 403);
    assert_eq!(seen["refused"]["error"]["message"], "Operation Failed");
    assert!(seen["refused"]["error"]["detail"].as_str().unwrap().contains("Data Policy Exception"));
    // A pysnow resource keeps `display_value=True` from the read above for
    // its later calls, so the update's answer shows display values.
    assert_eq!(
        seen["resolved"],
        json!({"state": "Resolved", "active": "false", "close_code": "Solution provided", "close_notes": "pysnow: restored to 10 Mbps"})
    );
    assert_eq!(seen["still_active"], 0);
    assert_eq!(seen["wrong_password"], 401);

    let (incidents, journal) = sim.state().servicenow_incidents();
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0]["state"], "6");
    assert_eq!(journal.len(), 1);
    assert_eq!((journal[0].element.as_str(), journal[0].element_id.as_str()), ("work_notes", sys_id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pysnc_over_https_creates_finds_notes_and_resolves() {
    if !common::python_peer("pysnc, requests_oauthlib", "pip install pysnc requests-oauthlib") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("megaflex-pysnc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let identity = megaflex_sim::TlsIdentity::generate().unwrap();
    let ca = dir.join("sim-ca.pem");
    std::fs::write(&ca, identity.ca_pem.as_deref().expect("a generated identity has its CA")).unwrap();

    let sim = megaflex_sim::spawn_tls(SimConfig { clock_scale: 0.0, ..SimConfig::default() }, &identity).await.unwrap();
    let cid = "megaflex:bne-mel-backup:7";
    let args = vec![
        script("pysnc_client.py").display().to_string(),
        sim.base_url(),
        USER.into(),
        PASSWORD.into(),
        cid.into(),
        DEFAULT_SERVICENOW_CLIENT_ID.into(),
        DEFAULT_SERVICENOW_CLIENT_SECRET.into(),
    ];
    // The private CA reaches pysnc the way a user's would: through requests.
    let seen = run_python(args, vec![("REQUESTS_CA_BUNDLE", ca.display().to_string())]).await;
    let _ = std::fs::remove_dir_all(&dir);

    assert!(seen["instance"].as_str().unwrap().starts_with("https://127.0.0.1:"));
    assert_eq!(seen["found"], 1);
    assert_eq!(
        seen["display"],
        json!({"state": "New", "urgency": "2 - Medium", "impact": "2 - Medium", "priority": "3 - Moderate"})
    );
    assert_eq!(seen["value"], json!({"state": "1", "urgency": "2", "priority": "3", "number": "INC0010001"}));
    assert_eq!(seen["journal"], json!(["pysnc: boost confirmed"]), "the work note was sent and landed");
    let refused = seen["refused"].as_str().unwrap_or_default();
    assert!(refused.starts_with("RoleException") && refused.contains("Data Policy Exception"), "{refused}");
    assert_eq!(
        seen["resolved"],
        json!({"state": "Resolved", "active": "false", "close_code": "Solution provided", "close_notes": "pysnc: restored to 10 Mbps"})
    );
    let wrong = seen["wrong_password"].as_str().unwrap_or_default();
    assert!(wrong.contains("User Not Authenticated"), "{wrong}");
    assert_eq!(seen["oauth_found"], json!(["INC0010001"]), "pysnc's OAuth password grant works too");

    let (incidents, journal) = sim.state().servicenow_incidents();
    assert_eq!(incidents.len(), 1);
    let inc = &incidents[0];
    assert_eq!(inc["sys_id"], seen["sys_id"]);
    assert_eq!((inc["correlation_id"].as_str(), inc["state"].as_str()), (Some(cid), Some("6")));
    assert_eq!(journal.iter().map(|j| j.value.as_str()).collect::<Vec<_>>(), ["pysnc: boost confirmed"]);
}
