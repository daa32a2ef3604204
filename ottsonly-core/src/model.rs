//! The records the store keeps. Plain data: rules live in the services.

use crate::ids::*;
use crate::money::Money;
use crate::phone::PhoneNumber;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub type Timestamp = DateTime<Utc>;

/// Declares a fieldless enum stored as a snake_case string, with `as_str` and `parse`.
macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $s:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl crate::record::Field for $name {
            fn read(f: &dyn crate::record::Fields, name: &str) -> crate::StoreResult<Self> {
                crate::record::parsed(f, name, $name::parse)
            }
            fn value(&self) -> crate::StoreResult<crate::record::Value<'_>> {
                Ok(crate::record::Value::text(self.as_str()))
            }
        }
    };
}

string_enum!(/// What a user may do; see the access matrix in ARCHITECTURE.md.
    Role { User => "user", Support => "support", Admin => "admin" });

impl Role {
    pub fn is_staff(self) -> bool {
        matches!(self, Role::Support | Role::Admin)
    }
}

string_enum!(OrderStatus { Completed => "completed", Refunded => "refunded" });

string_enum!(/// A subscription's life: `PendingCredentials` → `Active` → `Expired`, or to `Cancelled` / `Refunded`.
SubscriptionStatus {
    PendingCredentials => "pending_credentials",
    Active => "active",
    Expired => "expired",
    Cancelled => "cancelled",
    Refunded => "refunded",
});

string_enum!(CredentialStatus { Available => "available", Assigned => "assigned" });

string_enum!(EntryKind { Credit => "credit", Debit => "debit" });

string_enum!(/// What a ledger entry is about; with `reference_id` it is unique per kind.
    ReferenceType { Order => "order", Refund => "refund", TopUp => "topup", Adjustment => "adjustment" });

string_enum!(/// Payment intents only move forward: `Created` → `Paid`, or `Created` → `Expired` / `Failed`.
    TopUpStatus { Created => "created", Paid => "paid", Expired => "expired", Failed => "failed" });

string_enum!(NotificationKind {
    OrderConfirmed => "order_confirmed",
    AwaitingCredentials => "awaiting_credentials",
    CredentialsDelivered => "credentials_delivered",
    Refund => "refund",
    WalletCredited => "wallet_credited",
    WalletDebited => "wallet_debited",
    ExpiringSoon => "expiring_soon",
    Expired => "expired",
    Cancelled => "cancelled",
    Broadcast => "broadcast",
});

string_enum!(OutboxStatus { Pending => "pending", Delivered => "delivered", Failed => "failed" });

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub phone: PhoneNumber,
    pub name: Option<String>,
    pub email: Option<String>,
    pub role: Role,
    pub is_blocked: bool,
    /// Bumped to revoke every access and refresh token issued before.
    pub token_version: i64,
    pub wallet_balance: Money,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub id: ProductId,
    pub platform_name: String,
    pub plan_name: String,
    pub description: String,
    pub price: Money,
    pub duration_days: u32,
    pub stock: i64,
    pub is_active: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Product {
    /// "Netflix Premium": the name snapshotted into orders.
    pub fn display_name(&self) -> String {
        format!("{} {}", self.platform_name, self.plan_name)
    }
}

impl User {
    /// A new user with an empty wallet and no profile yet.
    pub fn new(id: UserId, phone: PhoneNumber, role: Role, now: Timestamp) -> Self {
        User {
            id,
            phone,
            name: None,
            email: None,
            role,
            is_blocked: false,
            token_version: 0,
            wallet_balance: Money::ZERO,
            created_at: now,
            updated_at: now,
        }
    }
}

impl Order {
    /// A completed purchase of `product` at its current price, paid `now`.
    pub fn purchase(
        id: OrderId,
        user: &UserId,
        product: &Product,
        idempotency_key: Option<&str>,
        now: Timestamp,
    ) -> Self {
        Order {
            id,
            user_id: user.clone(),
            product_id: product.id.clone(),
            product_name: product.display_name(),
            amount: product.price,
            status: OrderStatus::Completed,
            idempotency_key: idempotency_key.map(str::to_string),
            created_at: now,
            paid_at: now,
            refunded_at: None,
            refund_reason: None,
            refunded_by: None,
            updated_at: now,
        }
    }
}

impl LedgerEntry {
    /// The wallet debit that pays for `order`, leaving `balance_after`.
    pub fn purchase_debit(id: LedgerEntryId, order: &Order, balance_after: Money) -> Self {
        LedgerEntry {
            id,
            user_id: order.user_id.clone(),
            kind: EntryKind::Debit,
            amount: order.amount,
            balance_after,
            reference_type: ReferenceType::Order,
            reference_id: order.id.as_str().into(),
            description: format!("Purchase of {}", order.product_name),
            actor_id: None,
            created_at: order.paid_at,
        }
    }
}

impl Subscription {
    /// What `order` buys: active from `now` with a login when one was claimed, else waiting
    /// for one.
    pub fn for_order(
        id: SubscriptionId,
        order: &Order,
        product: &Product,
        credential: Option<CredentialId>,
        now: Timestamp,
    ) -> Self {
        let (status, start_at, end_at) = match credential {
            Some(_) => (
                SubscriptionStatus::Active,
                Some(now),
                Some(now + chrono::TimeDelta::days(i64::from(product.duration_days))),
            ),
            None => (SubscriptionStatus::PendingCredentials, None, None),
        };
        Subscription {
            id,
            user_id: order.user_id.clone(),
            product_id: product.id.clone(),
            order_id: order.id.clone(),
            platform_name: product.platform_name.clone(),
            plan_name: product.plan_name.clone(),
            duration_days: product.duration_days,
            status,
            start_at,
            end_at,
            credential_id: credential,
            reminded_at: None,
            created_at: now,
            updated_at: now,
        }
    }
}

/// An account credential, sealed with AES-256-GCM; only core's cipher can open `sealed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialRecord {
    pub id: CredentialId,
    /// The pool it belongs to; `None` for one an admin assigned directly to a subscription.
    pub product_id: Option<ProductId>,
    pub sealed: Vec<u8>,
    pub status: CredentialStatus,
    pub subscription_id: Option<SubscriptionId>,
    pub created_at: Timestamp,
    pub assigned_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    pub user_id: UserId,
    pub product_id: ProductId,
    pub product_name: String,
    pub amount: Money,
    pub status: OrderStatus,
    pub idempotency_key: Option<String>,
    pub created_at: Timestamp,
    pub paid_at: Timestamp,
    pub refunded_at: Option<Timestamp>,
    pub refund_reason: Option<String>,
    pub refunded_by: Option<UserId>,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    pub id: SubscriptionId,
    pub user_id: UserId,
    pub product_id: ProductId,
    pub order_id: OrderId,
    pub platform_name: String,
    pub plan_name: String,
    pub duration_days: u32,
    pub status: SubscriptionStatus,
    pub start_at: Option<Timestamp>,
    pub end_at: Option<Timestamp>,
    pub credential_id: Option<CredentialId>,
    pub reminded_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Subscription {
    /// The status as of `now`: an active subscription past its end reads as expired even before
    /// the sweep has written it.
    pub fn effective_status(&self, now: Timestamp) -> SubscriptionStatus {
        match (self.status, self.end_at) {
            (SubscriptionStatus::Active, Some(end)) if end <= now => SubscriptionStatus::Expired,
            (s, _) => s,
        }
    }
}

/// One immutable wallet movement. `balance_after` is the balance right after it was applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub id: LedgerEntryId,
    pub user_id: UserId,
    pub kind: EntryKind,
    pub amount: Money,
    pub balance_after: Money,
    pub reference_type: ReferenceType,
    /// With `reference_type` and `kind`, unique: one debit per order, one refund per order, one
    /// credit per gateway payment, one adjustment per request id.
    pub reference_id: String,
    pub description: String,
    /// The admin who made an adjustment or refund.
    pub actor_id: Option<UserId>,
    pub created_at: Timestamp,
}

impl LedgerEntry {
    /// The signed effect on the balance.
    pub fn signed_paise(&self) -> i64 {
        match self.kind {
            EntryKind::Credit => self.amount.paise(),
            EntryKind::Debit => -self.amount.paise(),
        }
    }
}

/// A wallet top-up: one gateway order the user is asked to pay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopUp {
    pub id: TopUpId,
    pub user_id: UserId,
    pub amount: Money,
    pub currency: String,
    pub gateway_order_id: String,
    pub gateway_payment_id: Option<String>,
    pub status: TopUpStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub paid_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub id: NotificationId,
    pub user_id: UserId,
    pub kind: NotificationKind,
    pub title: String,
    pub message: String,
    pub is_read: bool,
    pub created_at: Timestamp,
}

/// Who a broadcast is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    All,
    Role(Role),
}

impl Audience {
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::All => "all",
            Audience::Role(r) => r.as_str(),
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        if s == "all" { Some(Audience::All) } else { Role::parse(s).map(Audience::Role) }
    }
}

/// A message to many users, stored once; each user's read/delete state is stored only when they
/// act on it, so sending to a million users costs one write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Broadcast {
    pub id: NotificationId,
    pub audience: Audience,
    pub title: String,
    pub message: String,
    pub created_by: UserId,
    pub created_at: Timestamp,
}

/// One entry of a user's notification list: a personal notification or a broadcast.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationView {
    pub id: NotificationId,
    pub kind: NotificationKind,
    pub title: String,
    pub message: String,
    pub is_read: bool,
    pub is_broadcast: bool,
    pub created_at: Timestamp,
}

impl NotificationView {
    /// A personal notification as one entry of the merged list.
    pub fn personal(n: Notification) -> Self {
        let Notification { id, user_id: _, kind, title, message, is_read, created_at } = n;
        NotificationView { id, kind, title, message, is_read, is_broadcast: false, created_at }
    }

    /// A broadcast as one entry of the list of a reader who has (or has not) read it.
    pub fn broadcast(b: Broadcast, is_read: bool) -> Self {
        let Broadcast { id, audience: _, title, message, created_by: _, created_at } = b;
        NotificationView {
            id,
            kind: NotificationKind::Broadcast,
            title,
            message,
            is_read,
            is_broadcast: true,
            created_at,
        }
    }
}

/// Who is reading notifications: broadcasts are matched against role and join date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub user_id: UserId,
    pub role: Role,
    /// Broadcasts sent before the user existed are not theirs.
    pub joined_at: Timestamp,
}

/// The live one-time code of one phone, plus the send counters for its rate limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtpRecord {
    pub phone: PhoneNumber,
    /// HMAC-SHA256(server secret, phone || code), hex. The code itself is never stored.
    pub code_mac: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub attempts: u32,
    pub consumed_at: Option<Timestamp>,
    pub last_sent_at: Timestamp,
    /// Start of the current 24 h send window and the sends in it.
    pub window_start: Timestamp,
    pub sends_in_window: u32,
    /// Codes submitted in the current send window, across resends (the daily guess budget).
    pub guesses_in_window: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub id: RefreshTokenId,
    pub user_id: UserId,
    /// All tokens rotated from one login share a family; reuse of any revokes the family.
    pub family_id: String,
    /// SHA-256 of the token, hex. The token itself is never stored.
    pub token_hash: String,
    pub token_version: i64,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

/// An admin alert waiting for delivery (Telegram), written in the same unit of work as its cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    pub id: OutboxId,
    /// The alert as JSON (see `outbox::AdminAlert`).
    pub payload: String,
    pub status: OutboxStatus,
    pub attempts: u32,
    pub created_at: Timestamp,
    pub due_at: Timestamp,
    pub lease_owner: Option<String>,
    pub lease_until: Option<Timestamp>,
    pub last_error: Option<String>,
    pub delivered_at: Option<Timestamp>,
}

/// Who did what to what, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: AuditId,
    pub actor_id: UserId,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub details: serde_json::Value,
    pub created_at: Timestamp,
}

/// A page of a list, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass back as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Most items one page may hold.
pub const PAGE_LIMIT_MAX: u32 = 200;
pub const PAGE_LIMIT_DEFAULT: u32 = 50;

/// What page of a list to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

impl PageRequest {
    pub fn first(limit: u32) -> Self {
        PageRequest { limit: Some(limit), cursor: None }
    }
}

/// The store-level form of a page request: items with id strictly below `before_id`, newest
/// (largest id) first, at most `limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slice {
    pub before_id: Option<String>,
    pub limit: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFilter {
    /// E.164 prefix, e.g. `+9198`.
    pub phone_prefix: Option<String>,
    pub role: Option<Role>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderFilter {
    pub user_id: Option<UserId>,
    pub status: Option<OrderStatus>,
    /// Placed at or after this instant.
    pub placed_from: Option<Timestamp>,
    /// Placed at or before this instant.
    pub placed_to: Option<Timestamp>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriptionFilter {
    pub user_id: Option<UserId>,
    pub status: Option<SubscriptionStatus>,
    pub product_id: Option<ProductId>,
}

/// Which audit entries to list; every filter present must match (AND).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Who acted.
    pub actor_id: Option<UserId>,
    /// What kind of thing was acted on, e.g. `"order"`, `"user"`, `"product"`.
    pub target_type: Option<String>,
    /// The id of the thing acted on.
    pub target_id: Option<String>,
    /// What was done, e.g. `"order.refund"`, `"user.set_role"`.
    pub action: Option<String>,
}

/// One product's sales in a period (for [`ShopStats::top_products`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductSales {
    pub product_id: ProductId,
    /// The name snapshotted into its latest order in the period.
    pub product_name: String,
    pub orders: u64,
    pub revenue_paise: i64,
}

/// A product that is on sale and running out (for [`ShopStats::low_stock`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLevel {
    pub product_id: ProductId,
    pub name: String,
    pub stock: i64,
}

/// The shop's figures for `[from, to)`: what the admin dashboard (and `GET /admin/stats`) shows.
/// Every figure is a range query or an aggregation in the store, never a scan of every row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopStats {
    pub from: Timestamp,
    pub to: Timestamp,
    /// Orders placed in the period (refunded later or not) and their amount.
    pub orders: u64,
    pub revenue_paise: i64,
    /// Orders refunded in the period and the amount given back.
    pub refunds: u64,
    pub refunded_paise: i64,
    /// Top-ups paid in the period and the amount credited.
    pub topups: u64,
    pub topup_paise: i64,
    /// Users who joined in the period.
    pub new_users: u64,
    /// Up to 5 products with the most orders in the period, most first.
    pub top_products: Vec<ProductSales>,
    /// Active products with stock at or below the threshold asked for, lowest first (at most 20);
    /// not bound to the period.
    pub low_stock: Vec<StockLevel>,
    /// Subscriptions waiting for a login now; not bound to the period.
    pub waiting_for_login: u64,
    /// The admin alert backlog now: alerts still to deliver, and alerts parked after their last
    /// attempt. Not bound to the period.
    pub alerts_pending: u64,
    pub alerts_parked: u64,
}

/// How many products [`ShopStats::top_products`] and [`ShopStats::low_stock`] hold at most.
pub const STATS_TOP_PRODUCTS: u32 = 5;
pub const STATS_LOW_STOCK: u32 = 20;
