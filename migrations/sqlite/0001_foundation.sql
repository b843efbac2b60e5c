-- Access tokens, company closures and national-holiday overrides.
-- Instants are RFC 3339 UTC text, dates are YYYY-MM-DD text (sqlx's chrono
-- encoding for SQLite).

CREATE TABLE access_tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL,
    role        TEXT    NOT NULL CHECK (role IN ('staff', 'customer')),
    contract_id TEXT,
    token_hash  TEXT    NOT NULL UNIQUE,
    created_at  TEXT    NOT NULL,
    revoked_at  TEXT,
    CHECK ((role = 'staff') = (contract_id IS NULL))
);
-- A name is unique among the tokens still in use.
CREATE UNIQUE INDEX access_tokens_active_name ON access_tokens (name) WHERE revoked_at IS NULL;

CREATE TABLE company_closures (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT NOT NULL,
    start_on        TEXT,
    end_on          TEXT,
    start_month_day TEXT,
    end_month_day   TEXT,
    created_at      TEXT NOT NULL,
    CHECK (
        (start_on IS NOT NULL AND end_on IS NOT NULL AND start_month_day IS NULL AND end_month_day IS NULL)
        OR (start_on IS NULL AND end_on IS NULL AND start_month_day IS NOT NULL AND end_month_day IS NOT NULL)
    )
);

CREATE TABLE holiday_overrides (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    holiday_on TEXT    NOT NULL UNIQUE,
    is_holiday BOOLEAN NOT NULL,
    name       TEXT    NOT NULL,
    note       TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    CHECK (is_holiday = (name <> ''))
);
