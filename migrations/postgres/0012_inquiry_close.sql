-- An inquiry can be closed without a reply (`inquiry close ID --reason`):
-- status 'closed', with when and why.
ALTER TABLE inquiries DROP CONSTRAINT inquiries_status_check;
ALTER TABLE inquiries ADD CONSTRAINT inquiries_status_check
    CHECK (status IN ('open', 'answered', 'closed'));
ALTER TABLE inquiries ADD COLUMN closed_at TIMESTAMPTZ;
ALTER TABLE inquiries ADD COLUMN close_reason TEXT;
