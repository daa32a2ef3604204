//! The facade as an embedding application uses it: one dependency (`ottsonly`), the backend chosen
//! at run time, the same flow on each. SQLite always; MongoDB on the test server that
//! `scripts/mongo-test-server.sh` runs (skipped outside CI without it, a failure under CI).

use ottsonly::core::catalog::NewProduct;
use ottsonly::core::wallet::{Adjustment, Direction};
use ottsonly::core::{
    Actor, CoreConfig, CredentialCipher, Credentials, Error, Money, Ottsonly, Role, Store, SubscriptionStatus,
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
    let session = app.auth().verify_otp(PHONE, CODE).await.expect("login");
    let user = app.auth().authenticate(&session.access_token).await.expect("authenticate");
    let system = Actor::system(app.now());
    let a = app.users().set_role_by_phone(&system, "+919000000001", Role::Admin).await.expect("admin");
    let admin = Actor { user_id: a.id, role: Role::Admin, joined_at: a.created_at };
    let product = app
        .catalog()
        .create(
            &admin,
            NewProduct {
                platform_name: "Netflix".into(),
                plan_name: "Premium".into(),
                description: String::new(),
                price: Money::from_paise(64_900).expect("price"),
                duration_days: 30,
                stock: 0,
                is_active: true,
            },
        )
        .await
        .expect("product");
    let login = Credentials {
        username: "family@example.com".into(),
        password: "secret".into(),
        profile: None,
        pin: None,
        notes: None,
    };
    app.catalog().import_credentials(&admin, &product.id, vec![login]).await.expect("import");
    let credit = Adjustment {
        user_id: user.user_id.clone(),
        amount: Money::from_paise(100_000).expect("amount"),
        direction: Direction::Credit,
        reason: "welcome".into(),
        request_id: Some("welcome-1".into()),
    };
    app.wallet().adjust(&admin, credit).await.expect("credit");

    let bought = app.orders().purchase(&user, &product.id, Some("k1")).await.expect("purchase");
    assert_eq!(bought.subscription.status, SubscriptionStatus::Active);
    let replay = app.orders().purchase(&user, &product.id, Some("k1")).await.expect("replay");
    assert!(replay.replayed && replay.order.id == bought.order.id);
    let sold_out = app.orders().purchase(&user, &product.id, Some("k2")).await;
    assert!(matches!(sold_out, Err(Error::OutOfStock)), "{sold_out:?}");
    assert_eq!(app.wallet().balance(&user).await.expect("balance").paise(), 100_000 - 64_900);
    let view = app.subscriptions().get(&user, &bought.subscription.id).await.expect("subscription");
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
