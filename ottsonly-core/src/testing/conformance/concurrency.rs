//! Units of work (rollback, reading one's own writes) and races between concurrent ones.

use super::*;

/// A `Tx` dropped without commit leaves no trace of any of its writes.
pub async fn tx_dropped_leaves_no_trace(ts: TestStore) {
    let c = Ctx::new(ts);
    let u = c.seed_user("+919811111111", Role::User).await;
    let p = c.seed_product("Premium", 2, true).await;
    in_tx!(c, |tx| tx.credit_balance(&u.id, paise(100), c.now()).await.unwrap());
    let before_state = c.read().await.get_user(&u.id).await.unwrap().unwrap();

    let v = c.user("+919822222222", Role::User);
    let q = c.product("Ghost", 1, true);
    let e = c.entry(&u, EntryKind::Credit, 50, 150, ReferenceType::Adjustment, "adj-1");
    let n = c.notification(&u, "ghost");
    let o = c.outbox("ghost", c.now());
    let otp = c.otp("+919811111111", "mac");
    {
        let mut tx = c.tx().await;
        tx.insert_user(&v).await.unwrap();
        assert_eq!(tx.credit_balance(&u.id, paise(50), c.now()).await.unwrap(), Some(paise(150)));
        tx.update_user(&User { name: Some("ghost".into()), ..before_state.clone() }).await.unwrap();
        tx.insert_ledger_entry(&e).await.unwrap();
        tx.insert_product(&q).await.unwrap();
        assert_eq!(tx.adjust_stock(&p.id, -2, true, c.now()).await.unwrap(), Some(0));
        tx.insert_notification(&n).await.unwrap();
        tx.insert_outbox(&o).await.unwrap();
        tx.put_otp(&otp).await.unwrap();
        assert_eq!(tx.put_setting_if_absent("k", "v").await.unwrap(), "v");
        // dropped here without commit
    }

    let mut r = c.read().await;
    assert_eq!(r.get_user(&u.id).await.unwrap(), Some(before_state));
    assert_eq!(r.get_user(&v.id).await.unwrap(), None);
    assert_eq!(r.list_ledger(&u.id, &first(10)).await.unwrap(), vec![]);
    assert_eq!(c.ext().ledger_sum(&u.id).await.unwrap(), 0);
    assert_eq!(r.get_product(&q.id).await.unwrap(), None);
    assert_eq!(r.get_product(&p.id).await.unwrap().unwrap().stock, 2);
    assert_eq!(r.list_notifications(&recipient(&u), false, &first(10)).await.unwrap(), vec![]);
    assert_eq!(r.list_outbox(None, &first(10)).await.unwrap(), vec![]);
    assert_eq!(r.get_otp(&otp.phone).await.unwrap(), None);
    assert_eq!(r.get_setting("k").await.unwrap(), None);
    drop(r);
    // And the store is still usable for the same keys.
    in_tx!(c, |tx| {
        tx.insert_user(&v).await.unwrap();
        tx.insert_ledger_entry(&e).await.unwrap();
    });
    assert_eq!(c.read().await.get_user(&v.id).await.unwrap(), Some(v));
}

/// Reads inside a `Tx` see its own uncommitted writes; readers outside see them only after
/// commit.
pub async fn tx_reads_own_writes(ts: TestStore) {
    let c = Ctx::new(ts);
    let u = c.user("+919811111111", Role::User);
    let e = c.entry(&u, EntryKind::Credit, 250, 250, ReferenceType::TopUp, "pay_1");
    let t = c.topup(&u, "order_1");
    let now = c.now();

    let mut tx = c.tx().await;
    tx.insert_user(&u).await.unwrap();
    assert_eq!(tx.get_user(&u.id).await.unwrap(), Some(u.clone()));
    assert_eq!(tx.get_user_by_phone(&u.phone).await.unwrap(), Some(u.clone()));
    assert_eq!(tx.credit_balance(&u.id, paise(250), now).await.unwrap(), Some(paise(250)));
    let credited = tx.get_user(&u.id).await.unwrap().unwrap();
    assert_eq!(credited.wallet_balance, paise(250));
    tx.insert_ledger_entry(&e).await.unwrap();
    assert_eq!(tx.list_ledger(&u.id, &first(10)).await.unwrap(), cloned![e]);
    tx.insert_topup(&t).await.unwrap();
    assert!(tx.mark_topup_paid(&t.id, "pay_1", now).await.unwrap());
    assert_eq!(tx.get_topup_by_gateway_order("order_1").await.unwrap().unwrap().status, TopUpStatus::Paid);
    assert_eq!(tx.put_setting_if_absent("k", "v").await.unwrap(), "v");
    assert_eq!(tx.get_setting("k").await.unwrap().as_deref(), Some("v"));
    assert_eq!(tx.list_users(&UserFilter::default(), &first(10)).await.unwrap(), vec![credited.clone()]);

    // Not visible outside before commit.
    let mut r = c.read().await;
    assert_eq!(r.get_user(&u.id).await.unwrap(), None);
    assert_eq!(r.get_setting("k").await.unwrap(), None);
    assert_eq!(r.get_topup(&t.id).await.unwrap(), None);
    drop(r);

    tx.commit().await.unwrap();
    let mut r = c.read().await;
    assert_eq!(r.get_user(&u.id).await.unwrap(), Some(credited));
    assert_eq!(r.list_ledger(&u.id, &first(10)).await.unwrap(), cloned![e]);
    assert_eq!(r.get_topup(&t.id).await.unwrap().unwrap().status, TopUpStatus::Paid);
    assert_eq!(r.get_setting("k").await.unwrap().as_deref(), Some("v"));
}

/// 20 concurrent tasks each run `begin` + debit 10 paise + ledger entry + commit against a
/// 100-paise wallet: exactly 10 commit, the balance is 0 and the ledger sums to it.
pub async fn concurrent_debits_never_overdraw(ts: TestStore) {
    let c = Arc::new(Ctx::new(ts));
    let u = c.seed_user("+919811111111", Role::User).await;
    let seed = c.entry(&u, EntryKind::Credit, 100, 100, ReferenceType::TopUp, "seed");
    in_tx!(c, |tx| {
        tx.credit_balance(&u.id, paise(100), c.now()).await.unwrap();
        tx.insert_ledger_entry(&seed).await.unwrap();
    });

    let results = {
        let (c, u) = (c.clone(), u.clone());
        spawn_units(20, move |i| {
            let (c, u) = (c.clone(), u.clone());
            async move {
                let mut tx = c.store().begin().await?;
                let Some(balance) = tx.debit_balance(&u.id, paise(10), c.now()).await? else {
                    return Ok(false);
                };
                let reference = format!("order-{i}");
                let e = c.entry(&u, EntryKind::Debit, 10, balance.paise(), ReferenceType::Order, &reference);
                tx.insert_ledger_entry(&e).await?;
                tx.commit().await?;
                Ok(true)
            }
        })
        .await
    };
    let won = results.into_iter().filter(|ok| *ok).count();
    assert_eq!(won, 10, "exactly ten 10-paise debits fit in 100 paise");
    assert_eq!(c.balance(&u.id).await, Money::ZERO);
    let mut r = c.read().await;
    assert_eq!(c.ext().ledger_sum(&u.id).await.unwrap(), 0);
    let ledger = r.list_ledger(&u.id, &first(50)).await.unwrap();
    assert_eq!(ledger.len(), 11);
    let mut after: Vec<i64> =
        ledger.iter().filter(|e| e.kind == EntryKind::Debit).map(|e| e.balance_after.paise()).collect();
    after.sort_unstable();
    assert_eq!(after, (0..10).map(|k| k * 10).collect::<Vec<_>>(), "each debit saw a distinct balance");
}

/// 10 concurrent claims on a pool of 3: exactly 3 succeed, with 3 distinct credentials, each
/// assigned to its claimant.
pub async fn concurrent_claims_get_distinct_credentials(ts: TestStore) {
    let c = Arc::new(Ctx::new(ts));
    let u = c.seed_user("+919811111111", Role::User).await;
    let p = c.seed_product("Premium", 3, true).await;
    let mut subs = Vec::new();
    for _ in 0..10 {
        subs.push(c.seed_subscription(&u, &p).await);
    }
    in_tx!(c, |tx| {
        for i in 0..3 {
            tx.insert_credential(&c.credential(Some(&p), format!("k{i}").as_bytes())).await.unwrap();
        }
    });

    let claims = {
        let (c, product, subs) = (c.clone(), p.id.clone(), Arc::new(subs));
        spawn_units(10, move |i| {
            let (c, product, sub) = (c.clone(), product.clone(), subs[i].id.clone());
            async move {
                let mut tx = c.store().begin().await?;
                let got = tx.claim_credential(&product, &sub, c.now()).await?;
                tx.commit().await?;
                Ok(got.map(|k| (sub, k)))
            }
        })
        .await
    };
    let claims: Vec<_> = claims.into_iter().flatten().collect();
    assert_eq!(claims.len(), 3, "a pool of 3 serves exactly 3 claims");
    let distinct: HashSet<_> = claims.iter().map(|(_, k)| k.id.clone()).collect();
    assert_eq!(distinct.len(), 3, "one credential was handed out twice");
    let mut r = c.read().await;
    for (sub, k) in &claims {
        let stored = r.get_credential(&k.id).await.unwrap().unwrap();
        assert_eq!(stored.subscription_id.as_ref(), Some(sub));
        assert_eq!(stored.status, CredentialStatus::Assigned);
    }
    assert_eq!(r.count_available_credentials(&p.id).await.unwrap(), 0);
}

/// Races `RACERS` tasks, each one unit of work around one guarded step; evaluates to how many
/// steps answered `true`. The listed variables are cloned into every task.
macro_rules! race {
    ($c:ident, [$($v:ident),*], |$tx:ident, $i:ident| $step:expr) => {{
        let $c = $c.clone();
        $(let $v = $v.clone();)*
        spawn_units(RACERS, move |$i: usize| {
            let $c = $c.clone();
            $(let $v = $v.clone();)*
            async move {
                let mut $tx = $c.store().begin().await?;
                let won: bool = $step?;
                $tx.commit().await?;
                Ok(usize::from(won))
            }
        })
        .await
        .into_iter()
        .sum::<usize>()
    }};
}

/// How many tasks race for one guarded transition.
const RACERS: usize = 8;

/// Guarded one-way transitions raced by 8 concurrent tasks each have exactly one winner:
/// consume_otp, mark_refresh_token_used, mark_order_refunded, mark_topup_paid, and
/// update_subscription's compare-and-set.
pub async fn concurrent_guarded_transitions_have_one_winner(ts: TestStore) {
    let c = Arc::new(Ctx::new(ts));
    let u = c.seed_user("+919811111111", Role::User).await;
    let admin = c.seed_user("+919822222222", Role::Admin).await;
    let p = c.seed_product("Premium", 9, true).await;
    let s = c.seed_subscription(&u, &p).await;
    let o = c.read().await.get_order(&s.order_id).await.unwrap().unwrap();
    let otp = c.otp("+919811111111", "mac");
    let token = c.token(&u, "F", "h");
    let topup = c.topup(&u, "order_T");
    let late = c.topup(&u, "order_L");
    in_tx!(c, |tx| {
        tx.put_otp(&otp).await.unwrap();
        tx.insert_refresh_token(&token).await.unwrap();
        tx.insert_topup(&topup).await.unwrap();
        tx.insert_topup(&late).await.unwrap();
        assert!(tx.close_topup(&late.id, TopUpStatus::Expired, c.now()).await.unwrap());
    });

    let n = race!(c, [otp], |tx, _i| tx.consume_otp(&otp.phone, otp.created_at, c.now()).await);
    assert_eq!(n, 1, "consume_otp winners");
    let n = race!(c, [token], |tx, _i| tx.mark_refresh_token_used(&token.id, c.now()).await);
    assert_eq!(n, 1, "mark_refresh_token_used winners");
    let n = race!(c, [o, admin], |tx, i| {
        tx.mark_order_refunded(&o.id, &format!("reason {i}"), &admin.id, c.now()).await
    });
    assert_eq!(n, 1, "mark_order_refunded winners");
    let n = race!(c, [topup], |tx, i| tx.mark_topup_paid(&topup.id, &format!("pay_{i}"), c.now()).await);
    assert_eq!(n, 1, "mark_topup_paid winners");
    let n =
        race!(c, [late], |tx, i| tx.mark_expired_topup_paid(&late.id, &format!("late_{i}"), c.now()).await);
    assert_eq!(n, 1, "mark_expired_topup_paid winners");
    let n = race!(c, [s], |tx, _i| {
        let next = Subscription { status: SubscriptionStatus::Cancelled, updated_at: c.now(), ..s.clone() };
        tx.update_subscription(&next, SubscriptionStatus::PendingCredentials).await
    });
    assert_eq!(n, 1, "update_subscription winners");

    let mut r = c.read().await;
    assert!(r.get_otp(&otp.phone).await.unwrap().unwrap().consumed_at.is_some());
    assert!(r.get_refresh_token_by_hash("h").await.unwrap().unwrap().used_at.is_some());
    assert_eq!(r.get_order(&o.id).await.unwrap().unwrap().status, OrderStatus::Refunded);
    assert_eq!(r.get_topup(&topup.id).await.unwrap().unwrap().status, TopUpStatus::Paid);
    assert_eq!(r.get_topup(&late.id).await.unwrap().unwrap().status, TopUpStatus::Paid);
    assert_eq!(r.get_subscription(&s.id).await.unwrap().unwrap().status, SubscriptionStatus::Cancelled);
}

/// 12 concurrent `adjust_stock(-1)` on a stock of 5: exactly 5 succeed, each seeing a distinct
/// new stock, and stock ends at 0.
pub async fn concurrent_stock_adjustments_never_go_negative(ts: TestStore) {
    let c = Arc::new(Ctx::new(ts));
    let p = c.seed_product("Premium", 5, true).await;
    let results = {
        let (c, product) = (c.clone(), p.id.clone());
        spawn_units(12, move |_| {
            let (c, product) = (c.clone(), product.clone());
            async move {
                let mut tx = c.store().begin().await?;
                let got = tx.adjust_stock(&product, -1, true, c.now()).await?;
                tx.commit().await?;
                Ok(got)
            }
        })
        .await
    };
    let mut left: Vec<i64> = results.into_iter().flatten().collect();
    left.sort_unstable();
    assert_eq!(left, vec![0, 1, 2, 3, 4], "each success returns a distinct new stock");
    assert_eq!(c.read().await.get_product(&p.id).await.unwrap().unwrap().stock, 0);
}

/// 5 concurrent claimers (3 items each) over 10 due items never lease one item twice.
pub async fn concurrent_outbox_claims_are_disjoint(ts: TestStore) {
    let c = Arc::new(Ctx::new(ts));
    let t = c.now();
    let items: Vec<_> = (0..10).map(|i| c.outbox(&format!("item-{i}"), t)).collect();
    in_tx!(c, |tx| {
        for i in &items {
            tx.insert_outbox(i).await.unwrap();
        }
    });
    let claimed = {
        let c = c.clone();
        spawn_units(5, move |w| {
            let c = c.clone();
            async move {
                let owner = format!("w{w}");
                let mut tx = c.store().begin().await?;
                let got = tx.claim_outbox(&owner, t, t + TimeDelta::seconds(30), 3).await?;
                tx.commit().await?;
                Ok(got.into_iter().map(|i| (i.id, owner.clone())).collect::<Vec<_>>())
            }
        })
        .await
    };
    let claimed: Vec<(OutboxId, String)> = claimed.into_iter().flatten().collect();
    let distinct: HashSet<_> = claimed.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(distinct.len(), claimed.len(), "an item was leased twice: {claimed:?}");
    assert!(!claimed.is_empty());
    let all = all_outbox(&c).await;
    for (id, owner) in &claimed {
        let stored = find_outbox(&all, id);
        assert_eq!((stored.lease_owner.as_deref(), stored.attempts), (Some(owner.as_str()), 1));
    }
    for i in all.iter().filter(|i| !distinct.contains(&i.id)) {
        assert_eq!((i.lease_owner.as_deref(), i.attempts), (None, 0), "unclaimed item changed");
    }
}
