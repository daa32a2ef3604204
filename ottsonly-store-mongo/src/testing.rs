//! A fresh database on the Mongo test server for each test, for this crate's tests and for
//! every other package that runs its tests on MongoDB (the `testing` feature).
//!
//! The server comes from `OTTSONLY_TEST_MONGO_URI` (a replica set; transactions need one), as
//! `scripts/mongo-test-server.sh run -- cargo test ...` sets it.

use crate::{MongoStore, uri_with_database};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The test server's URI; `None` (skipped, saying so) outside CI without one, a failure under CI.
pub fn server_uri() -> Option<String> {
    ottsonly_core::testing::service_env(
        "OTTSONLY_TEST_MONGO_URI",
        "Mongo tests need a server: run them through scripts/mongo-test-server.sh",
    )
}

/// A database name unique to this test: process id, a counter and the time.
pub fn fresh_database_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() % 1_000_000_000_000);
    format!("ottsonly_test_{}_{n}_{nanos}", std::process::id())
}

/// A store on a fresh database of the server at `uri`.
pub async fn connect_fresh(uri: &str) -> MongoStore {
    MongoStore::connect(&uri_with_database(uri, &fresh_database_name()))
        .await
        .expect("connect to the test server")
}

/// Drops the test's database when the test ends.
pub struct DropDatabase(pub mongodb::Database);

impl Drop for DropDatabase {
    fn drop(&mut self) {
        // Drop cannot await; the test runtimes are multi-threaded, so block this worker briefly.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        if runtime.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
            return;
        }
        let db = self.0.clone();
        tokio::task::block_in_place(|| {
            runtime.block_on(async {
                let _ = tokio::time::timeout(Duration::from_secs(10), db.drop()).await;
            })
        });
    }
}
