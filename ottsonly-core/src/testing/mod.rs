//! Test support shared by every backend: the storage conformance suite, the domain scenarios
//! and test doubles (a fake payment gateway, a recording OTP sender, a recording sleeper).
//! Not a stable API.

pub mod conformance;
pub mod gateway;
pub mod harness;
pub mod scenarios;

use crate::store::Store;
use std::any::Any;
use std::sync::Arc;

/// The value of a test service's environment variable (a database URI that a script such as
/// `scripts/mongo-test-server.sh` exports). When it is unset: outside CI the test is skipped,
/// saying so on stderr (`None`); under CI (`CI=true`) the test fails, so that a skipped suite can
/// never pass for a green run.
// Tests read their own environment; core's rule is about production code paths.
#[allow(clippy::disallowed_methods)]
pub fn service_env(var: &str, how_to_set: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Some(v),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{var} is not set under CI: {how_to_set}")
        }
        _ => {
            eprintln!("SKIPPED: {var} is not set, so this test was skipped ({how_to_set})");
            None
        }
    }
}

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
