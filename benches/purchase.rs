//! Criterion benches on a temp-file SQLite store: one purchase (the whole unit of work), and one
//! authenticated read (JWT check + user load + a page of orders).

use criterion::{Criterion, criterion_group, criterion_main};
use ottsonly::core::catalog::NewProduct;
use ottsonly::core::testing::fixtures::{Shop, plan};
use ottsonly::core::{Actor, CoreConfig, CredentialCipher, Money, Ottsonly, PageRequest};
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
    let bench_plan =
        NewProduct { price: Money::from_paise(100).expect("price"), stock: 1_000_000_000, ..plan() };
    let shop = Shop::open(&app, "+919999900001", "123456", bench_plan).await;
    shop.fund(&app, Money::from_paise(10_000_000).expect("amount"), None).await;
    let Shop { session, user, product, .. } = shop;
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
