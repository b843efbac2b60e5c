-- Support contracts, their orders (each with the period it computed), and
-- technical inquiries.

CREATE TABLE contracts (
    id            TEXT    PRIMARY KEY,
    customer_name TEXT    NOT NULL,
    contact_email TEXT    NOT NULL,
    license_id    TEXT    NOT NULL UNIQUE,
    seats         BIGINT  NOT NULL CHECK (seats >= 1),
    customized    BOOLEAN NOT NULL,
    created_at    TIMESTAMPTZ    NOT NULL
);

CREATE TABLE contract_orders (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contract_id    TEXT    NOT NULL REFERENCES contracts (id),
    kind           TEXT    NOT NULL CHECK (kind IN ('first-year', 'renewal', 're-continuation', 'add-seats', 'certificate')),
    received_on    DATE    NOT NULL,
    purchased_on   DATE,
    seats          BIGINT  NOT NULL,
    start_on       DATE,
    end_on         DATE,
    covered_from   DATE,
    certificate_no TEXT,
    superseded_by  BIGINT  REFERENCES contract_orders (id),
    created_at     TIMESTAMPTZ    NOT NULL,
    created_by     TEXT    NOT NULL,
    CHECK ((start_on IS NULL) = (end_on IS NULL) AND (start_on IS NULL) = (covered_from IS NULL))
);
CREATE INDEX contract_orders_by_contract ON contract_orders (contract_id, id);

CREATE TABLE inquiries (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contract_id        TEXT NOT NULL REFERENCES contracts (id),
    product            TEXT NOT NULL,
    category           TEXT NOT NULL,
    subject            TEXT NOT NULL,
    body               TEXT NOT NULL,
    reply_to           TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('open', 'answered')),
    received_at        TIMESTAMPTZ NOT NULL,
    handling_starts_at TIMESTAMPTZ NOT NULL,
    answered_at        TIMESTAMPTZ,
    submitted_by       TEXT NOT NULL
);
CREATE INDEX inquiries_queue ON inquiries (handling_starts_at, id);
CREATE INDEX inquiries_by_contract ON inquiries (contract_id, handling_starts_at, id);
