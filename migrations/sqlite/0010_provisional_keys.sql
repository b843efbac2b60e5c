-- Installations (issue 15): the version 2 fingerprint components a
-- reissue changes, and the provisional key a reissue gets while it waits
-- for staff review. Provisional keys live apart from license_keys: they
-- are outside a license's sequence, count as no transfer, and are never
-- the license's active key.
ALTER TABLE reissue_requests ADD COLUMN changed_components TEXT;
ALTER TABLE reissue_requests ADD COLUMN provisional_key_id TEXT;

CREATE TABLE provisional_keys (
    id             TEXT PRIMARY KEY,
    reissue_id     TEXT NOT NULL UNIQUE REFERENCES reissue_requests (id),
    license_id     TEXT NOT NULL REFERENCES contracts (license_id),
    contract_id    TEXT NOT NULL REFERENCES contracts (id),
    sequence       BIGINT NOT NULL DEFAULT 0 CHECK (sequence = 0),
    fingerprint    TEXT NOT NULL,
    token          TEXT NOT NULL,
    signing_key_id TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('provisional', 'superseded', 'revoked')),
    supersedes     TEXT,
    superseded_by  TEXT,
    issued_at      TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    requested_by   TEXT NOT NULL,
    revoked_at     TEXT,
    revoke_reason  TEXT
);
