-- megaflex store on PostgreSQL: the SQLite schema (migrations/0001..0004)
-- in one step, with PostgreSQL's types. Times are epoch milliseconds (UTC)
-- in BIGINT, as in SQLite, so `megaflex store copy` moves rows unchanged;
-- read them with to_timestamp(at_ms / 1000.0). Documented in docs/STORE.md.

-- Canonical events that changed a link's state (not every datagram).
CREATE TABLE events (
    id             BIGSERIAL PRIMARY KEY,
    event_id       BIGINT  NOT NULL,
    received_ms    BIGINT  NOT NULL,
    source         TEXT    NOT NULL,
    peer           TEXT,
    device         TEXT    NOT NULL,
    kind           TEXT    NOT NULL,
    entity         TEXT    NOT NULL,
    state          TEXT    NOT NULL,
    administrative BOOLEAN NOT NULL DEFAULT FALSE,
    raw            TEXT    NOT NULL
);

CREATE TABLE link_transitions (
    id         BIGSERIAL PRIMARY KEY,
    link       TEXT   NOT NULL,
    from_state TEXT   NOT NULL,
    to_state   TEXT   NOT NULL,
    at_ms      BIGINT NOT NULL,
    event_id   BIGINT
);
CREATE INDEX link_transitions_link ON link_transitions (link, at_ms);

-- Every circuit decision with its reason.
CREATE TABLE decisions (
    id          BIGSERIAL PRIMARY KEY,
    at_ms       BIGINT NOT NULL,
    circuit     TEXT   NOT NULL,
    episode     BIGINT NOT NULL,
    action      TEXT   NOT NULL,
    wanted_mbps BIGINT NOT NULL,
    reason      TEXT   NOT NULL
);
CREATE INDEX decisions_circuit ON decisions (circuit, at_ms);

-- Every Megaport API call the engine made (never headers or credentials).
CREATE TABLE api_calls (
    id          BIGSERIAL PRIMARY KEY,
    at_ms       BIGINT NOT NULL,
    method      TEXT   NOT NULL,
    path        TEXT   NOT NULL,
    status      BIGINT,
    trace_id    TEXT,
    duration_ms BIGINT NOT NULL,
    attempt     BIGINT NOT NULL,
    error       TEXT
);

-- The update ledger: one update per VXC per 5 minutes, 100 per calendar
-- month. origin = made | observed.
CREATE TABLE updates (
    id      BIGSERIAL PRIMARY KEY,
    vxc_uid TEXT   NOT NULL,
    at_ms   BIGINT NOT NULL,
    origin  TEXT   NOT NULL
);
CREATE INDEX updates_vxc ON updates (vxc_uid, at_ms);
CREATE INDEX updates_at ON updates (at_ms);

-- Written before each update, settled after: open | confirmed | failed | dropped.
-- The engine numbers intents itself (no sequence).
CREATE TABLE intents (
    id          BIGINT PRIMARY KEY,
    circuit     TEXT   NOT NULL,
    vxc_uid     TEXT   NOT NULL,
    target_mbps BIGINT NOT NULL,
    created_ms  BIGINT NOT NULL,
    state       TEXT   NOT NULL,
    settled_ms  BIGINT,
    note        TEXT
);
CREATE INDEX intents_open ON intents (state);

-- The engine's state, so a restart resumes timers and episodes.
CREATE TABLE circuit_state (
    circuit       TEXT PRIMARY KEY,
    wanted_mbps   BIGINT NOT NULL,
    pending_kind  TEXT,
    pending_at_ms BIGINT,
    episode       BIGINT NOT NULL,
    last_set_mbps BIGINT,
    actual_mbps   BIGINT,
    paused_reason TEXT,
    updated_ms    BIGINT NOT NULL,
    -- The incident of the episode in progress (JSON of EpisodeIncident).
    incident_json TEXT
);

CREATE TABLE link_state (
    link         TEXT PRIMARY KEY,
    status       TEXT   NOT NULL,
    since_ms     BIGINT NOT NULL,
    signals_json TEXT   NOT NULL,
    updated_ms   BIGINT NOT NULL
);

-- ServiceNow calls decided by the engine, written in the same transaction as
-- the decision that caused them and delivered in id order.
-- kind = open | note | resolve; state = pending | delivered | failed.
CREATE TABLE servicenow_outbox (
    id             BIGSERIAL PRIMARY KEY,
    correlation_id TEXT   NOT NULL,
    circuit        TEXT   NOT NULL,
    episode        BIGINT NOT NULL,
    kind           TEXT   NOT NULL,
    payload        TEXT   NOT NULL,
    created_ms     BIGINT NOT NULL,
    state          TEXT   NOT NULL DEFAULT 'pending',
    attempts       BIGINT NOT NULL DEFAULT 0,
    last_error     TEXT,
    done_ms        BIGINT
);
CREATE INDEX servicenow_outbox_state ON servicenow_outbox (state, id);

-- Incidents opened in ServiceNow, by correlation id (megaflex:<circuit>:<episode>).
-- seq orders incidents opened in the same millisecond (SQLite's rowid).
CREATE TABLE incidents (
    correlation_id TEXT PRIMARY KEY,
    circuit        TEXT   NOT NULL,
    episode        BIGINT NOT NULL,
    sys_id         TEXT   NOT NULL,
    number         TEXT   NOT NULL,
    opened_ms      BIGINT NOT NULL,
    resolved_ms    BIGINT,
    seq            BIGSERIAL
);

-- megaflex's SNMP engine (RFC 3414): engineBoots per engine ID, raised at
-- every start. is_default marks the engine ID made at random the first time.
CREATE TABLE snmp_engine (
    engine_id  BYTEA   PRIMARY KEY,
    boots      BIGINT  NOT NULL,
    is_default BOOLEAN NOT NULL DEFAULT FALSE
);

-- The daemon holding the store (one row, rewritten at each start). The lock
-- itself is a session advisory lock held on a dedicated connection, released
-- by PostgreSQL when that connection ends however the process ends.
CREATE TABLE instance (
    id         BIGINT PRIMARY KEY CHECK (id = 1),
    pid        BIGINT NOT NULL,
    host       TEXT   NOT NULL,
    started_ms BIGINT NOT NULL,
    version    TEXT   NOT NULL
);
