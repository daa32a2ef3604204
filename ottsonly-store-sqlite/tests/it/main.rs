//! SQLite-specific behaviour of `SqliteStore`, plus core's shared conformance suite and service
//! scenarios run over it.

mod smoke;

use ottsonly_core::error::constraint;
use ottsonly_core::testing::TestStore;
use ottsonly_core::testing::records::{self, at as t, user};
use ottsonly_core::*;
use ottsonly_store_sqlite::SqliteStore;
use sqlx::{Connection as _, SqliteConnection};
use std::path::Path;
use std::sync::Arc;
use tempfile::TempDir;

/// A fresh store on a file in its own temp dir (a file, not `:memory:`, so that readers and a
/// unit of work can be open at once, as in production).
async fn new_store() -> TestStore {
    let dir = TempDir::new().expect("temp dir");
    let store = SqliteStore::open_path(&dir.path().join("ottsonly.db")).await.expect("open store");
    TestStore::with_ext(Arc::new(store), dir)
}

/// Core's shared storage conformance suite, one test per case (`conformance::<case>`).
mod conformance {
    ottsonly_core::store_conformance_tests!(super::new_store);
}

// Core's whole-domain scenarios over this backend (`service_scenarios::<case>`).
ottsonly_core::service_scenario_tests!(new_store);

async fn raw(path: &Path) -> SqliteConnection {
    SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.expect("raw connection")
}

#[tokio::test]
async fn file_store_uses_wal_and_persists_across_reopen() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("db.sqlite");
    let url = format!("sqlite://{}", path.display());

    let store = SqliteStore::open(&url).await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.insert_user(&user("u1", "+919876543210")).await.unwrap();
    tx.commit().await.unwrap();
    drop(store);

    // Reopening runs the migrator again: it must find the schema current and keep the data.
    let store = SqliteStore::open(&format!("sqlite:{}", path.display())).await.unwrap();
    let mut r = store.reader().await.unwrap();
    let got = r.get_user(&UserId::from_string("u1")).await.unwrap().expect("user persisted");
    assert_eq!(got, user("u1", "+919876543210"));

    let mut conn = raw(&path).await;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut conn).await.unwrap();
    assert_eq!(mode, "wal");
    let applied: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations").fetch_one(&mut conn).await.unwrap();
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations")).unwrap().count();
    assert_eq!(applied as usize, files, "each migration recorded once");
}

#[tokio::test]
async fn dropped_tx_leaves_no_trace_and_frees_the_writer() {
    let ts = new_store().await;
    let id = UserId::from_string("u1");
    {
        let mut tx = ts.store.begin().await.unwrap();
        tx.insert_user(&user("u1", "+919876543210")).await.unwrap();
        assert!(tx.get_user(&id).await.unwrap().is_some(), "a unit sees its own writes");
        assert!(ts.store.reader().await.unwrap().get_user(&id).await.unwrap().is_none(), "others do not");
    }
    assert!(ts.store.reader().await.unwrap().get_user(&id).await.unwrap().is_none());
    // The next unit gets the writer lock and can insert the very same row.
    let mut tx = ts.store.begin().await.unwrap();
    tx.insert_user(&user("u1", "+919876543210")).await.unwrap();
    tx.commit().await.unwrap();
    assert!(ts.store.reader().await.unwrap().get_user(&id).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_units_queue_instead_of_failing() {
    let ts = new_store().await;
    let mut tx = ts.store.begin().await.unwrap();
    tx.insert_user(&user("u1", "+919876543210")).await.unwrap();
    tx.commit().await.unwrap();

    let id = UserId::from_string("u1");
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let store = ts.store.clone();
            let id = id.clone();
            tokio::spawn(async move {
                let mut tx = store.begin().await?;
                tx.credit_balance(&id, Money::from_paise(100).unwrap(), t(i)).await?;
                tx.commit().await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().expect("no unit fails: writers queue on the lock");
    }
    let got = ts.store.reader().await.unwrap().get_user(&id).await.unwrap().unwrap();
    assert_eq!(got.wallet_balance.paise(), 3200);
}

/// The constraint names come from parsing SQLite's messages, so check each unique rule here.
#[tokio::test]
async fn every_unique_rule_maps_to_its_constraint_name() {
    let ts = new_store().await;
    let mut tx = ts.store.begin().await.unwrap();
    let conflict = |r: StoreResult<()>| match r {
        Err(StoreError::Conflict { constraint }) => constraint,
        other => panic!("expected a conflict, got {other:?}"),
    };

    tx.insert_user(&user("u1", "+919876543210")).await.unwrap();
    assert_eq!(conflict(tx.insert_user(&user("u2", "+919876543210")).await), constraint::USER_PHONE);
    assert_eq!(conflict(tx.insert_user(&user("u1", "+919876543211")).await), constraint::PRIMARY_KEY);

    let records::Linked { order, entry, sub, topups: [topup, second], token, cred, .. } = records::linked();
    tx.insert_order(&order).await.unwrap();
    let again = Order { id: OrderId::from_string("o2"), ..order.clone() };
    assert_eq!(conflict(tx.insert_order(&again).await), constraint::ORDER_IDEMPOTENCY_KEY);
    // Orders without a key never collide.
    for id in ["o3", "o4"] {
        tx.insert_order(&Order { id: OrderId::from_string(id), idempotency_key: None, ..order.clone() })
            .await
            .unwrap();
    }

    tx.insert_ledger_entry(&entry).await.unwrap();
    let dup = LedgerEntry { id: LedgerEntryId::from_string("l2"), ..entry.clone() };
    assert_eq!(conflict(tx.insert_ledger_entry(&dup).await), constraint::LEDGER_REFERENCE);

    tx.insert_subscription(&sub).await.unwrap();
    let dup = Subscription { id: SubscriptionId::from_string("s2"), ..sub.clone() };
    assert_eq!(conflict(tx.insert_subscription(&dup).await), constraint::SUBSCRIPTION_ORDER);

    tx.insert_topup(&topup).await.unwrap();
    let dup = TopUp { id: TopUpId::from_string("t3"), ..topup.clone() };
    assert_eq!(conflict(tx.insert_topup(&dup).await), constraint::TOPUP_GATEWAY_ORDER);
    tx.insert_topup(&second).await.unwrap();
    assert!(tx.mark_topup_paid(&topup.id, "pay_1", t(1)).await.unwrap());
    assert_eq!(
        conflict(tx.mark_topup_paid(&second.id, "pay_1", t(1)).await.map(drop)),
        constraint::TOPUP_GATEWAY_PAYMENT
    );

    tx.insert_refresh_token(&token).await.unwrap();
    let dup = RefreshToken { id: RefreshTokenId::from_string("r2"), ..token.clone() };
    assert_eq!(conflict(tx.insert_refresh_token(&dup).await), constraint::REFRESH_TOKEN_HASH);

    tx.insert_credential(&cred).await.unwrap();
    let dup = CredentialRecord { id: CredentialId::from_string("c2"), ..cred.clone() };
    assert_eq!(conflict(tx.insert_credential(&dup).await), constraint::CREDENTIAL_SUBSCRIPTION);

    // A failed statement does not poison the unit: everything before it still commits.
    tx.commit().await.unwrap();
    let mut r = ts.store.reader().await.unwrap();
    assert_eq!(r.get_credential(&cred.id).await.unwrap(), Some(cred));
    assert_eq!(ts.ext().ledger_sum(&UserId::from_string("u1")).await.unwrap(), -19900);
}

#[tokio::test]
async fn undecodable_rows_are_corrupt() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("db.sqlite");
    let store = SqliteStore::open_path(&path).await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.insert_user(&user("u1", "+919876543210")).await.unwrap();
    tx.commit().await.unwrap();

    let mut conn = raw(&path).await;
    sqlx::query("UPDATE users SET role = 'superuser'").execute(&mut conn).await.unwrap();
    let got = store.reader().await.unwrap().get_user(&UserId::from_string("u1")).await;
    assert!(matches!(got, Err(StoreError::Corrupt(_))), "{got:?}");
}

#[tokio::test]
async fn in_memory_store_works_for_one_task() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    store.ping().await.unwrap();
    assert_eq!(store.backend_name(), "sqlite");
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.put_setting_if_absent("jwt_secret", "a").await.unwrap(), "a");
    assert_eq!(tx.put_setting_if_absent("jwt_secret", "b").await.unwrap(), "a");
    tx.commit().await.unwrap();
    let mut r = store.reader().await.unwrap();
    assert_eq!(r.get_setting("jwt_secret").await.unwrap().as_deref(), Some("a"));
}

/// Every filter of `list_audit` pages through an index (migrations 0001 and 0003), not a scan
/// of the whole log. Checks the plan of the statement shape `read::list_audit` builds.
#[tokio::test]
async fn audit_filters_use_indexes() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("db.sqlite");
    drop(SqliteStore::open_path(&path).await.unwrap());
    let mut conn = raw(&path).await;
    for (column, index) in [
        ("actor_id", "audit_actor"),
        ("target_id", "audit_target"),
        ("target_type", "audit_target_type"),
        ("action", "audit_action"),
    ] {
        let sql = format!(
            "EXPLAIN QUERY PLAN SELECT * FROM audit_log WHERE {column} = 'x' AND id < 'z' ORDER BY id DESC LIMIT 51"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&mut conn).await.unwrap();
        let plan: Vec<String> =
            rows.iter().map(|r| sqlx::Row::try_get::<String, _>(r, "detail").unwrap()).collect();
        let plan = plan.join(" | ");
        assert!(plan.contains(&format!("USING INDEX {index}")), "{column}: {plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{column} sorts instead of walking the index: {plan}");
    }
}

/// Migration 0004 adds `otps.guesses_in_window`; a row written without it (as before the
/// migration) reads as 0 guesses.
#[tokio::test]
async fn otp_rows_from_before_the_guess_budget_read_as_zero_guesses() {
    let dir = TempDir::new().expect("temp dir");
    let path = dir.path().join("ottsonly.db");
    let store = SqliteStore::open_path(&path).await.expect("open store");
    let mut conn = raw(&path).await;
    sqlx::query(
        "INSERT INTO otps (phone, code_mac, created_at, expires_at, attempts, consumed_at, last_sent_at, \
         window_start, sends_in_window) VALUES ('+919876543210', 'mac', 1, 2, 3, NULL, 1, 1, 1)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let phone = PhoneNumber::from_e164("+919876543210").unwrap();
    let rec = store.reader().await.unwrap().get_otp(&phone).await.unwrap().expect("row");
    assert_eq!((rec.attempts, rec.guesses_in_window), (3, 0));
}

/// Every statement a purchase runs (`Orders::purchase` → `tx.rs`/`read.rs`) finds its rows
/// through an index, so its cost stays flat as orders, ledger entries and subscriptions pile up.
/// The SQL is the shape the store sends, with literals for the parameters; keep it in step.
#[tokio::test]
async fn purchase_statements_use_indexes() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("db.sqlite");
    drop(SqliteStore::open_path(&path).await.unwrap());
    let mut conn = raw(&path).await;
    for sql in [
        // the idempotent replay
        "SELECT * FROM orders WHERE user_id = 'u' AND idempotency_key = 'k'",
        "SELECT * FROM subscriptions WHERE order_id = 'o'",
        // the purchase (the two reads only run to name why a guarded step refused)
        "SELECT * FROM users WHERE id = 'u'",
        "SELECT * FROM products WHERE id = 'p'",
        "UPDATE products SET stock = stock - 1, updated_at = 1 \
         WHERE id = 'p' AND stock >= 1 AND is_active = 1 RETURNING *",
        "UPDATE users SET wallet_balance_paise = wallet_balance_paise - 100, updated_at = 1 \
         WHERE id = 'u' AND is_blocked = 0 AND wallet_balance_paise >= 100 RETURNING *",
        // the general guarded steps, still used by refunds and wallet adjustments
        "UPDATE products SET stock = stock + -1, updated_at = 1 \
         WHERE id = 'p' AND stock + -1 >= 0 AND (1 = 0 OR is_active = 1) RETURNING stock",
        "UPDATE users SET wallet_balance_paise = wallet_balance_paise - 100, updated_at = 1 \
         WHERE id = 'u' AND wallet_balance_paise >= 100 RETURNING wallet_balance_paise",
        "UPDATE credentials SET status = 'assigned', subscription_id = 's', assigned_at = 1 \
         WHERE id = (SELECT id FROM credentials WHERE product_id = 'p' AND status = 'available' \
         ORDER BY id LIMIT 1) RETURNING *",
    ] {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
            .fetch_all(&mut conn)
            .await
            .unwrap();
        let plan: Vec<String> =
            rows.iter().map(|r| sqlx::Row::try_get::<String, _>(r, "detail").unwrap()).collect();
        assert!(!plan.is_empty(), "no plan for {sql}");
        for step in &plan {
            // Every table access is a SEARCH through an index (a SCAN reads the whole table).
            if step.starts_with("SEARCH") || step.starts_with("SCAN") {
                assert!(
                    step.starts_with("SEARCH") && (step.contains("INDEX") || step.contains("PRIMARY KEY")),
                    "{sql}\n  uses no index: {plan:?}"
                );
            }
            assert!(!step.contains("TEMP B-TREE"), "{sql}\n  sorts: {plan:?}");
        }
    }
}
