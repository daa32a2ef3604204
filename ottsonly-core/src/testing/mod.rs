//! Test support shared by every backend: the storage conformance suite, the domain scenarios
//! and test doubles (a fake payment gateway, a recording OTP sender, a recording sleeper).
//! Not a stable API.

pub mod conformance;
pub mod fixtures;
pub mod gateway;
pub mod harness;
pub mod records;
pub mod scenarios;

use crate::ids::UserId;
use crate::store::{Store, StoreResult};
use async_trait::async_trait;
use std::any::Any;
use std::sync::Arc;

/// Reads that production code does not need, moved out of the storage contract ([`StoreRead`])
/// so that no backend carries them for core's sake: they serve the invariant checks of
/// [`harness::Harness::check_invariants`] and the conformance suite. Every backend implements
/// it on its store type behind its own `testing` feature, reading committed data.
///
/// [`StoreRead`]: crate::store::StoreRead
#[async_trait]
pub trait StoreTestingExt: Send + Sync {
    /// Signed sum of all the user's ledger entries (credits minus debits), computed by the
    /// database (0 with no entries). The invariant checks compare it with the balance and with
    /// the sum of the listed entries.
    async fn ledger_sum(&self, user: &UserId) -> StoreResult<i64>;
}

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
    /// The backend's [`StoreTestingExt`]; the conformance suite needs it, the harness uses it
    /// when present (a store opened behind `Arc<dyn Store>`, as the server does, has none).
    pub ext: Option<Arc<dyn StoreTestingExt>>,
}

impl TestStore {
    /// A store without its testing extension (enough for the harness and the scenarios).
    pub fn new(store: Arc<dyn Store>, guard: impl Any + Send + Sync) -> Self {
        TestStore { store, guard: Box::new(guard), ext: None }
    }

    /// A backend's store with its testing extension, as the conformance suite needs it.
    pub fn with_ext<S: Store + StoreTestingExt>(store: Arc<S>, guard: impl Any + Send + Sync) -> Self {
        TestStore { store: store.clone(), guard: Box::new(guard), ext: Some(store) }
    }

    /// The testing extension; panics when the backend's test did not pass it
    /// ([`TestStore::with_ext`]).
    pub fn ext(&self) -> &dyn StoreTestingExt {
        self.ext.as_deref().expect("this TestStore has no StoreTestingExt: build it with TestStore::with_ext")
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
