-- The live event stream (WatchEvents) and renewal reminders.
--
-- Event ids in commit order: every transaction that writes an event takes
-- one transaction-scoped advisory lock first, so a transaction cannot
-- commit an event with a lower id after another committed a higher one.
-- A watcher that has read up to id N therefore never sees an id below N
-- appear later: resuming after N loses nothing. The stores write an
-- event as the last statement before COMMIT, so the lock is held only
-- for the commit itself.
CREATE FUNCTION neo_support_event_order() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7243917005421);
    RETURN NULL;
END
$$;
CREATE TRIGGER events_in_commit_order BEFORE INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION neo_support_event_order();

-- Every statement that writes events notifies neo_support_event when its
-- transaction commits; servers LISTEN and wake their watchers.
CREATE FUNCTION neo_support_event_written() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('neo_support_event', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER events_written AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION neo_support_event_written();

-- Renewal reminders: one row per contract, period (its end) and threshold,
-- written with its mail in the outbox in one transaction; the unique key
-- makes it once across restarts and replicas.
CREATE TABLE renewal_reminders (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contract_id TEXT        NOT NULL REFERENCES contracts (id),
    period_end  DATE        NOT NULL,
    threshold   TEXT        NOT NULL,
    due_on      DATE        NOT NULL,
    outbox_id   BIGINT      NOT NULL REFERENCES outbox (id),
    created_at  TIMESTAMPTZ NOT NULL,
    UNIQUE (contract_id, period_end, threshold)
);
-- The hourly check reads the live periods ending in a window of dates
-- whose reminders are not closed: a period is closed once a later period
-- follows it, once its last reminder is queued, or once a plain renewal
-- is no longer possible; so the index holds about one open period per
-- contract, and the check reads those ending near today.
ALTER TABLE contract_orders ADD COLUMN reminders_closed BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX contract_orders_reminders_open ON contract_orders (end_on, contract_id)
    WHERE reminders_closed = FALSE AND superseded_by IS NULL AND kind <> 'add-seats'
    AND end_on IS NOT NULL;
