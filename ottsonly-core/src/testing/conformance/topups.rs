//! Wallet top-ups through the payment gateway.

use super::*;

/// Top-ups round-trip by id and gateway order (also a paid one); a duplicate gateway order is
/// `Conflict(topups.gateway_order_id)`.
pub async fn topup_round_trip_and_unique_gateway_order(ts: TestStore) {
    let c = Ctx::new(ts);
    let u = c.seed_user("+919811111111", Role::User).await;
    let t1 = c.topup(&u, "order_A");
    c.advance(TimeDelta::seconds(30));
    let paid = TopUp {
        gateway_payment_id: Some("pay_P".into()),
        status: TopUpStatus::Paid,
        paid_at: Some(c.now()),
        updated_at: c.now(),
        ..c.topup(&u, "order_P")
    };
    in_tx!(c, |tx| {
        tx.insert_topup(&t1).await.unwrap();
        tx.insert_topup(&paid).await.unwrap();
    });
    let mut r = c.read().await;
    assert_eq!(r.get_topup(&t1.id).await.unwrap(), Some(t1.clone()));
    assert_eq!(r.get_topup(&paid.id).await.unwrap(), Some(paid.clone()));
    assert_eq!(r.get_topup_by_gateway_order("order_A").await.unwrap(), Some(t1.clone()));
    assert_eq!(r.get_topup_by_gateway_order("order_P").await.unwrap(), Some(paid.clone()));
    assert_eq!(r.get_topup_by_gateway_order("order_B").await.unwrap(), None);
    assert_eq!(r.get_topup(&c.id()).await.unwrap(), None);
    drop(r);

    let dup = c.topup(&u, "order_A");
    let mut tx = c.tx().await;
    assert_conflict(tx.insert_topup(&dup).await, constraint::TOPUP_GATEWAY_ORDER);
    drop(tx);
    assert_eq!(c.read().await.get_topup(&dup.id).await.unwrap(), None);
    assert_eq!(c.read().await.get_topup_by_gateway_order("order_A").await.unwrap(), Some(t1));
}

/// mark_topup_paid moves `Created` → `Paid` once; a payment id held by another top-up is
/// `Conflict(topups.gateway_payment_id)` and changes nothing.
pub async fn topup_mark_paid_once_and_payment_unique(ts: TestStore) {
    let c = Ctx::new(ts);
    let u = c.seed_user("+919811111111", Role::User).await;
    let t1 = c.topup(&u, "order_1");
    let t2 = c.topup(&u, "order_2");
    in_tx!(c, |tx| {
        tx.insert_topup(&t1).await.unwrap();
        tx.insert_topup(&t2).await.unwrap();
    });

    c.advance(TimeDelta::minutes(1));
    let now = c.now();
    assert!(in_tx!(c, |tx| tx.mark_topup_paid(&t1.id, "pay_A", now).await.unwrap()));
    let got = c.read().await.get_topup(&t1.id).await.unwrap().unwrap();
    let want = TopUp {
        gateway_payment_id: Some("pay_A".into()),
        status: TopUpStatus::Paid,
        paid_at: Some(now),
        updated_at: got.updated_at, // not specified by the contract
        ..t1.clone()
    };
    assert_eq!(got, want);
    assert!(!in_tx!(c, |tx| tx.mark_topup_paid(&t1.id, "pay_B", now).await.unwrap()), "twice");
    assert!(!in_tx!(c, |tx| tx.mark_topup_paid(&t1.id, "pay_A", now).await.unwrap()), "replay");
    assert_eq!(c.read().await.get_topup(&t1.id).await.unwrap(), Some(got));

    let mut tx = c.tx().await;
    assert_conflict(tx.mark_topup_paid(&t2.id, "pay_A", now).await, constraint::TOPUP_GATEWAY_PAYMENT);
    drop(tx);
    assert_eq!(c.read().await.get_topup(&t2.id).await.unwrap(), Some(t2.clone()));

    assert!(in_tx!(c, |tx| tx.mark_topup_paid(&t2.id, "pay_C", now).await.unwrap()));
    assert_eq!(
        c.read().await.get_topup(&t2.id).await.unwrap().unwrap().gateway_payment_id.as_deref(),
        Some("pay_C")
    );
    assert!(!in_tx!(c, |tx| tx.mark_topup_paid(&c.id(), "pay_D", now).await.unwrap()), "missing");
}

/// close_topup moves only a `Created` top-up (to expired or failed); a closed top-up can be
/// neither closed again nor paid, and a paid one cannot be closed.
pub async fn topup_close_only_from_created(ts: TestStore) {
    let c = &Ctx::new(ts);
    let u = c.seed_user("+919811111111", Role::User).await;
    let t1 = c.topup(&u, "order_1");
    let t2 = c.topup(&u, "order_2");
    let t3 = c.topup(&u, "order_3");
    in_tx!(c, |tx| {
        for t in [&t1, &t2, &t3] {
            tx.insert_topup(t).await.unwrap();
        }
    });
    c.advance(TimeDelta::hours(1));
    let now = c.now();
    let status = |id: TopUpId| async move { c.read().await.get_topup(&id).await.unwrap().unwrap().status };

    assert!(in_tx!(c, |tx| tx.close_topup(&t1.id, TopUpStatus::Expired, now).await.unwrap()));
    assert_eq!(status(t1.id.clone()).await, TopUpStatus::Expired);
    assert!(!in_tx!(c, |tx| tx.close_topup(&t1.id, TopUpStatus::Failed, now).await.unwrap()));
    assert!(!in_tx!(c, |tx| tx.mark_topup_paid(&t1.id, "pay_late", now).await.unwrap()));
    let got = c.read().await.get_topup(&t1.id).await.unwrap().unwrap();
    assert_eq!((got.status, got.gateway_payment_id, got.paid_at), (TopUpStatus::Expired, None, None));

    assert!(in_tx!(c, |tx| tx.close_topup(&t2.id, TopUpStatus::Failed, now).await.unwrap()));
    assert_eq!(status(t2.id.clone()).await, TopUpStatus::Failed);

    assert!(in_tx!(c, |tx| tx.mark_topup_paid(&t3.id, "pay_3", now).await.unwrap()));
    assert!(!in_tx!(c, |tx| tx.close_topup(&t3.id, TopUpStatus::Expired, now).await.unwrap()));
    assert_eq!(status(t3.id.clone()).await, TopUpStatus::Paid);
    assert!(!in_tx!(c, |tx| tx.close_topup(&c.id(), TopUpStatus::Expired, now).await.unwrap()));
}

/// list_open_topups: `Created` top-ups with `created_at <= created_before` (equal counts),
/// oldest first, at most `limit`.
pub async fn list_open_topups_oldest_first(ts: TestStore) {
    let c = Ctx::new(ts);
    let u = c.seed_user("+919811111111", Role::User).await;
    let t = c.now() + TimeDelta::days(1);
    let at = |offset: TimeDelta, gw: &str| {
        c.set_time(t + offset);
        c.topup(&u, gw)
    };
    let paid = TopUp {
        status: TopUpStatus::Paid,
        gateway_payment_id: Some("pay".into()),
        ..at(TimeDelta::hours(-3), "o-paid")
    };
    let h2 = at(TimeDelta::hours(-2), "o-2h");
    let expired = TopUp { status: TopUpStatus::Expired, ..at(TimeDelta::minutes(-90), "o-exp") };
    let h1 = at(TimeDelta::hours(-1), "o-1h");
    let exact = at(TimeDelta::zero(), "o-now");
    let later = at(TimeDelta::milliseconds(1), "o-later");
    in_tx!(c, |tx| {
        for x in [&later, &h1, &paid, &exact, &expired, &h2] {
            tx.insert_topup(x).await.unwrap();
        }
    });
    let mut r = c.read().await;
    assert_eq!(r.list_open_topups(t, 10).await.unwrap(), cloned![h2, h1, exact]);
    assert_eq!(r.list_open_topups(t, 2).await.unwrap(), cloned![h2, h1]);
    assert_eq!(r.list_open_topups(t + TimeDelta::days(1), 10).await.unwrap(), cloned![h2, h1, exact, later]);
    assert_eq!(
        r.list_open_topups(t - TimeDelta::hours(2) - TimeDelta::milliseconds(1), 10).await.unwrap(),
        vec![]
    );
}
