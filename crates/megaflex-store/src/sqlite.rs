//! The SQLite store (sqlx), in WAL mode. With `synchronous = NORMAL` (the
//! default) a committed intent survives the process dying at any moment
//! (SIGKILL, OOM, panic), which is what `tests/crash.rs` checks; `FULL`
//! also survives power loss, at the cost of an fsync (milliseconds) before
//! every update is sent.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use megaport_types::{EpochMillis, ProductUid};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, Row, SqliteConnection, SqlitePool};

use crate::instance;
use crate::model::{
    CircuitRow, DecisionRecord, IncidentRow, Intent, LinkRow, OutboxOutcome, OutboxRow, Record, Snapshot, Store,
    StoreError, StoreFuture,
};
use crate::model::{ClaimError, Holder, OutboxFailure};
use megaflex_domain::circuits::Pending;
use megaflex_domain::links::LinkStatus;

/// How long a write waits for another process's write lock. Long enough for
/// the maintenance an operator runs on a live store (a `VACUUM` of a large
/// audit trail holds the lock for seconds); the writer retries after it.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// SQLite behind [`Store`].
///
/// Writes go through one dedicated connection, each batch in
/// `BEGIN IMMEDIATE` (the write lock is taken up front, so a busy database
/// is waited for at `BEGIN`, never half-way through a batch). After any
/// error that connection is closed, never reused: a `COMMIT` that failed
/// with `SQLITE_FULL` leaves SQLite inside the transaction, and a connection
/// reused from there turns every later "commit" into a savepoint while
/// holding the file's write lock. Reads use a separate read-only pool, so
/// they can never hold a write transaction open.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    write_options: SqliteConnectOptions,
    writer: tokio::sync::Mutex<Option<SqliteConnection>>,
    pool: SqlitePool,
    /// The instance lock, held from [`Store::claim`] until the store is dropped.
    lock: std::sync::Mutex<Option<std::fs::File>>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `sqlite://PATH` and runs
    /// the embedded migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with(url, false).await
    }

    /// Like [`SqliteStore::open`]; `fsync_each_commit` selects `synchronous = FULL`.
    pub async fn open_with(url: &str, fsync_each_commit: bool) -> Result<Self, StoreError> {
        let sync = if fsync_each_commit { SqliteSynchronous::Full } else { SqliteSynchronous::Normal };
        let base = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::url("parse URL", e))?
            .busy_timeout(BUSY_TIMEOUT);
        let path = base.get_filename().to_owned();
        if path.as_os_str().is_empty() || path.as_os_str() == ":memory:" {
            return Err(StoreError::url("open", format!("{url}: the store must be a file (sqlite://PATH)")));
        }
        instance::create_owner_only(&path)
            .map_err(|e| StoreError::new("create", format!("{}: {e}", path.display())))?;
        let write_options = base
            .clone()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(sync)
            // Fewer checkpoints (each one syncs the database) on the update path.
            .pragma("wal_autocheckpoint", "8000");
        let mut conn = SqliteConnection::connect_with(&write_options)
            .await
            .map_err(|e| StoreError::new("open", format!("{url}: {e}")))?;
        crate::migrations::migrator(crate::migrations::SQLITE)
            .run(&mut conn)
            .await
            .map_err(|e| StoreError::new("migrate", e))?;
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(base.read_only(true))
            .await
            .map_err(|e| StoreError::new("open", format!("{url}: {e}")))?;
        Ok(Self {
            path,
            write_options,
            writer: tokio::sync::Mutex::new(Some(conn)),
            pool,
            lock: std::sync::Mutex::new(None),
        })
    }

    /// The read-only pool, for tests and `megaflex status` queries.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction on the write
    /// connection; on any error the connection is closed (see the type's
    /// documentation) and the next write opens a fresh one.
    pub(super) async fn in_write_tx<T>(
        &self,
        action: &'static str,
        f: impl AsyncFnOnce(&mut SqliteConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut guard = self.writer.lock().await;
        let conn = match guard.as_mut() {
            Some(c) => c,
            None => guard.insert(
                SqliteConnection::connect_with(&self.write_options)
                    .await
                    .map_err(|e| StoreError::new("reconnect", e))?,
            ),
        };
        let result = async {
            let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(|e| StoreError::new(action, e))?;
            let value = f(&mut tx).await?;
            tx.commit().await.map_err(|e| StoreError::new(action, format!("commit: {e}")))?;
            Ok(value)
        }
        .await;
        if result.is_err()
            && let Some(c) = guard.take()
        {
            // Closing the handle rolls back whatever SQLite still holds open.
            let _ = c.close_hard().await;
        }
        result
    }

    async fn write_all(&self, records: &[Record]) -> Result<(), StoreError> {
        self.in_write_tx("write", async |conn| {
            for r in records {
                write_one(conn, r).await?;
            }
            Ok(())
        })
        .await
    }

    async fn claim_as(&self, holder: Holder) -> Result<(), ClaimError> {
        let file = instance::try_lock(&self.path)
            .map_err(|e| StoreError::new("lock", format!("{}: {e}", instance::lock_path(&self.path).display())))?;
        let Some(file) = file else {
            let holder = self.holder().await.ok().flatten();
            return Err(ClaimError::InUse { path: self.path.clone(), holder });
        };
        // A real write: a store that cannot be written (read-only file, full
        // disk, wrong owner) is refused now, not found out at the first outage.
        let h = holder.clone();
        self.in_write_tx("write the instance row", async |conn| {
            sqlx::query(
                "INSERT INTO instance (id, pid, host, started_ms, version) VALUES (1, ?, ?, ?, ?) \
                     ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, host = excluded.host, \
                     started_ms = excluded.started_ms, version = excluded.version",
            )
            .bind(i64::from(h.pid))
            .bind(&h.host)
            .bind(h.started_at.as_millis())
            .bind(&h.version)
            .execute(&mut *conn)
            .await
            .map_err(|e| StoreError::new("write the instance row", e))?;
            Ok(())
        })
        .await
        .map_err(|e| {
            StoreError::new("probe write", format!("{}: cannot be written: {}", self.path.display(), e.message))
        })?;
        *self.lock.lock().unwrap_or_else(|e| e.into_inner()) = Some(file);
        Ok(())
    }

    async fn holder(&self) -> Result<Option<Holder>, StoreError> {
        let row = sqlx::query("SELECT pid, host, started_ms, version FROM instance WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| StoreError::new("read instance", e))?;
        Ok(row.map(|r| Holder {
            pid: r.get::<i64, _>(0) as u32,
            host: r.get(1),
            started_at: EpochMillis::from_millis(r.get(2)),
            version: r.get(3),
        }))
    }

    async fn load_all(&self) -> Result<Snapshot, StoreError> {
        let err = |e| StoreError::new("load", e);
        let mut snap = Snapshot::default();
        for row in sqlx::query(
            "SELECT circuit, wanted_mbps, pending_kind, pending_at_ms, episode, last_set_mbps, paused_reason, actual_mbps, incident_json FROM circuit_state",
        )
        .fetch_all(&self.pool)
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
        for row in sqlx::query("SELECT link, status, since_ms, signals_json FROM link_state")
            .fetch_all(&self.pool)
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
        .fetch_all(&self.pool)
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
            .fetch_one(&self.pool)
            .await
            .map_err(err)?
            .unwrap_or(0);
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

/// The snake_case name serde gives a value (`LinkStatus::Up` -> `up`).
pub fn serde_name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

async fn write_one(tx: &mut sqlx::SqliteConnection, r: &Record) -> Result<(), StoreError> {
    let err = |e| StoreError::new("write", e);
    match r {
        Record::Event(e) => {
            let device = serde_json::to_string(&e.device).unwrap_or_default();
            sqlx::query(
                "INSERT INTO events (event_id, received_ms, source, peer, device, kind, entity, state, administrative, raw) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(e.id as i64)
            .bind(e.received_at.as_millis())
            .bind(serde_name(&e.source))
            .bind(e.peer.map(|p| p.to_string()))
            .bind(device)
            .bind(serde_name(&e.kind))
            .bind(&e.entity)
            .bind(e.state.to_string())
            .bind(e.administrative)
            .bind(&e.raw)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        }
        Record::Transition(t) => {
            sqlx::query(
                "INSERT INTO link_transitions (link, from_state, to_state, at_ms, event_id) VALUES (?, ?, ?, ?, ?)",
            )
            .bind(&t.link)
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
                "INSERT INTO decisions (at_ms, circuit, episode, action, wanted_mbps, reason) VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(d.at.as_millis())
            .bind(&d.circuit)
            .bind(d.episode as i64)
            .bind(d.action.as_str())
            .bind(d.wanted_mbps as i64)
            .bind(&d.reason)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        }
        Record::Call(c) => {
            let path = if c.query.is_empty() { c.path.clone() } else { format!("{}?{}", c.path, c.query) };
            sqlx::query(
                "INSERT INTO api_calls (at_ms, method, path, status, trace_id, duration_ms, attempt, error) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(c.at.as_millis())
            .bind(&c.method)
            .bind(path)
            .bind(c.status.map(i64::from))
            .bind(&c.trace_id)
            .bind(c.duration.as_millis() as i64)
            .bind(i64::from(c.attempt))
            .bind(&c.error)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        }
        Record::Update { uid, at, origin } => {
            sqlx::query("INSERT INTO updates (vxc_uid, at_ms, origin) VALUES (?, ?, ?)")
                .bind(uid.as_str())
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
                "INSERT INTO intents (id, circuit, vxc_uid, target_mbps, created_ms, state) VALUES (?, ?, ?, ?, ?, 'open') \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(i.id)
            .bind(&i.circuit)
            .bind(&i.vxc_uid)
            .bind(i.target_mbps as i64)
            .bind(i.created_at.as_millis())
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        }
        Record::IntentSettled { id, outcome, at, note } => {
            sqlx::query("UPDATE intents SET state = ?, settled_ms = ?, note = ? WHERE id = ? AND state = 'open'")
                .bind(outcome.as_str())
                .bind(at.as_millis())
                .bind(note)
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
                "INSERT INTO circuit_state (circuit, wanted_mbps, pending_kind, pending_at_ms, episode, last_set_mbps, paused_reason, updated_ms, actual_mbps, incident_json) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (circuit) DO UPDATE SET wanted_mbps = excluded.wanted_mbps, \
                 pending_kind = excluded.pending_kind, pending_at_ms = excluded.pending_at_ms, episode = excluded.episode, \
                 last_set_mbps = excluded.last_set_mbps, paused_reason = excluded.paused_reason, updated_ms = excluded.updated_ms, \
                 actual_mbps = excluded.actual_mbps, incident_json = excluded.incident_json",
            )
            .bind(&c.circuit)
            .bind(c.wanted_mbps as i64)
            .bind(kind)
            .bind(at)
            .bind(c.episode as i64)
            .bind(c.last_set_mbps.map(i64::from))
            .bind(&c.paused_reason)
            .bind(EpochMillis::now().as_millis())
            .bind(c.actual_mbps.map(i64::from))
            .bind(c.incident.map(|i| serde_json::to_string(&i).unwrap_or_default()))
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        }
        Record::Outbox(item) => crate::outbox::insert(tx, item).await?,
        Record::Link(l) => {
            sqlx::query(
                "INSERT INTO link_state (link, status, since_ms, signals_json, updated_ms) VALUES (?, ?, ?, ?, ?) \
                 ON CONFLICT (link) DO UPDATE SET status = excluded.status, since_ms = excluded.since_ms, \
                 signals_json = excluded.signals_json, updated_ms = excluded.updated_ms",
            )
            .bind(&l.link)
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

impl Store for SqliteStore {
    fn write_all<'a>(&'a self, records: &'a [Record]) -> StoreFuture<'a, ()> {
        Box::pin(SqliteStore::write_all(self, records))
    }

    fn claim(&self) -> crate::model::ClaimFuture<'_> {
        Box::pin(self.claim_as(Holder::this_process()))
    }

    fn holder(&self) -> StoreFuture<'_, Option<Holder>> {
        Box::pin(SqliteStore::holder(self))
    }

    fn load(&self) -> StoreFuture<'_, Snapshot> {
        Box::pin(self.load_all())
    }

    fn updates_since<'a>(&'a self, uid: &'a ProductUid, since: EpochMillis) -> StoreFuture<'a, Vec<EpochMillis>> {
        Box::pin(async move {
            let rows: Vec<i64> =
                sqlx::query_scalar("SELECT at_ms FROM updates WHERE vxc_uid = ? AND at_ms >= ? ORDER BY at_ms")
                    .bind(uid.as_str())
                    .bind(since.as_millis())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| StoreError::new("read ledger", e))?;
            Ok(rows.into_iter().map(EpochMillis::from_millis).collect())
        })
    }

    fn all_updates_since(
        &self,
        since: EpochMillis,
    ) -> StoreFuture<'_, std::collections::HashMap<ProductUid, Vec<EpochMillis>>> {
        Box::pin(async move {
            let rows: Vec<(String, i64)> =
                sqlx::query_as("SELECT vxc_uid, at_ms FROM updates WHERE at_ms >= ? ORDER BY vxc_uid, at_ms")
                    .bind(since.as_millis())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| StoreError::new("read ledger", e))?;
            let mut map = std::collections::HashMap::<ProductUid, Vec<EpochMillis>>::new();
            for (uid, at) in rows {
                map.entry(ProductUid::new(uid)).or_default().push(EpochMillis::from_millis(at));
            }
            Ok(map)
        })
    }

    fn pending_outbox(&self, limit: u32) -> StoreFuture<'_, Vec<OutboxRow>> {
        Box::pin(async move {
            let (rows, unreadable) = crate::outbox::pending(self.pool(), limit).await?;
            // A row written by another version, or damaged by hand, is set
            // aside (marked failed, with why) and never stops the rows after
            // it from being delivered.
            for (id, why) in unreadable {
                tracing::error!(id, error = %why, "ServiceNow outbox entry set aside as failed; the others go on");
                self.in_write_tx("set aside an outbox entry", async move |tx| {
                    crate::outbox::set_aside(tx, id, &why).await
                })
                .await?;
            }
            Ok(rows)
        })
    }

    fn outbox_pending_count(&self) -> StoreFuture<'_, u64> {
        Box::pin(crate::outbox::pending_count(&self.pool))
    }

    fn failed_outbox(&self, limit: u32) -> StoreFuture<'_, Vec<OutboxFailure>> {
        Box::pin(crate::outbox::failed(&self.pool, limit))
    }

    fn outbox_settled(&self, id: i64, outcome: OutboxOutcome, at: EpochMillis) -> StoreFuture<'_, ()> {
        Box::pin(self.in_write_tx("settle outbox", async move |tx| crate::outbox::settle_in(tx, id, outcome, at).await))
    }

    fn incident<'a>(&'a self, correlation_id: &'a str) -> StoreFuture<'a, Option<IncidentRow>> {
        Box::pin(crate::outbox::incident(&self.pool, correlation_id))
    }

    fn incidents(&self, limit: u32) -> StoreFuture<'_, Vec<IncidentRow>> {
        Box::pin(crate::outbox::incidents(&self.pool, limit))
    }

    fn next_snmp_engine_boots<'a>(
        &'a self,
        engine_id: Option<&'a [u8]>,
        fresh_id: &'a [u8],
    ) -> StoreFuture<'a, (Vec<u8>, u32)> {
        Box::pin(self.in_write_tx("SNMP engine boots", async move |conn| {
            crate::snmp_engine::next_boots(conn, engine_id, fresh_id).await
        }))
    }

    fn recent_decisions(&self, limit: u32) -> StoreFuture<'_, Vec<DecisionRecord>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT at_ms, circuit, episode, action, wanted_mbps, reason FROM decisions ORDER BY id DESC LIMIT ?",
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
}
