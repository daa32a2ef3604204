//! The storage port: what core needs from a database, documented as a contract.
//!
//! Backends implement [`Store`] (reads outside a transaction, and `begin`) and [`Tx`] (reads and
//! guarded writes inside one unit of work). Core composes guarded steps inside one `Tx` and
//! commits them as one; a `Tx` dropped without `commit` leaves no trace.
//!
//! Every backend must pass `ottsonly_core::testing::conformance` unchanged.
//!
//! Conventions that hold for every method:
//! - Lists return at most `slice.limit` items with id strictly below `slice.before_id`, largest
//!   id (newest) first. Ids are UUIDv7 strings, so string order is creation order.
//! - "Guarded" writes change nothing and return `false` / `None` when their condition does not
//!   hold. The condition and the write are one atomic step in the backend (a conditional
//!   `UPDATE ... WHERE` or `$inc` with a filter), never a read followed by a write.
//! - Unique rules surface as [`StoreError::Conflict`] with a [`constraint`](crate::error::constraint) name.
//! - Timestamps are stored with millisecond precision.
//! - Where two units of work race and one must be run again from the start, the backend returns
//!   [`StoreError::Transient`] (from any method, including `commit`); core retries the unit.
//! - After a method returns an error, the `Tx` is only good for dropping (MongoDB aborts the
//!   server-side transaction on any failed statement); core never continues a unit after an error.
//! - `commit` returns `Transient` only when the unit certainly did not commit. When the outcome is
//!   unknown (a commit whose acknowledgement was lost and could not be confirmed) it returns
//!   `Backend`, because running a money-moving unit again could apply it twice.

use crate::error::StoreError;
use crate::ids::*;
use crate::model::*;
use crate::money::Money;
use crate::phone::PhoneNumber;
use crate::telegram_shop::{BotLease, TelegramLink};
use async_trait::async_trait;

pub type StoreResult<T> = Result<T, StoreError>;

/// Reads, available both outside a transaction (on [`Store`]) and inside one (on [`Tx`]).
/// Inside a `Tx` they see that unit's own uncommitted writes.
#[async_trait]
pub trait StoreRead: Send + Sync {
    async fn get_user(&mut self, id: &UserId) -> StoreResult<Option<User>>;
    async fn get_user_by_phone(&mut self, phone: &PhoneNumber) -> StoreResult<Option<User>>;
    async fn list_users(&mut self, filter: &UserFilter, slice: &Slice) -> StoreResult<Vec<User>>;

    async fn get_product(&mut self, id: &ProductId) -> StoreResult<Option<Product>>;
    async fn list_products(&mut self, include_inactive: bool, slice: &Slice) -> StoreResult<Vec<Product>>;
    /// Pool credentials of the product still `Available`.
    async fn count_available_credentials(&mut self, product: &ProductId) -> StoreResult<u64>;
    async fn get_credential(&mut self, id: &CredentialId) -> StoreResult<Option<CredentialRecord>>;

    async fn get_order(&mut self, id: &OrderId) -> StoreResult<Option<Order>>;
    async fn get_order_by_idempotency_key(&mut self, user: &UserId, key: &str) -> StoreResult<Option<Order>>;
    async fn list_orders(&mut self, filter: &OrderFilter, slice: &Slice) -> StoreResult<Vec<Order>>;

    async fn get_subscription(&mut self, id: &SubscriptionId) -> StoreResult<Option<Subscription>>;
    async fn get_subscription_by_order(&mut self, order: &OrderId) -> StoreResult<Option<Subscription>>;
    async fn list_subscriptions(
        &mut self,
        filter: &SubscriptionFilter,
        slice: &Slice,
    ) -> StoreResult<Vec<Subscription>>;
    /// `Active` subscriptions with `end_at <= now`, oldest end first, for the expiry sweep.
    async fn list_subscriptions_ended(
        &mut self,
        now: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<Subscription>>;
    /// `Active` subscriptions with `now < end_at <= until` and no reminder yet, oldest end first.
    async fn list_subscriptions_to_remind(
        &mut self,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<Subscription>>;

    async fn list_ledger(&mut self, user: &UserId, slice: &Slice) -> StoreResult<Vec<LedgerEntry>>;

    /// The shop's figures for `[from, to)` (see [`ShopStats`]); `low_stock_at` is the stock at or
    /// below which an active product is listed as low. Indexed range queries and aggregations.
    async fn shop_stats(
        &mut self,
        from: Timestamp,
        to: Timestamp,
        low_stock_at: i64,
    ) -> StoreResult<ShopStats>;
    async fn get_ledger_entry_by_reference(
        &mut self,
        reference_type: ReferenceType,
        reference_id: &str,
        kind: EntryKind,
    ) -> StoreResult<Option<LedgerEntry>>;

    async fn get_topup(&mut self, id: &TopUpId) -> StoreResult<Option<TopUp>>;
    async fn get_topup_by_gateway_order(&mut self, gateway_order_id: &str) -> StoreResult<Option<TopUp>>;
    /// `Created` top-ups made at or before `created_before`, newest (largest id) first, below
    /// `slice.before_id`: reconciliation walks them with a cursor that rotates across passes.
    async fn list_open_topups(&mut self, created_before: Timestamp, slice: &Slice)
    -> StoreResult<Vec<TopUp>>;
    /// `Expired` top-ups made at or after `created_since`, newest (largest id) first, below
    /// `slice.before_id`: reconciliation looks for captures that arrived after expiry.
    async fn list_expired_topups(
        &mut self,
        created_since: Timestamp,
        slice: &Slice,
    ) -> StoreResult<Vec<TopUp>>;
    /// How many of the user's top-ups were created at or after `created_since`, only those in
    /// `status` when given (the per-user top-up limits).
    async fn count_user_topups(
        &mut self,
        user: &UserId,
        status: Option<TopUpStatus>,
        created_since: Timestamp,
    ) -> StoreResult<u64>;

    async fn get_otp(&mut self, phone: &PhoneNumber) -> StoreResult<Option<OtpRecord>>;
    async fn get_refresh_token_by_hash(&mut self, token_hash: &str) -> StoreResult<Option<RefreshToken>>;

    /// The recipient's personal notifications merged with the broadcasts addressed to them
    /// (audience `All` or their role, sent at or after `joined_at`, not deleted by them).
    async fn list_notifications(
        &mut self,
        recipient: &Recipient,
        unread_only: bool,
        slice: &Slice,
    ) -> StoreResult<Vec<NotificationView>>;
    async fn count_unread_notifications(&mut self, recipient: &Recipient) -> StoreResult<u64>;

    async fn list_outbox(
        &mut self,
        status: Option<OutboxStatus>,
        slice: &Slice,
    ) -> StoreResult<Vec<OutboxItem>>;
    async fn list_audit(&mut self, filter: &AuditFilter, slice: &Slice) -> StoreResult<Vec<AuditEntry>>;
    async fn get_setting(&mut self, key: &str) -> StoreResult<Option<String>>;
    /// Whether [`Tx::record_webhook_event`] recorded this event of this source.
    async fn webhook_event_seen(&mut self, source: &str, event_id: &str) -> StoreResult<bool>;

    // --- Telegram shop (see `Tx::link_telegram`, `Tx::acquire_bot_lease`) ---
    async fn get_telegram_link(&mut self, telegram_user_id: i64) -> StoreResult<Option<TelegramLink>>;
    async fn get_telegram_link_by_user(&mut self, user: &UserId) -> StoreResult<Option<TelegramLink>>;
    async fn get_bot_lease(&mut self, name: &str) -> StoreResult<Option<BotLease>>;
    /// Personal notifications (not broadcasts) with id above `after`, oldest first.
    async fn list_notifications_after(
        &mut self,
        after: Option<&NotificationId>,
        limit: u32,
    ) -> StoreResult<Vec<Notification>>;
}

/// One unit of work. Writes become visible to others only on [`Tx::commit`]; dropping the `Tx`
/// rolls every write back.
#[async_trait]
pub trait Tx: StoreRead {
    // --- users ---
    /// Conflict `users.phone` if the phone exists.
    async fn insert_user(&mut self, user: &User) -> StoreResult<()>;
    /// Replaces name, email, role, is_blocked, token_version and updated_at (not the balance).
    /// Returns false if the user does not exist.
    async fn update_user(&mut self, user: &User) -> StoreResult<bool>;
    /// Guarded: adds `amount` to the balance; `None` if the user does not exist.
    async fn credit_balance(
        &mut self,
        user: &UserId,
        amount: Money,
        now: Timestamp,
    ) -> StoreResult<Option<Money>>;
    /// Guarded: subtracts `amount` only if the balance is at least `amount`; returns the new
    /// balance, or `None` if the balance is too low or the user does not exist.
    async fn debit_balance(
        &mut self,
        user: &UserId,
        amount: Money,
        now: Timestamp,
    ) -> StoreResult<Option<Money>>;

    /// Guarded: as [`Tx::debit_balance`], and only if the user is not blocked; returns the user
    /// as stored after the debit, or `None` if the user is missing, blocked or short of money
    /// (one round trip where a read and a debit would take two).
    async fn debit_unblocked_user(
        &mut self,
        user: &UserId,
        amount: Money,
        now: Timestamp,
    ) -> StoreResult<Option<User>>;

    // --- ledger ---
    /// Conflict `ledger.reference` if (reference_type, reference_id, kind) exists.
    async fn insert_ledger_entry(&mut self, entry: &LedgerEntry) -> StoreResult<()>;

    // --- auth ---
    /// Inserts or replaces the phone's OTP record.
    async fn put_otp(&mut self, otp: &OtpRecord) -> StoreResult<()>;
    /// Guarded: increments `attempts` and `guesses_in_window` if the code is not consumed,
    /// `attempts < max_attempts` and `guesses_in_window < max_guesses`; returns the record after
    /// the increment, or `None`.
    async fn record_otp_attempt(
        &mut self,
        phone: &PhoneNumber,
        max_attempts: u32,
        max_guesses: u32,
    ) -> StoreResult<Option<OtpRecord>>;
    /// Guarded: marks the code consumed if it is still unconsumed and was created at
    /// `created_at` (the code that was checked); true for exactly one caller.
    async fn consume_otp(
        &mut self,
        phone: &PhoneNumber,
        created_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<bool>;
    /// Conflict `refresh_tokens.token_hash` on a duplicate hash.
    async fn insert_refresh_token(&mut self, token: &RefreshToken) -> StoreResult<()>;
    /// Guarded: sets `used_at` if the token is neither used nor revoked; true for one caller.
    async fn mark_refresh_token_used(&mut self, id: &RefreshTokenId, now: Timestamp) -> StoreResult<bool>;
    /// Revokes every not-yet-revoked token of the family; returns how many.
    async fn revoke_refresh_family(&mut self, family_id: &str, now: Timestamp) -> StoreResult<u64>;
    /// Revokes every not-yet-revoked token of the user; returns how many.
    async fn revoke_user_refresh_tokens(&mut self, user: &UserId, now: Timestamp) -> StoreResult<u64>;

    // --- catalog ---
    async fn insert_product(&mut self, product: &Product) -> StoreResult<()>;
    /// Replaces the editable fields (names, description, price, duration, is_active, updated_at);
    /// never `stock`, which only moves through [`Tx::adjust_stock`]. False if missing.
    async fn update_product(&mut self, product: &Product) -> StoreResult<bool>;
    /// Guarded: adds `delta` (may be negative) to stock only if the result is >= 0 and, when
    /// `require_active`, the product is active. Returns the new stock, or `None`.
    async fn adjust_stock(
        &mut self,
        product: &ProductId,
        delta: i64,
        require_active: bool,
        now: Timestamp,
    ) -> StoreResult<Option<i64>>;
    /// Guarded: takes one unit (stock −1) of an active product with stock left; returns the
    /// product as stored after the change, or `None` if it is missing, inactive or out of stock.
    async fn take_one_in_stock(
        &mut self,
        product: &ProductId,
        now: Timestamp,
    ) -> StoreResult<Option<Product>>;
    async fn insert_credential(&mut self, credential: &CredentialRecord) -> StoreResult<()>;
    /// Guarded: takes the oldest `Available` credential of the product, marks it `Assigned` to the
    /// subscription and returns it; `None` if the pool is empty. Two concurrent callers never
    /// get the same credential.
    async fn claim_credential(
        &mut self,
        product: &ProductId,
        subscription: &SubscriptionId,
        now: Timestamp,
    ) -> StoreResult<Option<CredentialRecord>>;

    // --- orders and subscriptions ---
    /// Conflict `orders.user_id+idempotency_key` if the user used the key before.
    async fn insert_order(&mut self, order: &Order) -> StoreResult<()>;
    /// Guarded: `Completed` → `Refunded` with reason, actor and time; true for exactly one caller.
    async fn mark_order_refunded(
        &mut self,
        id: &OrderId,
        reason: &str,
        actor: &UserId,
        now: Timestamp,
    ) -> StoreResult<bool>;
    /// Conflict `subscriptions.order_id` if the order has one.
    async fn insert_subscription(&mut self, subscription: &Subscription) -> StoreResult<()>;
    /// Guarded compare-and-set: replaces the mutable fields (status, dates, credential_id,
    /// reminded_at, updated_at) only if the stored status is still `expected`.
    async fn update_subscription(
        &mut self,
        subscription: &Subscription,
        expected: SubscriptionStatus,
    ) -> StoreResult<bool>;

    // --- top-ups ---
    /// Conflict `topups.gateway_order_id` on a duplicate gateway order.
    async fn insert_topup(&mut self, topup: &TopUp) -> StoreResult<()>;
    /// Guarded: `Created` → `Paid` with the payment id; true for exactly one caller. Conflict
    /// `topups.gateway_payment_id` if another top-up holds that payment id.
    async fn mark_topup_paid(&mut self, id: &TopUpId, payment_id: &str, now: Timestamp) -> StoreResult<bool>;
    /// Guarded: `Expired` → `Paid` with the payment id, for a capture that arrived after the
    /// intent expired; true for exactly one caller. Conflict `topups.gateway_payment_id` as
    /// [`Tx::mark_topup_paid`]. Never moves a `Created`, `Failed` or `Paid` top-up.
    async fn mark_expired_topup_paid(
        &mut self,
        id: &TopUpId,
        payment_id: &str,
        now: Timestamp,
    ) -> StoreResult<bool>;
    /// Guarded: `Created` → `to` (expired or failed).
    async fn close_topup(&mut self, id: &TopUpId, to: TopUpStatus, now: Timestamp) -> StoreResult<bool>;

    // --- notifications ---
    async fn insert_notification(&mut self, notification: &Notification) -> StoreResult<()>;
    /// Inserts every notification, as many [`Tx::insert_notification`] calls would (an empty
    /// slice does nothing). Backends may send them in one statement: a unit's rows cost one
    /// round trip.
    async fn insert_notifications(&mut self, notifications: &[Notification]) -> StoreResult<()>;
    async fn insert_broadcast(&mut self, broadcast: &Broadcast) -> StoreResult<()>;
    /// Marks one notification or broadcast read for the recipient; false if they cannot see it.
    async fn mark_notification_read(
        &mut self,
        recipient: &Recipient,
        id: &NotificationId,
        now: Timestamp,
    ) -> StoreResult<bool>;
    /// Marks everything the recipient can see as read; returns how many changed.
    async fn mark_all_notifications_read(
        &mut self,
        recipient: &Recipient,
        now: Timestamp,
    ) -> StoreResult<u64>;
    /// Deletes a notification, or hides a broadcast for this recipient; false if not visible.
    async fn delete_notification(
        &mut self,
        recipient: &Recipient,
        id: &NotificationId,
        now: Timestamp,
    ) -> StoreResult<bool>;

    // --- outbox ---
    async fn insert_outbox(&mut self, item: &OutboxItem) -> StoreResult<()>;
    /// Inserts every item, as many [`Tx::insert_outbox`] calls would (an empty slice does
    /// nothing), in as few round trips as the backend allows.
    async fn insert_outbox_items(&mut self, items: &[OutboxItem]) -> StoreResult<()>;
    /// Guarded: leases up to `limit` `Pending` items due at `now` whose lease is absent or
    /// expired (oldest due first): sets `lease_owner`, `lease_until` and increments `attempts`.
    /// Two claimers never hold the same item at once.
    async fn claim_outbox(
        &mut self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<OutboxItem>>;
    /// Guarded on the lease owner: `Pending` → `Delivered`.
    async fn complete_outbox(&mut self, id: &OutboxId, owner: &str, now: Timestamp) -> StoreResult<bool>;
    /// Guarded on the lease owner: releases the lease with the error; `retry_at = Some(t)` keeps
    /// it `Pending` due at `t`, `None` parks it as `Failed`.
    async fn fail_outbox(
        &mut self,
        id: &OutboxId,
        owner: &str,
        error: &str,
        retry_at: Option<Timestamp>,
    ) -> StoreResult<bool>;

    /// Guarded: a parked (`Failed`) item back to `Pending`, due at `now`, with `attempts` reset
    /// to 0 and `last_error` kept (an admin's "retry"); false unless it was parked.
    async fn requeue_outbox(&mut self, id: &OutboxId, now: Timestamp) -> StoreResult<bool>;

    // --- audit and settings ---
    async fn insert_audit(&mut self, entry: &AuditEntry) -> StoreResult<()>;
    /// Stores `value` under `key` unless a value exists; returns the stored value either way.
    async fn put_setting_if_absent(&mut self, key: &str, value: &str) -> StoreResult<String>;

    /// Records that an event from a webhook source (the gateway's name) was handled; true if it
    /// was new, false if it was recorded before (no error).
    async fn record_webhook_event(
        &mut self,
        source: &str,
        event_id: &str,
        now: Timestamp,
    ) -> StoreResult<bool>;

    // --- Telegram shop ---
    /// Links a Telegram account to a user, replacing any link of that account and any link of
    /// that user (one account per user, one user per account: relinking moves it).
    async fn link_telegram(&mut self, link: &TelegramLink) -> StoreResult<()>;
    /// Removes the account's link; false if it had none.
    async fn unlink_telegram(&mut self, telegram_user_id: i64) -> StoreResult<bool>;
    /// Guarded: gives lease `name` to `owner` until `until` if nobody holds it, its holder's
    /// lease ended (`lease_until <= now`) or `owner` already holds it (a renewal); creates it
    /// with offset 0 the first time. True when `owner` holds it afterwards.
    async fn acquire_bot_lease(
        &mut self,
        name: &str,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> StoreResult<bool>;
    /// Guarded on the owner: ends the lease now (the offset stays).
    async fn release_bot_lease(&mut self, name: &str, owner: &str) -> StoreResult<bool>;
    /// Guarded on the owner holding a live lease (`lease_until > now`): stores the offset, never
    /// moving it back. False if `owner` does not hold it.
    async fn set_bot_offset(
        &mut self,
        name: &str,
        owner: &str,
        offset: i64,
        now: Timestamp,
    ) -> StoreResult<bool>;
    /// Guarded like [`Tx::set_bot_offset`]: stores the push cursor, never moving it back.
    async fn set_bot_push_cursor(
        &mut self,
        name: &str,
        owner: &str,
        cursor: &NotificationId,
        now: Timestamp,
    ) -> StoreResult<bool>;
    /// Records a notification pushed to a chat; true if new, false if it was recorded before.
    async fn record_telegram_delivery(
        &mut self,
        notification: &NotificationId,
        chat_id: i64,
        now: Timestamp,
    ) -> StoreResult<bool>;

    /// Makes every write of this unit visible at once.
    async fn commit(self: Box<Self>) -> StoreResult<()>;
}

/// A database holding OTTSONLY's data. Cheap to clone is not required: core holds it in an `Arc`.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Starts a unit of work for writes.
    async fn begin(&self) -> StoreResult<Box<dyn Tx>>;
    /// A handle for reads outside a transaction (each read sees committed data).
    async fn reader(&self) -> StoreResult<Box<dyn StoreRead>>;
    /// Checks the database answers (readiness probes).
    async fn ping(&self) -> StoreResult<()>;
    /// A short name for logs and metrics, e.g. `"sqlite"`.
    fn backend_name(&self) -> &'static str;
}

#[doc(hidden)]
pub mod __private {
    pub use async_trait::async_trait;
}

/// Implements [`StoreRead`] for backend types by delegating every method to a free function
/// of the same name, so that a backend writes each read once and shares it between its reader
/// (outside a transaction) and its unit of work (inside one).
///
/// ```text
/// ottsonly_core::delegate_store_read!(read, |this| &mut *this.conn().await?; SqliteReader, SqliteTx);
/// ```
///
/// What it expects from the backend:
/// - a module in scope at the call (here `read`, one identifier) holding one function per
///   [`StoreRead`] method, with the method's name and its arguments in the trait's order after
///   a leading connection argument, returning a future of the trait method's
///   `StoreResult<..>`: `async fn get_user(c: &mut Conn, id: &UserId) -> StoreResult<Option<User>>`;
/// - a connection expression, written over `this` (the `&mut Self` of the method; name it as
///   you like between the bars), evaluated afresh for every call and passed as that first
///   argument. It may use `.await` and `?` (the error must convert into
///   [`StoreError`](crate::error::StoreError)); temporaries live until the read finished;
/// - the types to implement it for, `Send + Sync` as [`StoreRead`] requires.
///
/// The list of methods below is the only copy outside the trait itself: a method added to
/// [`StoreRead`] is added here once, and every backend that lacks the function fails to build.
#[macro_export]
macro_rules! delegate_store_read {
    ($read:ident, |$this:ident| $conn:expr; $($ty:ty),+ $(,)?) => {$(
        $crate::__delegate_store_read_methods!(
            [$read] [$this] [$conn] $ty;
            get_user(id: &$crate::ids::UserId) -> Option<$crate::model::User>;
            get_user_by_phone(phone: &$crate::phone::PhoneNumber) -> Option<$crate::model::User>;
            list_users(filter: &$crate::model::UserFilter, slice: &$crate::model::Slice)
                -> Vec<$crate::model::User>;
            get_product(id: &$crate::ids::ProductId) -> Option<$crate::model::Product>;
            list_products(include_inactive: bool, slice: &$crate::model::Slice) -> Vec<$crate::model::Product>;
            count_available_credentials(product: &$crate::ids::ProductId) -> u64;
            get_credential(id: &$crate::ids::CredentialId) -> Option<$crate::model::CredentialRecord>;
            get_order(id: &$crate::ids::OrderId) -> Option<$crate::model::Order>;
            get_order_by_idempotency_key(user: &$crate::ids::UserId, key: &str) -> Option<$crate::model::Order>;
            list_orders(filter: &$crate::model::OrderFilter, slice: &$crate::model::Slice)
                -> Vec<$crate::model::Order>;
            get_subscription(id: &$crate::ids::SubscriptionId) -> Option<$crate::model::Subscription>;
            get_subscription_by_order(order: &$crate::ids::OrderId) -> Option<$crate::model::Subscription>;
            list_subscriptions(filter: &$crate::model::SubscriptionFilter, slice: &$crate::model::Slice)
                -> Vec<$crate::model::Subscription>;
            list_subscriptions_ended(now: $crate::model::Timestamp, limit: u32) -> Vec<$crate::model::Subscription>;
            list_subscriptions_to_remind(now: $crate::model::Timestamp, until: $crate::model::Timestamp, limit: u32)
                -> Vec<$crate::model::Subscription>;
            list_ledger(user: &$crate::ids::UserId, slice: &$crate::model::Slice) -> Vec<$crate::model::LedgerEntry>;
            shop_stats(from: $crate::model::Timestamp, to: $crate::model::Timestamp, low_stock_at: i64)
                -> $crate::model::ShopStats;
            get_ledger_entry_by_reference(
                reference_type: $crate::model::ReferenceType,
                reference_id: &str,
                kind: $crate::model::EntryKind
            ) -> Option<$crate::model::LedgerEntry>;
            get_topup(id: &$crate::ids::TopUpId) -> Option<$crate::model::TopUp>;
            get_topup_by_gateway_order(gateway_order_id: &str) -> Option<$crate::model::TopUp>;
            list_open_topups(created_before: $crate::model::Timestamp, slice: &$crate::model::Slice)
                -> Vec<$crate::model::TopUp>;
            list_expired_topups(created_since: $crate::model::Timestamp, slice: &$crate::model::Slice)
                -> Vec<$crate::model::TopUp>;
            count_user_topups(
                user: &$crate::ids::UserId,
                status: Option<$crate::model::TopUpStatus>,
                created_since: $crate::model::Timestamp
            ) -> u64;
            get_otp(phone: &$crate::phone::PhoneNumber) -> Option<$crate::model::OtpRecord>;
            get_refresh_token_by_hash(token_hash: &str) -> Option<$crate::model::RefreshToken>;
            list_notifications(
                recipient: &$crate::model::Recipient,
                unread_only: bool,
                slice: &$crate::model::Slice
            ) -> Vec<$crate::model::NotificationView>;
            count_unread_notifications(recipient: &$crate::model::Recipient) -> u64;
            list_outbox(status: Option<$crate::model::OutboxStatus>, slice: &$crate::model::Slice)
                -> Vec<$crate::model::OutboxItem>;
            list_audit(filter: &$crate::model::AuditFilter, slice: &$crate::model::Slice)
                -> Vec<$crate::model::AuditEntry>;
            get_setting(key: &str) -> Option<String>;
            webhook_event_seen(source: &str, event_id: &str) -> bool;
            get_telegram_link(telegram_user_id: i64) -> Option<$crate::telegram_shop::TelegramLink>;
            get_telegram_link_by_user(user: &$crate::ids::UserId) -> Option<$crate::telegram_shop::TelegramLink>;
            get_bot_lease(name: &str) -> Option<$crate::telegram_shop::BotLease>;
            list_notifications_after(after: Option<&$crate::ids::NotificationId>, limit: u32)
                -> Vec<$crate::model::Notification>;
        );
    )+};
}

/// Implementation detail of [`delegate_store_read!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __delegate_store_read_methods {
    ([$read:ident] [$this:ident] [$conn:expr] $ty:ty;
     $($name:ident($($arg:ident: $t:ty),* $(,)?) -> $ret:ty;)+) => {
        #[$crate::store::__private::async_trait]
        impl $crate::store::StoreRead for $ty {
            $(async fn $name(&mut self, $($arg: $t),*) -> $crate::store::StoreResult<$ret> {
                let $this = self;
                $read::$name($conn, $($arg),*).await
            })+
        }
    };
}
