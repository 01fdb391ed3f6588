-- ServiceNow calls decided by the engine, written in the same transaction as
-- the decision that caused them and delivered later in id order per
-- incident. kind = open | note | resolve; state = pending | delivered | failed.
CREATE TABLE servicenow_outbox (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    correlation_id TEXT    NOT NULL,
    circuit        TEXT    NOT NULL,
    episode        INTEGER NOT NULL,
    kind           TEXT    NOT NULL,
    payload        TEXT    NOT NULL,
    created_ms     INTEGER NOT NULL,
    state          TEXT    NOT NULL DEFAULT 'pending',
    attempts       INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT,
    done_ms        INTEGER
);
CREATE INDEX servicenow_outbox_state ON servicenow_outbox (state, id);

-- Incidents opened in ServiceNow, by correlation id (megaflex:<circuit>:<episode>).
CREATE TABLE incidents (
    correlation_id TEXT PRIMARY KEY,
    circuit        TEXT    NOT NULL,
    episode        INTEGER NOT NULL,
    sys_id         TEXT    NOT NULL,
    number         TEXT    NOT NULL,
    opened_ms      INTEGER NOT NULL,
    resolved_ms    INTEGER
);

-- The incident of the episode in progress (JSON of EpisodeIncident), so a
-- restart adds to the same incident.
ALTER TABLE circuit_state ADD COLUMN incident_json TEXT;
