//! The PostgreSQL store (sqlx): the same [`Store`] as SQLite, for nodes
//! that share one database the operator already runs highly available.
//!
//! Each batch is one transaction on a pooled connection (PostgreSQL rolls
//! back a transaction whose connection fails, so no connection is ever left
//! inside one). `load` reads in one `REPEATABLE READ` transaction, so the
//! snapshot is of one moment even while another node writes.
//!
//! The instance lock is a session advisory lock taken on a connection of
//! its own and held for the life of the store: PostgreSQL releases it when
//! that session ends, however the process ends. (Leases with a fencing
//! term replace it for two nodes: a stalled process keeps its session.)

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use megaport_types::{EpochMillis, ProductUid};
use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool, Row};

use crate::model::{
    CircuitRow, ClaimError, ClaimFuture, DecisionRecord, Holder, IncidentRow, Intent, LinkRow, OutboxFailure,
    OutboxOutcome, OutboxRow, Record, Snapshot, Store, StoreError, StoreFuture,
};
use crate::url_check::postgres_url_problem;
use megaflex_domain::circuits::Pending;
use megaflex_domain::links::LinkStatus;

/// The advisory lock key of the instance lock ("megaflex" in ASCII).
/// Advisory locks are per database, so one key serves every store.
const INSTANCE_LOCK_KEY: i64 = 0x6d65_6761_666c_6578;

/// How long an operation waits for a pooled connection before it fails
/// (and the runtime's writer retries the batch): a database that is down
/// shows as unhealthy within this, not after sqlx's 30 s default.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// PostgreSQL behind [`Store`].
pub struct PgStore {
    /// The URL as configured: it never carries a password (refused at open).
    url: String,
    options: PgConnectOptions,
    pool: PgPool,
    /// The session holding the instance lock, from [`Store::claim`] until
    /// the store is dropped (dropping it ends the session and the lock).
    lock: tokio::sync::Mutex<Option<PgConnection>>,
}

impl fmt::Debug for PgStore {
    // By hand: sqlx's connect options print the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore").field("url", &self.url).finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to `postgres://USER@HOST:PORT/DATABASE` with `password`
    /// (the URL itself must carry none) and runs the embedded migrations.
    pub async fn open(url: &str, password: Option<SecretString>) -> Result<Self, StoreError> {
        if let Some(why) = postgres_url_problem(url) {
            return Err(StoreError::url("open", why));
        }
        let mut options =
            PgConnectOptions::from_str(url).map_err(|e| StoreError::url("parse URL", e))?.application_name("megaflex");
        if let Some(p) = &password {
            options = options.password(p.expose_secret());
        }
        let mut conn =
            PgConnection::connect_with(&options).await.map_err(|e| StoreError::new("open", format!("{url}: {e}")))?;
        // The migrator takes its own advisory lock, so two nodes starting
        // together migrate once.
        let migrated = crate::migrations::migrator(crate::migrations::POSTGRES)
            .run(&mut conn)
            .await
            .map_err(|e| StoreError::new("migrate", e));
        let _ = conn.close().await;
        migrated?;
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await
            .map_err(|e| StoreError::new("open", format!("{url}: {e}")))?;
        Ok(Self { url: url.to_owned(), options, pool, lock: tokio::sync::Mutex::new(None) })
    }

    /// The pool, for tests and `megaflex store copy`.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Runs `f` in one transaction; it commits only if `f` succeeds.
    async fn in_tx<T>(
        &self,
        action: &'static str,
        f: impl AsyncFnOnce(&mut PgConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut tx = self.pool.begin().await.map_err(|e| StoreError::new(action, e))?;
        let value = f(&mut tx).await?;
        tx.commit().await.map_err(|e| StoreError::new(action, format!("commit: {e}")))?;
        Ok(value)
    }

    async fn claim_as(&self, holder: Holder) -> Result<(), ClaimError> {
        let mut guard = self.lock.lock().await;
        if guard.is_some() {
            return Ok(());
        }
        let mut conn = PgConnection::connect_with(&self.options)
            .await
            .map_err(|e| StoreError::new("lock", format!("{}: {e}", self.url)))?;
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(INSTANCE_LOCK_KEY)
            .fetch_one(&mut conn)
            .await
            .map_err(|e| StoreError::new("lock", e))?;
        if !locked {
            let _ = conn.close().await;
            let holder = self.holder_row().await.ok().flatten();
            return Err(ClaimError::InUse { path: PathBuf::from(&self.url), holder });
        }
        // A real write: a database this role cannot write to is refused now.
        sqlx::query(
            "INSERT INTO instance (id, pid, host, started_ms, version) VALUES (1, $1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, host = excluded.host, \
             started_ms = excluded.started_ms, version = excluded.version",
        )
        .bind(i64::from(holder.pid))
        .bind(&holder.host)
        .bind(holder.started_at.as_millis())
        .bind(&holder.version)
        .execute(&mut conn)
        .await
        .map_err(|e| StoreError::new("probe write", format!("{}: cannot be written: {e}", self.url)))?;
        *guard = Some(conn);
        Ok(())
    }

    async fn holder_row(&self) -> Result<Option<Holder>, StoreError> {
        let row = sqlx::query("SELECT pid, host, started_ms, version FROM instance WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| StoreError::new("read instance", e))?;
        Ok(row.map(|r| Holder {
            pid: u32::try_from(r.get::<i64, _>(0)).unwrap_or(0),
            host: r.get(1),
            started_at: EpochMillis::from_millis(r.get(2)),
            version: r.get(3),
        }))
    }

    async fn load_all(&self) -> Result<Snapshot, StoreError> {
        let err = |e| StoreError::new("load", e);
        let mut tx = self.pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await.map_err(err)?;
        let mut snap = Snapshot::default();
        for row in sqlx::query(
            "SELECT circuit, wanted_mbps, pending_kind, pending_at_ms, episode, last_set_mbps, paused_reason, \
             actual_mbps, incident_json FROM circuit_state ORDER BY circuit",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(err)?
        {
            let kind: Option<String> = row.get(2);
            let at: Option<i64> = row.get(3);
            let pending = match (kind.as_deref(), at) {
                (Some("boost"), Some(t)) => Some(Pending::Boost(EpochMillis::from_millis(t))),
                (Some("restore"), Some(t)) => Some(Pending::Restore(EpochMillis::from_millis(t))),
                _ => None,
            };
            snap.circuits.push(CircuitRow {
                circuit: row.get(0),
                wanted_mbps: row.get::<i64, _>(1) as u32,
                pending,
                episode: row.get::<i64, _>(4) as u64,
                last_set_mbps: row.get::<Option<i64>, _>(5).map(|v| v as u32),
                paused_reason: row.get(6),
                actual_mbps: row.get::<Option<i64>, _>(7).map(|v| v as u32),
                incident: row.get::<Option<String>, _>(8).and_then(|j| serde_json::from_str(&j).ok()),
            });
        }
        for row in sqlx::query("SELECT link, status, since_ms, signals_json FROM link_state ORDER BY link")
            .fetch_all(&mut *tx)
            .await
            .map_err(err)?
        {
            let status: String = row.get(1);
            let signals: String = row.get(3);
            snap.links.push(LinkRow {
                link: row.get(0),
                status: parse_status(&status),
                since: EpochMillis::from_millis(row.get(2)),
                signals: serde_json::from_str(&signals).unwrap_or_default(),
            });
        }
        for row in sqlx::query(
            "SELECT id, circuit, vxc_uid, target_mbps, created_ms FROM intents WHERE state = 'open' ORDER BY id",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(err)?
        {
            snap.open_intents.push(Intent {
                id: row.get(0),
                circuit: row.get(1),
                vxc_uid: row.get(2),
                target_mbps: row.get::<i64, _>(3) as u32,
                created_at: EpochMillis::from_millis(row.get(4)),
            });
        }
        snap.last_intent_id = sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(id) FROM intents")
            .fetch_one(&mut *tx)
            .await
            .map_err(err)?
            .unwrap_or(0);
        tx.commit().await.map_err(err)?;
        Ok(snap)
    }
}

fn parse_status(s: &str) -> LinkStatus {
    match s {
        "up" => LinkStatus::Up,
        "down" => LinkStatus::Down,
        "flapping" => LinkStatus::Flapping,
        _ => LinkStatus::Unknown,
    }
}

impl Store for PgStore {
    fn write_all<'a>(&'a self, records: &'a [Record]) -> StoreFuture<'a, ()> {
        Box::pin(self.in_tx("write", async move |tx| {
            for r in records {
                crate::pg_write::write_one(tx, r).await?;
            }
            Ok(())
        }))
    }

    fn claim(&self) -> ClaimFuture<'_> {
        Box::pin(self.claim_as(Holder::this_process()))
    }

    fn holder(&self) -> StoreFuture<'_, Option<Holder>> {
        Box::pin(self.holder_row())
    }

    fn load(&self) -> StoreFuture<'_, Snapshot> {
        Box::pin(self.load_all())
    }

    fn updates_since<'a>(&'a self, uid: &'a ProductUid, since: EpochMillis) -> StoreFuture<'a, Vec<EpochMillis>> {
        Box::pin(async move {
            let rows: Vec<i64> =
                sqlx::query_scalar("SELECT at_ms FROM updates WHERE vxc_uid = $1 AND at_ms >= $2 ORDER BY at_ms, id")
                    .bind(uid.as_str())
                    .bind(since.as_millis())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| StoreError::new("read ledger", e))?;
            Ok(rows.into_iter().map(EpochMillis::from_millis).collect())
        })
    }

    fn all_updates_since(&self, since: EpochMillis) -> StoreFuture<'_, HashMap<ProductUid, Vec<EpochMillis>>> {
        Box::pin(async move {
            let rows: Vec<(String, i64)> =
                sqlx::query_as("SELECT vxc_uid, at_ms FROM updates WHERE at_ms >= $1 ORDER BY vxc_uid, at_ms, id")
                    .bind(since.as_millis())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| StoreError::new("read ledger", e))?;
            let mut map = HashMap::<ProductUid, Vec<EpochMillis>>::new();
            for (uid, at) in rows {
                map.entry(ProductUid::new(uid)).or_default().push(EpochMillis::from_millis(at));
            }
            Ok(map)
        })
    }

    fn recent_decisions(&self, limit: u32) -> StoreFuture<'_, Vec<DecisionRecord>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT at_ms, circuit, episode, action, wanted_mbps, reason FROM decisions ORDER BY id DESC LIMIT $1",
            )
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| StoreError::new("read decisions", e))?;
            // An action this version does not know is an error, not a row
            // quietly left out of what an operator reads.
            rows.into_iter()
                .map(|r| {
                    Ok(DecisionRecord {
                        at: EpochMillis::from_millis(r.get(0)),
                        circuit: r.get(1),
                        episode: r.get::<i64, _>(2) as u64,
                        action: r.get::<String, _>(3).parse().map_err(|e| StoreError::new("read decisions", e))?,
                        wanted_mbps: r.get::<i64, _>(4) as u32,
                        reason: r.get(5),
                    })
                })
                .collect()
        })
    }

    fn pending_outbox(&self, limit: u32) -> StoreFuture<'_, Vec<OutboxRow>> {
        Box::pin(async move {
            let (rows, unreadable) = crate::pg_outbox::pending(&self.pool, limit).await?;
            for (id, why) in unreadable {
                tracing::error!(id, error = %why, "ServiceNow outbox entry set aside as failed; the others go on");
                self.in_tx("set aside an outbox entry", async |tx| crate::pg_outbox::set_aside(tx, id, &why).await)
                    .await?;
            }
            Ok(rows)
        })
    }

    fn outbox_pending_count(&self) -> StoreFuture<'_, u64> {
        Box::pin(crate::pg_outbox::pending_count(&self.pool))
    }

    fn outbox_settled(&self, id: i64, outcome: OutboxOutcome, at: EpochMillis) -> StoreFuture<'_, ()> {
        Box::pin(self.in_tx("settle outbox", async move |tx| crate::pg_outbox::settle_in(tx, id, outcome, at).await))
    }

    fn incident<'a>(&'a self, correlation_id: &'a str) -> StoreFuture<'a, Option<IncidentRow>> {
        Box::pin(crate::pg_outbox::incident(&self.pool, correlation_id))
    }

    fn incidents(&self, limit: u32) -> StoreFuture<'_, Vec<IncidentRow>> {
        Box::pin(crate::pg_outbox::incidents(&self.pool, limit))
    }

    fn failed_outbox(&self, limit: u32) -> StoreFuture<'_, Vec<OutboxFailure>> {
        Box::pin(crate::pg_outbox::failed(&self.pool, limit))
    }

    fn next_snmp_engine_boots<'a>(
        &'a self,
        engine_id: Option<&'a [u8]>,
        fresh_id: &'a [u8],
    ) -> StoreFuture<'a, (Vec<u8>, u32)> {
        Box::pin(self.in_tx("SNMP engine boots", async move |tx| {
            crate::pg_outbox::next_snmp_boots(tx, engine_id, fresh_id).await
        }))
    }
}
