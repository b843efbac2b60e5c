-- Access tokens, company closures and national-holiday overrides.

CREATE TABLE access_tokens (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        TEXT        NOT NULL,
    role        TEXT        NOT NULL CHECK (role IN ('staff', 'customer')),
    contract_id TEXT,
    token_hash  TEXT        NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ,
    CHECK ((role = 'staff') = (contract_id IS NULL))
);
-- A name is unique among the tokens still in use.
CREATE UNIQUE INDEX access_tokens_active_name ON access_tokens (name) WHERE revoked_at IS NULL;

CREATE TABLE company_closures (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            TEXT        NOT NULL,
    start_on        DATE,
    end_on          DATE,
    start_month_day TEXT,
    end_month_day   TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    CHECK (
        (start_on IS NOT NULL AND end_on IS NOT NULL AND start_month_day IS NULL AND end_month_day IS NULL)
        OR (start_on IS NULL AND end_on IS NULL AND start_month_day IS NOT NULL AND end_month_day IS NOT NULL)
    )
);

CREATE TABLE holiday_overrides (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    holiday_on DATE        NOT NULL UNIQUE,
    is_holiday BOOLEAN     NOT NULL,
    name       TEXT        NOT NULL,
    note       TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    CHECK (is_holiday = (name <> ''))
);
