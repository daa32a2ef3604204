//! The facade as an embedding application uses it: one dependency (`ottsonly`), the backend chosen
//! at run time, the same flow on each. SQLite always; MongoDB on the test server that
//! `scripts/mongo-test-server.sh` runs (skipped outside CI without it, a failure under CI).

use ottsonly::core::testing::fixtures::{Shop, plan};
use ottsonly::core::{
    CoreConfig, CredentialCipher, Credentials, Error, Money, Ottsonly, Store, SubscriptionStatus,
};
use std::sync::Arc;

const PHONE: &str = "+919999900001";
const CODE: &str = "123456";

fn app(store: Arc<dyn Store>) -> Ottsonly {
    let mut config = CoreConfig::new(b"a-facade-test-secret-of-32-bytes-or-more".to_vec()).expect("config");
    config.auth.test_phones = config.auth.parse_test_phones(&format!("{PHONE}:{CODE}")).expect("phones");
    Ottsonly::builder(store, config)
        .credential_cipher(CredentialCipher::new(&[9u8; 32]))
        .build()
        .expect("build")
}

/// Login, an admin's credit, a purchase of the one pooled login, a replay and a sold-out refusal.
async fn shop_flow(store: Arc<dyn Store>) {
    let app = app(store);
    let shop = Shop::open(&app, PHONE, CODE, plan()).await;
    let Shop { user, admin, product, .. } = &shop;
    let login = Credentials {
        username: "family@example.com".into(),
        password: "secret".into(),
        profile: None,
        pin: None,
        notes: None,
    };
    app.catalog().import_credentials(admin, &product.id, vec![login]).await.expect("import");
    shop.fund(&app, Money::from_paise(100_000).expect("amount"), Some("welcome-1")).await;

    let bought = app.orders().purchase(user, &product.id, Some("k1")).await.expect("purchase");
    assert_eq!(bought.subscription.status, SubscriptionStatus::Active);
    let replay = app.orders().purchase(user, &product.id, Some("k1")).await.expect("replay");
    assert!(replay.replayed && replay.order.id == bought.order.id);
    let sold_out = app.orders().purchase(user, &product.id, Some("k2")).await;
    assert!(matches!(sold_out, Err(Error::OutOfStock)), "{sold_out:?}");
    assert_eq!(app.wallet().balance(user).await.expect("balance").paise(), 100_000 - 64_900);
    let view = app.subscriptions().get(user, &bought.subscription.id).await.expect("subscription");
    assert_eq!(view.credentials.expect("login delivered").username, "family@example.com");
}

#[tokio::test]
async fn the_facade_runs_the_shop_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ottsonly::sqlite::SqliteStore::open_path(&dir.path().join("shop.db")).await.expect("open");
    shop_flow(Arc::new(store)).await;
}

#[tokio::test]
async fn the_facade_runs_the_shop_on_mongodb() {
    let hint = "run through scripts/mongo-test-server.sh";
    let Some(uri) = ottsonly::core::testing::service_env("OTTSONLY_TEST_MONGO_URI", hint) else { return };
    let db = format!("facade_{}", std::process::id());
    let uri = ottsonly::mongo::uri_with_database(&uri, &db);
    let store = ottsonly::mongo::MongoStore::connect(&uri).await.expect("connect");
    let database = store.database().clone();
    shop_flow(Arc::new(store)).await;
    database.drop().await.expect("drop the test database");
}
