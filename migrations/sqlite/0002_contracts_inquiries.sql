-- Support contracts, their orders (each with the period it computed), and
-- technical inquiries.

CREATE TABLE contracts (
    id            TEXT    PRIMARY KEY,
    customer_name TEXT    NOT NULL,
    contact_email TEXT    NOT NULL,
    license_id    TEXT    NOT NULL UNIQUE,
    seats         INTEGER NOT NULL CHECK (seats >= 1),
    customized    BOOLEAN NOT NULL,
    created_at    TEXT    NOT NULL
);

CREATE TABLE contract_orders (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    contract_id    TEXT    NOT NULL REFERENCES contracts (id),
    kind           TEXT    NOT NULL CHECK (kind IN ('first-year', 'renewal', 're-continuation', 'add-seats', 'certificate')),
    received_on    TEXT    NOT NULL,
    purchased_on   TEXT,
    seats          INTEGER NOT NULL,
    start_on       TEXT,
    end_on         TEXT,
    covered_from   TEXT,
    certificate_no TEXT,
    superseded_by  INTEGER REFERENCES contract_orders (id),
    created_at     TEXT    NOT NULL,
    created_by     TEXT    NOT NULL,
    CHECK ((start_on IS NULL) = (end_on IS NULL) AND (start_on IS NULL) = (covered_from IS NULL))
);
CREATE INDEX contract_orders_by_contract ON contract_orders (contract_id, id);

CREATE TABLE inquiries (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    contract_id        TEXT NOT NULL REFERENCES contracts (id),
    product            TEXT NOT NULL,
    category           TEXT NOT NULL,
    subject            TEXT NOT NULL,
    body               TEXT NOT NULL,
    reply_to           TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('open', 'answered')),
    received_at        TEXT NOT NULL,
    handling_starts_at TEXT NOT NULL,
    answered_at        TEXT,
    submitted_by       TEXT NOT NULL
);
CREATE INDEX inquiries_queue ON inquiries (handling_starts_at, id);
CREATE INDEX inquiries_by_contract ON inquiries (contract_id, handling_starts_at, id);
