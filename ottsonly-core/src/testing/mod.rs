//! Test support shared by every backend: the storage conformance suite and test doubles.
//! Not a stable API.

pub mod conformance;
pub mod harness;
pub mod scenarios;

use crate::store::Store;
use std::any::Any;
use std::sync::Arc;

/// A fresh, empty store for one test, plus whatever must live as long as it (a temp dir, a
/// database to drop).
pub struct TestStore {
    pub store: Arc<dyn Store>,
    pub guard: Box<dyn Any + Send + Sync>,
}

impl TestStore {
    pub fn new(store: Arc<dyn Store>, guard: impl Any + Send + Sync) -> Self {
        TestStore { store, guard: Box::new(guard) }
    }
}

/// What a backend's `new_store` may return: a store, or `None` to skip the test (a backend whose
/// server is not configured outside CI; under CI it must fail instead of skipping).
pub trait IntoTestStore {
    fn into_test_store(self) -> Option<TestStore>;
}

impl IntoTestStore for TestStore {
    fn into_test_store(self) -> Option<TestStore> {
        Some(self)
    }
}

impl IntoTestStore for Option<TestStore> {
    fn into_test_store(self) -> Option<TestStore> {
        self
    }
}
