-- OTTSONLY schema, SQLite.
--
-- Conventions: ids are UUIDv7 TEXT (string order = creation order, so lists page by id);
-- money is INTEGER paise; timestamps are INTEGER unix milliseconds; bools are INTEGER 0/1;
-- enums are TEXT holding the model's `as_str()`. Tables are STRICT so a wrong type (say a
-- REAL produced by an integer overflow) is an error instead of being stored silently.
--
-- No foreign keys: the storage contract does not promise referential integrity (the MongoDB
-- backend cannot), and a credential is claimed for a subscription before that row exists.

CREATE TABLE users (
    id                   TEXT    NOT NULL PRIMARY KEY,
    phone                TEXT    NOT NULL,
    name                 TEXT,
    email                TEXT,
    role                 TEXT    NOT NULL,
    is_blocked           INTEGER NOT NULL CHECK (is_blocked IN (0, 1)),
    token_version        INTEGER NOT NULL,
    wallet_balance_paise INTEGER NOT NULL CHECK (wallet_balance_paise >= 0),
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX users_phone ON users (phone);

CREATE TABLE otps (
    phone           TEXT    NOT NULL PRIMARY KEY,
    code_mac        TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL CHECK (attempts >= 0),
    consumed_at     INTEGER,
    last_sent_at    INTEGER NOT NULL,
    window_start    INTEGER NOT NULL,
    sends_in_window INTEGER NOT NULL CHECK (sends_in_window >= 0)
) STRICT, WITHOUT ROWID;

CREATE TABLE refresh_tokens (
    id            TEXT    NOT NULL PRIMARY KEY,
    user_id       TEXT    NOT NULL,
    family_id     TEXT    NOT NULL,
    token_hash    TEXT    NOT NULL,
    token_version INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    used_at       INTEGER,
    revoked_at    INTEGER
) STRICT;
CREATE UNIQUE INDEX refresh_tokens_token_hash ON refresh_tokens (token_hash);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE products (
    id            TEXT    NOT NULL PRIMARY KEY,
    platform_name TEXT    NOT NULL,
    plan_name     TEXT    NOT NULL,
    description   TEXT    NOT NULL,
    price_paise   INTEGER NOT NULL CHECK (price_paise >= 0),
    duration_days INTEGER NOT NULL CHECK (duration_days >= 0),
    stock         INTEGER NOT NULL CHECK (stock >= 0),
    is_active     INTEGER NOT NULL CHECK (is_active IN (0, 1)),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE credentials (
    id              TEXT    NOT NULL PRIMARY KEY,
    product_id      TEXT,
    sealed          BLOB    NOT NULL,
    status          TEXT    NOT NULL,
    subscription_id TEXT,
    created_at      INTEGER NOT NULL,
    assigned_at     INTEGER
) STRICT;
CREATE UNIQUE INDEX credentials_subscription ON credentials (subscription_id)
    WHERE subscription_id IS NOT NULL;
-- claim_credential and count_available_credentials: oldest available of a product.
CREATE INDEX credentials_pool ON credentials (product_id, status, id);

CREATE TABLE orders (
    id              TEXT    NOT NULL PRIMARY KEY,
    user_id         TEXT    NOT NULL,
    product_id      TEXT    NOT NULL,
    product_name    TEXT    NOT NULL,
    amount_paise    INTEGER NOT NULL CHECK (amount_paise >= 0),
    status          TEXT    NOT NULL,
    idempotency_key TEXT,
    created_at      INTEGER NOT NULL,
    paid_at         INTEGER NOT NULL,
    refunded_at     INTEGER,
    refund_reason   TEXT,
    refunded_by     TEXT,
    updated_at      INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX orders_idempotency ON orders (user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX orders_user ON orders (user_id, id);
CREATE INDEX orders_status ON orders (status, id);

CREATE TABLE subscriptions (
    id            TEXT    NOT NULL PRIMARY KEY,
    user_id       TEXT    NOT NULL,
    product_id    TEXT    NOT NULL,
    order_id      TEXT    NOT NULL,
    platform_name TEXT    NOT NULL,
    plan_name     TEXT    NOT NULL,
    duration_days INTEGER NOT NULL CHECK (duration_days >= 0),
    status        TEXT    NOT NULL,
    start_at      INTEGER,
    end_at        INTEGER,
    credential_id TEXT,
    reminded_at   INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX subscriptions_order ON subscriptions (order_id);
CREATE INDEX subscriptions_user ON subscriptions (user_id, id);
-- Expiry sweep and reminders: active subscriptions by end date.
CREATE INDEX subscriptions_status_end ON subscriptions (status, end_at, id);
CREATE INDEX subscriptions_product ON subscriptions (product_id, id);

CREATE TABLE ledger (
    id                  TEXT    NOT NULL PRIMARY KEY,
    user_id             TEXT    NOT NULL,
    kind                TEXT    NOT NULL,
    amount_paise        INTEGER NOT NULL CHECK (amount_paise >= 0),
    balance_after_paise INTEGER NOT NULL CHECK (balance_after_paise >= 0),
    reference_type      TEXT    NOT NULL,
    reference_id        TEXT    NOT NULL,
    description         TEXT    NOT NULL,
    actor_id            TEXT,
    created_at          INTEGER NOT NULL
) STRICT;
-- One debit per order, one refund per order, one credit per payment: the double-spend guard.
CREATE UNIQUE INDEX ledger_reference ON ledger (reference_type, reference_id, kind);
CREATE INDEX ledger_user ON ledger (user_id, id);

CREATE TABLE topups (
    id                 TEXT    NOT NULL PRIMARY KEY,
    user_id            TEXT    NOT NULL,
    amount_paise       INTEGER NOT NULL CHECK (amount_paise >= 0),
    currency           TEXT    NOT NULL,
    gateway_order_id   TEXT    NOT NULL,
    gateway_payment_id TEXT,
    status             TEXT    NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    paid_at            INTEGER
) STRICT;
CREATE UNIQUE INDEX topups_gateway_order ON topups (gateway_order_id);
-- One payment credits one top-up, however often the webhook is replayed.
CREATE UNIQUE INDEX topups_gateway_payment ON topups (gateway_payment_id)
    WHERE gateway_payment_id IS NOT NULL;
CREATE INDEX topups_status_created ON topups (status, created_at, id);

CREATE TABLE notifications (
    id         TEXT    NOT NULL PRIMARY KEY,
    user_id    TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    title      TEXT    NOT NULL,
    message    TEXT    NOT NULL,
    is_read    INTEGER NOT NULL CHECK (is_read IN (0, 1)),
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX notifications_user ON notifications (user_id, id);
-- The unread badge is read on every page view; keep it off the read rows.
CREATE INDEX notifications_unread ON notifications (user_id, id) WHERE is_read = 0;

CREATE TABLE broadcasts (
    id         TEXT    NOT NULL PRIMARY KEY,
    audience   TEXT    NOT NULL,
    title      TEXT    NOT NULL,
    message    TEXT    NOT NULL,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX broadcasts_audience ON broadcasts (audience, id);

-- A user's read/deleted state of one broadcast, written only when they act on it.
CREATE TABLE broadcast_states (
    broadcast_id TEXT    NOT NULL,
    user_id      TEXT    NOT NULL,
    read_at      INTEGER,
    deleted_at   INTEGER,
    PRIMARY KEY (broadcast_id, user_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE outbox (
    id           TEXT    NOT NULL PRIMARY KEY,
    payload      TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    attempts     INTEGER NOT NULL CHECK (attempts >= 0),
    created_at   INTEGER NOT NULL,
    due_at       INTEGER NOT NULL,
    lease_owner  TEXT,
    lease_until  INTEGER,
    last_error   TEXT,
    delivered_at INTEGER
) STRICT;
CREATE INDEX outbox_due ON outbox (status, due_at, id);
CREATE INDEX outbox_status ON outbox (status, id);

CREATE TABLE audit_log (
    id          TEXT    NOT NULL PRIMARY KEY,
    actor_id    TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    target_type TEXT    NOT NULL,
    target_id   TEXT    NOT NULL,
    details     TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX audit_actor ON audit_log (actor_id, id);
CREATE INDEX audit_target ON audit_log (target_id, id);

CREATE TABLE settings (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
) STRICT, WITHOUT ROWID;
