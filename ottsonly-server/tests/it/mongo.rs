//! The MongoDB test server for server tests: `OTTSONLY_TEST_MONGO_URI` (set by
//! `scripts/mongo-test-server.sh`), a fresh database per test, dropped afterwards. Without the
//! variable the Mongo variants are skipped (saying so), except under CI where they fail.

use ottsonly_core::Store;
use ottsonly_store_mongo::testing::{DropDatabase, connect_fresh};
use std::sync::Arc;

pub use ottsonly_store_mongo::testing::server_uri;

pub async fn fresh_store(uri: &str) -> (Arc<dyn Store>, DropDatabase) {
    let store = connect_fresh(uri).await;
    let guard = DropDatabase(store.database().clone());
    (Arc::new(store), guard)
}
