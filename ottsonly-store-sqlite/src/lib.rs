//! SQLite storage backend for OTTSONLY.
//!
//! [`SqliteStore`] implements [`ottsonly_core::Store`] over one SQLite file in WAL mode, through
//! sqlx. The schema lives in `migrations/` and is applied by every `open`.
//!
//! Concurrency model: readers run on a connection pool and never block writers (WAL). Units of
//! work are serialised twice: first on an in-process async mutex, so writers of this process
//! queue in Rust instead of spinning on `SQLITE_BUSY`, then by `BEGIN IMMEDIATE`, which takes
//! SQLite's write lock up front and so guards against other processes (a deferred transaction
//! that later tries to write can fail with `SQLITE_BUSY` halfway through its work).

mod read;
mod row;
mod tx;

use async_trait::async_trait;
use ottsonly_core::error::constraint;
use ottsonly_core::ids::*;
use ottsonly_core::model::*;
use ottsonly_core::{PhoneNumber, Store, StoreError, StoreRead, StoreResult, Tx};
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, OwnedMutexGuard};

/// How long a writer waits for the write lock (ours or SQLite's) before reporting
/// [`StoreError::Transient`].
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections of a file store: one writer at a time plus concurrent WAL readers.
const MAX_CONNECTIONS: u32 = 8;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// An OTTSONLY database in SQLite. Clones share the pool and the writer lock.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Held by the open unit of work (see the crate docs).
    writer: Arc<Mutex<()>>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at a `sqlite://path`, `sqlite:path` or
    /// `sqlite::memory:` URL and brings its schema up to date.
    pub async fn open(url: &str) -> StoreResult<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url).map_err(map_err)?;
        Self::connect(options, is_in_memory(url)).await
    }

    /// Opens (creating if missing) the database file at `path`.
    pub async fn open_path(path: &Path) -> StoreResult<SqliteStore> {
        Self::connect(SqliteConnectOptions::new().filename(path), false).await
    }

    /// A private in-memory database, gone when the last clone of the store is dropped.
    ///
    /// It has a single connection, because every connection to `:memory:` is its own database;
    /// so a reader waits while a unit of work is open. Use a file for concurrent tests.
    pub async fn open_in_memory() -> StoreResult<SqliteStore> {
        Self::open("sqlite::memory:").await
    }

    async fn connect(options: SqliteConnectOptions, in_memory: bool) -> StoreResult<SqliteStore> {
        let options = options
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .synchronous(SqliteSynchronous::Normal)
            // Every distinct statement (lists have a few shapes each) stays prepared.
            .statement_cache_capacity(256);
        let (options, pool) = if in_memory {
            // The database lives exactly as long as its one connection: never recycle it.
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
            (options, pool)
        } else {
            (
                options.journal_mode(SqliteJournalMode::Wal),
                SqlitePoolOptions::new().max_connections(MAX_CONNECTIONS),
            )
        };
        let pool = pool.connect_with(options).await.map_err(map_err)?;
        MIGRATOR.run(&pool).await.map_err(StoreError::backend)?;
        Ok(SqliteStore { pool, writer: Arc::new(Mutex::new(())) })
    }
}

fn is_in_memory(url: &str) -> bool {
    let rest = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let (db, params) = rest.split_once('?').unwrap_or((rest, ""));
    db == ":memory:" || params.split('&').any(|p| p == "mode=memory")
}

#[async_trait]
impl Store for SqliteStore {
    async fn begin(&self) -> StoreResult<Box<dyn Tx>> {
        let writer = tokio::time::timeout(BUSY_TIMEOUT, self.writer.clone().lock_owned())
            .await
            .map_err(|_| StoreError::Transient("timed out waiting for the writer lock".into()))?;
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(map_err)?;
        Ok(Box::new(SqliteTx { tx, _writer: writer }))
    }

    async fn reader(&self) -> StoreResult<Box<dyn StoreRead>> {
        Ok(Box::new(SqliteReader { pool: self.pool.clone() }))
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(drop).map_err(map_err)
    }

    fn backend_name(&self) -> &'static str {
        "sqlite"
    }
}

/// Reads outside a transaction: each takes a pool connection for one statement.
struct SqliteReader {
    pool: SqlitePool,
}

impl SqliteReader {
    async fn conn(&self) -> StoreResult<PoolConnection<Sqlite>> {
        self.pool.acquire().await.map_err(map_err)
    }
}

/// One unit of work. Field order matters: the transaction (rolled back on drop) goes before the
/// writer lock is released.
struct SqliteTx {
    tx: Transaction<'static, Sqlite>,
    _writer: OwnedMutexGuard<()>,
}

impl SqliteTx {
    async fn conn(&mut self) -> StoreResult<&mut SqliteConnection> {
        Ok(&mut *self.tx)
    }
}

/// Implements [`StoreRead`] for a type with a `conn()` by delegating every method to the
/// function of the same name in [`read`], so reader and unit of work share one SQL text.
macro_rules! impl_store_read {
    ($($ty:ty),+) => {$(
        impl_store_read!(@ $ty;
            get_user(id: &UserId) -> Option<User>;
            get_user_by_phone(phone: &PhoneNumber) -> Option<User>;
            list_users(filter: &UserFilter, slice: &Slice) -> Vec<User>;
            get_product(id: &ProductId) -> Option<Product>;
            list_products(include_inactive: bool, slice: &Slice) -> Vec<Product>;
            count_available_credentials(product: &ProductId) -> u64;
            get_credential(id: &CredentialId) -> Option<CredentialRecord>;
            get_order(id: &OrderId) -> Option<Order>;
            get_order_by_idempotency_key(user: &UserId, key: &str) -> Option<Order>;
            list_orders(filter: &OrderFilter, slice: &Slice) -> Vec<Order>;
            get_subscription(id: &SubscriptionId) -> Option<Subscription>;
            get_subscription_by_order(order: &OrderId) -> Option<Subscription>;
            list_subscriptions(filter: &SubscriptionFilter, slice: &Slice) -> Vec<Subscription>;
            list_subscriptions_ended(now: Timestamp, limit: u32) -> Vec<Subscription>;
            list_subscriptions_to_remind(now: Timestamp, until: Timestamp, limit: u32) -> Vec<Subscription>;
            list_ledger(user: &UserId, slice: &Slice) -> Vec<LedgerEntry>;
            ledger_sum(user: &UserId) -> i64;
            get_ledger_entry_by_reference(reference_type: ReferenceType, reference_id: &str, kind: EntryKind)
                -> Option<LedgerEntry>;
            get_topup(id: &TopUpId) -> Option<TopUp>;
            get_topup_by_gateway_order(gateway_order_id: &str) -> Option<TopUp>;
            list_open_topups(created_before: Timestamp, limit: u32) -> Vec<TopUp>;
            get_otp(phone: &PhoneNumber) -> Option<OtpRecord>;
            get_refresh_token_by_hash(token_hash: &str) -> Option<RefreshToken>;
            list_notifications(recipient: &Recipient, unread_only: bool, slice: &Slice) -> Vec<NotificationView>;
            count_unread_notifications(recipient: &Recipient) -> u64;
            list_outbox(status: Option<OutboxStatus>, slice: &Slice) -> Vec<OutboxItem>;
            list_audit(filter: &AuditFilter, slice: &Slice) -> Vec<AuditEntry>;
            get_setting(key: &str) -> Option<String>;
            webhook_event_seen(source: &str, event_id: &str) -> bool;
        );
    )+};
    (@ $ty:ty; $($name:ident($($arg:ident: $t:ty),*) -> $ret:ty;)+) => {
        #[async_trait]
        impl StoreRead for $ty {
            $(async fn $name(&mut self, $($arg: $t),*) -> StoreResult<$ret> {
                read::$name(&mut *self.conn().await?, $($arg),*).await
            })+
        }
    };
}

impl_store_read!(SqliteReader, SqliteTx);

/// The one place driver errors become [`StoreError`]s.
pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    if let Some(db) = e.as_database_error() {
        // sqlx reports the extended result code; its low byte is the primary code
        // (517 SQLITE_BUSY_SNAPSHOT is SQLITE_BUSY, 262 SQLITE_LOCKED_SHAREDCACHE is SQLITE_LOCKED).
        let code: i32 = db.code().and_then(|c| c.parse().ok()).unwrap_or(0);
        const SQLITE_BUSY: i32 = 5;
        const SQLITE_LOCKED: i32 = 6;
        if matches!(code & 0xff, SQLITE_BUSY | SQLITE_LOCKED) {
            return StoreError::Transient(db.message().to_owned());
        }
        if db.is_unique_violation()
            && let Some(constraint) = unique_constraint(code, db.message())
        {
            return StoreError::Conflict { constraint };
        }
    }
    // Everything else, CHECK failures included (core validates first, so those are bugs).
    StoreError::backend(e)
}

/// Names the violated unique rule from SQLite's message, e.g.
/// `UNIQUE constraint failed: users.phone`.
fn unique_constraint(code: i32, message: &str) -> Option<&'static str> {
    const SQLITE_CONSTRAINT_PRIMARYKEY: i32 = 1555;
    if code == SQLITE_CONSTRAINT_PRIMARYKEY {
        return Some(constraint::PRIMARY_KEY);
    }
    Some(match message.strip_prefix("UNIQUE constraint failed: ")? {
        "users.phone" => constraint::USER_PHONE,
        "orders.user_id, orders.idempotency_key" => constraint::ORDER_IDEMPOTENCY_KEY,
        "ledger.reference_type, ledger.reference_id, ledger.kind" => constraint::LEDGER_REFERENCE,
        "subscriptions.order_id" => constraint::SUBSCRIPTION_ORDER,
        "topups.gateway_order_id" => constraint::TOPUP_GATEWAY_ORDER,
        "topups.gateway_payment_id" => constraint::TOPUP_GATEWAY_PAYMENT,
        "refresh_tokens.token_hash" => constraint::REFRESH_TOKEN_HASH,
        "credentials.subscription_id" => constraint::CREDENTIAL_SUBSCRIPTION,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Connection as _;

    #[test]
    fn recognises_in_memory_urls() {
        assert!(is_in_memory("sqlite::memory:"));
        assert!(is_in_memory("sqlite://?mode=memory"));
        assert!(!is_in_memory("sqlite://data/ottsonly.db"));
        assert!(!is_in_memory("sqlite:data.db?mode=rwc"));
    }

    /// A second writer that finds the database locked (another process) gets `Transient`.
    #[tokio::test]
    async fn busy_database_is_transient() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("busy.db");
        let opts = SqliteConnectOptions::new().filename(&path).create_if_missing(true);
        let mut holder = SqliteConnection::connect_with(&opts).await.unwrap();
        let mut other =
            SqliteConnection::connect_with(&opts.clone().busy_timeout(Duration::ZERO)).await.unwrap();
        let _held = holder.begin_with("BEGIN IMMEDIATE").await.unwrap();
        let err = other.begin_with("BEGIN IMMEDIATE").await.map(drop).unwrap_err();
        assert!(matches!(map_err(err), StoreError::Transient(_)));
    }
}
