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
-- The hourly check reads the live periods ending in a window of dates.
CREATE INDEX contract_orders_live_by_end ON contract_orders (end_on, contract_id)
    WHERE superseded_by IS NULL AND kind <> 'add-seats' AND end_on IS NOT NULL;
