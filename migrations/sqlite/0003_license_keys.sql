-- License keys, reissue requests and the e-mail outbox.

CREATE TABLE license_keys (
    id             TEXT    PRIMARY KEY,
    license_id     TEXT    NOT NULL REFERENCES contracts (license_id),
    contract_id    TEXT    NOT NULL REFERENCES contracts (id),
    sequence       INTEGER NOT NULL CHECK (sequence >= 1),
    fingerprint    TEXT    NOT NULL,
    token          TEXT    NOT NULL,
    signing_key_id TEXT    NOT NULL,
    status         TEXT    NOT NULL CHECK (status IN ('active', 'superseded', 'revoked')),
    supersedes     TEXT    REFERENCES license_keys (id),
    superseded_by  TEXT,
    issued_at      TEXT    NOT NULL,
    requested_by   TEXT    NOT NULL,
    revoked_at     TEXT,
    revoked_by     TEXT,
    revoke_reason  TEXT,
    UNIQUE (license_id, sequence)
);
-- At most one active key per license, whatever the timing.
CREATE UNIQUE INDEX license_keys_one_active ON license_keys (license_id) WHERE status = 'active';

CREATE TABLE reissue_requests (
    id            TEXT PRIMARY KEY,
    license_id    TEXT NOT NULL REFERENCES contracts (license_id),
    contract_id   TEXT NOT NULL REFERENCES contracts (id),
    request_id    TEXT NOT NULL,
    fingerprint   TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('issued', 'unchanged', 'pending_review', 'approved', 'rejected')),
    received_at   TEXT NOT NULL,
    delivery_on   TEXT NOT NULL,
    key_id        TEXT REFERENCES license_keys (id),
    requested_by  TEXT NOT NULL,
    decided_by    TEXT,
    decided_at    TEXT,
    reject_reason TEXT,
    UNIQUE (license_id, request_id)
);
CREATE INDEX reissue_requests_queue ON reissue_requests (status, delivery_on, id);

CREATE TABLE outbox (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    kind           TEXT    NOT NULL,
    recipient      TEXT    NOT NULL,
    subject        TEXT    NOT NULL,
    body           TEXT    NOT NULL,
    due_on         TEXT    NOT NULL,
    license_key_id TEXT    REFERENCES license_keys (id),
    status         TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    created_at     TEXT    NOT NULL,
    sent_at        TEXT
);
CREATE INDEX outbox_pending ON outbox (status, due_on, id);
