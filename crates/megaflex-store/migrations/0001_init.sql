-- megaflex audit store. Times are epoch milliseconds (UTC); read them with
-- datetime(at_ms / 1000, 'unixepoch'). Documented in docs/STORE.md.

-- Canonical events that changed a link's state (not every datagram).
CREATE TABLE events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id    INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    source      TEXT    NOT NULL,
    peer        TEXT,
    device      TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    entity      TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    administrative INTEGER NOT NULL DEFAULT 0,
    raw         TEXT    NOT NULL
);

CREATE TABLE link_transitions (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    link      TEXT    NOT NULL,
    from_state TEXT   NOT NULL,
    to_state  TEXT    NOT NULL,
    at_ms     INTEGER NOT NULL,
    event_id  INTEGER
);
CREATE INDEX link_transitions_link ON link_transitions (link, at_ms);

-- Every circuit decision with its reason: wanted-rate changes, updates,
-- waits, refusals, outside changes, intent settlements.
CREATE TABLE decisions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms       INTEGER NOT NULL,
    circuit     TEXT    NOT NULL,
    episode     INTEGER NOT NULL,
    action      TEXT    NOT NULL,
    wanted_mbps INTEGER NOT NULL,
    reason      TEXT    NOT NULL
);
CREATE INDEX decisions_circuit ON decisions (circuit, at_ms);

-- Every Megaport API call the engine made (never headers or credentials).
CREATE TABLE api_calls (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms       INTEGER NOT NULL,
    method      TEXT    NOT NULL,
    path        TEXT    NOT NULL,
    status      INTEGER,
    trace_id    TEXT,
    duration_ms INTEGER NOT NULL,
    attempt     INTEGER NOT NULL,
    error       TEXT
);

-- The update ledger: Megaport allows one update per VXC per 5 minutes and
-- 100 per calendar month. origin = made | observed.
CREATE TABLE updates (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    vxc_uid TEXT    NOT NULL,
    at_ms   INTEGER NOT NULL,
    origin  TEXT    NOT NULL
);
CREATE INDEX updates_vxc ON updates (vxc_uid, at_ms);

-- Written before each update, settled after: open | confirmed | failed | dropped.
CREATE TABLE intents (
    id          INTEGER PRIMARY KEY,
    circuit     TEXT    NOT NULL,
    vxc_uid     TEXT    NOT NULL,
    target_mbps INTEGER NOT NULL,
    created_ms  INTEGER NOT NULL,
    state       TEXT    NOT NULL,
    settled_ms  INTEGER,
    note        TEXT
);
CREATE INDEX intents_open ON intents (state);

-- The engine's state, so a restart resumes timers and episodes.
CREATE TABLE circuit_state (
    circuit       TEXT PRIMARY KEY,
    wanted_mbps   INTEGER NOT NULL,
    pending_kind  TEXT,
    pending_at_ms INTEGER,
    episode       INTEGER NOT NULL,
    last_set_mbps INTEGER,
    actual_mbps   INTEGER,
    paused_reason TEXT,
    updated_ms    INTEGER NOT NULL
);

CREATE TABLE link_state (
    link          TEXT PRIMARY KEY,
    status        TEXT    NOT NULL,
    since_ms      INTEGER NOT NULL,
    signals_json  TEXT    NOT NULL,
    updated_ms    INTEGER NOT NULL
);
