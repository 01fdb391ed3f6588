//! The ServiceNow outbox and the incidents table in SQLite.

use megaport_types::EpochMillis;
use sqlx::{Row, SqlitePool};

use crate::model::{IncidentRow, OutboxFailure, OutboxOutcome, OutboxRow, StoreError};
use megaflex_domain::incident::{OutboxItem, OutboxKind, OutboxPayload};

pub(crate) async fn insert(tx: &mut sqlx::SqliteConnection, item: &OutboxItem) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO servicenow_outbox (correlation_id, circuit, episode, kind, payload, created_ms) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(&item.correlation_id)
    .bind(&item.circuit)
    .bind(item.episode as i64)
    .bind(item.kind().as_str())
    .bind(item.payload.to_json())
    .bind(item.at.as_millis())
    .execute(&mut *tx)
    .await
    .map_err(|e| StoreError::new("write outbox", e))?;
    Ok(())
}

/// The pending entries, oldest first, and the ids of those that cannot be
/// read with why: the caller sets those aside.
pub(crate) async fn pending(pool: &SqlitePool, limit: u32) -> Result<(Vec<OutboxRow>, Vec<(i64, String)>), StoreError> {
    let rows = sqlx::query(
        "SELECT id, correlation_id, circuit, episode, kind, payload, created_ms, attempts FROM servicenow_outbox \
         WHERE state = 'pending' ORDER BY id LIMIT ?",
    )
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(|e| StoreError::new("read outbox", e))?;
    let mut out = Vec::with_capacity(rows.len());
    let mut unreadable = Vec::new();
    for r in rows {
        let id: i64 = r.get(0);
        // Read column by column: a row written by another version, or damaged
        // by hand, is set aside (marked failed, with why) and never stops the
        // rows after it from being delivered. A payload must be its kind's,
        // field for field: a missing one is a reason, never an empty string.
        let kind = r
            .try_get::<String, _>(4)
            .map_err(|e| e.to_string())
            .and_then(|k| OutboxKind::parse(&k).ok_or_else(|| format!("unknown kind {k:?}")));
        let payload = kind.and_then(|k| {
            let p = r.try_get::<String, _>(5).map_err(|e| e.to_string())?;
            OutboxPayload::from_json(k, &p).map_err(|e| e.to_string())
        });
        let rest = (|| -> Result<_, sqlx::Error> {
            Ok((
                r.try_get::<String, _>(1)?,
                r.try_get::<String, _>(2)?,
                r.try_get::<i64, _>(3)?,
                r.try_get::<i64, _>(6)?,
                r.try_get::<i64, _>(7)?,
            ))
        })()
        .map_err(|e| e.to_string());
        let (payload, (correlation_id, circuit, episode, created_ms, attempts)) = match (payload, rest) {
            (Ok(p), Ok(rest)) => (p, rest),
            (Err(e), _) | (_, Err(e)) => {
                unreadable.push((id, format!("unreadable outbox entry: {e}")));
                continue;
            }
        };
        out.push(OutboxRow {
            id,
            item: OutboxItem {
                correlation_id,
                circuit,
                episode: episode.max(0) as u64,
                payload,
                at: EpochMillis::from_millis(created_ms),
            },
            attempts: attempts.clamp(0, i64::from(u32::MAX)) as u32,
        });
    }
    Ok((out, unreadable))
}

/// Written on the store's write connection: reads go through a read-only pool.
pub(crate) async fn set_aside(tx: &mut sqlx::SqliteConnection, id: i64, why: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE servicenow_outbox SET state = 'failed', last_error = ? WHERE id = ?")
        .bind(why)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::new("set aside an outbox entry", e))?;
    Ok(())
}

/// Entries ServiceNow refused for good (or that could not be read), newest first.
pub(crate) async fn failed(pool: &SqlitePool, limit: u32) -> Result<Vec<OutboxFailure>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, correlation_id, kind, attempts, last_error, done_ms FROM servicenow_outbox \
         WHERE state = 'failed' ORDER BY id DESC LIMIT ?",
    )
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(|e| StoreError::new("read outbox", e))?;
    Ok(rows
        .iter()
        .map(|r| OutboxFailure {
            id: r.get(0),
            correlation_id: r.try_get(1).unwrap_or_default(),
            kind: r.try_get(2).unwrap_or_default(),
            attempts: r.try_get::<i64, _>(3).unwrap_or(0).max(0) as u32,
            error: r.try_get::<Option<String>, _>(4).ok().flatten().unwrap_or_default(),
            at: r.try_get::<Option<i64>, _>(5).ok().flatten().map(EpochMillis::from_millis),
        })
        .collect())
}

pub(crate) async fn pending_count(pool: &SqlitePool) -> Result<u64, StoreError> {
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM servicenow_outbox WHERE state = 'pending'")
        .fetch_one(pool)
        .await
        .map(|n| n as u64)
        .map_err(|e| StoreError::new("read outbox", e))
}

pub(crate) async fn settle_in(
    tx: &mut sqlx::SqliteConnection,
    id: i64,
    outcome: OutboxOutcome,
    at: EpochMillis,
) -> Result<(), StoreError> {
    let err = |e| StoreError::new("settle outbox", e);
    match outcome {
        OutboxOutcome::Delivered { opened, resolved } => {
            sqlx::query(
                "UPDATE servicenow_outbox SET state = 'delivered', done_ms = ?, last_error = NULL WHERE id = ?",
            )
            .bind(at.as_millis())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
            if let Some(i) = opened {
                sqlx::query(
                    "INSERT INTO incidents (correlation_id, circuit, episode, sys_id, number, opened_ms) VALUES (?, ?, ?, ?, ?, ?) \
                     ON CONFLICT (correlation_id) DO UPDATE SET sys_id = excluded.sys_id, number = excluded.number",
                )
                .bind(&i.correlation_id)
                .bind(&i.circuit)
                .bind(i.episode as i64)
                .bind(&i.sys_id)
                .bind(&i.number)
                .bind(i.opened_at.as_millis())
                .execute(&mut *tx)
                .await
                .map_err(err)?;
            }
            if let Some(cid) = resolved {
                sqlx::query("UPDATE incidents SET resolved_ms = ? WHERE correlation_id = ?")
                    .bind(at.as_millis())
                    .bind(cid)
                    .execute(&mut *tx)
                    .await
                    .map_err(err)?;
            }
        }
        OutboxOutcome::Failed(error) => {
            sqlx::query(
                "UPDATE servicenow_outbox SET state = 'failed', attempts = attempts + 1, last_error = ?, done_ms = ? WHERE id = ?",
            )
            .bind(error)
            .bind(at.as_millis())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        }
        OutboxOutcome::Retry(error) => {
            sqlx::query("UPDATE servicenow_outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?")
                .bind(error)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        }
    }
    Ok(())
}

fn incident_of(r: &sqlx::sqlite::SqliteRow) -> IncidentRow {
    IncidentRow {
        correlation_id: r.get(0),
        circuit: r.get(1),
        episode: r.get::<i64, _>(2) as u64,
        sys_id: r.get(3),
        number: r.get(4),
        opened_at: EpochMillis::from_millis(r.get(5)),
        resolved_at: r.get::<Option<i64>, _>(6).map(EpochMillis::from_millis),
    }
}

pub(crate) async fn incident(pool: &SqlitePool, correlation_id: &str) -> Result<Option<IncidentRow>, StoreError> {
    let row = sqlx::query(
        "SELECT correlation_id, circuit, episode, sys_id, number, opened_ms, resolved_ms FROM incidents WHERE correlation_id = ?",
    )
        .bind(correlation_id)
        .fetch_optional(pool)
        .await
        .map_err(|e| StoreError::new("read incidents", e))?;
    Ok(row.as_ref().map(incident_of))
}

pub(crate) async fn incidents(pool: &SqlitePool, limit: u32) -> Result<Vec<IncidentRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT correlation_id, circuit, episode, sys_id, number, opened_ms, resolved_ms FROM incidents \
         ORDER BY opened_ms DESC, rowid DESC LIMIT ?",
    )
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(|e| StoreError::new("read incidents", e))?;
    Ok(rows.iter().map(incident_of).collect())
}
