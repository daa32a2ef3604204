//! Pre-fills a SQLite database with N completed orders of one user and one product, in bulk
//! through the store (not through HTTP), so the harness can measure purchases on a large table.
//!
//! Usage: `bench-grow DB_PATH USER_PHONE PRODUCT_ID N`
//!
//! Each order gets its ledger debit and its subscription, so the store's invariants still hold:
//! one credit entry per batch pays for the batch's debits and the balance ends where it began.

use chrono::TimeDelta;
use ottsonly_core::ids::IdGen;
use ottsonly_core::{
    Clock, EntryKind, LedgerEntry, LedgerEntryId, Money, Order, OrderId, OsEntropy, PhoneNumber, ProductId,
    ReferenceType, Store, Subscription, SubscriptionId, SubscriptionStatus, SystemClock,
};
use ottsonly_store_sqlite::SqliteStore;
use std::path::Path;
use std::time::Instant;

/// Orders per unit of work: large enough to amortise the commit, small enough to bound memory.
const BATCH: u64 = 5_000;

type BoxError = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [db, phone, product, n] = args.as_slice() else {
        return Err("usage: bench-grow DB_PATH USER_PHONE PRODUCT_ID N".into());
    };
    let n: u64 = n.parse()?;
    let store = SqliteStore::open_path(Path::new(db)).await?;
    let phone = PhoneNumber::parse(phone, None)?;
    let product_id = ProductId::from_string(product.clone());
    let (clock, entropy, ids) = (SystemClock, OsEntropy, IdGen::new());
    let id = || ids.next(&clock, &entropy).into_string();

    let mut r = store.reader().await?;
    let user = r.get_user_by_phone(&phone).await?.ok_or("no user with that phone")?;
    let product = r.get_product(&product_id).await?.ok_or("no such product")?;
    drop(r);

    let started = Instant::now();
    let mut done = 0u64;
    while done < n {
        let batch = BATCH.min(n - done);
        let now = clock.now();
        let mut tx = store.begin().await?;
        let start = tx.get_user(&user.id).await?.ok_or("user vanished")?.wallet_balance;
        let paid = Money::from_paise(product.price.paise() * i64::try_from(batch)?)?;
        let mut balance = start.checked_add(paid).ok_or("balance overflow")?;
        tx.insert_ledger_entry(&LedgerEntry {
            id: LedgerEntryId::from_string(id()),
            user_id: user.id.clone(),
            kind: EntryKind::Credit,
            amount: paid,
            balance_after: balance,
            reference_type: ReferenceType::Adjustment,
            reference_id: format!("bench-grow-{}", id()),
            description: "bench-grow batch credit".into(),
            actor_id: None,
            created_at: now,
        })
        .await?;
        for _ in 0..batch {
            balance = balance.checked_sub(product.price).ok_or("balance underflow")?;
            let order = Order::purchase(OrderId::from_string(id()), &user.id, &product, None, now);
            tx.insert_order(&order).await?;
            tx.insert_ledger_entry(&LedgerEntry::purchase_debit(
                LedgerEntryId::from_string(id()),
                &order,
                balance,
            ))
            .await?;
            // Active without a login: the bench needs the rows, not the pool.
            let pending =
                Subscription::for_order(SubscriptionId::from_string(id()), &order, &product, None, now);
            let end_at = now + TimeDelta::days(i64::from(product.duration_days));
            tx.insert_subscription(&Subscription {
                status: SubscriptionStatus::Active,
                start_at: Some(now),
                end_at: Some(end_at),
                ..pending
            })
            .await?;
        }
        debug_assert_eq!(balance, start);
        tx.commit().await?;
        done += batch;
    }
    let secs = started.elapsed().as_secs_f64();
    println!("{{\"orders\":{n},\"seconds\":{secs:.1}}}");
    Ok(())
}
