-- megaflex's SNMP engine (RFC 3414): engineBoots counted per engine ID and
-- raised at every start, so an inform captured before a restart is outside
-- the timeliness window after it. is_default = 1 marks the engine ID made at
-- random the first time, for SNMP sources that configure none.
CREATE TABLE snmp_engine (
    engine_id  BLOB    PRIMARY KEY,
    boots      INTEGER NOT NULL,
    is_default INTEGER NOT NULL DEFAULT 0
);
