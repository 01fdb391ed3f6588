//! `megaflex status` lists the ServiceNow calls refused for good, with
//! ServiceNow's reason, so an operator sees the incident that was not made.

mod common;

use megaflex_domain::incident::{OpenIncident, OutboxItem, OutboxPayload};
use megaflex_store::{self as store, OutboxOutcome, Record};
use megaport::types::EpochMillis;

#[tokio::test]
async fn status_lists_refused_servicenow_calls_with_the_reason() {
    let dir = common::temp_dir("status-outbox");
    let db = dir.join("megaflex.db");
    let store = store::open(&format!("sqlite://{}", db.display())).await.unwrap();
    let item = OutboxItem {
        correlation_id: "megaflex:bne-mel-backup:3".into(),
        circuit: "bne-mel-backup".into(),
        episode: 3,
        payload: OutboxPayload::Open(OpenIncident { description: "down".into(), short_description: "down".into() }),
        at: EpochMillis::now(),
    };
    store.write(vec![Record::Outbox(item)]).await.unwrap();
    let id = store.pending_outbox(10).await.unwrap()[0].id;
    let reason = "ServiceNow 400: Invalid value for field category (nosuch)";
    store.outbox_settled(id, OutboxOutcome::Failed(reason.into()), EpochMillis::now()).await.unwrap();
    drop(store);

    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/megaflex.toml");
    let text = std::fs::read_to_string(example)
        .unwrap()
        .replace("url = \"sqlite://megaflex.db\"", &format!("url = \"sqlite://{}\"", db.display()));
    let config = dir.join("megaflex.toml");
    std::fs::write(&config, text).unwrap();
    let run = |json: bool| {
        let mut c = common::megaflex();
        c.args(["status", "--config"]).arg(&config).env("HOME", &dir).env("NO_COLOR", "1");
        if json {
            c.args(["-o", "json"]);
        }
        c.output().unwrap()
    };
    let out = run(false);
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{table}{}", String::from_utf8_lossy(&out.stderr));
    assert!(table.contains("refused for good") && table.contains("Invalid value for field category"), "{table}");
    assert!(table.contains("megaflex:bne-mel-backup:3"), "{table}");
    let out = run(true);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let failed = &v["servicenow_outbox_failed"][0];
    assert_eq!(failed["kind"], "open");
    assert_eq!(failed["error"], reason);
    let _ = std::fs::remove_dir_all(&dir);
}
