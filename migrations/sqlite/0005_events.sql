-- The audit trail: one row per change, written in the change's own
-- transaction.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    occurred_at TEXT NOT NULL,
    actor       TEXT NOT NULL,
    request_id  TEXT,
    kind        TEXT NOT NULL,
    contract_id TEXT,
    license_id  TEXT,
    subject     TEXT NOT NULL,
    detail      TEXT NOT NULL
);
CREATE INDEX events_by_contract ON events (contract_id, id);
CREATE INDEX events_by_license ON events (license_id, id);
CREATE INDEX events_by_kind ON events (kind, id);
CREATE INDEX events_by_time ON events (occurred_at, id);
