-- The Telegram shop: which Telegram account is which user, and the bot's polling lease with
-- its stored update offset.
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
    update_offset INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
