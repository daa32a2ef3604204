//! Behaviour that is specific to MongoDB: connecting, error mapping, transactions.

use super::{DropDatabase, connect_fresh, server_uri};
use mongodb::bson::doc;
use ottsonly_core::error::constraint;
use ottsonly_core::testing::StoreTestingExt as _;
use ottsonly_core::testing::records::{self, at as t, user};
use ottsonly_core::*;
use ottsonly_store_mongo::uri_with_database as with_database;
use ottsonly_store_mongo::{MongoStore, SetupError};
use std::time::{Duration, Instant};

/// Commits user `u1` in a unit of its own; returns its id.
async fn seed_u1(store: &MongoStore) -> UserId {
    let u = user("u1", "+919876543210");
    let mut tx = store.begin().await.unwrap();
    tx.insert_user(&u).await.unwrap();
    tx.commit().await.unwrap();
    u.id
}

/// The setup error behind a failed `connect`.
fn setup_error(r: StoreResult<MongoStore>) -> String {
    match r {
        Err(StoreError::Backend(source)) => {
            assert!(source.downcast_ref::<SetupError>().is_some(), "not a SetupError: {source:?}");
            source.to_string()
        }
        Err(other) => panic!("expected a backend error, got {other:?}"),
        Ok(store) => panic!("expected connect to fail, got {store:?}"),
    }
}

#[tokio::test]
async fn connect_rejects_an_invalid_uri() {
    let msg = setup_error(MongoStore::connect("postgres://localhost/ottsonly").await);
    assert!(msg.contains("invalid MongoDB connection string"), "{msg}");
}

#[tokio::test]
async fn connect_reports_an_unreachable_server_quickly() {
    // Port 1 on loopback: nothing listens there.
    let started = Instant::now();
    let msg = setup_error(MongoStore::connect("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300").await);
    assert!(msg.contains("cannot reach MongoDB at 127.0.0.1:1"), "{msg}");
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn connect_reports_a_wrong_replica_set_name() {
    let Some(uri) = server_uri() else { return };
    let base = uri.split_once('?').map_or(uri.as_str(), |(b, _)| b);
    let wrong = format!("{base}?replicaSet=not-this-one&serverSelectionTimeoutMS=1000");
    let msg = setup_error(MongoStore::connect(&wrong).await);
    assert!(msg.contains("replica set \"not-this-one\""), "{msg}");
}

/// Connecting again to an existing database finds its collections and indexes and keeps the data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_is_idempotent_and_keeps_data() {
    let Some(store) = connect_fresh().await else { return };
    let _drop = DropDatabase(store.database().clone());
    seed_u1(&store).await;

    // Without the replicaSet option the driver discovers the replica set by itself.
    let uri = server_uri().expect("server");
    let without_set = uri.split_once('?').map_or(uri.as_str(), |(base, _)| base);
    let again =
        MongoStore::connect(&with_database(without_set, store.database_name())).await.expect("reconnect");
    assert_eq!(again.database_name(), store.database_name());
    assert_eq!(again.backend_name(), "mongodb");
    again.ping().await.unwrap();
    let got = again.reader().await.unwrap().get_user(&UserId::from_string("u1")).await.unwrap();
    assert_eq!(got, Some(user("u1", "+919876543210")));
    let names =
        store.database().collection::<mongodb::bson::Document>("users").list_index_names().await.unwrap();
    assert!(names.contains(&"users_phone_unique".to_string()), "{names:?}");
}

#[track_caller]
fn conflict<T: std::fmt::Debug>(r: StoreResult<T>) -> &'static str {
    match r {
        Err(StoreError::Conflict { constraint }) => constraint,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

/// Each unique index maps to its constraint name. A failed statement aborts a MongoDB
/// transaction (unlike SQLite), so each conflict gets a unit of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_unique_rule_maps_to_its_constraint_name() {
    let Some(store) = connect_fresh().await else { return };
    let _drop = DropDatabase(store.database().clone());
    let records::Linked { user: u1, order, entry, sub, topups: [topup, second], token, cred } =
        records::linked();

    let mut tx = store.begin().await.unwrap();
    tx.insert_user(&u1).await.unwrap();
    tx.insert_order(&order).await.unwrap();
    // Orders without a key never collide.
    for id in ["o3", "o4"] {
        tx.insert_order(&Order { id: OrderId::from_string(id), idempotency_key: None, ..order.clone() })
            .await
            .unwrap();
    }
    tx.insert_ledger_entry(&entry).await.unwrap();
    tx.insert_subscription(&sub).await.unwrap();
    tx.insert_topup(&topup).await.unwrap();
    tx.insert_topup(&second).await.unwrap();
    assert!(tx.mark_topup_paid(&topup.id, "pay_1", t(1)).await.unwrap());
    tx.insert_refresh_token(&token).await.unwrap();
    tx.insert_credential(&cred).await.unwrap();
    tx.commit().await.unwrap();

    macro_rules! refused {
        ($expected:expr, |$tx:ident| $step:expr) => {{
            let mut $tx = store.begin().await.unwrap();
            assert_eq!(conflict($step.await), $expected, "{}", stringify!($step));
        }};
    }
    refused!(constraint::USER_PHONE, |tx| tx.insert_user(&user("u2", "+919876543210")));
    refused!(constraint::PRIMARY_KEY, |tx| tx.insert_user(&user("u1", "+919876543211")));
    refused!(constraint::ORDER_IDEMPOTENCY_KEY, |tx| tx
        .insert_order(&Order { id: OrderId::from_string("o2"), ..order.clone() }));
    refused!(constraint::LEDGER_REFERENCE, |tx| tx
        .insert_ledger_entry(&LedgerEntry { id: LedgerEntryId::from_string("l2"), ..entry.clone() }));
    refused!(constraint::SUBSCRIPTION_ORDER, |tx| tx
        .insert_subscription(&Subscription { id: SubscriptionId::from_string("s2"), ..sub.clone() }));
    refused!(constraint::TOPUP_GATEWAY_ORDER, |tx| tx
        .insert_topup(&TopUp { id: TopUpId::from_string("t3"), ..topup.clone() }));
    refused!(constraint::TOPUP_GATEWAY_PAYMENT, |tx| tx.mark_topup_paid(&second.id, "pay_1", t(1)));
    refused!(constraint::REFRESH_TOKEN_HASH, |tx| tx
        .insert_refresh_token(&RefreshToken { id: RefreshTokenId::from_string("r2"), ..token.clone() }));
    refused!(constraint::CREDENTIAL_SUBSCRIPTION, |tx| tx
        .insert_credential(&CredentialRecord { id: CredentialId::from_string("c2"), ..cred.clone() }));

    let mut r = store.reader().await.unwrap();
    assert_eq!(r.get_credential(&cred.id).await.unwrap(), Some(cred));
    assert_eq!(store.ledger_sum(&u1.id).await.unwrap(), -19900);
    assert_eq!(r.get_topup(&second.id).await.unwrap(), Some(second));
}

/// After a failed statement the server has aborted the transaction: later statements and the
/// commit report `Transient`, and nothing of the unit is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_statement_aborts_the_unit() {
    let Some(store) = connect_fresh().await else { return };
    let _drop = DropDatabase(store.database().clone());
    seed_u1(&store).await;

    let mut tx = store.begin().await.unwrap();
    tx.insert_user(&user("u2", "+919876543211")).await.unwrap();
    conflict(tx.insert_user(&user("u3", "+919876543210")).await);
    let commit = tx.commit().await;
    assert!(matches!(commit, Err(StoreError::Transient(_))), "{commit:?}");
    let got = store.reader().await.unwrap().get_user(&UserId::from_string("u2")).await.unwrap();
    assert_eq!(got, None);
}

/// Two processes' units writing one document: the server refuses the second writer at once
/// (no waiting for the first) with a write conflict, which is `Transient`; the first commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_conflict_between_processes_is_transient() {
    let Some(store) = connect_fresh().await else { return };
    let _drop = DropDatabase(store.database().clone());
    // A second store on the same database stands for another process.
    let uri = with_database(&server_uri().expect("server"), store.database_name());
    let other = MongoStore::connect(&uri).await.expect("second store");
    let id = seed_u1(&store).await;

    let amount = Money::from_paise(100).unwrap();
    let mut first = store.begin().await.unwrap();
    assert_eq!(first.credit_balance(&id, amount, t(1)).await.unwrap(), Some(amount));
    let mut second = other.begin().await.unwrap();
    let lost = second.credit_balance(&id, amount, t(1)).await;
    assert!(matches!(&lost, Err(StoreError::Transient(m)) if m.contains("WriteConflict")), "{lost:?}");
    drop(second);
    first.commit().await.unwrap();
    let got = store.reader().await.unwrap().get_user(&id).await.unwrap().unwrap();
    assert_eq!(got.wallet_balance, amount);
}

/// Within one process, a unit that finds another unit writing the same document fails with
/// `Transient` before sending anything, and the same task's next unit starts only when the
/// first has finished, so its write goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn units_of_one_process_take_turns_on_a_document() {
    let Some(store) = connect_fresh().await else { return };
    let _drop = DropDatabase(store.database().clone());
    let id = seed_u1(&store).await;

    let amount = Money::from_paise(100).unwrap();
    let mut first = store.begin().await.unwrap();
    assert_eq!(first.credit_balance(&id, amount, t(1)).await.unwrap(), Some(amount));
    let retrier = {
        let (store, id) = (store.clone(), id.clone());
        tokio::spawn(async move {
            let mut second = store.begin().await.unwrap();
            let lost = second.credit_balance(&id, amount, t(2)).await;
            assert!(matches!(&lost, Err(StoreError::Transient(m)) if m.contains("this process")), "{lost:?}");
            drop(second);
            // Core's retry: waits here for the first unit, then wins.
            let mut again = store.begin().await.unwrap();
            let balance = again.credit_balance(&id, amount, t(2)).await.unwrap();
            again.commit().await.unwrap();
            balance
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!retrier.is_finished(), "the retry must wait for the first unit");
    first.commit().await.unwrap();
    let balance = tokio::time::timeout(Duration::from_secs(10), retrier).await.expect("retry done").unwrap();
    assert_eq!(balance.map(Money::paise), Some(200));
}

/// A document that does not fit the model reads as `Corrupt`, naming the field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_documents_are_corrupt() {
    let Some(store) = connect_fresh().await else { return };
    let _drop = DropDatabase(store.database().clone());
    seed_u1(&store).await;

    let users = store.database().collection::<mongodb::bson::Document>("users");
    users.update_one(doc! { "_id": "u1" }, doc! { "$set": { "role": "superuser" } }).await.unwrap();
    let got = store.reader().await.unwrap().get_user(&UserId::from_string("u1")).await;
    assert!(matches!(&got, Err(StoreError::Corrupt(m)) if m.contains("role")), "{got:?}");
    users
        .update_one(doc! { "_id": "u1" }, doc! { "$set": { "role": "user", "wallet_balance_paise": 1.5 } })
        .await
        .unwrap();
    let got = store.reader().await.unwrap().get_user(&UserId::from_string("u1")).await;
    assert!(matches!(&got, Err(StoreError::Corrupt(m)) if m.contains("wallet_balance_paise")), "{got:?}");
}
