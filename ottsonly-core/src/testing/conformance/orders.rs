//! Orders and subscriptions, including the expiry and reminder sweeps.

use super::*;

/// Orders round-trip; an idempotency key is unique per user (`Conflict(orders.user_id+
/// idempotency_key)`), free for another user, and absent keys never collide.
pub async fn order_round_trip_and_idempotency_key(ts: TestStore) {
    let c = Ctx::new(ts);
    let (a, b, admin, p) = c.seed_buyers().await;

    let o1 = c.order(&a, &p, Some("key-1"));
    c.advance(TimeDelta::seconds(5));
    let refunded = Order {
        status: OrderStatus::Refunded,
        refunded_at: Some(c.now()),
        refund_reason: Some("duplicate".into()),
        refunded_by: Some(admin.id.clone()),
        updated_at: c.now(),
        ..c.order(&a, &p, None)
    };
    let mut r = write_and_read_back!(c, insert_order, get_order, o1, refunded);
    assert_eq!(r.get_order(&c.id()).await.unwrap(), None);
    assert_eq!(r.get_order_by_idempotency_key(&a.id, "key-1").await.unwrap(), Some(o1.clone()));
    assert_eq!(r.get_order_by_idempotency_key(&b.id, "key-1").await.unwrap(), None);
    assert_eq!(r.get_order_by_idempotency_key(&a.id, "key-2").await.unwrap(), None);
    drop(r);

    let again = c.order(&a, &p, Some("key-1"));
    let mut tx = c.tx().await;
    assert_conflict(tx.insert_order(&again).await, constraint::ORDER_IDEMPOTENCY_KEY);
    drop(tx);

    let b1 = c.order(&b, &p, Some("key-1"));
    let a2 = c.order(&a, &p, None);
    let a3 = c.order(&a, &p, None);
    in_tx!(c, |tx| {
        tx.insert_order(&b1).await.unwrap();
        tx.insert_order(&a2).await.unwrap();
        tx.insert_order(&a3).await.unwrap();
    });
    let mut r = c.read().await;
    assert_eq!(r.get_order(&again.id).await.unwrap(), None);
    assert_eq!(r.get_order_by_idempotency_key(&b.id, "key-1").await.unwrap(), Some(b1));
    assert_eq!(r.get_order_by_idempotency_key(&a.id, "key-1").await.unwrap(), Some(o1));
    assert_eq!(r.get_order(&a3.id).await.unwrap(), Some(a3));
}

/// mark_order_refunded moves `Completed` → `Refunded` with reason, actor and time, true once;
/// false for a refunded or missing order.
pub async fn order_refund_once(ts: TestStore) {
    let c = Ctx::new(ts);
    let u = c.seed_user("+919811111111", Role::User).await;
    let admin = c.seed_user("+919833333333", Role::Admin).await;
    let p = c.seed_product("Premium", 9, true).await;
    let o = c.order(&u, &p, None);
    in_tx!(c, |tx| tx.insert_order(&o).await.unwrap());

    c.advance(TimeDelta::hours(2));
    let now = c.now();
    assert!(in_tx!(c, |tx| tx.mark_order_refunded(&o.id, "not delivered", &admin.id, now).await.unwrap()));
    let got = c.read().await.get_order(&o.id).await.unwrap().unwrap();
    let want = Order {
        status: OrderStatus::Refunded,
        refunded_at: Some(now),
        refund_reason: Some("not delivered".into()),
        refunded_by: Some(admin.id.clone()),
        updated_at: got.updated_at, // the contract does not say what updated_at becomes
        ..o.clone()
    };
    assert_eq!(got, want);

    c.advance(TimeDelta::minutes(1));
    assert!(!in_tx!(c, |tx| tx.mark_order_refunded(&o.id, "again", &u.id, c.now()).await.unwrap()));
    assert_eq!(c.read().await.get_order(&o.id).await.unwrap(), Some(got));
    assert!(!in_tx!(c, |tx| tx.mark_order_refunded(&c.id(), "ghost", &admin.id, c.now()).await.unwrap()));
}

/// list_orders filters by user and status, newest first, paginated.
pub async fn list_orders_filters_and_paginates(ts: TestStore) {
    let c = Ctx::new(ts);
    let (a, b, admin, p) = c.seed_buyers().await;
    let a1 = c.order(&a, &p, Some("k1"));
    let b1 = c.order(&b, &p, Some("k1"));
    let a2 = c.order(&a, &p, None);
    let a3 = c.order(&a, &p, None);
    let a4 = c.order(&a, &p, None);
    in_tx!(c, |tx| {
        for o in [&a3, &b1, &a1, &a4, &a2] {
            tx.insert_order(o).await.unwrap();
        }
        assert!(tx.mark_order_refunded(&a2.id, "r", &admin.id, c.now()).await.unwrap());
    });
    let a2 = c.read().await.get_order(&a2.id).await.unwrap().unwrap();

    let f = |user: Option<&User>, status| OrderFilter {
        user_id: user.map(|u| u.id.clone()),
        status,
        ..Default::default()
    };
    let mut r = c.read().await;
    let page = first(50);
    assert_eq!(r.list_orders(&f(None, None), &page).await.unwrap(), cloned![a4, a3, a2, b1, a1]);
    assert_eq!(r.list_orders(&f(Some(&a), None), &page).await.unwrap(), cloned![a4, a3, a2, a1]);
    assert_eq!(r.list_orders(&f(Some(&b), None), &page).await.unwrap(), cloned![b1]);
    assert_eq!(r.list_orders(&f(None, Some(OrderStatus::Refunded)), &page).await.unwrap(), cloned![a2]);
    assert_eq!(
        r.list_orders(&f(Some(&a), Some(OrderStatus::Completed)), &page).await.unwrap(),
        cloned![a4, a3, a1]
    );
    assert_eq!(r.list_orders(&f(Some(&b), Some(OrderStatus::Refunded)), &page).await.unwrap(), vec![]);
    assert_eq!(r.list_orders(&f(Some(&a), None), &first(2)).await.unwrap(), cloned![a4, a3]);
    assert_eq!(r.list_orders(&f(Some(&a), None), &before(a3.id.as_str(), 2)).await.unwrap(), cloned![a2, a1]);
    assert_eq!(r.list_orders(&f(None, None), &before(a2.id.as_str(), 50)).await.unwrap(), cloned![b1, a1]);
    drop(r);

    // Placed-at range, both ends inclusive, with the other filters and the cursor.
    let now = c.now();
    let at = |days: i64| now - TimeDelta::days(days);
    let mut old = Vec::new();
    for days in [3, 2, 1] {
        let mut o = c.order(&b, &p, None);
        o.created_at = at(days);
        old.push(o);
    }
    in_tx!(c, |tx| {
        for o in &old {
            tx.insert_order(o).await.unwrap();
        }
    });
    let (d3, d2, d1) = (&old[0], &old[1], &old[2]);
    let range = |from: Option<i64>, to: Option<i64>| OrderFilter {
        user_id: Some(b.id.clone()),
        placed_from: from.map(at),
        placed_to: to.map(at),
        ..Default::default()
    };
    let mut r = c.read().await;
    assert_eq!(r.list_orders(&range(Some(2), Some(1)), &page).await.unwrap(), vec![d1.clone(), d2.clone()]);
    assert_eq!(r.list_orders(&range(None, Some(2)), &page).await.unwrap(), vec![d2.clone(), d3.clone()]);
    // Newest id first, as every list: d1 was written after b1.
    assert_eq!(r.list_orders(&range(Some(1), None), &page).await.unwrap(), vec![d1.clone(), b1.clone()]);
    assert_eq!(
        r.list_orders(&range(Some(3), Some(1)), &before(d1.id.as_str(), 1)).await.unwrap(),
        vec![d2.clone()]
    );
    let none = OrderFilter { placed_from: Some(now + TimeDelta::days(1)), ..Default::default() };
    assert_eq!(r.list_orders(&none, &page).await.unwrap(), vec![]);
}

/// Subscriptions round-trip (with every optional field set too), by id and by order; a second
/// subscription for one order is `Conflict(subscriptions.order_id)`.
pub async fn subscription_round_trip_and_unique_order(ts: TestStore) {
    let c = Ctx::new(ts);
    let u = c.seed_user("+919811111111", Role::User).await;
    let p = c.seed_product("Premium", 9, true).await;
    let k = c.credential(Some(&p), b"k");
    let o1 = c.order(&u, &p, None);
    let o2 = c.order(&u, &p, None);
    let o3 = c.order(&u, &p, None);
    let s1 = c.subscription(&o1, &p);
    c.advance(TimeDelta::days(1));
    let now = c.now();
    let s2 = Subscription {
        status: SubscriptionStatus::Active,
        start_at: Some(now - TimeDelta::hours(1)),
        end_at: Some(now + TimeDelta::days(30)),
        credential_id: Some(k.id.clone()),
        reminded_at: Some(now),
        updated_at: now,
        ..c.subscription(&o2, &p)
    };
    in_tx!(c, |tx| {
        tx.insert_credential(&k).await.unwrap();
        for o in [&o1, &o2, &o3] {
            tx.insert_order(o).await.unwrap();
        }
        tx.insert_subscription(&s1).await.unwrap();
        tx.insert_subscription(&s2).await.unwrap();
    });
    let mut r = c.read().await;
    assert_eq!(r.get_subscription(&s1.id).await.unwrap(), Some(s1.clone()));
    assert_eq!(r.get_subscription(&s2.id).await.unwrap(), Some(s2.clone()));
    assert_eq!(r.get_subscription_by_order(&o1.id).await.unwrap(), Some(s1.clone()));
    assert_eq!(r.get_subscription_by_order(&o2.id).await.unwrap(), Some(s2.clone()));
    assert_eq!(r.get_subscription_by_order(&o3.id).await.unwrap(), None);
    assert_eq!(r.get_subscription(&c.id()).await.unwrap(), None);
    drop(r);

    let dup = c.subscription(&o1, &p);
    let mut tx = c.tx().await;
    assert_conflict(tx.insert_subscription(&dup).await, constraint::SUBSCRIPTION_ORDER);
    drop(tx);
    assert_eq!(c.read().await.get_subscription(&dup.id).await.unwrap(), None);
    assert_eq!(c.read().await.get_subscription_by_order(&o1.id).await.unwrap(), Some(s1));
}

/// update_subscription is a compare-and-set on the stored status: it writes status, dates,
/// credential and reminder only if the status is still `expected`; false (and no write)
/// otherwise or if missing.
pub async fn subscription_update_is_compare_and_set(ts: TestStore) {
    let c = Ctx::new(ts);
    let u = c.seed_user("+919811111111", Role::User).await;
    let p = c.seed_product("Premium", 9, true).await;
    let s = c.seed_subscription(&u, &p).await;
    let k = c.credential(Some(&p), b"k");
    in_tx!(c, |tx| tx.insert_credential(&k).await.unwrap());

    c.advance(TimeDelta::minutes(2));
    let now = c.now();
    let active = Subscription {
        status: SubscriptionStatus::Active,
        start_at: Some(now),
        end_at: Some(now + TimeDelta::days(30)),
        credential_id: Some(k.id.clone()),
        updated_at: now,
        ..s.clone()
    };
    assert!(in_tx!(c, |tx| {
        let claimed = tx.claim_credential(&p.id, &s.id, now).await.unwrap();
        assert_eq!(claimed.map(|k| k.id), Some(k.id.clone()));
        tx.update_subscription(&active, SubscriptionStatus::PendingCredentials).await.unwrap()
    }));
    assert_eq!(c.read().await.get_subscription(&s.id).await.unwrap(), Some(active.clone()));

    // A second writer that read the old status loses.
    let stale = Subscription { status: SubscriptionStatus::Cancelled, updated_at: c.now(), ..s.clone() };
    assert!(!in_tx!(c, |tx| tx
        .update_subscription(&stale, SubscriptionStatus::PendingCredentials)
        .await
        .unwrap()));
    assert!(!in_tx!(c, |tx| tx.update_subscription(&stale, SubscriptionStatus::Expired).await.unwrap()));
    assert_eq!(c.read().await.get_subscription(&s.id).await.unwrap(), Some(active.clone()));

    c.advance(TimeDelta::days(27));
    let reminded = Subscription { reminded_at: Some(c.now()), updated_at: c.now(), ..active.clone() };
    assert!(in_tx!(c, |tx| tx.update_subscription(&reminded, SubscriptionStatus::Active).await.unwrap()));
    assert_eq!(c.read().await.get_subscription(&s.id).await.unwrap(), Some(reminded.clone()));

    let ghost = Subscription { id: c.id(), ..reminded };
    assert!(!in_tx!(c, |tx| tx.update_subscription(&ghost, SubscriptionStatus::Active).await.unwrap()));
    assert_eq!(c.read().await.get_subscription(&ghost.id).await.unwrap(), None, "update must not insert");
}

/// list_subscriptions filters by user, status and product (combined with AND), newest first,
/// paginated.
pub async fn list_subscriptions_filters_and_paginates(ts: TestStore) {
    let c = Ctx::new(ts);
    let a = c.seed_user("+919811111111", Role::User).await;
    let b = c.seed_user("+919822222222", Role::User).await;
    let p = c.seed_product("Premium", 9, true).await;
    let q = c.seed_product("Basic", 9, true).await;
    let make = |user: &User, product: &Product, status| {
        let o = c.order(user, product, None);
        let s = Subscription { status, ..c.subscription(&o, product) };
        (o, s)
    };
    let (o1, s1) = make(&a, &p, SubscriptionStatus::Active);
    let (o2, s2) = make(&a, &q, SubscriptionStatus::PendingCredentials);
    let (o3, s3) = make(&b, &p, SubscriptionStatus::Active);
    let (o4, s4) = make(&a, &p, SubscriptionStatus::Expired);
    in_tx!(c, |tx| {
        for o in [&o1, &o2, &o3, &o4] {
            tx.insert_order(o).await.unwrap();
        }
        for s in [&s3, &s1, &s4, &s2] {
            tx.insert_subscription(s).await.unwrap();
        }
    });
    let f = |user: Option<&User>, status, product: Option<&Product>| SubscriptionFilter {
        user_id: user.map(|u| u.id.clone()),
        status,
        product_id: product.map(|p| p.id.clone()),
    };
    let active = Some(SubscriptionStatus::Active);
    let mut r = c.read().await;
    let page = first(50);
    assert_eq!(r.list_subscriptions(&f(None, None, None), &page).await.unwrap(), cloned![s4, s3, s2, s1]);
    assert_eq!(r.list_subscriptions(&f(Some(&a), None, None), &page).await.unwrap(), cloned![s4, s2, s1]);
    assert_eq!(r.list_subscriptions(&f(None, active, None), &page).await.unwrap(), cloned![s3, s1]);
    assert_eq!(r.list_subscriptions(&f(None, None, Some(&p)), &page).await.unwrap(), cloned![s4, s3, s1]);
    assert_eq!(r.list_subscriptions(&f(Some(&a), active, Some(&p)), &page).await.unwrap(), cloned![s1]);
    assert_eq!(r.list_subscriptions(&f(Some(&b), None, Some(&q)), &page).await.unwrap(), vec![]);
    assert_eq!(r.list_subscriptions(&f(None, None, None), &first(2)).await.unwrap(), cloned![s4, s3]);
    assert_eq!(
        r.list_subscriptions(&f(None, None, None), &before(s3.id.as_str(), 2)).await.unwrap(),
        cloned![s2, s1]
    );
    assert_eq!(
        r.list_subscriptions(&f(Some(&a), None, None), &before(s4.id.as_str(), 1)).await.unwrap(),
        cloned![s2]
    );
}

/// Seeds subscriptions with the given statuses, end times and reminder times (one order each,
/// built in the given order, so ids follow the list and not the end times).
async fn seed_ending(
    c: &Ctx,
    specs: &[(SubscriptionStatus, Option<Timestamp>, Option<Timestamp>)],
) -> Vec<Subscription> {
    let u = c.seed_user("+919811111111", Role::User).await;
    let p = c.seed_product("Premium", 9, true).await;
    let mut orders = Vec::new();
    let mut subs = Vec::new();
    for (status, end_at, reminded_at) in specs {
        let o = c.order(&u, &p, None);
        let s = Subscription {
            status: *status,
            start_at: end_at.map(|e| e - TimeDelta::days(30)),
            end_at: *end_at,
            reminded_at: *reminded_at,
            ..c.subscription(&o, &p)
        };
        orders.push(o);
        subs.push(s);
    }
    in_tx!(c, |tx| {
        for o in &orders {
            tx.insert_order(o).await.unwrap();
        }
        for s in subs.iter().rev() {
            tx.insert_subscription(s).await.unwrap();
        }
    });
    subs
}

/// list_subscriptions_ended: `Active` with `end_at <= now` (equal counts), oldest end first,
/// at most `limit`; other statuses and reminders do not matter.
pub async fn subscriptions_ended_boundaries(ts: TestStore) {
    let c = Ctx::new(ts);
    let t = c.now() + TimeDelta::days(40);
    let ms = TimeDelta::milliseconds;
    use SubscriptionStatus as S;
    let subs = seed_ending(
        &c,
        &[
            (S::Active, Some(t), None),                             // 0: ends exactly now
            (S::Active, Some(t - TimeDelta::hours(2)), None),       // 1
            (S::Active, Some(t + ms(1)), None),                     // 2: not yet
            (S::Active, Some(t - TimeDelta::hours(1)), None),       // 3
            (S::Expired, Some(t - TimeDelta::hours(3)), None),      // 4: already swept
            (S::PendingCredentials, None, None),                    // 5
            (S::Cancelled, Some(t - TimeDelta::hours(5)), None),    // 6
            (S::Active, Some(t - TimeDelta::minutes(30)), Some(t)), // 7: reminded, still ends
            (S::Refunded, Some(t - TimeDelta::hours(4)), None),     // 8
        ],
    )
    .await;
    let mut r = c.read().await;
    assert_eq!(r.list_subscriptions_ended(t, 10).await.unwrap(), cloned![subs[1], subs[3], subs[7], subs[0]]);
    assert_eq!(r.list_subscriptions_ended(t, 2).await.unwrap(), cloned![subs[1], subs[3]]);
    assert_eq!(r.list_subscriptions_ended(t - ms(1), 10).await.unwrap(), cloned![subs[1], subs[3], subs[7]]);
    assert_eq!(r.list_subscriptions_ended(t - TimeDelta::days(1), 10).await.unwrap(), vec![]);
}

/// list_subscriptions_to_remind: `Active`, `now < end_at <= until`, not reminded yet, oldest end
/// first, at most `limit`.
pub async fn subscriptions_to_remind_boundaries(ts: TestStore) {
    let c = Ctx::new(ts);
    let t = c.now() + TimeDelta::days(40);
    let until = t + TimeDelta::days(3);
    let ms = TimeDelta::milliseconds;
    use SubscriptionStatus as S;
    let subs = seed_ending(
        &c,
        &[
            (S::Active, Some(t + TimeDelta::days(1)), None),    // 0
            (S::Active, Some(until), None),                     // 1: == until counts
            (S::Active, Some(t), None),                         // 2: == now is ended
            (S::Active, Some(t + ms(1)), None),                 // 3
            (S::Active, Some(until + ms(1)), None),             // 4: too far
            (S::Active, Some(t + TimeDelta::days(2)), Some(t)), // 5: reminded
            (S::Expired, Some(t + TimeDelta::days(1)), None),   // 6
            (S::PendingCredentials, None, None),                // 7
            (S::Active, Some(t - TimeDelta::hours(1)), None),   // 8: ended
            (S::Cancelled, Some(t + TimeDelta::days(2)), None), // 9
        ],
    )
    .await;
    let mut r = c.read().await;
    assert_eq!(
        r.list_subscriptions_to_remind(t, until, 10).await.unwrap(),
        cloned![subs[3], subs[0], subs[1]]
    );
    assert_eq!(r.list_subscriptions_to_remind(t, until, 2).await.unwrap(), cloned![subs[3], subs[0]]);
    assert_eq!(
        r.list_subscriptions_to_remind(t - ms(1), until - ms(1), 10).await.unwrap(),
        cloned![subs[2], subs[3], subs[0]]
    );
}

/// The purchase's two guarded steps that return the changed row: `take_one_in_stock` takes from
/// an active product with stock left (returning it after the change) and refuses missing,
/// inactive and sold-out ones; `debit_unblocked_user` debits an unblocked user with enough money
/// (returning the user after the debit) and refuses missing, blocked and short ones, changing
/// nothing when it refuses.
pub async fn guarded_steps_return_the_changed_rows(ts: TestStore) {
    let c = Ctx::new(ts);
    let one = c.product("One", 1, true);
    let off = c.product("Off", 5, false);
    let u = User { wallet_balance: paise(100), ..c.user("+919800000021", Role::User) };
    let b = User { wallet_balance: paise(100), is_blocked: true, ..c.user("+919800000022", Role::User) };
    in_tx!(c, |tx| {
        tx.insert_product(&one).await.unwrap();
        tx.insert_product(&off).await.unwrap();
        tx.insert_user(&u).await.unwrap();
        tx.insert_user(&b).await.unwrap();
    });
    let later = c.now() + TimeDelta::seconds(5);
    in_tx!(c, |tx| {
        let got = tx.take_one_in_stock(&one.id, later).await.unwrap();
        assert_eq!(got, Some(Product { stock: 0, updated_at: later, ..one.clone() }));
        assert_eq!(tx.take_one_in_stock(&one.id, later).await.unwrap(), None, "sold out");
        assert_eq!(tx.take_one_in_stock(&off.id, later).await.unwrap(), None, "inactive");
        assert_eq!(tx.take_one_in_stock(&c.id(), later).await.unwrap(), None, "missing");
        let got = tx.debit_unblocked_user(&u.id, paise(60), later).await.unwrap();
        assert_eq!(got, Some(User { wallet_balance: paise(40), updated_at: later, ..u.clone() }));
        assert_eq!(tx.debit_unblocked_user(&u.id, paise(41), later).await.unwrap(), None, "short");
        assert_eq!(tx.debit_unblocked_user(&b.id, paise(1), later).await.unwrap(), None, "blocked");
        assert_eq!(tx.debit_unblocked_user(&c.id(), paise(1), later).await.unwrap(), None, "missing");
    });
    let mut r = c.read().await;
    assert_eq!(r.get_product(&off.id).await.unwrap(), Some(off.clone()));
    assert_eq!(r.get_user(&b.id).await.unwrap(), Some(b.clone()));
    assert_eq!(r.get_user(&u.id).await.unwrap().unwrap().wallet_balance, paise(40));
    assert_eq!(r.get_product(&one.id).await.unwrap().unwrap().stock, 0);
}
