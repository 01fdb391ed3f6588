-- The daemon holding the store (one row, rewritten at each start). The lock
-- itself is an exclusive flock on `<database>.lock`, released by the kernel
-- when the process dies however it dies; this row only lets a second daemon
-- (or `megaflex resume`) name the one that holds it. Writing it at start is
-- also the probe that the store can be written at all.
CREATE TABLE instance (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    pid        INTEGER NOT NULL,
    host       TEXT    NOT NULL,
    started_ms INTEGER NOT NULL,
    version    TEXT    NOT NULL
);
