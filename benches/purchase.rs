//! Criterion benches on a temp-file SQLite store: one purchase (the whole unit of work), and one
//! authenticated read (JWT check + user load + a page of orders).

use criterion::{Criterion, criterion_group, criterion_main};
use ottsonly::core::catalog::NewProduct;
use ottsonly::core::wallet::{Adjustment, Direction};
use ottsonly::core::{Actor, CoreConfig, CredentialCipher, Money, Ottsonly, PageRequest, Role};
use ottsonly::sqlite::SqliteStore;
use std::sync::Arc;

struct Fixture {
    app: Ottsonly,
    user: Actor,
    product: ottsonly::core::ProductId,
    token: String,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open_path(&dir.path().join("bench.db")).await.expect("open");
    let mut config = CoreConfig::new(b"bench-secret-bench-secret-bench-secret".to_vec()).expect("config");
    config.auth.test_phones = config.auth.parse_test_phones("+919999900001:123456").expect("phones");
    let app = Ottsonly::builder(Arc::new(store), config)
        .credential_cipher(CredentialCipher::new(&[1u8; 32]))
        .build()
        .expect("build");
    let session = app.auth().verify_otp("+919999900001", "123456").await.expect("login");
    let user = app.auth().authenticate(&session.access_token).await.expect("auth");
    let system = Actor::system(app.now());
    let a = app.users().set_role_by_phone(&system, "+919000000001", Role::Admin).await.expect("admin");
    let admin = Actor { user_id: a.id, role: Role::Admin, joined_at: a.created_at };
    let product = app
        .catalog()
        .create(
            &admin,
            NewProduct {
                platform_name: "Bench".into(),
                plan_name: "Plan".into(),
                description: String::new(),
                price: Money::from_paise(100).expect("price"),
                duration_days: 30,
                stock: 1_000_000_000,
                is_active: true,
            },
        )
        .await
        .expect("product");
    let adj = Adjustment {
        user_id: user.user_id.clone(),
        amount: Money::from_paise(10_000_000).expect("amount"),
        direction: Direction::Credit,
        reason: "bench".into(),
        request_id: None,
    };
    app.wallet().adjust(&admin, adj).await.expect("fund");
    Fixture { app, user, product: product.id, token: session.access_token, _dir: dir }
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let f = rt.block_on(fixture());
    c.bench_function("purchase (sqlite file, pending credentials)", |b| {
        b.to_async(&rt)
            .iter(|| async { f.app.orders().purchase(&f.user, &f.product, None).await.expect("purchase") })
    });
    c.bench_function("authenticated read: token + my orders page (sqlite file)", |b| {
        b.to_async(&rt).iter(|| async {
            let actor = f.app.auth().authenticate(&f.token).await.expect("auth");
            f.app.orders().mine(&actor, &PageRequest::first(20)).await.expect("orders")
        })
    });
}

criterion_group! {
    name = purchase;
    // Short runs: the machine has 2 cores and CI does not run benches.
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(5));
    targets = benches
}
criterion_main!(purchase);
