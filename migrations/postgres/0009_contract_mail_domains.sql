-- The mail domains staff allow a contract's inquiry replies to go to,
-- beyond the contact address's own domain; and the inquiries of a contract
-- by the instant they were received, for the per-day limit.
CREATE TABLE contract_mail_domains (
    contract_id TEXT        NOT NULL REFERENCES contracts (id),
    domain      TEXT        NOT NULL,
    added_at    TIMESTAMPTZ NOT NULL,
    added_by    TEXT        NOT NULL,
    PRIMARY KEY (contract_id, domain)
);
CREATE INDEX inquiries_by_contract_received ON inquiries (contract_id, received_at);
