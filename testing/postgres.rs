//! A PostgreSQL database of a test's own, shared by the store's conformance
//! suite and the runtime's tests through `#[path]` (beside `peers.rs`, whose
//! rule it follows): created through the maintenance database at
//! 127.0.0.1:5432 as the users the machines have (trust auth;
//! `MEGAFLEX_TEST_PG_ADMIN_URL` overrides), named `megaflex_t_<pid>_<n>`, and
//! dropped when the value is dropped, a failed test included.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Connection;

static N: AtomicU32 = AtomicU32::new(0);

fn admin_urls() -> Vec<String> {
    match std::env::var("MEGAFLEX_TEST_PG_ADMIN_URL") {
        Ok(url) => vec![url],
        Err(_) => {
            vec!["postgres://root@127.0.0.1:5432/postgres".into(), "postgres://postgres@127.0.0.1:5432/postgres".into()]
        }
    }
}

/// A database made for one test.
#[derive(Debug)]
pub struct TestDb {
    /// The maintenance URL that made it.
    admin: String,
    /// Its name.
    name: String,
}

impl TestDb {
    /// A fresh database, or `None` after the peer rule's one line when no
    /// PostgreSQL answers (a failure under `MEGAFLEX_REQUIRE_PEERS=1`).
    pub async fn create() -> Option<Self> {
        {
            let mut last_error = String::new();
            for admin in admin_urls() {
                match sqlx::PgConnection::connect(&admin).await {
                    Ok(mut conn) => {
                        let name = format!("megaflex_t_{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
                        for sql in
                            [format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"), format!("CREATE DATABASE {name}")]
                        {
                            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await.unwrap();
                        }
                        let _ = conn.close().await;
                        return Some(Self { admin, name });
                    }
                    Err(e) => last_error = format!("{admin}: {e}"),
                }
            }
            let install = format!("PostgreSQL at 127.0.0.1:5432 with trust auth ({last_error})");
            super::peers::peer_present(false, "PostgreSQL", &install);
            None
        }
    }

    /// The database's URL.
    pub fn url(&self) -> String {
        format!("{}/{}", self.admin.rsplit_once('/').unwrap().0, self.name)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime (and on a panic): the database
        // is dropped from a thread with a runtime of its own. FORCE ends the
        // sessions a store left open.
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
                let mut conn = sqlx::PgConnection::connect(&admin).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                    .execute(&mut conn)
                    .await?;
                conn.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}: {dropped:?}", self.name);
        }
    }
}
