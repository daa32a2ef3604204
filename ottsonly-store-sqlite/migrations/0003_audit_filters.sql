-- The audit log is listed (newest first) by actor, by target id, by target type and by action;
-- each filter gets an index ending in `id` so that a page is a range scan. (actor_id, id) and
-- (target_id, id) exist since 0001.
CREATE INDEX audit_action ON audit_log (action, id);
CREATE INDEX audit_target_type ON audit_log (target_type, id);
