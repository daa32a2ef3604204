-- Gateway webhook events already handled, for de-duplication of redeliveries.
CREATE TABLE webhook_events (
    source TEXT NOT NULL,
    event_id TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (source, event_id)
) STRICT, WITHOUT ROWID;
