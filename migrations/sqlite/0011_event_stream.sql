-- Renewal reminders: one row per contract, period (its end) and threshold,
-- written with its mail in the outbox in one transaction; the unique key
-- makes it once across restarts. (SQLite writes one transaction at a
-- time, so event ids are committed in order without more.)
CREATE TABLE renewal_reminders (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    contract_id TEXT    NOT NULL REFERENCES contracts (id),
    period_end  TEXT    NOT NULL,
    threshold   TEXT    NOT NULL,
    due_on      TEXT    NOT NULL,
    outbox_id   INTEGER NOT NULL REFERENCES outbox (id),
    created_at  TEXT    NOT NULL,
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
