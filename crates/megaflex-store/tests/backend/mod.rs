//! The stores the conformance suite runs on: SQLite in a temporary file, and
//! PostgreSQL in a database of its own per test (`megaflex_t_<pid>_<n>`,
//! created through the `postgres` maintenance database at 127.0.0.1:5432 and
//! dropped when the backend is dropped, a failed test included).
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use megaflex_store::{OpenOptions, Store};
use sqlx::Connection;

static N: AtomicU32 = AtomicU32::new(0);

#[path = "../../../../testing/peers.rs"]
mod peers;
#[path = "../../../../testing/postgres.rs"]
mod postgres;

/// One store kind, with the database it made.
#[derive(Debug)]
pub enum Backend {
    /// `sqlite://<dir>/megaflex.db`.
    Sqlite { dir: PathBuf },
    /// A database of its own.
    Postgres(postgres::TestDb),
}

impl Backend {
    pub fn sqlite() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "megaflex-conformance-{}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self::Sqlite { dir }
    }

    /// A fresh PostgreSQL database, or `None` (said in one line) when no
    /// PostgreSQL answers; with `MEGAFLEX_REQUIRE_PEERS=1` that fails instead.
    pub async fn postgres() -> Option<Self> {
        postgres::TestDb::create().await.map(Self::Postgres)
    }

    /// The store's URL.
    pub fn url(&self) -> String {
        match self {
            Self::Sqlite { dir } => format!("sqlite://{}", dir.join("megaflex.db").display()),
            Self::Postgres(db) => db.url(),
        }
    }

    /// Opens the store (again: the same database each time).
    pub async fn open(&self) -> Arc<dyn Store> {
        megaflex_store::open_with(&self.url(), &OpenOptions::default()).await.unwrap()
    }

    /// Runs `sql` straight on the database, beside the store.
    pub async fn exec(&self, sql: &str) {
        match self {
            Self::Sqlite { .. } => {
                let mut c = sqlx::SqliteConnection::connect(&self.url()).await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut c).await.unwrap();
                c.close().await.unwrap();
            }
            Self::Postgres(db) => {
                let mut c = sqlx::PgConnection::connect(&db.url()).await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut c).await.unwrap();
                c.close().await.unwrap();
            }
        }
    }

    /// `SELECT COUNT(*)` of `table`, read beside the store.
    pub async fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        match self {
            Self::Sqlite { .. } => {
                let mut c = sqlx::SqliteConnection::connect(&self.url()).await.unwrap();
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone())).fetch_one(&mut c).await.unwrap()
            }
            Self::Postgres(db) => {
                let mut c = sqlx::PgConnection::connect(&db.url()).await.unwrap();
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone())).fetch_one(&mut c).await.unwrap()
            }
        }
    }

    /// Makes the database itself refuse an insert into `table` whose
    /// `column` is `value` (a trigger), so a batch can fail half-way.
    pub async fn refuse_insert(&self, table: &str, column: &str, value: &str) {
        let sql = match self {
            Self::Sqlite { .. } => format!(
                "CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} WHEN NEW.{column} = '{value}' \
                 BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            ),
            Self::Postgres(_) => format!(
                "CREATE FUNCTION refuse_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                 IF NEW.{column} = '{value}' THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$; \
                 CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION refuse_{table}()"
            ),
        };
        self.exec(&sql).await;
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        match self {
            Self::Sqlite { dir } => {
                let _ = std::fs::remove_dir_all(dir);
            }
            // The database is dropped with its TestDb.
            Self::Postgres(_) => {}
        }
    }
}

/// Runs each named test (an `async fn(&Backend)`) once per store kind:
/// `<name>::sqlite` and `<name>::postgres`.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let backend = crate::backend::Backend::sqlite();
                super::$name(&backend).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(backend) = crate::backend::Backend::postgres().await {
                    super::$name(&backend).await;
                }
            }
        }
    )*};
}
