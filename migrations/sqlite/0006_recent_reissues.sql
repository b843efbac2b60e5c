-- The recent-reissue count reads a license's keys by issue time, so it
-- stops after the review allowance however many keys the license has.
CREATE INDEX license_keys_by_issue_time ON license_keys (license_id, issued_at);
