//! The MongoDB test server for server tests: `OTTSONLY_TEST_MONGO_URI` (set by
//! `scripts/mongo-test-server.sh`), a fresh database per test, dropped afterwards. Without the
//! variable the Mongo variants are skipped (saying so), except under CI where they fail.

use ottsonly_core::Store;
use ottsonly_store_mongo::MongoStore;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub fn server_uri() -> Option<String> {
    ottsonly_core::testing::service_env(
        "OTTSONLY_TEST_MONGO_URI",
        "run the tests through scripts/mongo-test-server.sh",
    )
}

pub fn fresh_name() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!("ottsonly_srv_{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// Drops the database when the test ends.
pub struct DropDb(mongodb::Database);

impl Drop for DropDb {
    fn drop(&mut self) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else { return };
        if rt.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
            return;
        }
        let db = self.0.clone();
        tokio::task::block_in_place(|| {
            rt.block_on(async {
                let _ = tokio::time::timeout(Duration::from_secs(10), db.drop()).await;
            })
        });
    }
}

pub async fn fresh_store(uri: &str) -> (Arc<dyn Store>, DropDb) {
    let store = MongoStore::connect(&ottsonly_store_mongo::uri_with_database(uri, &fresh_name()))
        .await
        .expect("connect to the test server");
    let guard = DropDb(store.database().clone());
    (Arc::new(store), guard)
}
