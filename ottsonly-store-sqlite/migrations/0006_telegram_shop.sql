-- The Telegram shop: which Telegram account is which user, the bot's polling lease with its
-- stored update offset and notification push cursor, and the notifications pushed per chat.
CREATE TABLE telegram_links (
    telegram_user_id INTEGER PRIMARY KEY,
    -- One Telegram account per user (relinking moves it).
    user_id TEXT NOT NULL UNIQUE,
    chat_id INTEGER NOT NULL,
    linked_at INTEGER NOT NULL
) STRICT;

CREATE TABLE telegram_bot_leases (
    name TEXT PRIMARY KEY,
    owner TEXT,
    lease_until INTEGER NOT NULL,
    update_offset INTEGER NOT NULL,
    -- The last notification id the push has looked at.
    push_cursor TEXT
) STRICT, WITHOUT ROWID;

-- One row per notification and chat, written before the message is sent: at most once.
CREATE TABLE telegram_deliveries (
    notification_id TEXT NOT NULL,
    chat_id INTEGER NOT NULL,
    sent_at INTEGER NOT NULL,
    PRIMARY KEY (notification_id, chat_id)
) STRICT, WITHOUT ROWID;
