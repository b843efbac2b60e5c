-- Delivery state of the outbox: when a message may next be tried, who holds
-- it while sending, the last error, and the Message-ID it was sent with.
ALTER TABLE outbox ADD COLUMN next_attempt_at TEXT;
ALTER TABLE outbox ADD COLUMN claimed_until TEXT;
ALTER TABLE outbox ADD COLUMN last_error TEXT;
ALTER TABLE outbox ADD COLUMN message_id TEXT;
ALTER TABLE outbox ADD COLUMN inquiry_id INTEGER REFERENCES inquiries (id);
UPDATE outbox SET next_attempt_at = created_at WHERE next_attempt_at IS NULL;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at, id);
