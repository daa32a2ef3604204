//! `MongoStore` against a real MongoDB-wire server: core's storage conformance suite, core's
//! service scenarios, and the Mongo-specific behaviour in `specific`.
//!
//! Each test gets a fresh database of the test server (`ottsonly_store_mongo::testing`), dropped
//! when the test's store is dropped.

mod specific;

use ottsonly_core::testing::TestStore;
use ottsonly_store_mongo::MongoStore;
use ottsonly_store_mongo::testing::{DropDatabase, fresh_database_name, server_uri};
use std::sync::Arc;

/// A connected store on a fresh database of the test server, or `None` when skipped.
async fn connect_fresh() -> Option<MongoStore> {
    Some(ottsonly_store_mongo::testing::connect_fresh(&server_uri()?).await)
}

/// A fresh, empty store for one test of core's suites; `None` (the test is skipped, saying so)
/// when no server is configured outside CI. Under CI a missing server fails the test.
async fn new_store() -> Option<TestStore> {
    let store = connect_fresh().await?;
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
