//! The daemon on a PostgreSQL store: the boost scenario of `scenarios.rs`
//! with `[store] url = "postgres://..."`, and the decision, intent, ledger
//! and call rows read back from PostgreSQL. Needs PostgreSQL at
//! 127.0.0.1:5432 (trust auth): skipped with one line when it is absent,
//! failed instead with `MEGAFLEX_REQUIRE_PEERS=1`.

mod common;

use common::postgres::TestDb;
use common::*;
use sqlx::Connection;

/// The scenario's configuration with its store on PostgreSQL.
fn pg_config(sim: &megaflex_sim::SimHandle, url: &str) -> ConfigToml {
    scenario(sim, std::path::Path::new("/nonexistent/megaflex.db")).store_key("url", quoted(url))
}

async fn count(pg: &mut sqlx::PgConnection, sql: &'static str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql).fetch_one(&mut *pg).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_on_postgres_boosts_and_records_the_decision_and_the_ledger_there() {
    let Some(db) = TestDb::create().await else { return };
    let sim = sim().await;
    let d = start(&pg_config(&sim, &db.url())).await;
    wait_ready(&d).await;
    send(syslog_addr(&d), &cisco_line(1, "down")).await;
    wait_for("hold-down", || has_decision(&d, "hold_down")).await;
    advance(&sim, 31.0);
    wait_for("boost confirmed", || has_decision(&d, "confirmed")).await;
    assert_eq!(update_rates(&sim), vec![500]);
    assert_eq!(breaches(&sim), 0);

    // A second daemon on the same database is refused, naming the first.
    let config = compile("second.toml", &pg_config(&sim, &db.url()));
    let Err(refused) = megaflex_runtime::start(config, options()).await else {
        panic!("a second daemon on the same database must be refused");
    };
    let text = refused.to_string();
    assert!(text.contains("in use") && text.contains(&format!("pid {}", std::process::id())), "{text}");
    d.stop();
    d.join().await;

    let mut pg = sqlx::PgConnection::connect(&db.url()).await.unwrap();
    let reason: String =
        sqlx::query_scalar("SELECT reason FROM decisions WHERE action = 'boost'").fetch_one(&mut pg).await.unwrap();
    assert!(reason.contains("bne-mel-primary down for 30s"), "{reason}");
    let ledger: Vec<(String, String)> =
        sqlx::query_as("SELECT vxc_uid, origin FROM updates ORDER BY id").fetch_all(&mut pg).await.unwrap();
    assert_eq!(ledger, vec![(VXC.to_owned(), "made".to_owned())]);
    assert_eq!(count(&mut pg, "SELECT COUNT(*) FROM intents WHERE state = 'confirmed'").await, 1);
    assert_eq!(count(&mut pg, "SELECT COUNT(*) FROM intents WHERE state = 'open'").await, 0);
    assert_eq!(count(&mut pg, "SELECT COUNT(*) FROM events").await, 1);
    assert_eq!(count(&mut pg, "SELECT COUNT(*) FROM link_transitions").await, 1);
    assert_eq!(count(&mut pg, "SELECT COUNT(*) FROM api_calls WHERE method = 'PUT' AND status = 200").await, 1);
    assert_eq!(count(&mut pg, "SELECT COUNT(*) FROM instance").await, 1);
    let (wanted, actual): (i64, Option<i64>) =
        sqlx::query_as("SELECT wanted_mbps, actual_mbps FROM circuit_state").fetch_one(&mut pg).await.unwrap();
    assert_eq!((wanted, actual), (500, Some(500)));
    pg.close().await.unwrap();
}

#[tokio::test]
async fn a_password_variable_that_is_not_set_is_a_configuration_error() {
    let store = megaflex_runtime::config::StoreConfig {
        url: "postgres://megaflex@127.0.0.1:5432/megaflex".into(),
        password_env: Some("MEGAFLEX_TEST_PASSWORD_NOBODY_SETS".into()),
        fsync: false,
    };
    let err = store.open().await.unwrap_err();
    assert!(err.is_config(), "{err}");
    assert!(err.to_string().contains("MEGAFLEX_TEST_PASSWORD_NOBODY_SETS"), "{err}");
}
