-- The token lifecycle: tokens expire, a revocation keeps its reason, a
-- token records which token created it (NULL for `neo-supportd token
-- create`), and the audit trail records the acting token's id.
ALTER TABLE access_tokens
    ADD COLUMN expires_at    TIMESTAMPTZ,
    ADD COLUMN revoke_reason TEXT,
    ADD COLUMN created_by    BIGINT REFERENCES access_tokens (id);
CREATE INDEX access_tokens_by_creator ON access_tokens (created_by, id);
CREATE INDEX access_tokens_by_contract ON access_tokens (contract_id, id);

ALTER TABLE events ADD COLUMN actor_token_id BIGINT;

-- Why a reissue waits for review (the allowance is used up, or staff
-- revoked the license's key, with their reason); a license's pending
-- request is found without walking the whole queue.
ALTER TABLE reissue_requests ADD COLUMN review_reason TEXT;
CREATE INDEX reissue_requests_pending_by_license ON reissue_requests (license_id) WHERE status = 'pending_review';

-- Every revocation, whoever makes it (a server, `neo-supportd token
-- revoke`, plain SQL), notifies channel neo_support_token_revoked with the
-- token's id when its transaction commits; servers LISTEN and forget it.
CREATE FUNCTION neo_support_token_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('neo_support_token_revoked', OLD.id::text);
    ELSE
        PERFORM pg_notify('neo_support_token_revoked', NEW.id::text);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER access_tokens_revoked AFTER UPDATE OF revoked_at ON access_tokens
    FOR EACH ROW WHEN (NEW.revoked_at IS NOT NULL AND OLD.revoked_at IS NULL)
    EXECUTE FUNCTION neo_support_token_revoked();
CREATE TRIGGER access_tokens_deleted AFTER DELETE ON access_tokens
    FOR EACH ROW EXECUTE FUNCTION neo_support_token_revoked();
