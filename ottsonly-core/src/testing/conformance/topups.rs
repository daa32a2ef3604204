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
    let mut r = write_and_read_back!(c, insert_topup, get_topup, t1, paid);
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
    let got = assert_paid(&c, &t1, "pay_A", now).await;
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

/// mark_expired_topup_paid moves only an `Expired` top-up to `Paid` (a late capture), once; it
/// never moves a `Created`, `Failed` or `Paid` one, and a payment id held by another top-up is
/// `Conflict(topups.gateway_payment_id)`.
pub async fn topup_expired_can_be_paid_late_once(ts: TestStore) {
    let c = &Ctx::new(ts);
    let u = c.seed_user("+919811111111", Role::User).await;
    let late = c.topup(&u, "order_late");
    let open = c.topup(&u, "order_open");
    let failed = c.topup(&u, "order_failed");
    let other = c.topup(&u, "order_other");
    in_tx!(c, |tx| {
        for t in [&late, &open, &failed, &other] {
            tx.insert_topup(t).await.unwrap();
        }
    });
    c.advance(TimeDelta::days(4));
    let now = c.now();
    in_tx!(c, |tx| {
        assert!(tx.close_topup(&late.id, TopUpStatus::Expired, now).await.unwrap());
        assert!(tx.close_topup(&failed.id, TopUpStatus::Failed, now).await.unwrap());
        assert!(tx.close_topup(&other.id, TopUpStatus::Expired, now).await.unwrap());
        assert!(tx.mark_expired_topup_paid(&other.id, "pay_held", now).await.unwrap());
    });
    c.advance(TimeDelta::minutes(1));
    let now = c.now();
    assert!(!in_tx!(c, |tx| tx.mark_expired_topup_paid(&open.id, "pay_o", now).await.unwrap()), "created");
    assert!(!in_tx!(c, |tx| tx.mark_expired_topup_paid(&failed.id, "pay_f", now).await.unwrap()), "failed");
    let mut tx = c.tx().await;
    assert_conflict(
        tx.mark_expired_topup_paid(&late.id, "pay_held", now).await,
        constraint::TOPUP_GATEWAY_PAYMENT,
    );
    drop(tx);
    assert_eq!(c.read().await.get_topup(&late.id).await.unwrap().unwrap().status, TopUpStatus::Expired);

    assert!(in_tx!(c, |tx| tx.mark_expired_topup_paid(&late.id, "pay_L", now).await.unwrap()));
    let got = assert_paid(c, &late, "pay_L", now).await;
    assert!(!in_tx!(c, |tx| tx.mark_expired_topup_paid(&late.id, "pay_L", now).await.unwrap()), "replay");
    assert!(!in_tx!(c, |tx| tx.mark_expired_topup_paid(&late.id, "pay_M", now).await.unwrap()), "twice");
    assert!(!in_tx!(c, |tx| tx.mark_topup_paid(&late.id, "pay_M", now).await.unwrap()), "paid stays paid");
    assert_eq!(c.read().await.get_topup(&late.id).await.unwrap(), Some(got));
    let mut r = c.read().await;
    assert_eq!(r.get_topup(&open.id).await.unwrap().unwrap().status, TopUpStatus::Created);
    assert_eq!(r.get_topup(&failed.id).await.unwrap().unwrap().status, TopUpStatus::Failed);
    drop(r);
    assert!(!in_tx!(c, |tx| tx.mark_expired_topup_paid(&c.id(), "pay_X", now).await.unwrap()), "missing");
}

/// list_open_topups: `Created` top-ups with `created_at <= created_before` (equal counts),
/// newest (largest id) first, below the cursor, at most `slice.limit`.
pub async fn list_open_topups_newest_first_with_cursor(ts: TestStore) {
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
    let slice =
        |before: Option<&TopUp>, limit| Slice { before_id: before.map(|t| t.id.as_str().into()), limit };
    let mut r = c.read().await;
    assert_eq!(r.list_open_topups(t, &slice(None, 10)).await.unwrap(), cloned![exact, h1, h2]);
    assert_eq!(r.list_open_topups(t, &slice(None, 2)).await.unwrap(), cloned![exact, h1]);
    assert_eq!(r.list_open_topups(t, &slice(Some(&h1), 10)).await.unwrap(), cloned![h2]);
    assert_eq!(r.list_open_topups(t, &slice(Some(&exact), 1)).await.unwrap(), cloned![h1]);
    assert_eq!(r.list_open_topups(t, &slice(Some(&h2), 10)).await.unwrap(), vec![]);
    assert_eq!(
        r.list_open_topups(t + TimeDelta::days(1), &slice(None, 10)).await.unwrap(),
        cloned![later, exact, h1, h2]
    );
    assert_eq!(
        r.list_open_topups(t - TimeDelta::hours(2) - TimeDelta::milliseconds(1), &slice(None, 10))
            .await
            .unwrap(),
        vec![]
    );
}

/// list_expired_topups: `Expired` top-ups with `created_at >= created_since` (equal counts),
/// newest (largest id) first, below the cursor, at most `slice.limit`.
pub async fn list_expired_topups_since_newest_first(ts: TestStore) {
    let c = Ctx::new(ts);
    let u = c.seed_user("+919811111111", Role::User).await;
    let t = c.now();
    let expired = |gw: &str| TopUp { status: TopUpStatus::Expired, ..c.topup(&u, gw) };
    let old = expired("o-old");
    c.advance(TimeDelta::days(1));
    let at_bound = expired("o-bound");
    let open = c.topup(&u, "o-open");
    c.advance(TimeDelta::milliseconds(1));
    let paid =
        TopUp { status: TopUpStatus::Paid, gateway_payment_id: Some("p".into()), ..c.topup(&u, "o-paid") };
    let newer = expired("o-newer");
    in_tx!(c, |tx| {
        for x in [&newer, &old, &paid, &open, &at_bound] {
            tx.insert_topup(x).await.unwrap();
        }
    });
    let since = t + TimeDelta::days(1);
    let slice =
        |before: Option<&TopUp>, limit| Slice { before_id: before.map(|t| t.id.as_str().into()), limit };
    let mut r = c.read().await;
    assert_eq!(r.list_expired_topups(since, &slice(None, 10)).await.unwrap(), cloned![newer, at_bound]);
    assert_eq!(r.list_expired_topups(since, &slice(None, 1)).await.unwrap(), cloned![newer]);
    assert_eq!(r.list_expired_topups(since, &slice(Some(&newer), 10)).await.unwrap(), cloned![at_bound]);
    assert_eq!(r.list_expired_topups(t, &slice(None, 10)).await.unwrap(), cloned![newer, at_bound, old]);
    assert_eq!(r.list_expired_topups(since + TimeDelta::days(1), &slice(None, 10)).await.unwrap(), vec![]);
}

/// count_user_topups counts one user's top-ups created at or after the time (equal counts),
/// only those in the status when one is given.
pub async fn count_user_topups_by_status_and_time(ts: TestStore) {
    let c = Ctx::new(ts);
    let u = c.seed_user("+919811111111", Role::User).await;
    let v = c.seed_user("+919822222222", Role::User).await;
    let t0 = c.now();
    let old = c.topup(&u, "o-old");
    c.advance(TimeDelta::minutes(10));
    let t1 = c.now();
    let open = c.topup(&u, "o-open");
    let paid =
        TopUp { status: TopUpStatus::Paid, gateway_payment_id: Some("p".into()), ..c.topup(&u, "o-paid") };
    c.advance(TimeDelta::milliseconds(1));
    let expired = TopUp { status: TopUpStatus::Expired, ..c.topup(&u, "o-exp") };
    let others = c.topup(&v, "o-v");
    in_tx!(c, |tx| {
        for x in [&old, &open, &paid, &expired, &others] {
            tx.insert_topup(x).await.unwrap();
        }
    });
    let mut r = c.read().await;
    let created = Some(TopUpStatus::Created);
    assert_eq!(r.count_user_topups(&u.id, None, t0).await.unwrap(), 4);
    assert_eq!(r.count_user_topups(&u.id, created, t0).await.unwrap(), 2);
    assert_eq!(r.count_user_topups(&u.id, None, t1).await.unwrap(), 3, "created at the bound counts");
    assert_eq!(r.count_user_topups(&u.id, created, t1).await.unwrap(), 1);
    assert_eq!(r.count_user_topups(&u.id, None, t1 + TimeDelta::milliseconds(1)).await.unwrap(), 1);
    assert_eq!(r.count_user_topups(&u.id, Some(TopUpStatus::Paid), t0).await.unwrap(), 1);
    assert_eq!(r.count_user_topups(&v.id, None, t0).await.unwrap(), 1);
    assert_eq!(r.count_user_topups(&c.id(), None, t0).await.unwrap(), 0);
}

/// `topup` as stored now: paid at `now` with `payment_id`, the rest as it was (`updated_at` is
/// not specified by the contract). Returns the stored record.
async fn assert_paid(c: &Ctx, topup: &TopUp, payment_id: &str, now: Timestamp) -> TopUp {
    let got = c.read().await.get_topup(&topup.id).await.unwrap().unwrap();
    let want = TopUp {
        gateway_payment_id: Some(payment_id.into()),
        status: TopUpStatus::Paid,
        paid_at: Some(now),
        updated_at: got.updated_at,
        ..topup.clone()
    };
    assert_eq!(got, want);
    got
}
