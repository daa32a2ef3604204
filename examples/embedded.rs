//! An application embedding OTTSONLY on a temp-file SQLite store, walking a whole flow:
//! OTP login with a test phone, an admin credits the wallet, the user buys a plan and reads the
//! subscription and notifications.
//!
//! Run with `cargo run --example embedded`.

use ottsonly::core::catalog::NewProduct;
use ottsonly::core::wallet::{Adjustment, Direction};
use ottsonly::core::{Actor, CoreConfig, CredentialCipher, Credentials, Money, Ottsonly, PageRequest, Role};
use ottsonly::sqlite::SqliteStore;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open_path(&dir.path().join("shop.db")).await?;
    println!("store: SQLite at {}", dir.path().join("shop.db").display());

    // Secrets come from the embedding application's configuration; fixed here for the demo.
    let mut config = CoreConfig::new(b"an-example-secret-of-at-least-32-bytes".to_vec())?;
    config.auth.test_phones = config.auth.parse_test_phones("+919999900001:123456")?;
    let app = Ottsonly::builder(Arc::new(store), config)
        .credential_cipher(CredentialCipher::new(&[7u8; 32]))
        .build()?;

    // 1. The customer logs in with a test phone (fixed code, nothing is sent).
    let challenge = app.auth().request_otp("+91 99999 00001").await?;
    println!("otp requested, valid for {} s", challenge.expires_in.as_secs());
    let session = app.auth().verify_otp("+919999900001", "123456").await?;
    let user = app.auth().authenticate(&session.access_token).await?;
    println!("logged in as {} ({}), role {}", session.user.phone, user.user_id, user.role);

    // 2. An operator makes an admin, who stocks a plan and credits the wallet.
    let system = Actor::system(app.now());
    let admin_user = app.users().set_role_by_phone(&system, "+919000000001", Role::Admin).await?;
    let admin = Actor::of(&admin_user);
    let product = app
        .catalog()
        .create(
            &admin,
            NewProduct {
                platform_name: "Netflix".into(),
                plan_name: "Premium".into(),
                description: "4K, 4 screens, 30 days".into(),
                price: Money::from_paise(64_900)?,
                duration_days: 30,
                stock: 0,
                is_active: true,
            },
        )
        .await?;
    let creds = Credentials {
        username: "family@example.com".into(),
        password: "correct horse battery staple".into(),
        profile: Some("Profile 2".into()),
        pin: Some("4321".into()),
        notes: None,
    };
    let product = app.catalog().import_credentials(&admin, &product.id, vec![creds]).await?;
    println!("product {} at {} with stock {}", product.display_name(), product.price, product.stock);
    let entry = app
        .wallet()
        .adjust(
            &admin,
            Adjustment {
                user_id: user.user_id.clone(),
                amount: Money::from_paise(100_000)?,
                direction: Direction::Credit,
                reason: "welcome credit".into(),
                request_id: Some("welcome-1".into()),
            },
        )
        .await?;
    println!("wallet credited, balance {}", entry.balance_after);

    // 3. The customer buys; a retry with the same key returns the same order.
    let purchase = app.orders().purchase(&user, &product.id, Some("checkout-1")).await?;
    let retry = app.orders().purchase(&user, &product.id, Some("checkout-1")).await?;
    assert_eq!(purchase.order.id, retry.order.id);
    println!(
        "bought order {} for {} (retry replayed: {})",
        purchase.order.id, purchase.order.amount, retry.replayed
    );
    println!("balance now {}", app.wallet().balance(&user).await?);

    // 4. The subscription with its credentials, and the notifications.
    let view = app.subscriptions().get(&user, &purchase.subscription.id).await?;
    let sub = &view.subscription;
    println!("subscription {} is {} until {:?}", sub.id, sub.status, sub.end_at);
    if let Some(c) = &view.credentials {
        println!("login: {} / profile {:?}", c.username, c.profile);
    }
    for n in app.notifications().list(&user, false, &PageRequest::default()).await?.items {
        println!("notification [{}] {}: {}", n.kind, n.title, n.message);
    }
    println!("unread: {}", app.notifications().unread_count(&user).await?);
    let alerts = app.outbox().list(None, &PageRequest::default()).await?;
    println!("admin alerts queued for Telegram: {}", alerts.items.len());
    Ok(())
}
