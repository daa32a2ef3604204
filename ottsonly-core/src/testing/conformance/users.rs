//! Users and their balance: `insert_user`, `update_user`, the lookups, `list_users`, and the
//! guarded `credit_balance` / `debit_balance`.

use super::*;

/// insert_user, get_user and get_user_by_phone return every field as written (ms timestamps,
/// optional fields both set and empty); missing keys read as `None`.
pub async fn user_round_trip(ts: TestStore) {
    let c = Ctx::new(ts);
    let mut u = c.user("+919876543210", Role::User);
    u.token_version = 3;
    u.wallet_balance = paise(2_501);
    c.advance(TimeDelta::milliseconds(1_517));
    u.updated_at = c.now();
    let mut admin = c.user("+14155550100", Role::Admin);
    admin.name = None;
    admin.email = None;
    admin.is_blocked = true;
    let mut r = write_and_read_back!(c, insert_user, get_user, u, admin);
    assert_eq!(r.get_user_by_phone(&u.phone).await.unwrap(), Some(u.clone()));
    assert_eq!(r.get_user_by_phone(&admin.phone).await.unwrap(), Some(admin.clone()));
    assert_eq!(r.get_user(&c.id()).await.unwrap(), None);
    assert_eq!(r.get_user_by_phone(&phone("+919876543211")).await.unwrap(), None);
}

/// A second user with a taken phone is `Conflict(users.phone)`, whether the first is committed or
/// written earlier in the same unit; nothing of the refused user is stored.
pub async fn user_phone_is_unique(ts: TestStore) {
    let c = Ctx::new(ts);
    let a = c.seed_user("+919800000001", Role::User).await;
    let dup = c.user("+919800000001", Role::Admin);
    let mut tx = c.tx().await;
    assert_conflict(tx.insert_user(&dup).await, constraint::USER_PHONE);
    drop(tx);

    let b = c.user("+919800000002", Role::User);
    let b2 = c.user("+919800000002", Role::User);
    let mut tx = c.tx().await;
    tx.insert_user(&b).await.unwrap();
    assert_conflict(tx.insert_user(&b2).await, constraint::USER_PHONE);
    drop(tx);

    let mut r = c.read().await;
    assert_eq!(r.get_user(&dup.id).await.unwrap(), None);
    assert_eq!(r.get_user_by_phone(&a.phone).await.unwrap(), Some(a.clone()));
    assert_eq!(r.get_user(&b.id).await.unwrap(), None, "dropped unit left a user behind");
    assert_eq!(r.list_users(&UserFilter::default(), &first(10)).await.unwrap(), cloned![a]);
}

/// update_user replaces name, email, role, is_blocked, token_version and updated_at; it never
/// writes the balance (a stale copy must not undo a credit) nor the phone; false if missing.
pub async fn user_update_keeps_balance_and_phone(ts: TestStore) {
    let c = Ctx::new(ts);
    let u = c.seed_user("+919811111111", Role::User).await;
    in_tx!(c, |tx| tx.credit_balance(&u.id, paise(700), c.now()).await.unwrap().expect("user exists"));
    c.advance(TimeDelta::seconds(90));

    let mut changed = u.clone();
    changed.name = Some("Renamed".into());
    changed.email = None;
    changed.role = Role::Support;
    changed.is_blocked = true;
    changed.token_version = 5;
    changed.updated_at = c.now();
    changed.wallet_balance = Money::ZERO; // stale: must be ignored
    changed.phone = phone("+919822222222"); // not an editable field
    assert!(in_tx!(c, |tx| tx.update_user(&changed).await.unwrap()));

    let expected = User { phone: u.phone.clone(), wallet_balance: paise(700), ..changed.clone() };
    let mut r = c.read().await;
    assert_eq!(r.get_user(&u.id).await.unwrap(), Some(expected.clone()));
    assert_eq!(r.get_user_by_phone(&u.phone).await.unwrap(), Some(expected));
    assert_eq!(r.get_user_by_phone(&changed.phone).await.unwrap(), None);

    let ghost = c.user("+919833333333", Role::User);
    assert!(!in_tx!(c, |tx| tx.update_user(&ghost).await.unwrap()));
    assert_eq!(c.read().await.get_user(&ghost.id).await.unwrap(), None, "update must not insert");
}

/// list_users: newest (largest id) first, at most `limit`, strictly below `before_id`.
pub async fn list_users_paginates_newest_first(ts: TestStore) {
    let c = Ctx::new(ts);
    let mut us = Vec::new();
    for i in 1..=5 {
        us.push(c.seed_user(&format!("+91980000000{i}"), Role::User).await);
        c.advance(TimeDelta::milliseconds(3));
    }
    let all = UserFilter::default();
    let mut r = c.read().await;
    assert_eq!(r.list_users(&all, &first(2)).await.unwrap(), cloned![us[4], us[3]]);
    assert_eq!(r.list_users(&all, &before(us[3].id.as_str(), 2)).await.unwrap(), cloned![us[2], us[1]]);
    assert_eq!(r.list_users(&all, &before(us[1].id.as_str(), 2)).await.unwrap(), cloned![us[0]]);
    assert_eq!(r.list_users(&all, &before(us[0].id.as_str(), 2)).await.unwrap(), vec![]);
    assert_eq!(r.list_users(&all, &first(50)).await.unwrap(), cloned![us[4], us[3], us[2], us[1], us[0]]);
}

/// list_users filters by role and by a literal E.164 prefix (not a substring, not a pattern).
pub async fn list_users_filters_by_role_and_phone_prefix(ts: TestStore) {
    let c = Ctx::new(ts);
    let u1 = c.seed_user("+919811111111", Role::User).await;
    let u2 = c.seed_user("+919822222222", Role::Admin).await;
    let u3 = c.seed_user("+917011111198", Role::User).await; // "98" only inside
    let u4 = c.seed_user("+919833333333", Role::Support).await;
    let u5 = c.seed_user("+14155550100", Role::User).await;

    let f = |phone_prefix: Option<&str>, role: Option<Role>| UserFilter {
        phone_prefix: phone_prefix.map(str::to_string),
        role,
    };
    let mut r = c.read().await;
    let page = first(50);
    assert_eq!(r.list_users(&f(None, None), &page).await.unwrap(), cloned![u5, u4, u3, u2, u1]);
    assert_eq!(r.list_users(&f(None, Some(Role::User)), &page).await.unwrap(), cloned![u5, u3, u1]);
    assert_eq!(r.list_users(&f(None, Some(Role::Admin)), &page).await.unwrap(), cloned![u2]);
    assert_eq!(r.list_users(&f(Some("+9198"), None), &page).await.unwrap(), cloned![u4, u2, u1]);
    assert_eq!(r.list_users(&f(Some("+9198"), Some(Role::User)), &page).await.unwrap(), cloned![u1]);
    assert_eq!(r.list_users(&f(Some("+9170"), None), &page).await.unwrap(), cloned![u3]);
    assert_eq!(r.list_users(&f(Some("+1"), None), &page).await.unwrap(), cloned![u5]);
    assert_eq!(r.list_users(&f(Some("+9198"), None), &first(2)).await.unwrap(), cloned![u4, u2]);
    assert_eq!(r.list_users(&f(Some("+9198"), None), &before(u2.id.as_str(), 2)).await.unwrap(), cloned![u1]);
    // The prefix is literal text: pattern characters match nothing.
    assert_eq!(r.list_users(&f(Some("+91%"), None), &page).await.unwrap(), vec![]);
    assert_eq!(r.list_users(&f(Some("+91_8"), None), &page).await.unwrap(), vec![]);
}

/// credit_balance adds; debit_balance subtracts only down to exactly zero, and one paise more
/// is `None` with the balance unchanged; both are `None` for a missing user.
pub async fn balance_credit_and_guarded_debit(ts: TestStore) {
    let c = Ctx::new(ts);
    let u = c.seed_user("+919811111111", Role::User).await;
    let other = c.seed_user("+919822222222", Role::User).await;
    let now = c.now();

    in_tx!(c, |tx| {
        assert_eq!(tx.credit_balance(&u.id, paise(100), now).await.unwrap(), Some(paise(100)));
        assert_eq!(tx.credit_balance(&u.id, paise(250), now).await.unwrap(), Some(paise(350)));
    });
    assert_eq!(c.balance(&u.id).await, paise(350));

    in_tx!(c, |tx| {
        assert_eq!(tx.debit_balance(&u.id, paise(351), now).await.unwrap(), None);
        assert_eq!(tx.debit_balance(&u.id, paise(50), now).await.unwrap(), Some(paise(300)));
    });
    assert_eq!(c.balance(&u.id).await, paise(300));

    in_tx!(c, |tx| {
        assert_eq!(tx.debit_balance(&u.id, paise(301), now).await.unwrap(), None, "one paise too many");
        assert_eq!(tx.debit_balance(&u.id, paise(300), now).await.unwrap(), Some(Money::ZERO), "exact");
        assert_eq!(tx.debit_balance(&u.id, paise(1), now).await.unwrap(), None, "empty wallet");
    });
    assert_eq!(c.balance(&u.id).await, Money::ZERO);
    assert_eq!(c.balance(&other.id).await, Money::ZERO, "another user's balance moved");

    let ghost: UserId = c.id();
    in_tx!(c, |tx| {
        assert_eq!(tx.credit_balance(&ghost, paise(10), now).await.unwrap(), None);
        assert_eq!(tx.debit_balance(&ghost, paise(10), now).await.unwrap(), None);
        assert_eq!(tx.debit_balance(&ghost, Money::ZERO, now).await.unwrap(), None);
    });
    assert_eq!(c.read().await.get_user(&ghost).await.unwrap(), None);
}
