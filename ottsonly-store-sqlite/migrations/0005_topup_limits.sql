-- Reconciliation walks open top-ups newest first with a rotating cursor (status, then id).
CREATE INDEX topups_status_id ON topups (status, id);
DROP INDEX topups_status_created;
-- Per-user top-up limits: open intents and intents created in the last minute.
CREATE INDEX topups_user_created ON topups (user_id, created_at);
