-- The token lifecycle: tokens expire, a revocation keeps its reason, a
-- token records which token created it (NULL for `neo-supportd token
-- create`), and the audit trail records the acting token's id.
ALTER TABLE access_tokens ADD COLUMN expires_at TEXT;
ALTER TABLE access_tokens ADD COLUMN revoke_reason TEXT;
ALTER TABLE access_tokens ADD COLUMN created_by INTEGER REFERENCES access_tokens (id);
CREATE INDEX access_tokens_by_creator ON access_tokens (created_by, id);
CREATE INDEX access_tokens_by_contract ON access_tokens (contract_id, id);

ALTER TABLE events ADD COLUMN actor_token_id INTEGER;

-- Why a reissue waits for review (the allowance is used up, or staff
-- revoked the license's key, with their reason); a license's pending
-- request is found without walking the whole queue.
ALTER TABLE reissue_requests ADD COLUMN review_reason TEXT;
CREATE INDEX reissue_requests_pending_by_license ON reissue_requests (license_id) WHERE status = 'pending_review';

-- Bumped by every revocation, whoever makes it (a server, `neo-supportd
-- token revoke` in another process, plain SQL): servers poll this one row
-- and forget the tokens they remember when it moves.
CREATE TABLE token_revocations (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    revision INTEGER NOT NULL
);
INSERT INTO token_revocations (id, revision) VALUES (1, 0);
CREATE TRIGGER access_tokens_revoked AFTER UPDATE OF revoked_at ON access_tokens
WHEN NEW.revoked_at IS NOT NULL AND OLD.revoked_at IS NULL
BEGIN
    UPDATE token_revocations SET revision = revision + 1 WHERE id = 1;
END;
CREATE TRIGGER access_tokens_deleted AFTER DELETE ON access_tokens
BEGIN
    UPDATE token_revocations SET revision = revision + 1 WHERE id = 1;
END;
