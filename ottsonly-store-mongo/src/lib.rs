//! MongoDB storage backend for OTTSONLY.
//!
//! [`MongoStore`] implements [`ottsonly_core::Store`] with the official async driver. Every unit
//! of work ([`Tx`]) is a `ClientSession` with a started multi-document transaction and passes
//! that session to each operation; reads through [`Store::reader`] run without one, each seeing
//! committed data. Transactions need a replica set (a single-node one will do) or a sharded
//! cluster; [`MongoStore::connect`] refuses anything else with a clear error.
//!
//! Concurrency model: optimistic. Guarded writes are single conditional updates; two
//! transactions writing the same document conflict, the loser gets a write conflict
//! (`TransientTransactionError`), which surfaces as [`StoreError::Transient`] and core runs the
//! whole unit of work again. Several processes may share the database; within one process,
//! units that lose a race on a document queue for it before running again (see `hot.rs`).

mod doc;
mod error;
mod hot;
mod read;
mod schema;
mod stats;
mod telegram;
#[cfg(feature = "testing")]
pub mod testing;
mod tx;
mod unique;
mod uri;

pub use error::SetupError;
pub use uri::{redact_uri, uri_with_database};

use async_trait::async_trait;
use mongodb::bson::doc;
use mongodb::options::{ClientOptions, ReadConcern, WriteConcern};
use mongodb::{Client, ClientSession, Database};
use ottsonly_core::{Store, StoreError, StoreRead, StoreResult, Tx};
use read::Conn;
use schema::Colls;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The database used when the connection string names none.
pub const DEFAULT_DATABASE: &str = "ottsonly";

/// How long an operation waits for a suitable server when the connection string does not say
/// (`serverSelectionTimeoutMS`). The driver's default of 30 s would make a down database look
/// like a hung service at startup and on every request.
const SERVER_SELECTION_TIMEOUT: Duration = Duration::from_secs(5);
/// How often `commit` is sent again when the driver cannot tell whether it committed.
const COMMIT_ATTEMPTS: u32 = 3;
/// How long `begin` waits for this process's earlier dropped units to be aborted.
const ABORT_WAIT: Duration = Duration::from_secs(2);
/// How long a unit that lost a race on a document waits for its turn on it before running again
/// anyway (a flash sale queues every buyer of one product behind the others).
const TURN_WAIT: Duration = Duration::from_secs(20);

/// An OTTSONLY database in MongoDB. Clones share the client (and its connection pool).
#[derive(Clone)]
pub struct MongoStore {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    db: Database,
    colls: Colls,
    aborts: PendingAborts,
    hot: hot::HotDocs,
}

impl std::fmt::Debug for MongoStore {
    /// Names the database only: the client's options may hold credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MongoStore").field("database", &self.inner.db.name()).finish_non_exhaustive()
    }
}

impl MongoStore {
    /// Connects to the deployment of a `mongodb://` or `mongodb+srv://` connection string and
    /// makes the schema current.
    ///
    /// The database is the one named in the URI path (`mongodb://host/shop`), else
    /// [`DEFAULT_DATABASE`]. Fails with a [`SetupError`] (as the source of
    /// [`StoreError::Backend`]) when the string is invalid, no server answers within the
    /// server-selection timeout (5 s unless the URI sets `serverSelectionTimeoutMS`), the
    /// server is not part of a replica set or sharded cluster, or an index cannot be created.
    pub async fn connect(uri: &str) -> StoreResult<MongoStore> {
        let mut options =
            ClientOptions::parse(uri).await.map_err(|e| StoreError::backend(SetupError::InvalidUri(e)))?;
        options.server_selection_timeout.get_or_insert(SERVER_SELECTION_TIMEOUT);
        options.app_name.get_or_insert_with(|| "ottsonly".to_owned());
        let db_name = database_name_of(&options);
        let hosts = options.hosts.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
        let hint = match &options.repl_set_name {
            Some(name) => format!(" (no primary of replica set {name:?}; check the replicaSet option)"),
            None => String::new(),
        };
        let load_balanced = options.load_balanced == Some(true);
        let client =
            Client::with_options(options).map_err(|e| StoreError::backend(SetupError::InvalidUri(e)))?;

        let admin = client.database("admin");
        let unreachable = |e| {
            StoreError::backend(SetupError::Unreachable {
                hosts: hosts.clone(),
                hint: hint.clone(),
                source: e,
            })
        };
        admin.run_command(doc! { "ping": 1 }).await.map_err(unreachable)?;
        if !load_balanced {
            let hello = admin.run_command(doc! { "hello": 1 }).await.map_err(unreachable)?;
            if let Err(what) = supports_transactions(&hello) {
                return Err(StoreError::backend(SetupError::NeedsReplicaSet { hosts, what }));
            }
        }

        let db = client.database(&db_name);
        schema::ensure(&db).await?;
        let colls = Colls::new(&db);
        tracing::info!(database = %db_name, %hosts, "connected to MongoDB");
        Ok(MongoStore {
            inner: Arc::new(Inner {
                client,
                db,
                colls,
                aborts: PendingAborts::default(),
                hot: hot::HotDocs::default(),
            }),
        })
    }

    /// The database this store uses.
    pub fn database_name(&self) -> &str {
        self.inner.db.name()
    }

    /// The driver's handle on the database, for maintenance and tests. Writes through it bypass
    /// every rule of the storage contract.
    pub fn database(&self) -> &Database {
        &self.inner.db
    }
}

/// Whether a server's `hello` reply shows a deployment with multi-document transactions: a
/// replica set member (`setName`) or a `mongos` router. Otherwise says what it is.
fn supports_transactions(hello: &mongodb::bson::Document) -> Result<(), String> {
    if hello.get_str("setName").is_ok() || hello.get_str("msg") == Ok("isdbgrid") {
        Ok(())
    } else {
        Err("a standalone server".to_owned())
    }
}

/// The database named in the connection string's path, else [`DEFAULT_DATABASE`].
fn database_name_of(options: &ClientOptions) -> String {
    options.default_database.clone().unwrap_or_else(|| DEFAULT_DATABASE.to_owned())
}

#[async_trait]
impl Store for MongoStore {
    async fn begin(&self) -> StoreResult<Box<dyn Tx>> {
        // A retry after losing a race on a document waits for its turn on it first.
        let turn = self.inner.hot.wait_turn(TURN_WAIT).await;
        // A unit this process dropped a moment ago may still hold its writes until its abort
        // lands; starting after it keeps "dropped leaves no trace" true for the next unit here
        // instead of making it lose a write conflict against a ghost.
        let _ = tokio::time::timeout(ABORT_WAIT, self.inner.aborts.settle()).await;
        let mut session = self.inner.client.start_session().await.map_err(error::map_err)?;
        session
            .start_transaction()
            // Snapshot reads and majority commits: the transaction reads one consistent, durable
            // view, and a committed unit survives a failover.
            .read_concern(ReadConcern::snapshot())
            .write_concern(WriteConcern::majority())
            .await
            .map_err(error::map_err)?;
        Ok(Box::new(MongoTx {
            inner: self.inner.clone(),
            session: Some(session),
            turns: turn.into_iter().collect(),
        }))
    }

    async fn reader(&self) -> StoreResult<Box<dyn StoreRead>> {
        Ok(Box::new(MongoReader { inner: self.inner.clone() }))
    }

    async fn ping(&self) -> StoreResult<()> {
        self.inner.db.run_command(doc! { "ping": 1 }).await.map(drop).map_err(error::map_err)
    }

    fn backend_name(&self) -> &'static str {
        "mongodb"
    }
}

/// Reads outside a transaction.
struct MongoReader {
    inner: Arc<Inner>,
}

impl MongoReader {
    fn conn(&mut self) -> StoreResult<Conn<'_>> {
        Ok(Conn { colls: &self.inner.colls, session: None })
    }
}

/// One unit of work: a session with a started transaction. `session` is `None` only once the
/// unit has been committed or handed to the abort task. `turns` are the documents this unit
/// writes, held until it ends.
pub(crate) struct MongoTx {
    inner: Arc<Inner>,
    session: Option<ClientSession>,
    turns: Vec<hot::Turn>,
}

impl MongoTx {
    /// The collections and the transaction's session, borrowed together.
    pub(crate) fn parts(&mut self) -> StoreResult<(&Colls, &mut ClientSession)> {
        let session = self
            .session
            .as_mut()
            .ok_or_else(|| StoreError::backend(std::io::Error::other("unit of work already finished")))?;
        Ok((&self.inner.colls, session))
    }

    /// Takes this unit's turn on a document before a guarded write to it, or fails with
    /// `Transient` (without sending the write) while another unit of this process holds it.
    pub(crate) fn take_turn(&mut self, coll: &'static str, id: &str) -> StoreResult<()> {
        let key = hot::DocKey::new(coll, id);
        if self.turns.iter().any(|t| t.key == key) {
            return Ok(());
        }
        match self.inner.hot.try_take(&key) {
            Some(turn) => {
                self.turns.push(turn);
                Ok(())
            }
            None => {
                Err(StoreError::Transient(format!("another unit of this process is writing {coll} {id}")))
            }
        }
    }

    /// Commits; sends the commit again (bounded) while the driver cannot tell whether it took
    /// effect, since committing a committed transaction is a no-op.
    async fn commit_inner(mut self: Box<Self>) -> StoreResult<()> {
        let Some(mut session) = self.session.take() else {
            return Err(StoreError::backend(std::io::Error::other("unit of work already finished")));
        };
        let mut attempt = 1;
        loop {
            match session.commit_transaction().await {
                Ok(()) => return Ok(()),
                Err(e) if error::commit_outcome_unknown(&e) && attempt < COMMIT_ATTEMPTS => {
                    tracing::warn!(attempt, error = %e, "commit outcome unknown; committing again");
                    tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
                    attempt += 1;
                }
                // Still unknown: it may have committed, so it must not be reported as a lost
                // race (core would run the unit again and could apply it twice).
                Err(e) if error::commit_outcome_unknown(&e) => return Err(StoreError::backend(e)),
                Err(e) => return Err(error::map_err(e)),
            }
        }
    }
}

impl Drop for MongoTx {
    /// Aborts an uncommitted transaction. The driver would also abort on drop, but in a detached
    /// task; this one is tracked so that `begin` can wait for it.
    fn drop(&mut self) {
        let Some(mut session) = self.session.take() else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return; // no runtime: the driver's own drop (or the server's timeout) aborts it
        };
        let pending = PendingAbort::new(self.inner.clone());
        let turns = std::mem::take(&mut self.turns);
        turns.iter().for_each(hot::Turn::disown);
        runtime.spawn(async move {
            // An error here means the server already aborted it (a failed statement does).
            let _ = session.abort_transaction().await;
            // Only now may the next unit write these documents without a conflict.
            drop(turns);
            drop(pending);
        });
    }
}

/// Aborts of dropped units that have not finished yet, numbered in drop order.
#[derive(Default)]
struct PendingAborts {
    state: Mutex<(u64, BTreeSet<u64>)>,
    finished: tokio::sync::Notify,
}

impl PendingAborts {
    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, BTreeSet<u64>)> {
        // The data is two integers: still valid after a panic elsewhere.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits until every abort started before this call has finished (not later ones, so a
    /// steady stream of aborts cannot starve a caller).
    async fn settle(&self) {
        let horizon = self.lock().0;
        loop {
            let finished = self.finished.notified();
            tokio::pin!(finished);
            finished.as_mut().enable();
            if self.lock().1.first().is_none_or(|&n| n >= horizon) {
                return;
            }
            finished.await;
        }
    }
}

/// One registered abort; finishing (even by being dropped with a cancelled task) deregisters it.
struct PendingAbort {
    inner: Arc<Inner>,
    n: u64,
}

impl PendingAbort {
    fn new(inner: Arc<Inner>) -> Self {
        let n = {
            let mut state = inner.aborts.lock();
            let n = state.0;
            state.0 += 1;
            state.1.insert(n);
            n
        };
        PendingAbort { inner, n }
    }
}

impl Drop for PendingAbort {
    fn drop(&mut self) {
        self.inner.aborts.lock().1.remove(&self.n);
        self.inner.aborts.finished.notify_waiters();
    }
}

// Reader and unit of work share one query per read (`read.rs`): each call runs it without a
// session or in the transaction's session.
ottsonly_core::delegate_store_read!(read, |this| &mut this.conn()?; MongoReader, MongoTx);

/// Reads for tests only, on committed data (no session, as the reader).
#[cfg(feature = "testing")]
#[async_trait]
impl ottsonly_core::testing::StoreTestingExt for MongoStore {
    async fn ledger_sum(&self, user: &ottsonly_core::UserId) -> StoreResult<i64> {
        read::ledger_sum(&mut Conn { colls: &self.inner.colls, session: None }, user).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn database_comes_from_the_uri_path() {
        let parse = |uri: &'static str| async move { ClientOptions::parse(uri).await.expect("valid uri") };
        assert_eq!(database_name_of(&parse("mongodb://127.0.0.1:27017/shop?replicaSet=rs0").await), "shop");
        assert_eq!(database_name_of(&parse("mongodb://127.0.0.1:27017/?replicaSet=rs0").await), "ottsonly");
        assert_eq!(database_name_of(&parse("mongodb://a:1,b:2").await), "ottsonly");
    }

    #[test]
    fn transactions_need_a_replica_set_or_mongos() {
        let standalone = doc! { "isWritablePrimary": true, "maxWireVersion": 21 };
        assert_eq!(supports_transactions(&standalone), Err("a standalone server".to_owned()));
        let member = doc! { "isWritablePrimary": true, "setName": "rs0" };
        assert_eq!(supports_transactions(&member), Ok(()));
        let router = doc! { "isWritablePrimary": true, "msg": "isdbgrid" };
        assert_eq!(supports_transactions(&router), Ok(()));
    }

    #[tokio::test]
    async fn pending_aborts_settle_only_for_earlier_ones() {
        let aborts = PendingAborts::default();
        // Nothing pending: returns at once.
        aborts.settle().await;
        {
            let mut s = aborts.lock();
            s.1.insert(0);
            s.0 = 1;
        }
        let waiter = async {
            aborts.settle().await;
        };
        let finisher = async {
            tokio::task::yield_now().await;
            // A later abort does not hold the waiter back; the earlier one finishing frees it.
            {
                let mut s = aborts.lock();
                s.1.insert(1);
                s.0 = 2;
                s.1.remove(&0);
            }
            aborts.finished.notify_waiters();
        };
        tokio::time::timeout(Duration::from_secs(5), async { tokio::join!(waiter, finisher) })
            .await
            .expect("settle returned");
    }
}
