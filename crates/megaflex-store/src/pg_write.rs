//! One [`Record`] written inside a PostgreSQL transaction: the same rows as
//! `sqlite.rs` writes, in PostgreSQL's dialect.

use std::borrow::Cow;

use megaport_types::EpochMillis;
use sqlx::PgConnection;

use crate::model::{Record, StoreError};
use crate::serde_name;
use megaflex_domain::circuits::Pending;
use megaflex_domain::incident::OutboxItem;

/// PostgreSQL's `text` cannot hold NUL, which SQLite stores as given. A
/// syslog datagram or an API error may carry one, and a batch refused for it
/// would be retried forever: NUL becomes U+FFFD instead.
pub(crate) fn text(s: &str) -> Cow<'_, str> {
    if s.contains('\0') { Cow::Owned(s.replace('\0', "\u{FFFD}")) } else { Cow::Borrowed(s) }
}

fn opt_text(s: &Option<String>) -> Option<Cow<'_, str>> {
    s.as_deref().map(text)
}

pub(crate) async fn write_one(tx: &mut PgConnection, r: &Record) -> Result<(), StoreError> {
    let err = |e| StoreError::new("write", e);
    match r {
        Record::Event(e) => {
            let device = serde_json::to_string(&e.device).unwrap_or_default();
            sqlx::query(
                "INSERT INTO events (event_id, received_ms, source, peer, device, kind, entity, state, administrative, raw) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(e.id as i64)
            .bind(e.received_at.as_millis())
            .bind(serde_name(&e.source))
            .bind(e.peer.map(|p| p.to_string()))
            .bind(text(&device))
            .bind(serde_name(&e.kind))
            .bind(text(&e.entity))
            .bind(text(&e.state.to_string()).into_owned())
            .bind(e.administrative)
            .bind(text(&e.raw))
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        }
        Record::Transition(t) => {
            sqlx::query(
                "INSERT INTO link_transitions (link, from_state, to_state, at_ms, event_id) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(text(&t.link))
            .bind(serde_name(&t.from))
            .bind(serde_name(&t.to))
            .bind(t.at.as_millis())
            .bind(t.event_id.map(|i| i as i64))
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        }
        Record::Decision(d) => {
            sqlx::query(
                "INSERT INTO decisions (at_ms, circuit, episode, action, wanted_mbps, reason) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(d.at.as_millis())
            .bind(text(&d.circuit))
            .bind(d.episode as i64)
            .bind(d.action.as_str())
            .bind(i64::from(d.wanted_mbps))
            .bind(text(&d.reason))
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        }
        Record::Call(c) => {
            let path = if c.query.is_empty() { c.path.clone() } else { format!("{}?{}", c.path, c.query) };
            sqlx::query(
                "INSERT INTO api_calls (at_ms, method, path, status, trace_id, duration_ms, attempt, error) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(c.at.as_millis())
            .bind(text(&c.method))
            .bind(text(&path))
            .bind(c.status.map(i64::from))
            .bind(opt_text(&c.trace_id))
            .bind(i64::try_from(c.duration.as_millis()).unwrap_or(i64::MAX))
            .bind(i64::from(c.attempt))
            .bind(opt_text(&c.error))
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        }
        Record::Update { uid, at, origin } => {
            sqlx::query("INSERT INTO updates (vxc_uid, at_ms, origin) VALUES ($1, $2, $3)")
                .bind(text(uid.as_str()))
                .bind(at.as_millis())
                .bind(origin.as_str())
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        }
        Record::IntentOpened(i) => {
            sqlx::query(
                // A batch retried after an error it did not really have (the
                // commit landed) must not fail on its own intent forever.
                "INSERT INTO intents (id, circuit, vxc_uid, target_mbps, created_ms, state) \
                 VALUES ($1, $2, $3, $4, $5, 'open') ON CONFLICT (id) DO NOTHING",
            )
            .bind(i.id)
            .bind(text(&i.circuit))
            .bind(text(&i.vxc_uid))
            .bind(i64::from(i.target_mbps))
            .bind(i.created_at.as_millis())
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        }
        Record::IntentSettled { id, outcome, at, note } => {
            sqlx::query("UPDATE intents SET state = $1, settled_ms = $2, note = $3 WHERE id = $4 AND state = 'open'")
                .bind(outcome.as_str())
                .bind(at.as_millis())
                .bind(text(note))
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        }
        Record::Circuit(c) => {
            let (kind, at) = match c.pending {
                Some(Pending::Boost(t)) => (Some("boost"), Some(t.as_millis())),
                Some(Pending::Restore(t)) => (Some("restore"), Some(t.as_millis())),
                None => (None, None),
            };
            sqlx::query(
                "INSERT INTO circuit_state (circuit, wanted_mbps, pending_kind, pending_at_ms, episode, last_set_mbps, \
                 paused_reason, updated_ms, actual_mbps, incident_json) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (circuit) DO UPDATE SET wanted_mbps = excluded.wanted_mbps, \
                 pending_kind = excluded.pending_kind, pending_at_ms = excluded.pending_at_ms, episode = excluded.episode, \
                 last_set_mbps = excluded.last_set_mbps, paused_reason = excluded.paused_reason, \
                 updated_ms = excluded.updated_ms, actual_mbps = excluded.actual_mbps, incident_json = excluded.incident_json",
            )
            .bind(text(&c.circuit))
            .bind(i64::from(c.wanted_mbps))
            .bind(kind)
            .bind(at)
            .bind(c.episode as i64)
            .bind(c.last_set_mbps.map(i64::from))
            .bind(opt_text(&c.paused_reason))
            .bind(EpochMillis::now().as_millis())
            .bind(c.actual_mbps.map(i64::from))
            .bind(c.incident.map(|i| serde_json::to_string(&i).unwrap_or_default()))
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        }
        Record::Outbox(item) => insert_outbox(tx, item).await?,
        Record::Link(l) => {
            sqlx::query(
                "INSERT INTO link_state (link, status, since_ms, signals_json, updated_ms) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (link) DO UPDATE SET status = excluded.status, since_ms = excluded.since_ms, \
                 signals_json = excluded.signals_json, updated_ms = excluded.updated_ms",
            )
            .bind(text(&l.link))
            .bind(serde_name(&l.status))
            .bind(l.since.as_millis())
            .bind(serde_json::to_string(&l.signals).unwrap_or_else(|_| "[]".into()))
            .bind(EpochMillis::now().as_millis())
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        }
    }
    Ok(())
}

async fn insert_outbox(tx: &mut PgConnection, item: &OutboxItem) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO servicenow_outbox (correlation_id, circuit, episode, kind, payload, created_ms) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(text(&item.correlation_id))
    .bind(text(&item.circuit))
    .bind(item.episode as i64)
    .bind(item.kind().as_str())
    .bind(text(&item.payload.to_json()).into_owned())
    .bind(item.at.as_millis())
    .execute(&mut *tx)
    .await
    .map_err(|e| StoreError::new("write outbox", e))?;
    Ok(())
}
