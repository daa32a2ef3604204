//! Runs every statement of the backend at least once with pointed checks, so that a typo in SQL
//! (only caught at run time) or a wrong bind order fails here. Fuller behaviour is the
//! conformance suite's job.

use super::{new_store, t, user};
use ottsonly_core::*;

fn slice(limit: u32) -> Slice {
    Slice { before_id: None, limit }
}

fn recipient(u: &User) -> Recipient {
    Recipient { user_id: u.id.clone(), role: u.role, joined_at: u.created_at }
}

#[tokio::test]
async fn users_wallet_and_auth() {
    let ts = new_store().await;
    let mut tx = ts.store.begin().await.unwrap();
    let mut a = user("u1", "+919876543210");
    let b = User { role: Role::Admin, ..user("u2", "+14155552671") };
    tx.insert_user(&a).await.unwrap();
    tx.insert_user(&b).await.unwrap();

    let paise = |p| Money::from_paise(p).unwrap();
    assert_eq!(tx.credit_balance(&a.id, paise(500), t(1)).await.unwrap(), Some(paise(500)));
    assert_eq!(tx.debit_balance(&a.id, paise(501), t(2)).await.unwrap(), None);
    assert_eq!(tx.debit_balance(&a.id, paise(200), t(2)).await.unwrap(), Some(paise(300)));
    assert_eq!(tx.credit_balance(&UserId::from_string("nope"), paise(1), t(2)).await.unwrap(), None);

    a.name = Some("Asha".into());
    a.token_version = 3;
    a.updated_at = t(3);
    assert!(tx.update_user(&a).await.unwrap());
    let stored = tx.get_user(&a.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.name.as_deref(), stored.token_version, stored.wallet_balance),
        (Some("Asha"), 3, paise(300))
    );
    assert_eq!(tx.get_user_by_phone(&b.phone).await.unwrap().unwrap().id, b.id);

    let prefix = |p: &str| UserFilter { phone_prefix: Some(p.into()), role: None };
    let ids = |v: Vec<User>| v.into_iter().map(|u| u.id.to_string()).collect::<Vec<_>>();
    assert_eq!(ids(tx.list_users(&prefix("+9198"), &slice(10)).await.unwrap()), ["u1"]);
    assert_eq!(ids(tx.list_users(&prefix("+1"), &slice(10)).await.unwrap()), ["u2"]);
    assert_eq!(ids(tx.list_users(&UserFilter::default(), &slice(10)).await.unwrap()), ["u2", "u1"]);
    let admins = UserFilter { phone_prefix: None, role: Some(Role::Admin) };
    assert_eq!(ids(tx.list_users(&admins, &slice(10)).await.unwrap()), ["u2"]);
    let page2 = Slice { before_id: Some("u2".into()), limit: 10 };
    assert_eq!(ids(tx.list_users(&UserFilter::default(), &page2).await.unwrap()), ["u1"]);

    let otp = OtpRecord {
        phone: a.phone.clone(),
        code_mac: "mac".into(),
        created_at: t(10),
        expires_at: t(310_000),
        attempts: 0,
        consumed_at: None,
        last_sent_at: t(10),
        window_start: t(10),
        sends_in_window: 1,
        guesses_in_window: 0,
    };
    tx.put_otp(&otp).await.unwrap();
    tx.put_otp(&OtpRecord { sends_in_window: 2, ..otp.clone() }).await.unwrap();
    assert_eq!(tx.record_otp_attempt(&a.phone, 2, 10).await.unwrap().unwrap().attempts, 1);
    assert_eq!(tx.record_otp_attempt(&a.phone, 2, 10).await.unwrap().unwrap().attempts, 2);
    assert_eq!(tx.record_otp_attempt(&a.phone, 2, 10).await.unwrap(), None);
    assert!(!tx.consume_otp(&a.phone, t(11), t(20)).await.unwrap(), "another code");
    assert!(tx.consume_otp(&a.phone, t(10), t(20)).await.unwrap());
    assert!(!tx.consume_otp(&a.phone, t(10), t(20)).await.unwrap());
    let got = tx.get_otp(&a.phone).await.unwrap().unwrap();
    assert_eq!((got.sends_in_window, got.consumed_at), (2, Some(t(20))));

    let token = |id: &str, family: &str| RefreshToken {
        id: RefreshTokenId::from_string(id),
        user_id: a.id.clone(),
        family_id: family.into(),
        token_hash: format!("hash-{id}"),
        token_version: 3,
        created_at: t(0),
        expires_at: t(1_000_000),
        used_at: None,
        revoked_at: None,
    };
    for (id, family) in [("r1", "f1"), ("r2", "f1"), ("r3", "f2")] {
        tx.insert_refresh_token(&token(id, family)).await.unwrap();
    }
    assert!(tx.mark_refresh_token_used(&RefreshTokenId::from_string("r1"), t(5)).await.unwrap());
    assert!(!tx.mark_refresh_token_used(&RefreshTokenId::from_string("r1"), t(5)).await.unwrap());
    assert_eq!(tx.revoke_refresh_family("f1", t(6)).await.unwrap(), 2);
    assert!(!tx.mark_refresh_token_used(&RefreshTokenId::from_string("r2"), t(7)).await.unwrap());
    assert_eq!(tx.revoke_user_refresh_tokens(&a.id, t(8)).await.unwrap(), 1);
    let r3 = tx.get_refresh_token_by_hash("hash-r3").await.unwrap().unwrap();
    assert_eq!(r3.revoked_at, Some(t(8)));
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn catalog_orders_and_subscriptions() {
    let ts = new_store().await;
    let mut tx = ts.store.begin().await.unwrap();
    let mut p = Product {
        id: ProductId::from_string("p1"),
        platform_name: "Netflix".into(),
        plan_name: "Premium".into(),
        description: "4K".into(),
        price: Money::from_paise(19900).unwrap(),
        duration_days: 30,
        stock: 1,
        is_active: true,
        created_at: t(0),
        updated_at: t(0),
    };
    tx.insert_product(&p).await.unwrap();
    assert_eq!(tx.adjust_stock(&p.id, -1, true, t(1)).await.unwrap(), Some(0));
    assert_eq!(tx.adjust_stock(&p.id, -1, true, t(1)).await.unwrap(), None);
    p.is_active = false;
    p.stock = 99; // ignored: stock only moves through adjust_stock
    assert!(tx.update_product(&p).await.unwrap());
    assert_eq!(tx.adjust_stock(&p.id, 5, true, t(2)).await.unwrap(), None);
    assert_eq!(tx.adjust_stock(&p.id, 5, false, t(2)).await.unwrap(), Some(5));
    assert_eq!(tx.get_product(&p.id).await.unwrap().unwrap().stock, 5);
    assert!(tx.list_products(false, &slice(10)).await.unwrap().is_empty());
    assert_eq!(tx.list_products(true, &slice(10)).await.unwrap().len(), 1);

    for id in ["c2", "c1"] {
        let cred = CredentialRecord {
            id: CredentialId::from_string(id),
            product_id: Some(p.id.clone()),
            sealed: id.as_bytes().to_vec(),
            status: CredentialStatus::Available,
            subscription_id: None,
            created_at: t(0),
            assigned_at: None,
        };
        tx.insert_credential(&cred).await.unwrap();
    }
    assert_eq!(tx.count_available_credentials(&p.id).await.unwrap(), 2);
    let s1 = SubscriptionId::from_string("s1");
    let claimed = tx.claim_credential(&p.id, &s1, t(3)).await.unwrap().unwrap();
    assert_eq!(claimed.id.as_str(), "c1", "oldest first");
    assert_eq!(
        (claimed.status, claimed.subscription_id, claimed.assigned_at),
        (CredentialStatus::Assigned, Some(s1.clone()), Some(t(3)))
    );
    assert_eq!(tx.count_available_credentials(&p.id).await.unwrap(), 1);

    let order = Order {
        id: OrderId::from_string("o1"),
        user_id: UserId::from_string("u1"),
        product_id: p.id.clone(),
        product_name: p.display_name(),
        amount: p.price,
        status: OrderStatus::Completed,
        idempotency_key: Some("key".into()),
        created_at: t(3),
        paid_at: t(3),
        refunded_at: None,
        refund_reason: None,
        refunded_by: None,
        updated_at: t(3),
    };
    tx.insert_order(&order).await.unwrap();
    tx.insert_order(&Order {
        id: OrderId::from_string("o2"),
        user_id: UserId::from_string("u2"),
        ..order.clone()
    })
    .await
    .unwrap();
    assert_eq!(tx.get_order_by_idempotency_key(&order.user_id, "key").await.unwrap().unwrap().id, order.id);
    let admin = UserId::from_string("admin");
    assert!(tx.mark_order_refunded(&order.id, "duplicate", &admin, t(4)).await.unwrap());
    assert!(!tx.mark_order_refunded(&order.id, "duplicate", &admin, t(4)).await.unwrap());
    let refunded = tx.get_order(&order.id).await.unwrap().unwrap();
    assert_eq!(
        (refunded.status, refunded.refund_reason.as_deref(), refunded.refunded_by, refunded.refunded_at),
        (OrderStatus::Refunded, Some("duplicate"), Some(admin), Some(t(4)))
    );
    let by_status = OrderFilter { status: Some(OrderStatus::Completed), ..Default::default() };
    assert_eq!(tx.list_orders(&by_status, &slice(10)).await.unwrap().len(), 1);
    let by_user = OrderFilter { user_id: Some(UserId::from_string("u1")), ..Default::default() };
    assert_eq!(tx.list_orders(&by_user, &slice(10)).await.unwrap()[0].id, order.id);

    let sub = |id: &str, order: &str, end: i64| Subscription {
        id: SubscriptionId::from_string(id),
        user_id: UserId::from_string("u1"),
        product_id: p.id.clone(),
        order_id: OrderId::from_string(order),
        platform_name: "Netflix".into(),
        plan_name: "Premium".into(),
        duration_days: 30,
        status: SubscriptionStatus::Active,
        start_at: Some(t(0)),
        end_at: Some(t(end)),
        credential_id: None,
        reminded_at: None,
        created_at: t(0),
        updated_at: t(0),
    };
    tx.insert_subscription(&sub("s1", "o1", 100)).await.unwrap();
    tx.insert_subscription(&sub("s2", "o2", 200)).await.unwrap();
    tx.insert_subscription(&sub("s3", "o3", 50)).await.unwrap();
    let ended = tx.list_subscriptions_ended(t(150), 10).await.unwrap();
    assert_eq!(ended.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["s3", "s1"]);
    let remind = tx.list_subscriptions_to_remind(t(60), t(200), 10).await.unwrap();
    assert_eq!(remind.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["s1", "s2"]);
    let reminded = Subscription { reminded_at: Some(t(60)), updated_at: t(60), ..sub("s1", "o1", 100) };
    assert!(tx.update_subscription(&reminded, SubscriptionStatus::Active).await.unwrap());
    assert!(!tx.update_subscription(&reminded, SubscriptionStatus::Expired).await.unwrap());
    assert_eq!(tx.list_subscriptions_to_remind(t(60), t(200), 10).await.unwrap().len(), 1);
    assert_eq!(tx.get_subscription_by_order(&order.id).await.unwrap(), Some(reminded.clone()));
    assert_eq!(tx.get_subscription(&reminded.id).await.unwrap(), Some(reminded));
    let filter = SubscriptionFilter {
        user_id: Some(UserId::from_string("u1")),
        status: Some(SubscriptionStatus::Active),
        product_id: Some(p.id.clone()),
    };
    let page = Slice { before_id: Some("s3".into()), limit: 1 };
    assert_eq!(tx.list_subscriptions(&filter, &page).await.unwrap()[0].id.as_str(), "s2");
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn ledger_topups_outbox_audit() {
    let ts = new_store().await;
    let mut tx = ts.store.begin().await.unwrap();
    let u = UserId::from_string("u1");
    for (id, kind, paise, reference) in [
        ("l1", EntryKind::Credit, 1000, "t1"),
        ("l2", EntryKind::Debit, 300, "o1"),
        ("l3", EntryKind::Credit, 5, "o1"),
    ] {
        let entry = LedgerEntry {
            id: LedgerEntryId::from_string(id),
            user_id: u.clone(),
            kind,
            amount: Money::from_paise(paise).unwrap(),
            balance_after: Money::ZERO,
            reference_type: if reference == "t1" { ReferenceType::TopUp } else { ReferenceType::Order },
            reference_id: reference.into(),
            description: String::new(),
            actor_id: None,
            created_at: t(0),
        };
        tx.insert_ledger_entry(&entry).await.unwrap();
    }
    let all = Slice { before_id: None, limit: 10 };
    let sum: i64 = tx.list_ledger(&u, &all).await.unwrap().iter().map(LedgerEntry::signed_paise).sum();
    assert_eq!(sum, 705, "the unit reads its own entries");
    let l2 = tx.get_ledger_entry_by_reference(ReferenceType::Order, "o1", EntryKind::Debit).await.unwrap();
    assert_eq!(l2.unwrap().id.as_str(), "l2");
    let page = tx.list_ledger(&u, &Slice { before_id: Some("l3".into()), limit: 5 }).await.unwrap();
    assert_eq!(page.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["l2", "l1"]);

    for (id, created) in [("t1", 10), ("t2", 5), ("t3", 50)] {
        let topup = TopUp {
            id: TopUpId::from_string(id),
            user_id: u.clone(),
            amount: Money::from_paise(1000).unwrap(),
            currency: "INR".into(),
            gateway_order_id: format!("order_{id}"),
            gateway_payment_id: None,
            status: TopUpStatus::Created,
            created_at: t(created),
            updated_at: t(created),
            paid_at: None,
        };
        tx.insert_topup(&topup).await.unwrap();
    }
    let open = tx.list_open_topups(t(20), &Slice { before_id: None, limit: 10 }).await.unwrap();
    assert_eq!(open.iter().map(|x| x.id.as_str()).collect::<Vec<_>>(), ["t2", "t1"]);
    assert!(!tx.close_topup(&TopUpId::from_string("t1"), TopUpStatus::Paid, t(30)).await.unwrap());
    assert!(tx.close_topup(&TopUpId::from_string("t1"), TopUpStatus::Expired, t(30)).await.unwrap());
    assert!(tx.mark_topup_paid(&TopUpId::from_string("t2"), "pay_1", t(31)).await.unwrap());
    assert!(!tx.mark_topup_paid(&TopUpId::from_string("t2"), "pay_1", t(31)).await.unwrap());
    let paid = tx.get_topup_by_gateway_order("order_t2").await.unwrap().unwrap();
    assert_eq!(
        (paid.status, paid.gateway_payment_id.as_deref(), paid.paid_at),
        (TopUpStatus::Paid, Some("pay_1"), Some(t(31)))
    );
    assert_eq!(
        tx.get_topup(&TopUpId::from_string("t1")).await.unwrap().unwrap().status,
        TopUpStatus::Expired
    );

    for (id, due) in [("x1", 20), ("x2", 10), ("x3", 10), ("x4", 99)] {
        let item = OutboxItem {
            id: OutboxId::from_string(id),
            payload: "{}".into(),
            status: OutboxStatus::Pending,
            attempts: 0,
            created_at: t(0),
            due_at: t(due),
            lease_owner: None,
            lease_until: None,
            last_error: None,
            delivered_at: None,
        };
        tx.insert_outbox(&item).await.unwrap();
    }
    let claimed = tx.claim_outbox("w1", t(50), t(60), 10).await.unwrap();
    assert_eq!(claimed.iter().map(|x| x.id.as_str()).collect::<Vec<_>>(), ["x2", "x3", "x1"]);
    assert!(claimed.iter().all(|x| x.attempts == 1 && x.lease_owner.as_deref() == Some("w1")));
    assert!(tx.claim_outbox("w2", t(55), t(70), 10).await.unwrap().is_empty(), "leases held");
    assert!(!tx.complete_outbox(&OutboxId::from_string("x2"), "w2", t(56)).await.unwrap());
    assert!(tx.complete_outbox(&OutboxId::from_string("x2"), "w1", t(56)).await.unwrap());
    assert!(tx.fail_outbox(&OutboxId::from_string("x3"), "w1", "timeout", Some(t(80))).await.unwrap());
    assert!(tx.fail_outbox(&OutboxId::from_string("x1"), "w1", "bad chat", None).await.unwrap());
    assert!(!tx.fail_outbox(&OutboxId::from_string("x1"), "w1", "again", None).await.unwrap());
    let failed = tx.list_outbox(Some(OutboxStatus::Failed), &slice(10)).await.unwrap();
    assert_eq!((failed[0].id.as_str(), failed[0].last_error.as_deref()), ("x1", Some("bad chat")));
    let again = tx.claim_outbox("w2", t(100), t(110), 10).await.unwrap();
    assert_eq!(again.iter().map(|x| (x.id.as_str(), x.attempts)).collect::<Vec<_>>(), [("x3", 2), ("x4", 1)]);
    assert_eq!(tx.list_outbox(None, &slice(10)).await.unwrap().len(), 4);

    let audit = AuditEntry {
        id: AuditId::from_string("a1"),
        actor_id: UserId::from_string("admin"),
        action: "refund".into(),
        target_type: "order".into(),
        target_id: "o1".into(),
        details: serde_json::json!({"reason": "dup", "amount": 19900}),
        created_at: t(0),
    };
    tx.insert_audit(&audit).await.unwrap();
    let by_target = AuditFilter { target_id: Some("o1".into()), ..AuditFilter::default() };
    assert_eq!(tx.list_audit(&by_target, &slice(10)).await.unwrap(), vec![audit.clone()]);
    let by_actor = AuditFilter { actor_id: Some(UserId::from_string("other")), ..AuditFilter::default() };
    assert!(tx.list_audit(&by_actor, &slice(10)).await.unwrap().is_empty());
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn notifications_merge_personal_and_broadcasts() {
    let ts = new_store().await;
    let mut tx = ts.store.begin().await.unwrap();
    let u = User { created_at: t(100), ..user("u1", "+919876543210") };
    let me = recipient(&u);
    let personal = |id: &str| Notification {
        id: NotificationId::from_string(id),
        user_id: u.id.clone(),
        kind: NotificationKind::OrderConfirmed,
        title: "t".into(),
        message: "m".into(),
        is_read: false,
        created_at: t(200),
    };
    let broadcast = |id: &str, audience, at| Broadcast {
        id: NotificationId::from_string(id),
        audience,
        title: "b".into(),
        message: "m".into(),
        created_by: UserId::from_string("admin"),
        created_at: t(at),
    };
    tx.insert_broadcast(&broadcast("n0", Audience::All, 50)).await.unwrap(); // before joining
    tx.insert_notification(&personal("n1")).await.unwrap();
    tx.insert_broadcast(&broadcast("n2", Audience::All, 150)).await.unwrap();
    tx.insert_broadcast(&broadcast("n3", Audience::Role(Role::Admin), 150)).await.unwrap(); // not for users
    tx.insert_notification(&personal("n4")).await.unwrap();
    tx.insert_broadcast(&broadcast("n5", Audience::Role(Role::User), 300)).await.unwrap();
    tx.insert_notification(&Notification { user_id: UserId::from_string("u2"), ..personal("n6") })
        .await
        .unwrap();

    let ids = |v: &[NotificationView]| v.iter().map(|n| n.id.to_string()).collect::<Vec<_>>();
    let all = tx.list_notifications(&me, false, &slice(10)).await.unwrap();
    assert_eq!(ids(&all), ["n5", "n4", "n2", "n1"]);
    assert!(all[0].is_broadcast && all[0].kind == NotificationKind::Broadcast && !all[1].is_broadcast);
    let page =
        tx.list_notifications(&me, false, &Slice { before_id: Some("n4".into()), limit: 1 }).await.unwrap();
    assert_eq!(ids(&page), ["n2"]);
    assert_eq!(tx.count_unread_notifications(&me).await.unwrap(), 4);

    let n = |id: &str| NotificationId::from_string(id);
    assert!(tx.mark_notification_read(&me, &n("n2"), t(400)).await.unwrap());
    assert!(tx.mark_notification_read(&me, &n("n2"), t(401)).await.unwrap(), "idempotent");
    assert!(tx.mark_notification_read(&me, &n("n4"), t(400)).await.unwrap());
    assert!(!tx.mark_notification_read(&me, &n("n3"), t(400)).await.unwrap(), "not my audience");
    assert!(!tx.mark_notification_read(&me, &n("n6"), t(400)).await.unwrap(), "someone else's");
    assert_eq!(ids(&tx.list_notifications(&me, true, &slice(10)).await.unwrap()), ["n5", "n1"]);
    assert_eq!(tx.count_unread_notifications(&me).await.unwrap(), 2);

    assert!(tx.delete_notification(&me, &n("n5"), t(500)).await.unwrap());
    assert!(!tx.delete_notification(&me, &n("n5"), t(500)).await.unwrap());
    assert!(tx.delete_notification(&me, &n("n4"), t(500)).await.unwrap());
    assert!(!tx.mark_notification_read(&me, &n("n5"), t(500)).await.unwrap(), "hidden");
    assert_eq!(ids(&tx.list_notifications(&me, false, &slice(10)).await.unwrap()), ["n2", "n1"]);

    tx.insert_broadcast(&broadcast("n7", Audience::All, 600)).await.unwrap();
    assert_eq!(tx.mark_all_notifications_read(&me, t(700)).await.unwrap(), 2, "n1 and n7");
    assert_eq!(tx.mark_all_notifications_read(&me, t(701)).await.unwrap(), 0);
    assert_eq!(tx.count_unread_notifications(&me).await.unwrap(), 0);
    assert!(tx.list_notifications(&me, false, &slice(10)).await.unwrap().iter().all(|v| v.is_read));
    // Another user's state is their own.
    let other = Recipient { user_id: UserId::from_string("u3"), role: Role::User, joined_at: t(0) };
    assert_eq!(tx.count_unread_notifications(&other).await.unwrap(), 4, "n0, n2, n5, n7");
    tx.commit().await.unwrap();
}
