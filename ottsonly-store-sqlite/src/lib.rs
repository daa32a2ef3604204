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

mod batch;
mod read;
mod row;
mod stats;
mod telegram;
mod tx;

use async_trait::async_trait;
use ottsonly_core::error::constraint;
use ottsonly_core::{Store, StoreError, StoreRead, StoreResult, Tx};
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

// Reader and unit of work share one SQL text per read (`read.rs`): each call runs it on the
// reader's pool connection or on the transaction.
ottsonly_core::delegate_store_read!(read, |this| &mut *this.conn().await?; SqliteReader, SqliteTx);

/// Reads for tests only, on committed data (a pool connection, as the reader).
#[cfg(feature = "testing")]
#[async_trait]
impl ottsonly_core::testing::StoreTestingExt for SqliteStore {
    async fn ledger_sum(&self, user: &ottsonly_core::UserId) -> StoreResult<i64> {
        read::ledger_sum(&mut *self.pool.acquire().await.map_err(map_err)?, user).await
    }
}

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
        "telegram_links.user_id" => constraint::TELEGRAM_LINK_USER,
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
