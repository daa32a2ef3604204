-- Codes submitted in the current send window, across resends: the daily guess budget.
-- Rows written before this migration start at 0 (their window had at most one code's attempts).
ALTER TABLE otps ADD COLUMN guesses_in_window INTEGER NOT NULL DEFAULT 0 CHECK (guesses_in_window >= 0);
