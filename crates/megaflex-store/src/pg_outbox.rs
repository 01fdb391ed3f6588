//! The ServiceNow outbox, the incidents table and the SNMP engine's boots on
//! PostgreSQL: the same rows and rules as `outbox.rs` and `snmp_engine.rs`.

use megaport_types::EpochMillis;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};

use crate::model::{IncidentRow, OutboxFailure, OutboxOutcome, OutboxRow, StoreError};
use crate::pg_write::text;
use megaflex_domain::incident::{OutboxItem, OutboxKind, OutboxPayload};

/// The pending entries in delivery (id) order, and the ids of those that
/// cannot be read with why: the caller sets those aside.
pub(crate) async fn pending(pool: &PgPool, limit: u32) -> Result<(Vec<OutboxRow>, Vec<(i64, String)>), StoreError> {
    let rows = sqlx::query(
        "SELECT id, correlation_id, circuit, episode, kind, payload, created_ms, attempts FROM servicenow_outbox \
         WHERE state = 'pending' ORDER BY id LIMIT $1",
    )
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(|e| StoreError::new("read outbox", e))?;
    let mut out = Vec::with_capacity(rows.len());
    let mut unreadable = Vec::new();
    for r in rows {
        let id: i64 = r.get(0);
        // As in SQLite: a row another version wrote, or one edited by hand,
        // is set aside with why, never delivered with a field missing.
        let kind = r
            .try_get::<String, _>(4)
            .map_err(|e| e.to_string())
            .and_then(|k| OutboxKind::parse(&k).ok_or_else(|| format!("unknown kind {k:?}")));
        let payload = kind.and_then(|k| {
            let p = r.try_get::<String, _>(5).map_err(|e| e.to_string())?;
            OutboxPayload::from_json(k, &p).map_err(|e| e.to_string())
        });
        match payload {
            Ok(payload) => out.push(OutboxRow {
                id,
                item: OutboxItem {
                    correlation_id: r.get(1),
                    circuit: r.get(2),
                    episode: r.get::<i64, _>(3).max(0) as u64,
                    payload,
                    at: EpochMillis::from_millis(r.get(6)),
                },
                attempts: r.get::<i64, _>(7).clamp(0, i64::from(u32::MAX)) as u32,
            }),
            Err(e) => unreadable.push((id, format!("unreadable outbox entry: {e}"))),
        }
    }
    Ok((out, unreadable))
}

pub(crate) async fn set_aside(tx: &mut PgConnection, id: i64, why: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE servicenow_outbox SET state = 'failed', last_error = $1 WHERE id = $2")
        .bind(text(why))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::new("set aside an outbox entry", e))?;
    Ok(())
}

/// Entries ServiceNow refused for good (or that could not be read), newest first.
pub(crate) async fn failed(pool: &PgPool, limit: u32) -> Result<Vec<OutboxFailure>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, correlation_id, kind, attempts, last_error, done_ms FROM servicenow_outbox \
         WHERE state = 'failed' ORDER BY id DESC LIMIT $1",
    )
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(|e| StoreError::new("read outbox", e))?;
    Ok(rows
        .iter()
        .map(|r| OutboxFailure {
            id: r.get(0),
            correlation_id: r.get(1),
            kind: r.get(2),
            attempts: r.get::<i64, _>(3).clamp(0, i64::from(u32::MAX)) as u32,
            error: r.get::<Option<String>, _>(4).unwrap_or_default(),
            at: r.get::<Option<i64>, _>(5).map(EpochMillis::from_millis),
        })
        .collect())
}

pub(crate) async fn pending_count(pool: &PgPool) -> Result<u64, StoreError> {
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM servicenow_outbox WHERE state = 'pending'")
        .fetch_one(pool)
        .await
        .map(|n| n.max(0) as u64)
        .map_err(|e| StoreError::new("read outbox", e))
}

pub(crate) async fn settle_in(
    tx: &mut PgConnection,
    id: i64,
    outcome: OutboxOutcome,
    at: EpochMillis,
) -> Result<(), StoreError> {
    let err = |e| StoreError::new("settle outbox", e);
    match outcome {
        OutboxOutcome::Delivered { opened, resolved } => {
            sqlx::query(
                "UPDATE servicenow_outbox SET state = 'delivered', done_ms = $1, last_error = NULL WHERE id = $2",
            )
            .bind(at.as_millis())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
            if let Some(i) = opened {
                sqlx::query(
                    "INSERT INTO incidents (correlation_id, circuit, episode, sys_id, number, opened_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (correlation_id) DO UPDATE SET sys_id = excluded.sys_id, number = excluded.number",
                )
                .bind(text(&i.correlation_id))
                .bind(text(&i.circuit))
                .bind(i.episode as i64)
                .bind(text(&i.sys_id))
                .bind(text(&i.number))
                .bind(i.opened_at.as_millis())
                .execute(&mut *tx)
                .await
                .map_err(err)?;
            }
            if let Some(cid) = resolved {
                sqlx::query("UPDATE incidents SET resolved_ms = $1 WHERE correlation_id = $2")
                    .bind(at.as_millis())
                    .bind(text(&cid))
                    .execute(&mut *tx)
                    .await
                    .map_err(err)?;
            }
        }
        OutboxOutcome::Failed(error) => {
            sqlx::query(
                "UPDATE servicenow_outbox SET state = 'failed', attempts = attempts + 1, last_error = $1, done_ms = $2 \
                 WHERE id = $3",
            )
            .bind(text(&error))
            .bind(at.as_millis())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        }
        OutboxOutcome::Retry(error) => {
            sqlx::query("UPDATE servicenow_outbox SET attempts = attempts + 1, last_error = $1 WHERE id = $2")
                .bind(text(&error))
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        }
    }
    Ok(())
}

fn incident_of(r: &PgRow) -> IncidentRow {
    IncidentRow {
        correlation_id: r.get(0),
        circuit: r.get(1),
        episode: r.get::<i64, _>(2).max(0) as u64,
        sys_id: r.get(3),
        number: r.get(4),
        opened_at: EpochMillis::from_millis(r.get(5)),
        resolved_at: r.get::<Option<i64>, _>(6).map(EpochMillis::from_millis),
    }
}

pub(crate) async fn incident(pool: &PgPool, correlation_id: &str) -> Result<Option<IncidentRow>, StoreError> {
    let row = sqlx::query(
        "SELECT correlation_id, circuit, episode, sys_id, number, opened_ms, resolved_ms FROM incidents \
         WHERE correlation_id = $1",
    )
    .bind(text(correlation_id))
    .fetch_optional(pool)
    .await
    .map_err(|e| StoreError::new("read incidents", e))?;
    Ok(row.as_ref().map(incident_of))
}

pub(crate) async fn incidents(pool: &PgPool, limit: u32) -> Result<Vec<IncidentRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT correlation_id, circuit, episode, sys_id, number, opened_ms, resolved_ms FROM incidents \
         ORDER BY opened_ms DESC, seq DESC LIMIT $1",
    )
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(|e| StoreError::new("read incidents", e))?;
    Ok(rows.iter().map(incident_of).collect())
}

/// engineBoots' ceiling (RFC 3414: the engine then needs new keys).
const MAX_BOOTS: i64 = i32::MAX as i64;

/// megaflex's SNMP engine: the boots of `engine_id` (or of the default
/// engine ID, made from `fresh_id` the first time) raised by one, inside
/// the caller's transaction.
pub(crate) async fn next_snmp_boots(
    tx: &mut PgConnection,
    engine_id: Option<&[u8]>,
    fresh_id: &[u8],
) -> Result<(Vec<u8>, u32), StoreError> {
    let err = |e| StoreError::new("SNMP engine boots", e);
    let engine_id = match engine_id {
        Some(id) => id.to_vec(),
        None => {
            // Two nodes starting at once must agree on one default ID: the
            // insert does nothing if another made it first, then both read.
            sqlx::query(
                "INSERT INTO snmp_engine (engine_id, boots, is_default) SELECT $1, 0, TRUE \
                 WHERE NOT EXISTS (SELECT 1 FROM snmp_engine WHERE is_default) ON CONFLICT (engine_id) DO NOTHING",
            )
            .bind(fresh_id)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
            sqlx::query_scalar("SELECT engine_id FROM snmp_engine WHERE is_default ORDER BY engine_id LIMIT 1")
                .fetch_one(&mut *tx)
                .await
                .map_err(err)?
        }
    };
    let boots: i64 = sqlx::query_scalar(
        "INSERT INTO snmp_engine (engine_id, boots) VALUES ($1, 1) \
         ON CONFLICT (engine_id) DO UPDATE SET boots = LEAST(snmp_engine.boots + 1, $2) RETURNING boots",
    )
    .bind(&engine_id)
    .bind(MAX_BOOTS)
    .fetch_one(&mut *tx)
    .await
    .map_err(err)?;
    Ok((engine_id, u32::try_from(boots).unwrap_or(i32::MAX as u32)))
}
