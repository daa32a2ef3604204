//! The storage conformance suite: the behaviour every [`Store`] must have.
//!
//! Each `pub async fn` here checks one behaviour of the contract in [`crate::store`] against a
//! fresh, empty store, and panics when the backend deviates. A backend runs all of them with
//! [`store_conformance_tests!`](crate::store_conformance_tests) in one of its integration tests:
//!
//! ```text
//! async fn new_store() -> ottsonly_core::testing::TestStore { /* a fresh, empty store */ }
//! ottsonly_core::store_conformance_tests!(new_store);
//! ```
//!
//! Every time written is truncated to milliseconds (what every backend stores), ids come from
//! one [`IdGen`] per test so that id order is creation order, and every loop is bounded.
//! Concurrency cases run each unit of work in its own tokio task (the test runtime has several
//! worker threads) and retry a unit that fails with `Transient`, as core does.

use crate::clock::{Clock, ManualClock, OsEntropy, truncate_ms};
use crate::error::{StoreError, constraint};
use crate::ids::*;
use crate::model::*;
use crate::money::Money;
use crate::phone::PhoneNumber;
use crate::store::{Store, StoreRead, StoreResult, Tx};
use crate::testing::TestStore;
use chrono::TimeDelta;
use std::collections::HashSet;
use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// The macro backends invoke
// ---------------------------------------------------------------------------------------------

/// Expands, in the invoking test crate, one `#[tokio::test]` per conformance case, each calling
/// `ottsonly_core::testing::conformance::<case>(new_store().await)`.
///
/// `$new_store` is the path of an `async fn() -> TestStore` returning a fresh, empty store. The
/// invoking crate needs `tokio` (with the `macros` and `rt-multi-thread` features).
///
/// The list below is the one place that names the cases: adding a case is one line.
#[macro_export]
macro_rules! store_conformance_tests {
    ($new_store:path) => {
        $crate::__store_conformance_cases! {
            $new_store;
            // users and balance
            user_round_trip,
            user_phone_is_unique,
            user_update_keeps_balance_and_phone,
            list_users_paginates_newest_first,
            list_users_filters_by_role_and_phone_prefix,
            balance_credit_and_guarded_debit,
            // ledger
            ledger_lists_newest_first_and_sums_signed,
            ledger_reference_is_unique_per_kind,
            // auth
            otp_put_get_replace,
            otp_attempts_stop_at_max,
            otp_consume_once,
            refresh_token_round_trip_and_single_use,
            refresh_token_revocation,
            // catalog
            product_round_trip_and_update_keeps_stock,
            list_products_active_only,
            adjust_stock_is_guarded,
            credential_claim_takes_oldest_available,
            credential_subscription_is_unique,
            // orders and subscriptions
            order_round_trip_and_idempotency_key,
            order_refund_once,
            list_orders_filters_and_paginates,
            subscription_round_trip_and_unique_order,
            subscription_update_is_compare_and_set,
            list_subscriptions_filters_and_paginates,
            subscriptions_ended_boundaries,
            subscriptions_to_remind_boundaries,
            // top-ups
            topup_round_trip_and_unique_gateway_order,
            topup_mark_paid_once_and_payment_unique,
            topup_close_only_from_created,
            topup_expired_can_be_paid_late_once,
            list_open_topups_newest_first_with_cursor,
            list_expired_topups_since_newest_first,
            count_user_topups_by_status_and_time,
            // notifications
            notifications_merge_personal_and_broadcasts,
            notifications_read_state_is_per_user,
            notifications_delete_and_hide,
            notifications_of_others_are_refused,
            // outbox, audit, settings
            outbox_round_trip_and_list_by_status,
            outbox_claim_leases_due_items,
            outbox_fail_retries_or_parks,
            audit_round_trip_and_filters,
            setting_put_if_absent_keeps_first,
            webhook_events_are_recorded_once,
            // transactions and concurrency
            tx_dropped_leaves_no_trace,
            tx_reads_own_writes,
            concurrent_debits_never_overdraw,
            concurrent_claims_get_distinct_credentials,
            concurrent_guarded_transitions_have_one_winner,
            concurrent_stock_adjustments_never_go_negative,
            concurrent_outbox_claims_are_disjoint,
        }
    };
}

/// Implementation detail of [`store_conformance_tests!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __store_conformance_cases {
    ($new_store:path; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let Some(ts) = $crate::testing::IntoTestStore::into_test_store($new_store().await) else { return };
                $crate::testing::conformance::$case(ts).await
            }
        )+
    };
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Runs `$body` inside a fresh `Tx` named `$tx` and commits it; evaluates to the body's value.
macro_rules! in_tx {
    ($c:expr, |$tx:ident| $body:expr) => {{
        let mut $tx = $c.tx().await;
        let out = $body;
        $tx.commit().await.expect("commit");
        out
    }};
}

/// `vec![a.clone(), b.clone(), ...]`.
macro_rules! cloned {
    ($($x:expr),* $(,)?) => { vec![$($x.clone()),*] };
}

/// How many times a concurrent unit of work is run again after [`StoreError::Transient`].
const MAX_TRIES: usize = 50;

/// One test's store, clock and id generator.
struct Ctx {
    ts: TestStore,
    clock: ManualClock,
    ids: IdGen,
}

impl Ctx {
    fn new(ts: TestStore) -> Self {
        let clock = ManualClock::at_epoch_2030();
        // Off a whole second (and below a millisecond), so dropped or rounded milliseconds show.
        clock.advance(TimeDelta::microseconds(123_456));
        Ctx { ts, clock, ids: IdGen::new() }
    }

    fn store(&self) -> &Arc<dyn Store> {
        &self.ts.store
    }

    /// Now, truncated to milliseconds.
    fn now(&self) -> Timestamp {
        truncate_ms(self.clock.now())
    }

    fn advance(&self, by: TimeDelta) {
        self.clock.advance(by);
    }

    /// Moves the clock (ids stay increasing even if it moves back).
    fn set_time(&self, t: Timestamp) {
        self.clock.set(t);
    }

    fn id<T: From<Id>>(&self) -> T {
        self.ids.next(&self.clock, &OsEntropy).into()
    }

    async fn tx(&self) -> Box<dyn Tx> {
        self.ts.store.begin().await.expect("begin")
    }

    async fn read(&self) -> Box<dyn StoreRead> {
        self.ts.store.reader().await.expect("reader")
    }

    // --- builders (plain values; nothing is written) ---

    fn user(&self, phone_e164: &str, role: Role) -> User {
        let now = self.now();
        User {
            id: self.id(),
            phone: phone(phone_e164),
            name: Some(format!("User {phone_e164}")),
            email: Some(format!("u{}@example.invalid", &phone_e164[1..])),
            role,
            is_blocked: false,
            token_version: 0,
            wallet_balance: Money::ZERO,
            created_at: now,
            updated_at: now,
        }
    }

    fn product(&self, plan: &str, stock: i64, is_active: bool) -> Product {
        let now = self.now();
        Product {
            id: self.id(),
            platform_name: "Netflix".into(),
            plan_name: plan.into(),
            description: format!("{plan} plan, 4 screens"),
            price: paise(64_900),
            duration_days: 30,
            stock,
            is_active,
            created_at: now,
            updated_at: now,
        }
    }

    fn credential(&self, product: Option<&Product>, sealed: &[u8]) -> CredentialRecord {
        CredentialRecord {
            id: self.id(),
            product_id: product.map(|p| p.id.clone()),
            sealed: sealed.to_vec(),
            status: CredentialStatus::Available,
            subscription_id: None,
            created_at: self.now(),
            assigned_at: None,
        }
    }

    fn order(&self, user: &User, product: &Product, key: Option<&str>) -> Order {
        let now = self.now();
        Order {
            id: self.id(),
            user_id: user.id.clone(),
            product_id: product.id.clone(),
            product_name: product.display_name(),
            amount: product.price,
            status: OrderStatus::Completed,
            idempotency_key: key.map(str::to_string),
            created_at: now,
            paid_at: now,
            refunded_at: None,
            refund_reason: None,
            refunded_by: None,
            updated_at: now,
        }
    }

    fn subscription(&self, order: &Order, product: &Product) -> Subscription {
        let now = self.now();
        Subscription {
            id: self.id(),
            user_id: order.user_id.clone(),
            product_id: product.id.clone(),
            order_id: order.id.clone(),
            platform_name: product.platform_name.clone(),
            plan_name: product.plan_name.clone(),
            duration_days: product.duration_days,
            status: SubscriptionStatus::PendingCredentials,
            start_at: None,
            end_at: None,
            credential_id: None,
            reminded_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn entry(
        &self,
        user: &User,
        kind: EntryKind,
        amount: i64,
        balance_after: i64,
        reference_type: ReferenceType,
        reference_id: &str,
    ) -> LedgerEntry {
        LedgerEntry {
            id: self.id(),
            user_id: user.id.clone(),
            kind,
            amount: paise(amount),
            balance_after: paise(balance_after),
            reference_type,
            reference_id: reference_id.into(),
            description: format!("{kind} {reference_type} {reference_id}"),
            actor_id: None,
            created_at: self.now(),
        }
    }

    fn otp(&self, phone_e164: &str, code_mac: &str) -> OtpRecord {
        let now = self.now();
        OtpRecord {
            phone: phone(phone_e164),
            code_mac: code_mac.into(),
            created_at: now,
            expires_at: now + TimeDelta::minutes(5),
            attempts: 0,
            consumed_at: None,
            last_sent_at: now,
            window_start: now - TimeDelta::hours(3),
            sends_in_window: 2,
        }
    }

    fn token(&self, user: &User, family: &str, hash: &str) -> RefreshToken {
        let now = self.now();
        RefreshToken {
            id: self.id(),
            user_id: user.id.clone(),
            family_id: family.into(),
            token_hash: hash.into(),
            token_version: user.token_version,
            created_at: now,
            expires_at: now + TimeDelta::days(30),
            used_at: None,
            revoked_at: None,
        }
    }

    fn topup(&self, user: &User, gateway_order_id: &str) -> TopUp {
        let now = self.now();
        TopUp {
            id: self.id(),
            user_id: user.id.clone(),
            amount: paise(50_000),
            currency: "INR".into(),
            gateway_order_id: gateway_order_id.into(),
            gateway_payment_id: None,
            status: TopUpStatus::Created,
            created_at: now,
            updated_at: now,
            paid_at: None,
        }
    }

    fn notification(&self, user: &User, title: &str) -> Notification {
        Notification {
            id: self.id(),
            user_id: user.id.clone(),
            kind: NotificationKind::OrderConfirmed,
            title: title.into(),
            message: format!("{title}: details"),
            is_read: false,
            created_at: self.now(),
        }
    }

    fn broadcast(&self, audience: Audience, by: &User, title: &str) -> Broadcast {
        Broadcast {
            id: self.id(),
            audience,
            title: title.into(),
            message: format!("{title}: to {}", audience.as_str()),
            created_by: by.id.clone(),
            created_at: self.now(),
        }
    }

    fn outbox(&self, payload: &str, due_at: Timestamp) -> OutboxItem {
        OutboxItem {
            id: self.id(),
            payload: payload.into(),
            status: OutboxStatus::Pending,
            attempts: 0,
            created_at: self.now(),
            due_at,
            lease_owner: None,
            lease_until: None,
            last_error: None,
            delivered_at: None,
        }
    }

    fn audit(&self, actor: &User, action: &str, target_id: &str, details: serde_json::Value) -> AuditEntry {
        AuditEntry {
            id: self.id(),
            actor_id: actor.id.clone(),
            action: action.into(),
            target_type: "user".into(),
            target_id: target_id.into(),
            details,
            created_at: self.now(),
        }
    }

    // --- seeding (builds and commits) ---

    async fn seed_user(&self, phone_e164: &str, role: Role) -> User {
        let u = self.user(phone_e164, role);
        in_tx!(self, |tx| tx.insert_user(&u).await.unwrap());
        u
    }

    async fn seed_product(&self, plan: &str, stock: i64, is_active: bool) -> Product {
        let p = self.product(plan, stock, is_active);
        in_tx!(self, |tx| tx.insert_product(&p).await.unwrap());
        p
    }

    /// An order and its `PendingCredentials` subscription.
    async fn seed_subscription(&self, user: &User, product: &Product) -> Subscription {
        let o = self.order(user, product, None);
        let s = self.subscription(&o, product);
        in_tx!(self, |tx| {
            tx.insert_order(&o).await.unwrap();
            tx.insert_subscription(&s).await.unwrap();
        });
        s
    }

    async fn balance(&self, user: &UserId) -> Money {
        self.read().await.get_user(user).await.unwrap().expect("user exists").wallet_balance
    }
}

fn phone(e164: &str) -> PhoneNumber {
    PhoneNumber::parse(e164, None).expect("valid test phone")
}

fn paise(p: i64) -> Money {
    Money::from_paise(p).expect("non-negative amount")
}

fn first(limit: u32) -> Slice {
    Slice { before_id: None, limit }
}

fn before(id: &str, limit: u32) -> Slice {
    Slice { before_id: Some(id.to_string()), limit }
}

fn recipient(u: &User) -> Recipient {
    Recipient { user_id: u.id.clone(), role: u.role, joined_at: u.created_at }
}

fn personal_view(n: &Notification, is_read: bool) -> NotificationView {
    NotificationView {
        id: n.id.clone(),
        kind: n.kind,
        title: n.title.clone(),
        message: n.message.clone(),
        is_read,
        is_broadcast: false,
        created_at: n.created_at,
    }
}

fn broadcast_view(b: &Broadcast, is_read: bool) -> NotificationView {
    NotificationView {
        id: b.id.clone(),
        kind: NotificationKind::Broadcast,
        title: b.title.clone(),
        message: b.message.clone(),
        is_read,
        is_broadcast: true,
        created_at: b.created_at,
    }
}

#[track_caller]
fn assert_conflict<T: Debug>(res: StoreResult<T>, expected: &str) {
    match res {
        Err(StoreError::Conflict { constraint }) if constraint == expected => {}
        other => panic!("expected Conflict {{ constraint: {expected:?} }}, got {other:?}"),
    }
}

/// Runs a unit of work, again from the start on [`StoreError::Transient`] (after a short
/// pause), at most [`MAX_TRIES`] times; panics on any other error.
// The conformance suite drives a bare store, without core's `Sleeper`; core's rule is about
// production code paths.
#[allow(clippy::disallowed_methods)]
async fn retrying<T, F, Fut>(mut unit: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = StoreResult<T>>,
{
    for attempt in 0..MAX_TRIES {
        match unit().await {
            Ok(v) => return v,
            Err(StoreError::Transient(_)) => {
                tokio::time::sleep(Duration::from_millis(1 + (attempt as u64 % 8))).await;
            }
            Err(e) => panic!("unit of work failed: {e:?}"),
        }
    }
    panic!("unit of work still Transient after {MAX_TRIES} tries")
}

/// Runs `n` units of work as concurrent tokio tasks released together by a barrier, each
/// retried with [`retrying`]; returns their results in task order.
async fn spawn_units<T, F, Fut>(n: usize, unit: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = StoreResult<T>> + Send + 'static,
{
    let unit = Arc::new(unit);
    let start = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (unit, start) = (unit.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                retrying(|| unit(i)).await
            })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for task in tasks {
        out.push(task.await.expect("unit of work task panicked"));
    }
    out
}

fn find_outbox(items: &[OutboxItem], id: &OutboxId) -> OutboxItem {
    items.iter().find(|i| &i.id == id).cloned().expect("outbox item listed")
}

async fn all_outbox(c: &Ctx) -> Vec<OutboxItem> {
    c.read().await.list_outbox(None, &first(PAGE_LIMIT_MAX)).await.unwrap()
}

// ---------------------------------------------------------------------------------------------
// Users and balance
// ---------------------------------------------------------------------------------------------

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
    in_tx!(c, |tx| {
        tx.insert_user(&u).await.unwrap();
        tx.insert_user(&admin).await.unwrap();
    });

    let mut r = c.read().await;
    assert_eq!(r.get_user(&u.id).await.unwrap(), Some(u.clone()));
    assert_eq!(r.get_user(&admin.id).await.unwrap(), Some(admin.clone()));
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

// ---------------------------------------------------------------------------------------------
// Ledger
// ---------------------------------------------------------------------------------------------

/// list_ledger is per user, newest first, paginated; ledger_sum is credits minus debits (0 with
/// no entries); get_ledger_entry_by_reference matches type, id and kind exactly.
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

    assert_eq!(r.ledger_sum(&a.id).await.unwrap(), 550);
    assert_eq!(r.ledger_sum(&b.id).await.unwrap(), 99);
    assert_eq!(r.ledger_sum(&nobody.id).await.unwrap(), 0);

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

// ---------------------------------------------------------------------------------------------
// OTP and refresh tokens
// ---------------------------------------------------------------------------------------------

/// put_otp inserts or fully replaces the phone's record; get_otp returns it as written.
pub async fn otp_put_get_replace(ts: TestStore) {
    let c = Ctx::new(ts);
    let r1 = c.otp("+919811111111", "mac-1");
    in_tx!(c, |tx| tx.put_otp(&r1).await.unwrap());
    assert_eq!(c.read().await.get_otp(&r1.phone).await.unwrap(), Some(r1.clone()));

    c.advance(TimeDelta::seconds(61));
    let mut r2 = c.otp("+919811111111", "mac-2");
    r2.attempts = 2;
    r2.consumed_at = Some(c.now());
    r2.sends_in_window = 3;
    r2.window_start = r1.window_start;
    in_tx!(c, |tx| tx.put_otp(&r2).await.unwrap());
    assert_eq!(c.read().await.get_otp(&r2.phone).await.unwrap(), Some(r2.clone()));

    // Replacing clears what the new record does not have.
    c.advance(TimeDelta::seconds(61));
    let r3 = c.otp("+919811111111", "mac-3");
    let other = c.otp("+14155550100", "mac-x");
    in_tx!(c, |tx| {
        tx.put_otp(&r3).await.unwrap();
        tx.put_otp(&other).await.unwrap();
    });
    let mut r = c.read().await;
    assert_eq!(r.get_otp(&r3.phone).await.unwrap(), Some(r3.clone()));
    assert_eq!(r.get_otp(&other.phone).await.unwrap(), Some(other.clone()));
    assert_eq!(r.get_otp(&phone("+919899999999")).await.unwrap(), None);
}

/// record_otp_attempt increments while `attempts < max_attempts` and then returns `None`
/// without counting; `max_attempts` is the caller's, not stored; `None` for an unknown phone.
pub async fn otp_attempts_stop_at_max(ts: TestStore) {
    let c = Ctx::new(ts);
    let rec = c.otp("+919811111111", "mac-1");
    in_tx!(c, |tx| tx.put_otp(&rec).await.unwrap());

    for n in 1..=3u32 {
        let got = in_tx!(c, |tx| tx.record_otp_attempt(&rec.phone, 3).await.unwrap());
        assert_eq!(got, Some(OtpRecord { attempts: n, ..rec.clone() }), "attempt {n}");
    }
    assert_eq!(in_tx!(c, |tx| tx.record_otp_attempt(&rec.phone, 3).await.unwrap()), None);
    assert_eq!(c.read().await.get_otp(&rec.phone).await.unwrap().unwrap().attempts, 3);

    let got = in_tx!(c, |tx| tx.record_otp_attempt(&rec.phone, 5).await.unwrap());
    assert_eq!(got.map(|r| r.attempts), Some(4));
    assert_eq!(in_tx!(c, |tx| tx.record_otp_attempt(&phone("+919899999999"), 5).await.unwrap()), None);
}

/// consume_otp is true once, only for the code created at `created_at`; a consumed code takes no
/// more attempts; a new code (put_otp) can be consumed again.
pub async fn otp_consume_once(ts: TestStore) {
    let c = Ctx::new(ts);
    let rec = c.otp("+919811111111", "mac-1");
    in_tx!(c, |tx| tx.put_otp(&rec).await.unwrap());
    c.advance(TimeDelta::seconds(20));
    let now = c.now();

    let wrong = rec.created_at + TimeDelta::milliseconds(1);
    assert!(!in_tx!(c, |tx| tx.consume_otp(&rec.phone, wrong, now).await.unwrap()));
    assert!(!in_tx!(c, |tx| tx.consume_otp(&phone("+919899999999"), rec.created_at, now).await.unwrap()));
    assert_eq!(c.read().await.get_otp(&rec.phone).await.unwrap(), Some(rec.clone()));

    assert!(in_tx!(c, |tx| tx.consume_otp(&rec.phone, rec.created_at, now).await.unwrap()));
    let consumed = OtpRecord { consumed_at: Some(now), ..rec.clone() };
    assert_eq!(c.read().await.get_otp(&rec.phone).await.unwrap(), Some(consumed.clone()));
    assert!(!in_tx!(c, |tx| tx.consume_otp(&rec.phone, rec.created_at, now).await.unwrap()), "twice");
    assert_eq!(in_tx!(c, |tx| tx.record_otp_attempt(&rec.phone, 10).await.unwrap()), None);
    assert_eq!(c.read().await.get_otp(&rec.phone).await.unwrap(), Some(consumed));

    c.advance(TimeDelta::seconds(40));
    let next = c.otp("+919811111111", "mac-2");
    in_tx!(c, |tx| tx.put_otp(&next).await.unwrap());
    let now = c.now();
    assert!(!in_tx!(c, |tx| tx.consume_otp(&rec.phone, rec.created_at, now).await.unwrap()), "old code");
    assert!(in_tx!(c, |tx| tx.consume_otp(&rec.phone, next.created_at, now).await.unwrap()), "new code");
}

/// Refresh tokens round-trip by hash; a duplicate hash is `Conflict(refresh_tokens.token_hash)`;
/// mark_refresh_token_used is true once.
pub async fn refresh_token_round_trip_and_single_use(ts: TestStore) {
    let c = Ctx::new(ts);
    let u = c.seed_user("+919811111111", Role::User).await;
    let t = c.token(&u, "fam-1", "hash-1");
    in_tx!(c, |tx| tx.insert_refresh_token(&t).await.unwrap());
    assert_eq!(c.read().await.get_refresh_token_by_hash("hash-1").await.unwrap(), Some(t.clone()));
    assert_eq!(c.read().await.get_refresh_token_by_hash("hash-2").await.unwrap(), None);

    let dup = c.token(&u, "fam-2", "hash-1");
    let mut tx = c.tx().await;
    assert_conflict(tx.insert_refresh_token(&dup).await, constraint::REFRESH_TOKEN_HASH);
    drop(tx);

    c.advance(TimeDelta::minutes(10));
    let now = c.now();
    assert!(in_tx!(c, |tx| tx.mark_refresh_token_used(&t.id, now).await.unwrap()));
    let used = RefreshToken { used_at: Some(now), ..t.clone() };
    assert_eq!(c.read().await.get_refresh_token_by_hash("hash-1").await.unwrap(), Some(used.clone()));
    c.advance(TimeDelta::minutes(1));
    assert!(!in_tx!(c, |tx| tx.mark_refresh_token_used(&t.id, c.now()).await.unwrap()), "twice");
    assert_eq!(c.read().await.get_refresh_token_by_hash("hash-1").await.unwrap(), Some(used));
    assert!(!in_tx!(c, |tx| tx.mark_refresh_token_used(&c.id(), c.now()).await.unwrap()), "missing");
}

/// revoke_refresh_family / revoke_user_refresh_tokens revoke only that family / user, count only
/// tokens not yet revoked, keep earlier revocation times; revoked tokens cannot be used.
pub async fn refresh_token_revocation(ts: TestStore) {
    let c = &Ctx::new(ts);
    let a = c.seed_user("+919811111111", Role::User).await;
    let b = c.seed_user("+919822222222", Role::User).await;
    let earlier = c.now() - TimeDelta::hours(1);
    let mut t1 = c.token(&a, "F1", "h1");
    t1.used_at = Some(earlier);
    let t2 = c.token(&a, "F1", "h2");
    let mut t3 = c.token(&a, "F1", "h3");
    t3.revoked_at = Some(earlier);
    let t4 = c.token(&a, "F2", "h4");
    let t5 = c.token(&b, "F3", "h5");
    in_tx!(c, |tx| {
        for t in [&t1, &t2, &t3, &t4, &t5] {
            tx.insert_refresh_token(t).await.unwrap();
        }
    });
    assert_eq!(c.read().await.get_refresh_token_by_hash("h1").await.unwrap(), Some(t1.clone()));
    assert_eq!(c.read().await.get_refresh_token_by_hash("h3").await.unwrap(), Some(t3.clone()));

    c.advance(TimeDelta::minutes(5));
    let now = c.now();
    assert_eq!(in_tx!(c, |tx| tx.revoke_refresh_family("F1", now).await.unwrap()), 2);
    let get =
        |h: &'static str| async move { c.read().await.get_refresh_token_by_hash(h).await.unwrap().unwrap() };
    assert_eq!(get("h1").await, RefreshToken { revoked_at: Some(now), ..t1.clone() });
    assert_eq!(get("h2").await, RefreshToken { revoked_at: Some(now), ..t2.clone() });
    assert_eq!(get("h3").await, t3, "an earlier revocation time was overwritten");
    assert_eq!(get("h4").await, t4, "another family was revoked");
    assert!(!in_tx!(c, |tx| tx.mark_refresh_token_used(&t2.id, now).await.unwrap()), "revoked token used");
    assert_eq!(in_tx!(c, |tx| tx.revoke_refresh_family("F1", now).await.unwrap()), 0);
    assert_eq!(in_tx!(c, |tx| tx.revoke_refresh_family("F-none", now).await.unwrap()), 0);

    c.advance(TimeDelta::minutes(5));
    let later = c.now();
    assert_eq!(in_tx!(c, |tx| tx.revoke_user_refresh_tokens(&a.id, later).await.unwrap()), 1);
    assert_eq!(get("h4").await, RefreshToken { revoked_at: Some(later), ..t4.clone() });
    assert_eq!(get("h2").await.revoked_at, Some(now));
    assert_eq!(in_tx!(c, |tx| tx.revoke_user_refresh_tokens(&a.id, later).await.unwrap()), 0);

    assert_eq!(get("h5").await, t5, "another user's token was revoked");
    assert!(in_tx!(c, |tx| tx.mark_refresh_token_used(&t5.id, later).await.unwrap()));
}

// ---------------------------------------------------------------------------------------------
// Catalog and credentials
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Orders and subscriptions
// ---------------------------------------------------------------------------------------------

/// Orders round-trip; an idempotency key is unique per user (`Conflict(orders.user_id+
/// idempotency_key)`), free for another user, and absent keys never collide.
pub async fn order_round_trip_and_idempotency_key(ts: TestStore) {
    let c = Ctx::new(ts);
    let a = c.seed_user("+919811111111", Role::User).await;
    let b = c.seed_user("+919822222222", Role::User).await;
    let admin = c.seed_user("+919833333333", Role::Admin).await;
    let p = c.seed_product("Premium", 9, true).await;

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
    in_tx!(c, |tx| {
        tx.insert_order(&o1).await.unwrap();
        tx.insert_order(&refunded).await.unwrap();
    });
    let mut r = c.read().await;
    assert_eq!(r.get_order(&o1.id).await.unwrap(), Some(o1.clone()));
    assert_eq!(r.get_order(&refunded.id).await.unwrap(), Some(refunded.clone()));
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
    let a = c.seed_user("+919811111111", Role::User).await;
    let b = c.seed_user("+919822222222", Role::User).await;
    let admin = c.seed_user("+919833333333", Role::Admin).await;
    let p = c.seed_product("Premium", 9, true).await;
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

    let f = |user: Option<&User>, status| OrderFilter { user_id: user.map(|u| u.id.clone()), status };
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

// ---------------------------------------------------------------------------------------------
// Top-ups
// ---------------------------------------------------------------------------------------------

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
    let got = c.read().await.get_topup(&late.id).await.unwrap().unwrap();
    let want = TopUp {
        gateway_payment_id: Some("pay_L".into()),
        status: TopUpStatus::Paid,
        paid_at: Some(now),
        updated_at: got.updated_at, // not specified by the contract
        ..late.clone()
    };
    assert_eq!(got, want);
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

// ---------------------------------------------------------------------------------------------
// Notifications
// ---------------------------------------------------------------------------------------------

/// Users and messages on one timeline (`T0` = when `u`, `v` and `s` joined):
///
/// | id   | at        | what                       |
/// |------|-----------|----------------------------|
/// | a    | T0 - 2h   | admin joins                |
/// | b0   | T0 - 1h   | broadcast to all           |
/// | u, v, s | T0     | users join (s is support)  |
/// | beq  | T0        | broadcast to all           |
/// | n1   | T0 + 1m   | personal to u              |
/// | b1   | T0 + 2m   | broadcast to all           |
/// | b2   | T0 + 3m   | broadcast to admins        |
/// | n2   | T0 + 4m   | personal to v              |
/// | n3   | T0 + 5m   | personal to u              |
/// | b3   | T0 + 6m   | broadcast to users         |
struct Inbox {
    u: Recipient,
    v: Recipient,
    s: Recipient,
    a: Recipient,
    n1: Notification,
    n2: Notification,
    n3: Notification,
    b0: Broadcast,
    beq: Broadcast,
    b1: Broadcast,
    b2: Broadcast,
    b3: Broadcast,
}

async fn seed_inbox(c: &Ctx) -> Inbox {
    let t0 = c.now() + TimeDelta::days(1);
    let at = |minutes: i64| c.set_time(t0 + TimeDelta::minutes(minutes));
    at(-120);
    let admin = c.user("+919800000009", Role::Admin);
    at(-60);
    let b0 = c.broadcast(Audience::All, &admin, "b0");
    at(0);
    let u = c.user("+919800000001", Role::User);
    let v = c.user("+919800000002", Role::User);
    let s = c.user("+919800000003", Role::Support);
    let beq = c.broadcast(Audience::All, &admin, "beq");
    at(1);
    let n1 = c.notification(&u, "n1");
    at(2);
    let b1 = c.broadcast(Audience::All, &admin, "b1");
    at(3);
    let b2 = c.broadcast(Audience::Role(Role::Admin), &admin, "b2");
    at(4);
    let n2 = Notification { kind: NotificationKind::WalletCredited, ..c.notification(&v, "n2") };
    at(5);
    let n3 = Notification { kind: NotificationKind::ExpiringSoon, ..c.notification(&u, "n3") };
    at(6);
    let b3 = c.broadcast(Audience::Role(Role::User), &admin, "b3");
    at(10);
    in_tx!(c, |tx| {
        for user in [&admin, &u, &v, &s] {
            tx.insert_user(user).await.unwrap();
        }
        for n in [&n3, &n1, &n2] {
            tx.insert_notification(n).await.unwrap();
        }
        for b in [&b2, &b0, &b3, &beq, &b1] {
            tx.insert_broadcast(b).await.unwrap();
        }
    });
    Inbox {
        u: recipient(&u),
        v: recipient(&v),
        s: recipient(&s),
        a: recipient(&admin),
        n1,
        n2,
        n3,
        b0,
        beq,
        b1,
        b2,
        b3,
    }
}

/// A recipient sees their personal notifications merged with the broadcasts for everyone or
/// their role sent at or after they joined, newest first, paginated across both kinds.
pub async fn notifications_merge_personal_and_broadcasts(ts: TestStore) {
    let c = Ctx::new(ts);
    let x = seed_inbox(&c).await;
    let (pv, bv) = (personal_view, broadcast_view);
    let mut r = c.read().await;
    let page = first(50);
    assert_eq!(
        r.list_notifications(&x.u, false, &page).await.unwrap(),
        vec![bv(&x.b3, false), pv(&x.n3, false), bv(&x.b1, false), pv(&x.n1, false), bv(&x.beq, false)]
    );
    assert_eq!(
        r.list_notifications(&x.v, false, &page).await.unwrap(),
        vec![bv(&x.b3, false), pv(&x.n2, false), bv(&x.b1, false), bv(&x.beq, false)]
    );
    assert_eq!(
        r.list_notifications(&x.a, false, &page).await.unwrap(),
        vec![bv(&x.b2, false), bv(&x.b1, false), bv(&x.beq, false), bv(&x.b0, false)]
    );
    assert_eq!(
        r.list_notifications(&x.s, false, &page).await.unwrap(),
        vec![bv(&x.b1, false), bv(&x.beq, false)]
    );

    // Pages across the merge.
    assert_eq!(
        r.list_notifications(&x.u, false, &first(2)).await.unwrap(),
        vec![bv(&x.b3, false), pv(&x.n3, false)]
    );
    assert_eq!(
        r.list_notifications(&x.u, false, &before(x.n3.id.as_str(), 2)).await.unwrap(),
        vec![bv(&x.b1, false), pv(&x.n1, false)]
    );
    assert_eq!(
        r.list_notifications(&x.u, false, &before(x.n1.id.as_str(), 2)).await.unwrap(),
        vec![bv(&x.beq, false)]
    );
    assert_eq!(r.list_notifications(&x.u, false, &before(x.beq.id.as_str(), 2)).await.unwrap(), vec![]);

    // Joining later hides what was sent before.
    let late = Recipient { joined_at: x.b1.created_at + TimeDelta::milliseconds(1), ..x.u.clone() };
    assert_eq!(
        r.list_notifications(&late, false, &page).await.unwrap(),
        vec![bv(&x.b3, false), pv(&x.n3, false), pv(&x.n1, false)]
    );

    for (who, n) in [(&x.u, 5), (&x.v, 4), (&x.a, 4), (&x.s, 2)] {
        assert_eq!(r.count_unread_notifications(who).await.unwrap(), n, "{:?}", who.role);
    }
}

/// Read state is per recipient, for personal notifications and broadcasts alike: unread_only,
/// count_unread and mark_all (which returns how many changed) see only the reader's state.
pub async fn notifications_read_state_is_per_user(ts: TestStore) {
    let c = Ctx::new(ts);
    let x = seed_inbox(&c).await;
    let (pv, bv) = (personal_view, broadcast_view);
    let now = c.now();

    assert!(in_tx!(c, |tx| tx.mark_notification_read(&x.u, &x.n3.id, now).await.unwrap()));
    assert!(in_tx!(c, |tx| tx.mark_notification_read(&x.u, &x.b1.id, now).await.unwrap()));
    let mut r = c.read().await;
    assert_eq!(
        r.list_notifications(&x.u, false, &first(50)).await.unwrap(),
        vec![bv(&x.b3, false), pv(&x.n3, true), bv(&x.b1, true), pv(&x.n1, false), bv(&x.beq, false)]
    );
    assert_eq!(
        r.list_notifications(&x.u, true, &first(50)).await.unwrap(),
        vec![bv(&x.b3, false), pv(&x.n1, false), bv(&x.beq, false)]
    );
    assert_eq!(
        r.list_notifications(&x.u, true, &first(2)).await.unwrap(),
        vec![bv(&x.b3, false), pv(&x.n1, false)]
    );
    assert_eq!(
        r.list_notifications(&x.u, true, &before(x.n1.id.as_str(), 2)).await.unwrap(),
        vec![bv(&x.beq, false)]
    );
    assert_eq!(r.count_unread_notifications(&x.u).await.unwrap(), 3);
    // Another reader of the same broadcast still has it unread.
    assert_eq!(r.count_unread_notifications(&x.v).await.unwrap(), 4);
    assert_eq!(
        r.list_notifications(&x.v, true, &first(50)).await.unwrap(),
        vec![bv(&x.b3, false), pv(&x.n2, false), bv(&x.b1, false), bv(&x.beq, false)]
    );
    drop(r);

    assert_eq!(in_tx!(c, |tx| tx.mark_all_notifications_read(&x.u, now).await.unwrap()), 3);
    let mut r = c.read().await;
    assert_eq!(r.count_unread_notifications(&x.u).await.unwrap(), 0);
    assert_eq!(r.list_notifications(&x.u, true, &first(50)).await.unwrap(), vec![]);
    assert!(r.list_notifications(&x.u, false, &first(50)).await.unwrap().iter().all(|n| n.is_read));
    assert_eq!(r.count_unread_notifications(&x.v).await.unwrap(), 4);
    assert_eq!(r.count_unread_notifications(&x.a).await.unwrap(), 4);
    assert_eq!(r.count_unread_notifications(&x.s).await.unwrap(), 2);
    drop(r);
    assert_eq!(in_tx!(c, |tx| tx.mark_all_notifications_read(&x.u, now).await.unwrap()), 0);

    // mark_all for a support user touches only what a support user sees.
    assert_eq!(in_tx!(c, |tx| tx.mark_all_notifications_read(&x.s, now).await.unwrap()), 2);
    let mut r = c.read().await;
    assert_eq!(r.count_unread_notifications(&x.v).await.unwrap(), 4);
    assert_eq!(r.count_unread_notifications(&x.a).await.unwrap(), 4);
    assert_eq!(r.list_notifications(&x.a, false, &first(1)).await.unwrap(), vec![bv(&x.b2, false)]);
}

/// delete_notification deletes a personal notification or hides a broadcast for this reader
/// only; afterwards it is invisible to them (lists, counts, read, delete, mark_all).
pub async fn notifications_delete_and_hide(ts: TestStore) {
    let c = Ctx::new(ts);
    let x = seed_inbox(&c).await;
    let (pv, bv) = (personal_view, broadcast_view);
    let now = c.now();

    assert!(in_tx!(c, |tx| tx.delete_notification(&x.u, &x.n1.id, now).await.unwrap()));
    assert!(in_tx!(c, |tx| tx.mark_notification_read(&x.u, &x.beq.id, now).await.unwrap()));
    assert!(
        in_tx!(c, |tx| tx.delete_notification(&x.u, &x.beq.id, now).await.unwrap()),
        "hide a read broadcast"
    );
    assert!(
        in_tx!(c, |tx| tx.delete_notification(&x.u, &x.b1.id, now).await.unwrap()),
        "hide an unread broadcast"
    );
    let mut r = c.read().await;
    assert_eq!(
        r.list_notifications(&x.u, false, &first(50)).await.unwrap(),
        vec![bv(&x.b3, false), pv(&x.n3, false)]
    );
    assert_eq!(r.count_unread_notifications(&x.u).await.unwrap(), 2);
    drop(r);

    for id in [&x.n1.id, &x.b1.id, &x.beq.id] {
        assert!(!in_tx!(c, |tx| tx.delete_notification(&x.u, id, now).await.unwrap()), "delete twice");
        assert!(
            !in_tx!(c, |tx| tx.mark_notification_read(&x.u, id, now).await.unwrap()),
            "read a hidden one"
        );
    }
    assert_eq!(in_tx!(c, |tx| tx.mark_all_notifications_read(&x.u, now).await.unwrap()), 2);
    let mut r = c.read().await;
    assert_eq!(
        r.list_notifications(&x.u, false, &first(50)).await.unwrap(),
        vec![bv(&x.b3, true), pv(&x.n3, true)]
    );

    // Others still see the broadcasts, unread.
    assert_eq!(
        r.list_notifications(&x.v, false, &first(50)).await.unwrap(),
        vec![bv(&x.b3, false), pv(&x.n2, false), bv(&x.b1, false), bv(&x.beq, false)]
    );
    assert_eq!(r.count_unread_notifications(&x.a).await.unwrap(), 4);
}

/// A reader cannot read or delete what they cannot see: another user's notification, a
/// broadcast for another role, one sent before they joined, or an unknown id; nothing changes.
pub async fn notifications_of_others_are_refused(ts: TestStore) {
    let c = Ctx::new(ts);
    let x = seed_inbox(&c).await;
    let (pv, bv) = (personal_view, broadcast_view);
    let now = c.now();
    let unknown: NotificationId = c.id();
    for id in [&x.n2.id, &x.b2.id, &x.b0.id, &unknown] {
        assert!(!in_tx!(c, |tx| tx.mark_notification_read(&x.u, id, now).await.unwrap()), "read {id}");
        assert!(!in_tx!(c, |tx| tx.delete_notification(&x.u, id, now).await.unwrap()), "delete {id}");
    }
    // A support user may not touch a broadcast for users, nor an admin one for admins.
    assert!(!in_tx!(c, |tx| tx.mark_notification_read(&x.s, &x.b3.id, now).await.unwrap()));
    assert!(!in_tx!(c, |tx| tx.delete_notification(&x.s, &x.b2.id, now).await.unwrap()));
    assert!(!in_tx!(c, |tx| tx.delete_notification(&x.a, &x.n1.id, now).await.unwrap()));

    let mut r = c.read().await;
    assert_eq!(r.count_unread_notifications(&x.u).await.unwrap(), 5);
    assert_eq!(
        r.list_notifications(&x.v, false, &first(50)).await.unwrap(),
        vec![bv(&x.b3, false), pv(&x.n2, false), bv(&x.b1, false), bv(&x.beq, false)]
    );
    assert_eq!(
        r.list_notifications(&x.a, false, &first(50)).await.unwrap(),
        vec![bv(&x.b2, false), bv(&x.b1, false), bv(&x.beq, false), bv(&x.b0, false)]
    );
    assert_eq!(r.count_unread_notifications(&x.s).await.unwrap(), 2);
    assert_eq!(
        r.list_notifications(&x.u, false, &first(50)).await.unwrap(),
        vec![bv(&x.b3, false), pv(&x.n3, false), bv(&x.b1, false), pv(&x.n1, false), bv(&x.beq, false)]
    );
}

// ---------------------------------------------------------------------------------------------
// Outbox, audit, settings
// ---------------------------------------------------------------------------------------------

/// Outbox items round-trip (every field) and list newest first, by status, paginated.
pub async fn outbox_round_trip_and_list_by_status(ts: TestStore) {
    let c = Ctx::new(ts);
    let now = c.now();
    let i1 = c.outbox(r#"{"kind":"a"}"#, now);
    let i2 = OutboxItem {
        status: OutboxStatus::Delivered,
        attempts: 1,
        delivered_at: Some(now + TimeDelta::seconds(1)),
        ..c.outbox(r#"{"kind":"b"}"#, now)
    };
    let i3 = OutboxItem {
        status: OutboxStatus::Failed,
        attempts: 7,
        last_error: Some("telegram said no".into()),
        ..c.outbox(r#"{"kind":"c"}"#, now)
    };
    let i4 = OutboxItem {
        attempts: 2,
        lease_owner: Some("worker-1".into()),
        lease_until: Some(now + TimeDelta::seconds(30)),
        last_error: Some("timeout".into()),
        ..c.outbox("{\"kind\":\"d\",\"text\":\"ünïcode ₹\"}", now + TimeDelta::minutes(1))
    };
    in_tx!(c, |tx| {
        for i in [&i3, &i1, &i4, &i2] {
            tx.insert_outbox(i).await.unwrap();
        }
    });
    let mut r = c.read().await;
    assert_eq!(r.list_outbox(None, &first(10)).await.unwrap(), cloned![i4, i3, i2, i1]);
    assert_eq!(r.list_outbox(Some(OutboxStatus::Pending), &first(10)).await.unwrap(), cloned![i4, i1]);
    assert_eq!(r.list_outbox(Some(OutboxStatus::Delivered), &first(10)).await.unwrap(), cloned![i2]);
    assert_eq!(r.list_outbox(Some(OutboxStatus::Failed), &first(10)).await.unwrap(), cloned![i3]);
    assert_eq!(r.list_outbox(None, &first(2)).await.unwrap(), cloned![i4, i3]);
    assert_eq!(r.list_outbox(None, &before(i3.id.as_str(), 2)).await.unwrap(), cloned![i2, i1]);
    assert_eq!(
        r.list_outbox(Some(OutboxStatus::Pending), &before(i4.id.as_str(), 2)).await.unwrap(),
        cloned![i1]
    );
}

/// claim_outbox leases `Pending` items due at `now` (due_at <= now) whose lease is absent or
/// expired, oldest due first, at most `limit`, counting an attempt; a second claimer gets
/// nothing while the lease holds and everything after it expires; complete is guarded on the
/// current owner.
pub async fn outbox_claim_leases_due_items(ts: TestStore) {
    let c = Ctx::new(ts);
    let t = c.now() + TimeDelta::hours(1);
    let s = TimeDelta::seconds;
    let i2 = c.outbox("i2", t - TimeDelta::minutes(1)); // older id, later due
    let i1 = c.outbox("i1", t - TimeDelta::minutes(2));
    let i3 = c.outbox("i3", t + TimeDelta::hours(1)); // not due yet
    let ieq = c.outbox("ieq", t); // due exactly now
    let done = OutboxItem { status: OutboxStatus::Delivered, ..c.outbox("done", t - TimeDelta::hours(1)) };
    let failed = OutboxItem { status: OutboxStatus::Failed, ..c.outbox("failed", t - TimeDelta::hours(1)) };
    in_tx!(c, |tx| {
        for i in [&ieq, &done, &i3, &i1, &failed, &i2] {
            tx.insert_outbox(i).await.unwrap();
        }
    });
    let leased = |i: &OutboxItem, owner: &str, until, attempts| OutboxItem {
        lease_owner: Some(owner.to_string()),
        lease_until: Some(until),
        attempts,
        ..i.clone()
    };

    let got = in_tx!(c, |tx| tx.claim_outbox("w1", t, t + s(30), 10).await.unwrap());
    assert_eq!(
        got,
        vec![
            leased(&i1, "w1", t + s(30), 1),
            leased(&i2, "w1", t + s(30), 1),
            leased(&ieq, "w1", t + s(30), 1)
        ]
    );
    let all = all_outbox(&c).await;
    assert_eq!(find_outbox(&all, &i1.id), leased(&i1, "w1", t + s(30), 1));
    assert_eq!(find_outbox(&all, &i3.id), i3, "an item not due was touched");
    assert_eq!(find_outbox(&all, &done.id), done);
    assert_eq!(find_outbox(&all, &failed.id), failed);

    assert_eq!(in_tx!(c, |tx| tx.claim_outbox("w2", t + s(10), t + s(40), 10).await.unwrap()), vec![]);

    let got = in_tx!(c, |tx| tx.claim_outbox("w2", t + s(31), t + s(61), 1).await.unwrap());
    assert_eq!(got, vec![leased(&i1, "w2", t + s(61), 2)]);

    assert!(!in_tx!(c, |tx| tx.complete_outbox(&i1.id, "w1", t + s(32)).await.unwrap()), "lost lease");
    assert!(in_tx!(c, |tx| tx.complete_outbox(&i1.id, "w2", t + s(32)).await.unwrap()));
    let got = find_outbox(&all_outbox(&c).await, &i1.id);
    assert_eq!((got.status, got.delivered_at, got.attempts), (OutboxStatus::Delivered, Some(t + s(32)), 2));
    assert!(!in_tx!(c, |tx| tx.complete_outbox(&i1.id, "w2", t + s(33)).await.unwrap()), "twice");
    assert!(!in_tx!(c, |tx| tx.complete_outbox(&c.id(), "w2", t + s(33)).await.unwrap()), "missing");

    // Much later: expired leases and the newly due item, never the delivered one.
    let later = t + TimeDelta::hours(2);
    let got = in_tx!(c, |tx| tx.claim_outbox("w3", later, later + s(30), 10).await.unwrap());
    assert_eq!(
        got,
        vec![
            leased(&i2, "w3", later + s(30), 2),
            leased(&ieq, "w3", later + s(30), 2),
            leased(&i3, "w3", later + s(30), 1),
        ]
    );
    assert_eq!(in_tx!(c, |tx| tx.claim_outbox("w4", later, later + s(30), 10).await.unwrap()), vec![]);
}

/// fail_outbox is guarded on the lease owner; with `retry_at` it releases the lease and keeps
/// the item `Pending` due then, with `None` it parks it as `Failed` for good.
pub async fn outbox_fail_retries_or_parks(ts: TestStore) {
    let c = Ctx::new(ts);
    let t = c.now() + TimeDelta::hours(1);
    let s = TimeDelta::seconds;
    let item = c.outbox("alert", t);
    in_tx!(c, |tx| tx.insert_outbox(&item).await.unwrap());
    assert_eq!(in_tx!(c, |tx| tx.claim_outbox("w1", t, t + s(30), 10).await.unwrap()).len(), 1);

    let retry = t + TimeDelta::minutes(5);
    assert!(!in_tx!(c, |tx| tx.fail_outbox(&item.id, "w2", "not mine", Some(retry)).await.unwrap()));
    assert!(in_tx!(c, |tx| tx.fail_outbox(&item.id, "w1", "smtp down", Some(retry)).await.unwrap()));
    let want =
        OutboxItem { attempts: 1, due_at: retry, last_error: Some("smtp down".into()), ..item.clone() };
    assert_eq!(all_outbox(&c).await, vec![want], "pending, due at retry_at, lease released");
    assert!(
        !in_tx!(c, |tx| tx.fail_outbox(&item.id, "w1", "again", Some(retry)).await.unwrap()),
        "lease gone"
    );

    assert_eq!(
        in_tx!(c, |tx| tx.claim_outbox("w1", t + TimeDelta::minutes(1), t + s(90), 10).await.unwrap()),
        vec![]
    );
    let got = in_tx!(c, |tx| tx.claim_outbox("w2", retry, retry + s(30), 10).await.unwrap());
    assert_eq!(
        got.iter().map(|i| (i.id.clone(), i.attempts)).collect::<Vec<_>>(),
        vec![(item.id.clone(), 2)]
    );

    assert!(in_tx!(c, |tx| tx.fail_outbox(&item.id, "w2", "gave up", None).await.unwrap()));
    let got = find_outbox(&all_outbox(&c).await, &item.id);
    assert_eq!(
        (got.status, got.attempts, got.last_error.as_deref(), got.lease_owner.as_deref()),
        (OutboxStatus::Failed, 2, Some("gave up"), None)
    );
    let mut r = c.read().await;
    assert_eq!(r.list_outbox(Some(OutboxStatus::Failed), &first(10)).await.unwrap(), vec![got.clone()]);
    assert_eq!(r.list_outbox(Some(OutboxStatus::Pending), &first(10)).await.unwrap(), vec![]);
    drop(r);
    let much_later = t + TimeDelta::days(7);
    assert_eq!(
        in_tx!(c, |tx| tx.claim_outbox("w3", much_later, much_later + s(30), 10).await.unwrap()),
        vec![]
    );
    assert!(!in_tx!(c, |tx| tx.complete_outbox(&item.id, "w2", much_later).await.unwrap()));
    assert!(!in_tx!(c, |tx| tx.fail_outbox(&item.id, "w2", "x", Some(much_later)).await.unwrap()));
    assert_eq!(find_outbox(&all_outbox(&c).await, &item.id), got);
}

/// Audit entries round-trip (JSON details included) and list newest first by actor and target.
pub async fn audit_round_trip_and_filters(ts: TestStore) {
    let c = Ctx::new(ts);
    let a1 = c.seed_user("+919800000001", Role::Admin).await;
    let a2 = c.seed_user("+919800000002", Role::Support).await;
    let e1 = c.audit(&a1, "user.block", "u1", serde_json::json!({"reason": "spam", "n": 1}));
    let e2 = c.audit(&a2, "user.unblock", "u2", serde_json::json!(null));
    let e3 = c.audit(&a1, "wallet.adjust", "u2", serde_json::json!({"paise": -500, "note": "₹ fix"}));
    let e4 = AuditEntry {
        target_type: "product".into(),
        ..c.audit(
            &a1,
            "product.update",
            "p1",
            serde_json::json!({"changes": [{"field": "price", "to": 100}], "ok": true}),
        )
    };
    in_tx!(c, |tx| {
        for e in [&e2, &e4, &e1, &e3] {
            tx.insert_audit(e).await.unwrap();
        }
    });
    let f = |actor: Option<&User>, target: Option<&str>| AuditFilter {
        actor_id: actor.map(|u| u.id.clone()),
        target_id: target.map(str::to_string),
    };
    let mut r = c.read().await;
    let page = first(50);
    assert_eq!(r.list_audit(&f(None, None), &page).await.unwrap(), cloned![e4, e3, e2, e1]);
    assert_eq!(r.list_audit(&f(Some(&a1), None), &page).await.unwrap(), cloned![e4, e3, e1]);
    assert_eq!(r.list_audit(&f(None, Some("u2")), &page).await.unwrap(), cloned![e3, e2]);
    assert_eq!(r.list_audit(&f(Some(&a1), Some("u2")), &page).await.unwrap(), cloned![e3]);
    assert_eq!(r.list_audit(&f(Some(&a2), Some("p1")), &page).await.unwrap(), vec![]);
    assert_eq!(r.list_audit(&f(Some(&a1), None), &first(2)).await.unwrap(), cloned![e4, e3]);
    assert_eq!(r.list_audit(&f(Some(&a1), None), &before(e3.id.as_str(), 2)).await.unwrap(), cloned![e1]);
}

/// put_setting_if_absent stores the first value and returns it to every later caller.
pub async fn setting_put_if_absent_keeps_first(ts: TestStore) {
    let c = Ctx::new(ts);
    assert_eq!(c.read().await.get_setting("jwt_secret").await.unwrap(), None);
    in_tx!(c, |tx| {
        assert_eq!(tx.put_setting_if_absent("jwt_secret", "first").await.unwrap(), "first");
        assert_eq!(tx.put_setting_if_absent("jwt_secret", "second").await.unwrap(), "first");
        assert_eq!(tx.get_setting("jwt_secret").await.unwrap().as_deref(), Some("first"));
    });
    assert_eq!(in_tx!(c, |tx| tx.put_setting_if_absent("jwt_secret", "third").await.unwrap()), "first");
    assert_eq!(in_tx!(c, |tx| tx.put_setting_if_absent("other", "").await.unwrap()), "");
    let mut r = c.read().await;
    assert_eq!(r.get_setting("jwt_secret").await.unwrap().as_deref(), Some("first"));
    assert_eq!(r.get_setting("other").await.unwrap().as_deref(), Some(""));
    assert_eq!(r.get_setting("JWT_SECRET").await.unwrap(), None);
}

/// A webhook event is recorded once per source; a dropped unit records nothing.
pub async fn webhook_events_are_recorded_once(ts: TestStore) {
    let c = Ctx::new(ts);
    assert!(!c.read().await.webhook_event_seen("gateway", "evt_1").await.unwrap());
    {
        let mut tx = c.store().begin().await.unwrap();
        assert!(tx.record_webhook_event("gateway", "evt_1", c.now()).await.unwrap());
        drop(tx);
    }
    assert!(!c.read().await.webhook_event_seen("gateway", "evt_1").await.unwrap(), "rolled back");
    assert!(in_tx!(c, |tx| tx.record_webhook_event("gateway", "evt_1", c.now()).await.unwrap()));
    assert!(
        !in_tx!(c, |tx| tx.record_webhook_event("gateway", "evt_1", c.now()).await.unwrap()),
        "second time"
    );
    assert!(in_tx!(c, |tx| tx.record_webhook_event("other", "evt_1", c.now()).await.unwrap()), "per source");
    let mut r = c.read().await;
    assert!(r.webhook_event_seen("gateway", "evt_1").await.unwrap());
    assert!(r.webhook_event_seen("other", "evt_1").await.unwrap());
    assert!(!r.webhook_event_seen("gateway", "evt_2").await.unwrap());
}

// ---------------------------------------------------------------------------------------------
// Transactions and concurrency
// ---------------------------------------------------------------------------------------------

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
    assert_eq!(r.ledger_sum(&u.id).await.unwrap(), 0);
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
    assert_eq!(tx.ledger_sum(&u.id).await.unwrap(), 250);
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
    assert_eq!(r.ledger_sum(&u.id).await.unwrap(), 0);
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
