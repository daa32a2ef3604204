//! The storage conformance suite: the behaviour every [`Store`] must have.
//!
//! Each `pub async fn` of the area modules ([`users`], [`ledger`], [`auth`], [`catalog`],
//! [`orders`], [`topups`], [`notifications`], [`outbox`], [`audit`], [`settings`], [`telegram`] and
//! [`concurrency`], following the sections of [`crate::store`], all re-exported here) checks one
//! behaviour of the contract against a fresh, empty store, and panics when the backend deviates. A backend runs all of them with
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
use crate::testing::{StoreTestingExt, TestStore};
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
            otp_guesses_stop_at_the_window_budget,
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
            guarded_steps_return_the_changed_rows,
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
            batch_inserts_store_every_row,
            // outbox, audit, settings
            outbox_round_trip_and_list_by_status,
            outbox_claim_leases_due_items,
            outbox_fail_retries_or_parks,
            outbox_requeue_only_parked,
            audit_round_trip_and_filters,
            audit_filters_by_target_type_and_action,
            setting_put_if_absent_keeps_first,
            webhook_events_are_recorded_once,
            // Telegram shop
            telegram_links_are_one_to_one_and_move,
            telegram_bot_lease_has_one_holder_and_keeps_the_offset,
            concurrent_bot_lease_acquisitions_have_one_winner,
            telegram_push_lists_after_the_cursor_and_records_once,
            // the dashboard
            shop_stats_counts_the_period,
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

/// Writes the records in one unit of work, then reads each back through `get` by its `key`
/// field (`id` unless given): each must come back exactly as written. Returns the reader.
macro_rules! write_and_read_back {
    ($c:expr, $write:ident, $get:ident, $($rec:expr),+) => {
        write_and_read_back!($c, $write, $get by id, $($rec),+)
    };
    ($c:expr, $write:ident, $get:ident by $key:ident, $($rec:expr),+) => {{
        in_tx!($c, |tx| { $(tx.$write(&$rec).await.unwrap();)+ });
        let mut r = $c.read().await;
        $(assert_eq!(r.$get(&$rec.$key).await.unwrap(), Some($rec.clone()));)+
        r
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

    /// The backend's reads for tests only ([`StoreTestingExt`]).
    fn ext(&self) -> &dyn StoreTestingExt {
        self.ts.ext()
    }

    async fn read(&self) -> Box<dyn StoreRead> {
        self.ts.store.reader().await.expect("reader")
    }

    // --- builders (plain values; nothing is written) ---

    fn user(&self, phone_e164: &str, role: Role) -> User {
        User {
            name: Some(format!("User {phone_e164}")),
            email: Some(format!("u{}@example.invalid", &phone_e164[1..])),
            ..User::new(self.id(), phone(phone_e164), role, self.now())
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
        Order::purchase(self.id(), &user.id, product, key, self.now())
    }

    fn subscription(&self, order: &Order, product: &Product) -> Subscription {
        Subscription::for_order(self.id(), order, product, None, self.now())
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
            guesses_in_window: 4,
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

    /// Two customers (`a`, `b`), an admin and a product with stock 9: the cast of the order tests.
    async fn seed_buyers(&self) -> (User, User, User, Product) {
        let a = self.seed_user("+919811111111", Role::User).await;
        let b = self.seed_user("+919822222222", Role::User).await;
        let admin = self.seed_user("+919833333333", Role::Admin).await;
        (a, b, admin, self.seed_product("Premium", 9, true).await)
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
    PhoneNumber::from_e164(e164).expect("valid test phone")
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
// The cases, one module per area of the contract (the sections of `store.rs`). Declared after
// the helper macros above, which they use.
// ---------------------------------------------------------------------------------------------

pub mod audit;
pub mod auth;
pub mod catalog;
pub mod concurrency;
pub mod ledger;
pub mod notifications;
pub mod orders;
pub mod outbox;
pub mod settings;
pub mod stats;
pub mod telegram;
pub mod topups;
pub mod users;

pub use audit::*;
pub use auth::*;
pub use catalog::*;
pub use concurrency::*;
pub use ledger::*;
pub use notifications::*;
pub use orders::*;
pub use outbox::*;
pub use settings::*;
pub use stats::*;
pub use telegram::*;
pub use topups::*;
pub use users::*;
