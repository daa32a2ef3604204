//! `MongoStore` against a real MongoDB-wire server: core's storage conformance suite, core's
//! service scenarios, and the Mongo-specific behaviour in `specific`.
//!
//! The server comes from `OTTSONLY_TEST_MONGO_URI` (a replica set; transactions need one), as
//! set by `scripts/mongo-test-server.sh run -- cargo test -p ottsonly-store-mongo`. Each test
//! gets a fresh database with a random name, dropped when the test's store is dropped.

mod specific;

use ottsonly_core::testing::TestStore;
use ottsonly_store_mongo::MongoStore;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const URI_VAR: &str = "OTTSONLY_TEST_MONGO_URI";
const NEEDS_SERVER: &str = "Mongo tests need OTTSONLY_TEST_MONGO_URI; run scripts/mongo-test-server.sh";

/// The test server's URI; `None` (skipped, saying so) outside CI without one, a failure under CI.
fn server_uri() -> Option<String> {
    ottsonly_core::testing::service_env(URI_VAR, NEEDS_SERVER)
}

/// A database name unique to this test: process id, a counter and the time.
fn fresh_database_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() % 1_000_000_000_000);
    format!("ottsonly_test_{}_{n}_{nanos}", std::process::id())
}

/// Drops the test's database when the test's store goes away.
struct DropDatabase(mongodb::Database);

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

async fn connect_to(uri: &str) -> MongoStore {
    MongoStore::connect(&ottsonly_store_mongo::uri_with_database(uri, &fresh_database_name()))
        .await
        .expect("connect to the test server")
}

/// A connected store on a fresh database of the test server, or `None` when skipped.
async fn connect_fresh() -> Option<MongoStore> {
    Some(connect_to(&server_uri()?).await)
}

/// A fresh, empty store for one test of core's suites; `None` (the test is skipped, saying so)
/// when no server is configured outside CI. Under CI a missing server fails the test.
async fn new_store() -> Option<TestStore> {
    let uri = server_uri()?;
    let store = connect_to(&uri).await;
    let guard = DropDatabase(store.database().clone());
    Some(TestStore::with_ext(Arc::new(store), guard))
}

/// Core's shared storage conformance suite, one test per case (`conformance::<case>`).
mod conformance {
    ottsonly_core::store_conformance_tests!(super::new_store);
}

// Core's service scenarios over this backend (`service_scenarios::<name>`).
ottsonly_core::service_scenario_tests!(new_store);

#[test]
fn database_is_swapped_into_the_uri() {
    assert_eq!(
        ottsonly_store_mongo::uri_with_database("mongodb://127.0.0.1:1234/?replicaSet=secantus", "x"),
        "mongodb://127.0.0.1:1234/x?replicaSet=secantus"
    );
    assert_eq!(
        ottsonly_store_mongo::uri_with_database("mongodb://h:1,h:2/old?w=majority", "x"),
        "mongodb://h:1,h:2/x?w=majority"
    );
    assert_eq!(ottsonly_store_mongo::uri_with_database("mongodb://h:1", "x"), "mongodb://h:1/x");
    assert!(fresh_database_name().len() < 64, "MongoDB database names are at most 63 bytes");
}
