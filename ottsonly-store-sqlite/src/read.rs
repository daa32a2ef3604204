//! Every read, written once over a bare connection: the reader runs them on a pool connection,
//! the unit of work on its transaction (so it sees its own writes). Each is one statement.

use crate::map_err;
use crate::row::{FromRow, ms};
use ottsonly_core::ids::*;
use ottsonly_core::model::*;
use ottsonly_core::{PhoneNumber, StoreResult};
use sqlx::sqlite::{SqliteArguments, SqliteConnection};
use sqlx::{AssertSqlSafe, QueryBuilder, Sqlite};

/// The dashboard's figures live in their own file.
pub(crate) use crate::stats::shop_stats;
pub(crate) use crate::telegram::{
    get_bot_lease, get_telegram_link, get_telegram_link_by_user, list_notifications_after,
};

pub(crate) type Query<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments>;

pub(crate) async fn fetch_opt<T: FromRow>(c: &mut SqliteConnection, q: Query<'_>) -> StoreResult<Option<T>> {
    q.fetch_optional(c).await.map_err(map_err)?.map(|r| T::from_row(&r)).transpose()
}

pub(crate) async fn fetch_all<T: FromRow>(c: &mut SqliteConnection, q: Query<'_>) -> StoreResult<Vec<T>> {
    q.fetch_all(c).await.map_err(map_err)?.iter().map(T::from_row).collect()
}

async fn fetch_count(c: &mut SqliteConnection, q: Query<'_>) -> StoreResult<u64> {
    let n: i64 = sqlx::Row::try_get(&q.fetch_one(c).await.map_err(map_err)?, 0).map_err(map_err)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// `SELECT * FROM <table>` plus optional `AND`-ed filters and the newest-first page clause.
pub(crate) struct List {
    qb: QueryBuilder<Sqlite>,
    has_where: bool,
}

impl List {
    fn new(select: &'static str) -> Self {
        List { qb: QueryBuilder::new(select), has_where: false }
    }

    fn cond(&mut self, sql: &'static str) -> &mut QueryBuilder<Sqlite> {
        self.qb.push(if self.has_where { " AND " } else { " WHERE " }).push(sql);
        self.has_where = true;
        &mut self.qb
    }

    /// Adds `sql` followed by a bind of `value` when `value` is present (`sql` ends with `=`).
    fn filter(&mut self, sql: &'static str, value: Option<&str>) -> &mut Self {
        if let Some(v) = value {
            self.cond(sql).push_bind(v);
        }
        self
    }

    fn filter_ms(&mut self, sql: &'static str, value: Option<Timestamp>) -> &mut Self {
        if let Some(v) = value {
            self.cond(sql).push_bind(ms(v));
        }
        self
    }

    async fn page<T: FromRow>(mut self, c: &mut SqliteConnection, slice: &Slice) -> StoreResult<Vec<T>> {
        self.filter("id < ", slice.before_id.as_deref());
        self.qb.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(slice.limit));
        fetch_all(c, self.qb.build()).await
    }
}

/// The broadcasts a recipient can see, with their state row `s` (if any). Binds `?1` user id,
/// `?2` role, `?3` joined_at (ms). A macro so that it can be `concat!`ed into static SQL.
macro_rules! visible_broadcasts {
    () => {
        " FROM broadcasts b LEFT JOIN broadcast_states s ON s.broadcast_id = b.id AND s.user_id = ?1 \
         WHERE b.audience IN ('all', ?2) AND b.created_at >= ?3 AND s.deleted_at IS NULL"
    };
}
pub(crate) use visible_broadcasts;

/// Binds `?1`..`?3` of [`visible_broadcasts`].
pub(crate) fn bind_recipient<'q>(q: Query<'q>, r: &Recipient) -> Query<'q> {
    q.bind(r.user_id.as_str()).bind(r.role.as_str()).bind(ms(r.joined_at))
}

pub(crate) async fn get_user(c: &mut SqliteConnection, id: &UserId) -> StoreResult<Option<User>> {
    fetch_opt(c, sqlx::query("SELECT * FROM users WHERE id = ?").bind(id.as_str())).await
}

pub(crate) async fn get_user_by_phone(
    c: &mut SqliteConnection,
    phone: &PhoneNumber,
) -> StoreResult<Option<User>> {
    fetch_opt(c, sqlx::query("SELECT * FROM users WHERE phone = ?").bind(phone.as_str())).await
}

pub(crate) async fn list_users(
    c: &mut SqliteConnection,
    f: &UserFilter,
    slice: &Slice,
) -> StoreResult<Vec<User>> {
    let mut l = List::new("SELECT * FROM users");
    if let Some(prefix) = f.phone_prefix.as_deref().filter(|p| !p.is_empty()) {
        // A range on the unique phone index rather than LIKE (which would scan): every string
        // starting with `prefix` sorts in [prefix, prefix + U+10FFFF).
        l.cond("phone >= ").push_bind(prefix);
        l.cond("phone < ").push_bind(format!("{prefix}\u{10FFFF}"));
    }
    l.filter("role = ", f.role.map(|r| r.as_str()));
    l.page(c, slice).await
}

pub(crate) async fn get_product(c: &mut SqliteConnection, id: &ProductId) -> StoreResult<Option<Product>> {
    fetch_opt(c, sqlx::query("SELECT * FROM products WHERE id = ?").bind(id.as_str())).await
}

pub(crate) async fn list_products(
    c: &mut SqliteConnection,
    include_inactive: bool,
    slice: &Slice,
) -> StoreResult<Vec<Product>> {
    let mut l = List::new("SELECT * FROM products");
    if !include_inactive {
        l.cond("is_active = 1");
    }
    l.page(c, slice).await
}

pub(crate) async fn count_available_credentials(
    c: &mut SqliteConnection,
    product: &ProductId,
) -> StoreResult<u64> {
    let q = sqlx::query("SELECT COUNT(*) FROM credentials WHERE product_id = ? AND status = 'available'");
    fetch_count(c, q.bind(product.as_str())).await
}

pub(crate) async fn get_credential(
    c: &mut SqliteConnection,
    id: &CredentialId,
) -> StoreResult<Option<CredentialRecord>> {
    fetch_opt(c, sqlx::query("SELECT * FROM credentials WHERE id = ?").bind(id.as_str())).await
}

pub(crate) async fn get_order(c: &mut SqliteConnection, id: &OrderId) -> StoreResult<Option<Order>> {
    fetch_opt(c, sqlx::query("SELECT * FROM orders WHERE id = ?").bind(id.as_str())).await
}

pub(crate) async fn get_order_by_idempotency_key(
    c: &mut SqliteConnection,
    user: &UserId,
    key: &str,
) -> StoreResult<Option<Order>> {
    let q = sqlx::query("SELECT * FROM orders WHERE user_id = ? AND idempotency_key = ?");
    fetch_opt(c, q.bind(user.as_str()).bind(key)).await
}

pub(crate) async fn list_orders(
    c: &mut SqliteConnection,
    f: &OrderFilter,
    slice: &Slice,
) -> StoreResult<Vec<Order>> {
    let mut l = List::new("SELECT * FROM orders");
    l.filter("user_id = ", f.user_id.as_ref().map(|u| u.as_str()))
        .filter("status = ", f.status.map(|s| s.as_str()))
        .filter_ms("created_at >= ", f.placed_from)
        .filter_ms("created_at <= ", f.placed_to);
    l.page(c, slice).await
}

pub(crate) async fn get_subscription(
    c: &mut SqliteConnection,
    id: &SubscriptionId,
) -> StoreResult<Option<Subscription>> {
    fetch_opt(c, sqlx::query("SELECT * FROM subscriptions WHERE id = ?").bind(id.as_str())).await
}

pub(crate) async fn get_subscription_by_order(
    c: &mut SqliteConnection,
    order: &OrderId,
) -> StoreResult<Option<Subscription>> {
    let q = sqlx::query("SELECT * FROM subscriptions WHERE order_id = ?");
    fetch_opt(c, q.bind(order.as_str())).await
}

pub(crate) async fn list_subscriptions(
    c: &mut SqliteConnection,
    f: &SubscriptionFilter,
    slice: &Slice,
) -> StoreResult<Vec<Subscription>> {
    let mut l = List::new("SELECT * FROM subscriptions");
    l.filter("user_id = ", f.user_id.as_ref().map(|u| u.as_str()))
        .filter("status = ", f.status.map(|s| s.as_str()))
        .filter("product_id = ", f.product_id.as_ref().map(|p| p.as_str()));
    l.page(c, slice).await
}

pub(crate) async fn list_subscriptions_ended(
    c: &mut SqliteConnection,
    now: Timestamp,
    limit: u32,
) -> StoreResult<Vec<Subscription>> {
    let q = sqlx::query(
        "SELECT * FROM subscriptions WHERE status = 'active' AND end_at <= ? ORDER BY end_at, id LIMIT ?",
    );
    fetch_all(c, q.bind(ms(now)).bind(i64::from(limit))).await
}

pub(crate) async fn list_subscriptions_to_remind(
    c: &mut SqliteConnection,
    now: Timestamp,
    until: Timestamp,
    limit: u32,
) -> StoreResult<Vec<Subscription>> {
    let q = sqlx::query(
        "SELECT * FROM subscriptions WHERE status = 'active' AND end_at > ? AND end_at <= ? \
         AND reminded_at IS NULL ORDER BY end_at, id LIMIT ?",
    );
    fetch_all(c, q.bind(ms(now)).bind(ms(until)).bind(i64::from(limit))).await
}

pub(crate) async fn list_ledger(
    c: &mut SqliteConnection,
    user: &UserId,
    slice: &Slice,
) -> StoreResult<Vec<LedgerEntry>> {
    let mut l = List::new("SELECT * FROM ledger");
    l.filter("user_id = ", Some(user.as_str()));
    l.page(c, slice).await
}

/// Only for core's testing extension (`StoreTestingExt`): production code never needs it.
#[cfg(feature = "testing")]
pub(crate) async fn ledger_sum(c: &mut SqliteConnection, user: &UserId) -> StoreResult<i64> {
    let q = sqlx::query_scalar(
        "SELECT COALESCE(SUM(CASE kind WHEN 'credit' THEN amount_paise ELSE -amount_paise END), 0) \
         FROM ledger WHERE user_id = ?",
    );
    q.bind(user.as_str()).fetch_one(c).await.map_err(map_err)
}

pub(crate) async fn get_ledger_entry_by_reference(
    c: &mut SqliteConnection,
    reference_type: ReferenceType,
    reference_id: &str,
    kind: EntryKind,
) -> StoreResult<Option<LedgerEntry>> {
    let q = sqlx::query("SELECT * FROM ledger WHERE reference_type = ? AND reference_id = ? AND kind = ?");
    fetch_opt(c, q.bind(reference_type.as_str()).bind(reference_id).bind(kind.as_str())).await
}

pub(crate) async fn get_topup(c: &mut SqliteConnection, id: &TopUpId) -> StoreResult<Option<TopUp>> {
    fetch_opt(c, sqlx::query("SELECT * FROM topups WHERE id = ?").bind(id.as_str())).await
}

pub(crate) async fn get_topup_by_gateway_order(
    c: &mut SqliteConnection,
    gateway_order_id: &str,
) -> StoreResult<Option<TopUp>> {
    let q = sqlx::query("SELECT * FROM topups WHERE gateway_order_id = ?");
    fetch_opt(c, q.bind(gateway_order_id)).await
}

pub(crate) async fn list_open_topups(
    c: &mut SqliteConnection,
    created_before: Timestamp,
    slice: &Slice,
) -> StoreResult<Vec<TopUp>> {
    // Index `topups_status_id`; `created_at` is checked on the rows it walks.
    let mut l = List::new("SELECT * FROM topups");
    l.filter("status = ", Some(TopUpStatus::Created.as_str()));
    l.cond("created_at <= ").push_bind(ms(created_before));
    l.page(c, slice).await
}

pub(crate) async fn list_expired_topups(
    c: &mut SqliteConnection,
    created_since: Timestamp,
    slice: &Slice,
) -> StoreResult<Vec<TopUp>> {
    // Index `topups_status_id`, like the open ones.
    let mut l = List::new("SELECT * FROM topups");
    l.filter("status = ", Some(TopUpStatus::Expired.as_str()));
    l.cond("created_at >= ").push_bind(ms(created_since));
    l.page(c, slice).await
}

pub(crate) async fn count_user_topups(
    c: &mut SqliteConnection,
    user: &UserId,
    status: Option<TopUpStatus>,
    created_since: Timestamp,
) -> StoreResult<u64> {
    // Index `topups_user_created`.
    let q = sqlx::query(
        "SELECT COUNT(*) FROM topups WHERE user_id = ?1 AND created_at >= ?2 AND (?3 IS NULL OR status = ?3)",
    );
    fetch_count(c, q.bind(user.as_str()).bind(ms(created_since)).bind(status.map(|s| s.as_str()))).await
}

pub(crate) async fn get_otp(c: &mut SqliteConnection, phone: &PhoneNumber) -> StoreResult<Option<OtpRecord>> {
    fetch_opt(c, sqlx::query("SELECT * FROM otps WHERE phone = ?").bind(phone.as_str())).await
}

pub(crate) async fn get_refresh_token_by_hash(
    c: &mut SqliteConnection,
    token_hash: &str,
) -> StoreResult<Option<RefreshToken>> {
    let q = sqlx::query("SELECT * FROM refresh_tokens WHERE token_hash = ?");
    fetch_opt(c, q.bind(token_hash)).await
}

pub(crate) async fn list_notifications(
    c: &mut SqliteConnection,
    r: &Recipient,
    unread_only: bool,
    slice: &Slice,
) -> StoreResult<Vec<NotificationView>> {
    // One statement: personal rows UNION ALL visible broadcasts, merged by id (both UUIDv7).
    // Binds: ?1..?3 recipient, ?4 before_id, ?5 limit. Built only from static fragments.
    let mut sql = String::from(
        "SELECT n.id AS id, n.kind AS kind, n.title AS title, n.message AS message, \
         n.is_read AS is_read, 0 AS is_broadcast, n.created_at AS created_at \
         FROM notifications n WHERE n.user_id = ?1",
    );
    if unread_only {
        sql.push_str(" AND n.is_read = 0");
    }
    if slice.before_id.is_some() {
        sql.push_str(" AND n.id < ?4");
    }
    sql.push_str(concat!(
        " UNION ALL SELECT b.id, 'broadcast', b.title, b.message, s.read_at IS NOT NULL, 1, b.created_at",
        visible_broadcasts!()
    ));
    if unread_only {
        sql.push_str(" AND s.read_at IS NULL");
    }
    if slice.before_id.is_some() {
        sql.push_str(" AND b.id < ?4");
    }
    sql.push_str(" ORDER BY id DESC LIMIT ?5");
    let q = bind_recipient(sqlx::query(AssertSqlSafe(sql)), r);
    fetch_all(c, q.bind(slice.before_id.as_deref()).bind(i64::from(slice.limit))).await
}

pub(crate) async fn count_unread_notifications(c: &mut SqliteConnection, r: &Recipient) -> StoreResult<u64> {
    let q = sqlx::query(concat!(
        "SELECT (SELECT COUNT(*) FROM notifications WHERE user_id = ?1 AND is_read = 0) \
         + (SELECT COUNT(*)",
        visible_broadcasts!(),
        " AND s.read_at IS NULL)"
    ));
    fetch_count(c, bind_recipient(q, r)).await
}

pub(crate) async fn list_outbox(
    c: &mut SqliteConnection,
    status: Option<OutboxStatus>,
    slice: &Slice,
) -> StoreResult<Vec<OutboxItem>> {
    let mut l = List::new("SELECT * FROM outbox");
    l.filter("status = ", status.map(|s| s.as_str()));
    l.page(c, slice).await
}

pub(crate) async fn list_audit(
    c: &mut SqliteConnection,
    f: &AuditFilter,
    slice: &Slice,
) -> StoreResult<Vec<AuditEntry>> {
    let mut l = List::new("SELECT * FROM audit_log");
    // Each filter has an index ending in `id` (migrations 0001 and 0003).
    l.filter("actor_id = ", f.actor_id.as_ref().map(|a| a.as_str()))
        .filter("target_type = ", f.target_type.as_deref())
        .filter("target_id = ", f.target_id.as_deref())
        .filter("action = ", f.action.as_deref());
    l.page(c, slice).await
}

pub(crate) async fn get_setting(c: &mut SqliteConnection, key: &str) -> StoreResult<Option<String>> {
    let q = sqlx::query_scalar("SELECT value FROM settings WHERE key = ?");
    q.bind(key).fetch_optional(c).await.map_err(map_err)
}

pub(crate) async fn webhook_event_seen(
    c: &mut SqliteConnection,
    source: &str,
    event_id: &str,
) -> StoreResult<bool> {
    let q = sqlx::query_scalar::<_, i64>("SELECT 1 FROM webhook_events WHERE source = ? AND event_id = ?");
    Ok(q.bind(source).bind(event_id).fetch_optional(c).await.map_err(map_err)?.is_some())
}
