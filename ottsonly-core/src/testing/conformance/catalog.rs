//! Products, stock and the credential pool.

use super::*;

/// Products round-trip; update_product replaces the editable fields but never stock; false if
/// the product is missing.
pub async fn product_round_trip_and_update_keeps_stock(ts: TestStore) {
    let c = Ctx::new(ts);
    let p = c.seed_product("Premium", 5, true).await;
    assert_eq!(c.read().await.get_product(&p.id).await.unwrap(), Some(p.clone()));
    assert_eq!(c.read().await.get_product(&c.id()).await.unwrap(), None);

    c.advance(TimeDelta::minutes(3));
    let changed = Product {
        platform_name: "Prime Video".into(),
        plan_name: "Annual".into(),
        description: "new words".into(),
        price: paise(149_900),
        duration_days: 365,
        is_active: false,
        updated_at: c.now(),
        stock: 999,
        ..p.clone()
    };
    assert!(in_tx!(c, |tx| tx.update_product(&changed).await.unwrap()));
    let expected = Product { stock: 5, ..changed };
    assert_eq!(c.read().await.get_product(&p.id).await.unwrap(), Some(expected));

    let ghost = c.product("Ghost", 1, true);
    assert!(!in_tx!(c, |tx| tx.update_product(&ghost).await.unwrap()));
    assert_eq!(c.read().await.get_product(&ghost.id).await.unwrap(), None, "update must not insert");
}

/// list_products hides inactive products unless asked; newest first, paginated.
pub async fn list_products_active_only(ts: TestStore) {
    let c = Ctx::new(ts);
    let p1 = c.seed_product("Basic", 1, true).await;
    let p2 = c.seed_product("Retired", 1, false).await;
    let p3 = c.seed_product("Standard", 0, true).await;
    let p4 = c.seed_product("Premium", 9, true).await;
    let mut r = c.read().await;
    assert_eq!(r.list_products(false, &first(10)).await.unwrap(), cloned![p4, p3, p1]);
    assert_eq!(r.list_products(true, &first(10)).await.unwrap(), cloned![p4, p3, p2, p1]);
    assert_eq!(r.list_products(false, &first(2)).await.unwrap(), cloned![p4, p3]);
    assert_eq!(r.list_products(false, &before(p3.id.as_str(), 2)).await.unwrap(), cloned![p1]);
    assert_eq!(r.list_products(true, &before(p3.id.as_str(), 1)).await.unwrap(), cloned![p2]);
}

/// adjust_stock returns the new stock, never goes below zero, and with `require_active` refuses
/// an inactive product; refusals change nothing; `None` for a missing product.
pub async fn adjust_stock_is_guarded(ts: TestStore) {
    let c = &Ctx::new(ts);
    let p = c.seed_product("Premium", 2, true).await;
    let now = c.now();
    let stock = |id: ProductId| async move { c.read().await.get_product(&id).await.unwrap().unwrap().stock };

    assert_eq!(in_tx!(c, |tx| tx.adjust_stock(&p.id, -2, true, now).await.unwrap()), Some(0));
    assert_eq!(in_tx!(c, |tx| tx.adjust_stock(&p.id, -1, true, now).await.unwrap()), None);
    assert_eq!(in_tx!(c, |tx| tx.adjust_stock(&p.id, -1, false, now).await.unwrap()), None);
    assert_eq!(stock(p.id.clone()).await, 0);
    assert_eq!(in_tx!(c, |tx| tx.adjust_stock(&p.id, 3, true, now).await.unwrap()), Some(3));
    assert_eq!(in_tx!(c, |tx| tx.adjust_stock(&p.id, -4, true, now).await.unwrap()), None);
    assert_eq!(stock(p.id.clone()).await, 3);

    let inactive = Product { is_active: false, updated_at: now, ..p.clone() };
    assert!(in_tx!(c, |tx| tx.update_product(&inactive).await.unwrap()));
    assert_eq!(in_tx!(c, |tx| tx.adjust_stock(&p.id, -1, true, now).await.unwrap()), None);
    assert_eq!(in_tx!(c, |tx| tx.adjust_stock(&p.id, 1, true, now).await.unwrap()), None);
    assert_eq!(stock(p.id.clone()).await, 3);
    assert_eq!(in_tx!(c, |tx| tx.adjust_stock(&p.id, 1, false, now).await.unwrap()), Some(4));
    assert_eq!(in_tx!(c, |tx| tx.adjust_stock(&p.id, -4, false, now).await.unwrap()), Some(0));
    assert_eq!(stock(p.id.clone()).await, 0);

    assert_eq!(in_tx!(c, |tx| tx.adjust_stock(&c.id(), 1, false, now).await.unwrap()), None);
}

/// claim_credential takes the oldest `Available` credential of that product, marks it
/// `Assigned` to the subscription (with time) and returns it as stored; `None` on an empty pool.
pub async fn credential_claim_takes_oldest_available(ts: TestStore) {
    let c = Ctx::new(ts);
    let u = c.seed_user("+919811111111", Role::User).await;
    let p = c.seed_product("Premium", 3, true).await;
    let q = c.seed_product("Basic", 1, true).await;
    let mut subs = Vec::new();
    for _ in 0..4 {
        subs.push(c.seed_subscription(&u, &p).await);
    }

    let k1 = c.credential(Some(&p), &[0, 255, 1, 128, b'a']);
    c.advance(TimeDelta::seconds(1));
    let k2 = c.credential(Some(&p), b"sealed-2");
    c.advance(TimeDelta::seconds(1));
    let k3 = c.credential(Some(&p), b"sealed-3");
    let kq = c.credential(Some(&q), b"sealed-q");
    let loose = c.credential(None, b"loose");
    in_tx!(c, |tx| {
        for k in [&k2, &kq, &k3, &loose, &k1] {
            tx.insert_credential(k).await.unwrap();
        }
    });
    let mut r = c.read().await;
    assert_eq!(r.get_credential(&k1.id).await.unwrap(), Some(k1.clone()));
    assert_eq!(r.get_credential(&loose.id).await.unwrap(), Some(loose.clone()));
    assert_eq!(r.get_credential(&c.id()).await.unwrap(), None);
    assert_eq!(r.count_available_credentials(&p.id).await.unwrap(), 3);
    assert_eq!(r.count_available_credentials(&q.id).await.unwrap(), 1);
    drop(r);

    c.advance(TimeDelta::minutes(1));
    for (i, k) in [&k1, &k2, &k3].into_iter().enumerate() {
        let now = c.now();
        let got = in_tx!(c, |tx| tx.claim_credential(&p.id, &subs[i].id, now).await.unwrap());
        let want = CredentialRecord {
            status: CredentialStatus::Assigned,
            subscription_id: Some(subs[i].id.clone()),
            assigned_at: Some(now),
            ..k.clone()
        };
        assert_eq!(got.as_ref(), Some(&want), "claim {i} must take the oldest available");
        assert_eq!(c.read().await.get_credential(&k.id).await.unwrap(), Some(want));
        assert_eq!(c.read().await.count_available_credentials(&p.id).await.unwrap(), 2 - i as u64);
        c.advance(TimeDelta::seconds(1));
    }
    assert_eq!(in_tx!(c, |tx| tx.claim_credential(&p.id, &subs[3].id, c.now()).await.unwrap()), None);
    assert_eq!(c.read().await.count_available_credentials(&q.id).await.unwrap(), 1);
    assert_eq!(c.read().await.get_credential(&kq.id).await.unwrap(), Some(kq));
    assert_eq!(in_tx!(c, |tx| tx.claim_credential(&c.id(), &subs[3].id, c.now()).await.unwrap()), None);
}

/// A subscription holds at most one credential: a second one is
/// `Conflict(credentials.subscription_id)`, by insert or by claim; the pool is left intact.
pub async fn credential_subscription_is_unique(ts: TestStore) {
    let c = Ctx::new(ts);
    let u = c.seed_user("+919811111111", Role::User).await;
    let p = c.seed_product("Premium", 1, true).await;
    let s = c.seed_subscription(&u, &p).await;
    let now = c.now();

    // An admin assigns one directly (no pool).
    let direct = CredentialRecord {
        status: CredentialStatus::Assigned,
        subscription_id: Some(s.id.clone()),
        assigned_at: Some(now),
        ..c.credential(None, b"direct")
    };
    let pooled = c.credential(Some(&p), b"pooled");
    in_tx!(c, |tx| {
        tx.insert_credential(&direct).await.unwrap();
        tx.insert_credential(&pooled).await.unwrap();
    });
    assert_eq!(c.read().await.get_credential(&direct.id).await.unwrap(), Some(direct.clone()));

    let second = CredentialRecord { id: c.id(), sealed: b"second".to_vec(), ..direct.clone() };
    let mut tx = c.tx().await;
    assert_conflict(tx.insert_credential(&second).await, constraint::CREDENTIAL_SUBSCRIPTION);
    drop(tx);
    let mut tx = c.tx().await;
    assert_conflict(tx.claim_credential(&p.id, &s.id, now).await, constraint::CREDENTIAL_SUBSCRIPTION);
    drop(tx);

    let mut r = c.read().await;
    assert_eq!(r.get_credential(&second.id).await.unwrap(), None);
    assert_eq!(r.get_credential(&pooled.id).await.unwrap(), Some(pooled));
    assert_eq!(r.count_available_credentials(&p.id).await.unwrap(), 1);
}
