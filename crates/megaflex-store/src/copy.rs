//! `megaflex store copy`: an existing SQLite store moved into PostgreSQL,
//! row for row with its ids, idempotently (a row already there is kept),
//! and verified by counting each table on both sides.

use sqlx::sqlite::SqliteRow;
use sqlx::{Connection, PgConnection, Row};

use crate::model::StoreError;
use crate::pg::PgStore;
use crate::pg_write::text;
use crate::sqlite::SqliteStore;

/// How a column is read from SQLite and written to PostgreSQL.
#[derive(Clone, Copy)]
enum Col {
    Int,
    OptInt,
    Text,
    OptText,
    /// SQLite 0/1, PostgreSQL `BOOLEAN`.
    Bool,
    Bytes,
}

/// The tables in the order they are copied, each with its conflict key
/// (copying again keeps what is there) and whether `id` is a sequence to
/// move past the copied ids. `instance` is not copied: it names the
/// daemon holding the store, and the copy holds the target meanwhile.
/// `(table, conflict key, id is a sequence, columns)`.
type Table = (&'static str, &'static str, bool, &'static [(&'static str, Col)]);

const TABLES: &[Table] = &[
    (
        "events",
        "id",
        true,
        &[
            ("id", Col::Int),
            ("event_id", Col::Int),
            ("received_ms", Col::Int),
            ("source", Col::Text),
            ("peer", Col::OptText),
            ("device", Col::Text),
            ("kind", Col::Text),
            ("entity", Col::Text),
            ("state", Col::Text),
            ("administrative", Col::Bool),
            ("raw", Col::Text),
        ],
    ),
    (
        "link_transitions",
        "id",
        true,
        &[
            ("id", Col::Int),
            ("link", Col::Text),
            ("from_state", Col::Text),
            ("to_state", Col::Text),
            ("at_ms", Col::Int),
            ("event_id", Col::OptInt),
        ],
    ),
    (
        "decisions",
        "id",
        true,
        &[
            ("id", Col::Int),
            ("at_ms", Col::Int),
            ("circuit", Col::Text),
            ("episode", Col::Int),
            ("action", Col::Text),
            ("wanted_mbps", Col::Int),
            ("reason", Col::Text),
        ],
    ),
    (
        "api_calls",
        "id",
        true,
        &[
            ("id", Col::Int),
            ("at_ms", Col::Int),
            ("method", Col::Text),
            ("path", Col::Text),
            ("status", Col::OptInt),
            ("trace_id", Col::OptText),
            ("duration_ms", Col::Int),
            ("attempt", Col::Int),
            ("error", Col::OptText),
        ],
    ),
    ("updates", "id", true, &[("id", Col::Int), ("vxc_uid", Col::Text), ("at_ms", Col::Int), ("origin", Col::Text)]),
    (
        "intents",
        "id",
        false,
        &[
            ("id", Col::Int),
            ("circuit", Col::Text),
            ("vxc_uid", Col::Text),
            ("target_mbps", Col::Int),
            ("created_ms", Col::Int),
            ("state", Col::Text),
            ("settled_ms", Col::OptInt),
            ("note", Col::OptText),
        ],
    ),
    (
        "circuit_state",
        "circuit",
        false,
        &[
            ("circuit", Col::Text),
            ("wanted_mbps", Col::Int),
            ("pending_kind", Col::OptText),
            ("pending_at_ms", Col::OptInt),
            ("episode", Col::Int),
            ("last_set_mbps", Col::OptInt),
            ("actual_mbps", Col::OptInt),
            ("paused_reason", Col::OptText),
            ("updated_ms", Col::Int),
            ("incident_json", Col::OptText),
        ],
    ),
    (
        "link_state",
        "link",
        false,
        &[
            ("link", Col::Text),
            ("status", Col::Text),
            ("since_ms", Col::Int),
            ("signals_json", Col::Text),
            ("updated_ms", Col::Int),
        ],
    ),
    (
        "servicenow_outbox",
        "id",
        true,
        &[
            ("id", Col::Int),
            ("correlation_id", Col::Text),
            ("circuit", Col::Text),
            ("episode", Col::Int),
            ("kind", Col::Text),
            ("payload", Col::Text),
            ("created_ms", Col::Int),
            ("state", Col::Text),
            ("attempts", Col::Int),
            ("last_error", Col::OptText),
            ("done_ms", Col::OptInt),
        ],
    ),
    (
        "incidents",
        "correlation_id",
        false,
        &[
            ("correlation_id", Col::Text),
            ("circuit", Col::Text),
            ("episode", Col::Int),
            ("sys_id", Col::Text),
            ("number", Col::Text),
            ("opened_ms", Col::Int),
            ("resolved_ms", Col::OptInt),
        ],
    ),
    ("snmp_engine", "engine_id", false, &[("engine_id", Col::Bytes), ("boots", Col::Int), ("is_default", Col::Bool)]),
];

/// One table after a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCount {
    /// Table.
    pub table: &'static str,
    /// Rows in the SQLite store.
    pub source_rows: i64,
    /// Rows the copy added (0 when copied before).
    pub copied_rows: u64,
    /// Rows in PostgreSQL afterwards.
    pub target_rows: i64,
}

/// Copies every table of `from` into `to` in one transaction and counts
/// both sides. Fails, changing nothing, when a table ends with fewer rows
/// in PostgreSQL than in SQLite. The caller claims `to` first, so no daemon
/// writes there meanwhile.
pub async fn sqlite_to_postgres(from: &SqliteStore, to: &PgStore) -> Result<Vec<TableCount>, StoreError> {
    let err = |e| StoreError::new("copy", e);
    let mut conn = to.pool().acquire().await.map_err(err)?;
    let mut tx = conn.begin().await.map_err(err)?;
    let mut counts = Vec::new();
    for &(table, key, serial, cols) in TABLES {
        let names: Vec<&str> = cols.iter().map(|c| c.0).collect();
        let order = if table == "incidents" { "rowid" } else { key };
        let select = format!("SELECT {} FROM {table} ORDER BY {order}", names.join(", "));
        let rows = sqlx::query(sqlx::AssertSqlSafe(select)).fetch_all(from.pool()).await.map_err(err)?;
        let params: Vec<String> = (1..=cols.len()).map(|i| format!("${i}")).collect();
        let insert = format!(
            "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT ({key}) DO NOTHING",
            names.join(", "),
            params.join(", ")
        );
        let mut copied = 0;
        for row in &rows {
            copied += insert_row(&mut tx, &insert, cols, row).await?;
        }
        if serial {
            // Rows written after the copy must get ids after the copied ones.
            let reset = format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT MAX(id) FROM {table}), 1))"
            );
            sqlx::query(sqlx::AssertSqlSafe(reset)).execute(&mut *tx).await.map_err(err)?;
        }
        let count = format!("SELECT COUNT(*) FROM {table}");
        let target_rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count)).fetch_one(&mut *tx).await.map_err(err)?;
        let source_rows = rows.len() as i64;
        if target_rows < source_rows {
            return Err(StoreError::new(
                "copy",
                format!("{table}: {source_rows} rows in SQLite but {target_rows} in PostgreSQL; nothing copied"),
            ));
        }
        counts.push(TableCount { table, source_rows, copied_rows: copied, target_rows });
    }
    tx.commit().await.map_err(err)?;
    Ok(counts)
}

async fn insert_row(
    tx: &mut PgConnection,
    sql: &str,
    cols: &[(&str, Col)],
    row: &SqliteRow,
) -> Result<u64, StoreError> {
    let err = |e| StoreError::new("copy", e);
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
    for (i, (_, col)) in cols.iter().enumerate() {
        q = match col {
            Col::Int => q.bind(row.try_get::<i64, _>(i).map_err(err)?),
            Col::OptInt => q.bind(row.try_get::<Option<i64>, _>(i).map_err(err)?),
            Col::Text => q.bind(text(&row.try_get::<String, _>(i).map_err(err)?).into_owned()),
            Col::OptText => q.bind(row.try_get::<Option<String>, _>(i).map_err(err)?.map(|s| text(&s).into_owned())),
            Col::Bool => q.bind(row.try_get::<i64, _>(i).map_err(err)? != 0),
            Col::Bytes => q.bind(row.try_get::<Vec<u8>, _>(i).map_err(err)?),
        };
    }
    Ok(q.execute(&mut *tx).await.map_err(err)?.rows_affected())
}
