//! The wallet ledger: `insert_ledger_entry`, `list_ledger` and the unique reference.

use super::*;

/// list_ledger is per user, newest first, paginated; the testing extension's ledger_sum is
/// credits minus debits (0 with no entries); get_ledger_entry_by_reference matches type, id and kind exactly.
pub async fn ledger_lists_newest_first_and_sums_signed(ts: TestStore) {
    let c = Ctx::new(ts);
    let a = c.seed_user("+919811111111", Role::User).await;
    let b = c.seed_user("+919822222222", Role::User).await;
    let admin = c.seed_user("+919833333333", Role::Admin).await;
    let nobody = c.seed_user("+919844444444", Role::User).await;

    let e1 = c.entry(&a, EntryKind::Credit, 1_000, 1_000, ReferenceType::TopUp, "pay_1");
    c.advance(TimeDelta::seconds(1));
    let e2 = c.entry(&a, EntryKind::Debit, 300, 700, ReferenceType::Order, "order-1");
    let e5 = c.entry(&b, EntryKind::Credit, 99, 99, ReferenceType::Adjustment, "adj-b");
    c.advance(TimeDelta::seconds(1));
    let mut e3 = c.entry(&a, EntryKind::Credit, 300, 1_000, ReferenceType::Refund, "order-1");
    e3.actor_id = Some(admin.id.clone());
    let e4 = c.entry(&a, EntryKind::Debit, 450, 550, ReferenceType::Adjustment, "adj-1");
    in_tx!(c, |tx| {
        for e in [&e3, &e1, &e5, &e4, &e2] {
            tx.insert_ledger_entry(e).await.unwrap();
        }
    });

    let mut r = c.read().await;
    assert_eq!(r.list_ledger(&a.id, &first(10)).await.unwrap(), cloned![e4, e3, e2, e1]);
    assert_eq!(r.list_ledger(&a.id, &first(3)).await.unwrap(), cloned![e4, e3, e2]);
    assert_eq!(r.list_ledger(&a.id, &before(e2.id.as_str(), 3)).await.unwrap(), cloned![e1]);
    assert_eq!(r.list_ledger(&a.id, &before(e1.id.as_str(), 3)).await.unwrap(), vec![]);
    assert_eq!(r.list_ledger(&b.id, &first(10)).await.unwrap(), cloned![e5]);
    assert_eq!(r.list_ledger(&nobody.id, &first(10)).await.unwrap(), vec![]);

    assert_eq!(c.ext().ledger_sum(&a.id).await.unwrap(), 550);
    assert_eq!(c.ext().ledger_sum(&b.id).await.unwrap(), 99);
    assert_eq!(c.ext().ledger_sum(&nobody.id).await.unwrap(), 0);

    for (t, id, k, want) in [
        (ReferenceType::Order, "order-1", EntryKind::Debit, Some(&e2)),
        (ReferenceType::Refund, "order-1", EntryKind::Credit, Some(&e3)),
        (ReferenceType::TopUp, "pay_1", EntryKind::Credit, Some(&e1)),
        (ReferenceType::Order, "order-1", EntryKind::Credit, None),
        (ReferenceType::Refund, "order-1", EntryKind::Debit, None),
        (ReferenceType::Adjustment, "order-1", EntryKind::Debit, None),
        (ReferenceType::Order, "order-2", EntryKind::Debit, None),
    ] {
        assert_eq!(r.get_ledger_entry_by_reference(t, id, k).await.unwrap(), want.cloned(), "{t} {id} {k}");
    }
}

/// (reference_type, reference_id, kind) is unique: a repeat is `Conflict(ledger.reference)`
/// (even from another user); the same reference with another kind or type is allowed.
pub async fn ledger_reference_is_unique_per_kind(ts: TestStore) {
    let c = Ctx::new(ts);
    let a = c.seed_user("+919811111111", Role::User).await;
    let b = c.seed_user("+919822222222", Role::User).await;
    let debit = c.entry(&a, EntryKind::Debit, 300, 0, ReferenceType::Order, "order-1");
    in_tx!(c, |tx| tx.insert_ledger_entry(&debit).await.unwrap());

    for (who, amount) in [(&a, 300), (&b, 5)] {
        let dup = c.entry(who, EntryKind::Debit, amount, 0, ReferenceType::Order, "order-1");
        let mut tx = c.tx().await;
        assert_conflict(tx.insert_ledger_entry(&dup).await, constraint::LEDGER_REFERENCE);
    }

    let refund = c.entry(&a, EntryKind::Credit, 300, 300, ReferenceType::Order, "order-1");
    let other_type = c.entry(&a, EntryKind::Debit, 300, 0, ReferenceType::Adjustment, "order-1");
    in_tx!(c, |tx| {
        tx.insert_ledger_entry(&refund).await.unwrap();
        tx.insert_ledger_entry(&other_type).await.unwrap();
    });
    let mut r = c.read().await;
    assert_eq!(r.list_ledger(&a.id, &first(10)).await.unwrap(), cloned![other_type, refund, debit]);
    assert_eq!(r.list_ledger(&b.id, &first(10)).await.unwrap(), vec![]);
}
