-- An inquiry can be closed without a reply (`inquiry close ID --reason`):
-- status 'closed', with when and why. SQLite cannot widen the status
-- CHECK in place and sqlx runs SQLite migrations inside a transaction,
-- where foreign keys cannot be turned off for a rebuild: the store
-- rebuilds the table once after the migrations (`widen_inquiry_status` in
-- src/store/sqlite.rs).
ALTER TABLE inquiries ADD COLUMN closed_at TEXT;
ALTER TABLE inquiries ADD COLUMN close_reason TEXT;
