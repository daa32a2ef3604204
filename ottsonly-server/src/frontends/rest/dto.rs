//! Request and response bodies: server types converted from and to core's, so the wire format
//! is decided here (amounts as integer `*_paise`, ids as strings, times as RFC 3339 UTC).

use crate::frontends::rest::error::ApiError;
use chrono::{DateTime, SecondsFormat, Utc};
use ottsonly_core::crypto::Credentials;
use ottsonly_core::model as m;
use ottsonly_core::outbox::Outbox;
use ottsonly_core::{Error as CoreError, Money};
use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use poem_openapi::{Enum, Object};
use serde_json::Value;
use std::borrow::Cow;

// ---------- primitives ----------

/// A point in time, written as RFC 3339 in UTC with millisecond precision
/// (`2030-01-01T00:00:00.000Z`), the precision every store keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcTime(pub DateTime<Utc>);

impl Type for UtcTime {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string_date-time".into()
    }
    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", "date-time")))
    }
    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }
    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for UtcTime {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(s) => DateTime::parse_from_rfc3339(&s)
                .map(|t| UtcTime(t.with_timezone(&Utc)))
                .map_err(|e| ParseError::custom(e.to_string())),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl ToJSON for UtcTime {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.to_rfc3339_opts(SecondsFormat::Millis, true)))
    }
}

/// A string in a request body: only a JSON string is one (poem-openapi's `String` would also
/// take `false` or `12` and read them as text, which the document does not allow).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Text(pub String);

impl std::ops::Deref for Text {
    type Target = String;
    fn deref(&self) -> &String {
        &self.0
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<Text> for String {
    fn from(t: Text) -> String {
        t.0
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text(s)
    }
}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.0, f)
    }
}

impl Type for Text {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string".into()
    }
    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new("string")))
    }
    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }
    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl ParseFromJSON for Text {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(s) => Ok(Text(s)),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl ToJSON for Text {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

fn t(ts: m::Timestamp) -> UtcTime {
    UtcTime(ts)
}

/// A non-negative amount from a request, or a 400 naming the field.
pub fn money(field: &'static str, paise: i64) -> Result<Money, ApiError> {
    Money::from_paise(paise).map_err(|_| CoreError::validation(field, "must be zero or more paise").into())
}

/// Declares a string enum mirrored from a core enum, with conversions both ways.
macro_rules! mirror_enum {
    ($(#[$doc:meta])* $name:ident = $core:ty, $oai_name:literal { $($v:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
        #[oai(rename = $oai_name, rename_all = "snake_case")]
        pub enum $name { $($v),+ }

        impl From<$core> for $name {
            fn from(v: $core) -> Self {
                match v { $(<$core>::$v => $name::$v),+ }
            }
        }
        impl From<$name> for $core {
            fn from(v: $name) -> Self {
                match v { $($name::$v => <$core>::$v),+ }
            }
        }
    };
}

mirror_enum!(Role = m::Role, "Role" { User, Support, Admin });
mirror_enum!(OrderStatus = m::OrderStatus, "OrderStatus" { Completed, Refunded });
mirror_enum!(SubscriptionStatus = m::SubscriptionStatus, "SubscriptionStatus" {
    PendingCredentials, Active, Expired, Cancelled, Refunded
});
mirror_enum!(EntryKind = m::EntryKind, "EntryKind" { Credit, Debit });

/// What a ledger entry is about (with `reference_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "ReferenceType", rename_all = "snake_case")]
pub enum ReferenceType {
    Order,
    Refund,
    /// A wallet top-up; written `topup` like everywhere else in the system.
    #[oai(rename = "topup")]
    TopUp,
    Adjustment,
}

impl From<m::ReferenceType> for ReferenceType {
    fn from(r: m::ReferenceType) -> Self {
        match r {
            m::ReferenceType::Order => ReferenceType::Order,
            m::ReferenceType::Refund => ReferenceType::Refund,
            m::ReferenceType::TopUp => ReferenceType::TopUp,
            m::ReferenceType::Adjustment => ReferenceType::Adjustment,
        }
    }
}
mirror_enum!(NotificationKind = m::NotificationKind, "NotificationKind" {
    OrderConfirmed, AwaitingCredentials, CredentialsDelivered, Refund, WalletCredited, WalletDebited,
    ExpiringSoon, Expired, Cancelled, Broadcast
});
mirror_enum!(OutboxStatus = m::OutboxStatus, "OutboxStatus" { Pending, Delivered, Failed });

/// Who a broadcast goes to: everyone, or every user of one role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "Audience", rename_all = "snake_case")]
pub enum Audience {
    All,
    User,
    Support,
    Admin,
}

impl From<Audience> for m::Audience {
    fn from(a: Audience) -> Self {
        match a {
            Audience::All => m::Audience::All,
            Audience::User => m::Audience::Role(m::Role::User),
            Audience::Support => m::Audience::Role(m::Role::Support),
            Audience::Admin => m::Audience::Role(m::Role::Admin),
        }
    }
}

impl From<m::Audience> for Audience {
    fn from(a: m::Audience) -> Self {
        match a {
            m::Audience::All => Audience::All,
            m::Audience::Role(m::Role::User) => Audience::User,
            m::Audience::Role(m::Role::Support) => Audience::Support,
            m::Audience::Role(m::Role::Admin) => Audience::Admin,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "Direction", rename_all = "snake_case")]
pub enum Direction {
    Credit,
    Debit,
}

impl From<Direction> for ottsonly_core::wallet::Direction {
    fn from(d: Direction) -> Self {
        match d {
            Direction::Credit => ottsonly_core::wallet::Direction::Credit,
            Direction::Debit => ottsonly_core::wallet::Direction::Debit,
        }
    }
}

/// Declares a page of items: `{ "items": [...], "next_cursor": "..." | null }`.
macro_rules! page_type {
    ($name:ident, $oai_name:literal, $item:ty, $core:ty) => {
        #[derive(Debug, Clone, Object)]
        #[oai(rename = $oai_name)]
        pub struct $name {
            pub items: Vec<$item>,
            /// Pass as `cursor` to get the next page; `null` on the last page.
            #[oai(nullable)]
            pub next_cursor: Option<String>,
        }

        impl From<m::Page<$core>> for $name {
            fn from(p: m::Page<$core>) -> Self {
                $name { items: p.items.into_iter().map(Into::into).collect(), next_cursor: p.next_cursor }
            }
        }
    };
}

// ---------- auth ----------

#[derive(Debug, Clone, Object)]
#[oai(rename = "LoginRequest", deny_unknown_fields)]
pub struct LoginRequest {
    /// Mobile number; `+91` is assumed when no country code is given.
    pub phone: Text,
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "OtpChallenge")]
pub struct OtpChallenge {
    /// How long the code stays valid.
    pub expires_in_s: u64,
    /// How long before another code may be requested.
    pub resend_after_s: u64,
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "VerifyRequest", deny_unknown_fields)]
pub struct VerifyRequest {
    pub phone: Text,
    /// The one-time code sent by SMS.
    pub otp: Text,
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "RefreshRequest", deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: Text,
}

/// A logged-in session.
#[derive(Clone, Object)]
#[oai(rename = "Session")]
pub struct Session {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Lifetime of the access token.
    pub expires_in_s: u64,
    /// Single use: exchange it at `/auth/refresh` for a new pair.
    pub refresh_token: String,
    pub refresh_expires_in_s: u64,
    pub user: User,
}

impl From<ottsonly_core::auth::Session> for Session {
    fn from(s: ottsonly_core::auth::Session) -> Self {
        Session {
            access_token: s.access_token,
            token_type: "Bearer".into(),
            expires_in_s: s.access_expires_in.as_secs(),
            refresh_token: s.refresh_token,
            refresh_expires_in_s: s.refresh_expires_in.as_secs(),
            user: s.user.into(),
        }
    }
}

// ---------- users ----------

#[derive(Debug, Clone, Object)]
#[oai(rename = "User")]
pub struct User {
    pub id: String,
    /// E.164, e.g. `+919876543210`.
    pub phone: String,
    #[oai(nullable)]
    pub name: Option<String>,
    #[oai(nullable)]
    pub email: Option<String>,
    pub role: Role,
    pub is_blocked: bool,
    /// Absent when support staff look at a user: the role matrix gives support no wallet.
    #[oai(skip_serializing_if_is_none)]
    pub wallet_balance_paise: Option<i64>,
    pub created_at: UtcTime,
    pub updated_at: UtcTime,
}

impl User {
    /// A user as a staff member sees them: the balance only for roles that administer wallets.
    pub fn for_staff(u: m::User, viewer: &ottsonly_core::Actor) -> Self {
        let mut out = User::from(u);
        if !ottsonly_core::Action::WalletAdmin.allowed(viewer.role) {
            out.wallet_balance_paise = None;
        }
        out
    }
}

impl From<m::User> for User {
    fn from(u: m::User) -> Self {
        User {
            id: u.id.to_string(),
            phone: u.phone.to_string(),
            name: u.name,
            email: u.email,
            role: u.role.into(),
            is_blocked: u.is_blocked,
            wallet_balance_paise: Some(u.wallet_balance.paise()),
            created_at: t(u.created_at),
            updated_at: t(u.updated_at),
        }
    }
}

page_type!(UserPage, "UserPage", User, m::User);

/// A profile change: an absent field (or `null`) stays as it is; an empty (or all-blank) string
/// clears it.
#[derive(Debug, Clone, Object)]
#[oai(rename = "ProfilePatch", deny_unknown_fields)]
pub struct ProfilePatch {
    /// Up to 100 characters, no control characters.
    #[oai(nullable, validator(max_length = 100, pattern = r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*$"))]
    pub name: Option<Text>,
    /// An email address (`local@domain.tld`), at most 254 characters.
    #[oai(nullable, validator(max_length = 254))]
    pub email: Option<Text>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "RoleRequest", deny_unknown_fields)]
pub struct RoleRequest {
    pub role: Role,
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "ReasonRequest", deny_unknown_fields)]
pub struct ReasonRequest {
    #[oai(nullable, validator(max_length = 500, pattern = r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*$"))]
    pub reason: Option<Text>,
}

// ---------- catalog ----------

#[derive(Debug, Clone, Object)]
#[oai(rename = "Product")]
pub struct Product {
    pub id: String,
    pub platform_name: String,
    pub plan_name: String,
    pub description: String,
    pub price_paise: i64,
    pub duration_days: u32,
    pub stock: i64,
    pub is_active: bool,
    pub created_at: UtcTime,
    pub updated_at: UtcTime,
}

impl From<m::Product> for Product {
    fn from(p: m::Product) -> Self {
        Product {
            id: p.id.to_string(),
            platform_name: p.platform_name,
            plan_name: p.plan_name,
            description: p.description,
            price_paise: p.price.paise(),
            duration_days: p.duration_days,
            stock: p.stock,
            is_active: p.is_active,
            created_at: t(p.created_at),
            updated_at: t(p.updated_at),
        }
    }
}

page_type!(ProductPage, "ProductPage", Product, m::Product);

#[derive(Debug, Clone, Object)]
#[oai(rename = "NewProduct", deny_unknown_fields)]
pub struct NewProduct {
    #[oai(validator(
        max_length = 100,
        pattern = r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x08\x0B-\x1F\x7F-\x9F]*$"
    ))]
    pub platform_name: Text,
    #[oai(validator(
        max_length = 100,
        pattern = r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x08\x0B-\x1F\x7F-\x9F]*$"
    ))]
    pub plan_name: Text,
    #[oai(default, nullable, validator(max_length = 2000, pattern = r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*$"))]
    pub description: Text,
    #[oai(validator(minimum(value = "1"), maximum(value = "100000000")))]
    pub price_paise: i64,
    #[oai(validator(minimum(value = "1"), maximum(value = "3650")))]
    pub duration_days: u32,
    /// Units sellable without a credential pool (an admin assigns the login later). Default 0.
    #[oai(default, nullable, validator(minimum(value = "0"), maximum(value = "10000000")))]
    pub stock: i64,
    #[oai(default = "default_true", nullable)]
    pub is_active: bool,
}

fn default_true() -> bool {
    true
}

impl NewProduct {
    pub fn into_core(self) -> Result<ottsonly_core::catalog::NewProduct, ApiError> {
        Ok(ottsonly_core::catalog::NewProduct {
            platform_name: self.platform_name.into(),
            plan_name: self.plan_name.into(),
            description: self.description.into(),
            price: money("price_paise", self.price_paise)?,
            duration_days: self.duration_days,
            stock: self.stock,
            is_active: self.is_active,
        })
    }
}

/// A product change; absent fields stay as they are. Stock moves through `/stock`.
#[derive(Debug, Clone, Object)]
#[oai(rename = "ProductPatch", deny_unknown_fields)]
pub struct ProductPatch {
    #[oai(
        nullable,
        validator(
            max_length = 100,
            pattern = r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x08\x0B-\x1F\x7F-\x9F]*$"
        )
    )]
    pub platform_name: Option<Text>,
    #[oai(
        nullable,
        validator(
            max_length = 100,
            pattern = r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x08\x0B-\x1F\x7F-\x9F]*$"
        )
    )]
    pub plan_name: Option<Text>,
    #[oai(nullable, validator(max_length = 2000, pattern = r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*$"))]
    pub description: Option<Text>,
    #[oai(nullable, validator(minimum(value = "1"), maximum(value = "100000000")))]
    pub price_paise: Option<i64>,
    #[oai(nullable, validator(minimum(value = "1"), maximum(value = "3650")))]
    pub duration_days: Option<u32>,
    #[oai(nullable)]
    pub is_active: Option<bool>,
}

impl ProductPatch {
    pub fn into_core(self) -> Result<ottsonly_core::catalog::ProductPatch, ApiError> {
        Ok(ottsonly_core::catalog::ProductPatch {
            platform_name: self.platform_name.map(String::from),
            plan_name: self.plan_name.map(String::from),
            description: self.description.map(String::from),
            price: self.price_paise.map(|p| money("price_paise", p)).transpose()?,
            duration_days: self.duration_days,
            is_active: self.is_active,
        })
    }
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "StockRequest", deny_unknown_fields)]
pub struct StockRequest {
    /// Units to add (positive) or remove (negative); stock never goes below zero nor above
    /// 10,000,000. Zero changes nothing.
    #[oai(validator(minimum(value = "-1000000"), maximum(value = "1000000")))]
    pub delta: i64,
    #[oai(nullable, validator(max_length = 500, pattern = r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*$"))]
    pub reason: Option<Text>,
}

/// An account login. Shown only to the subscription's owner and admins.
#[derive(Clone, Object)]
#[oai(rename = "Credentials", deny_unknown_fields)]
pub struct CredentialsBody {
    #[oai(validator(
        max_length = 256,
        pattern = r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x08\x0B-\x1F\x7F-\x9F]*$"
    ))]
    pub username: Text,
    #[oai(validator(
        max_length = 256,
        pattern = r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x08\x0B-\x1F\x7F-\x9F]*$"
    ))]
    pub password: Text,
    #[oai(nullable, validator(max_length = 100, pattern = r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*$"))]
    pub profile: Option<Text>,
    #[oai(nullable, validator(max_length = 32, pattern = r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*$"))]
    pub pin: Option<Text>,
    #[oai(nullable, validator(max_length = 1000, pattern = r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*$"))]
    pub notes: Option<Text>,
}

impl std::fmt::Debug for CredentialsBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).finish_non_exhaustive()
    }
}

impl From<CredentialsBody> for Credentials {
    fn from(c: CredentialsBody) -> Self {
        Credentials {
            username: c.username.into(),
            password: c.password.into(),
            profile: c.profile.map(String::from),
            pin: c.pin.map(String::from),
            notes: c.notes.map(String::from),
        }
    }
}

impl From<Credentials> for CredentialsBody {
    fn from(c: Credentials) -> Self {
        CredentialsBody {
            username: c.username.into(),
            password: c.password.into(),
            profile: c.profile.map(Text),
            pin: c.pin.map(Text),
            notes: c.notes.map(Text),
        }
    }
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "CredentialImport", deny_unknown_fields)]
pub struct CredentialImport {
    /// 1 to 1000 logins; each adds one unit of stock. All or nothing.
    #[oai(validator(min_items = 1, max_items = 1000))]
    pub credentials: Vec<CredentialsBody>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "CredentialImportResult")]
pub struct CredentialImportResult {
    pub imported: u64,
    pub product: Product,
}

// ---------- orders and subscriptions ----------

#[derive(Debug, Clone, Object)]
#[oai(rename = "NewOrder", deny_unknown_fields)]
pub struct NewOrder {
    pub product_id: Text,
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "Order")]
pub struct Order {
    pub id: String,
    pub user_id: String,
    pub product_id: String,
    /// The product's name when bought.
    pub product_name: String,
    pub amount_paise: i64,
    pub status: OrderStatus,
    #[oai(nullable)]
    pub idempotency_key: Option<String>,
    pub created_at: UtcTime,
    pub paid_at: UtcTime,
    #[oai(nullable)]
    pub refunded_at: Option<UtcTime>,
    #[oai(nullable)]
    pub refund_reason: Option<String>,
    #[oai(nullable)]
    pub refunded_by: Option<String>,
    pub updated_at: UtcTime,
}

impl From<m::Order> for Order {
    fn from(o: m::Order) -> Self {
        Order {
            id: o.id.to_string(),
            user_id: o.user_id.to_string(),
            product_id: o.product_id.to_string(),
            product_name: o.product_name,
            amount_paise: o.amount.paise(),
            status: o.status.into(),
            idempotency_key: o.idempotency_key,
            created_at: t(o.created_at),
            paid_at: t(o.paid_at),
            refunded_at: o.refunded_at.map(t),
            refund_reason: o.refund_reason,
            refunded_by: o.refunded_by.map(|u| u.to_string()),
            updated_at: t(o.updated_at),
        }
    }
}

page_type!(OrderPage, "OrderPage", Order, m::Order);

#[derive(Debug, Clone, Object)]
#[oai(rename = "Subscription")]
pub struct Subscription {
    pub id: String,
    pub user_id: String,
    pub product_id: String,
    pub order_id: String,
    pub platform_name: String,
    pub plan_name: String,
    pub duration_days: u32,
    /// As of now: an active subscription past its end reads `expired`.
    pub status: SubscriptionStatus,
    #[oai(nullable)]
    pub start_at: Option<UtcTime>,
    #[oai(nullable)]
    pub end_at: Option<UtcTime>,
    pub created_at: UtcTime,
    pub updated_at: UtcTime,
    /// The login, only on single reads, only for the owner and admins, once assigned.
    #[oai(nullable)]
    pub credentials: Option<CredentialsBody>,
}

impl From<m::Subscription> for Subscription {
    fn from(s: m::Subscription) -> Self {
        Subscription {
            id: s.id.to_string(),
            user_id: s.user_id.to_string(),
            product_id: s.product_id.to_string(),
            order_id: s.order_id.to_string(),
            platform_name: s.platform_name,
            plan_name: s.plan_name,
            duration_days: s.duration_days,
            status: s.status.into(),
            start_at: s.start_at.map(t),
            end_at: s.end_at.map(t),
            created_at: t(s.created_at),
            updated_at: t(s.updated_at),
            credentials: None,
        }
    }
}

impl From<ottsonly_core::subscriptions::SubscriptionView> for Subscription {
    fn from(v: ottsonly_core::subscriptions::SubscriptionView) -> Self {
        Subscription { credentials: v.credentials.map(Into::into), ..v.subscription.into() }
    }
}

page_type!(SubscriptionPage, "SubscriptionPage", Subscription, m::Subscription);

#[derive(Debug, Clone, Object)]
#[oai(rename = "Purchase")]
pub struct Purchase {
    pub order: Order,
    pub subscription: Subscription,
}

impl From<ottsonly_core::orders::Purchase> for Purchase {
    fn from(p: ottsonly_core::orders::Purchase) -> Self {
        Purchase { order: p.order.into(), subscription: p.subscription.into() }
    }
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "RefundRequest", deny_unknown_fields)]
pub struct RefundRequest {
    #[oai(validator(
        max_length = 500,
        pattern = r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x08\x0B-\x1F\x7F-\x9F]*$"
    ))]
    pub reason: Text,
    /// Put the unit back on sale (default false).
    #[oai(default, nullable)]
    pub restock: bool,
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "Refund")]
pub struct Refund {
    pub order: Order,
    #[oai(nullable)]
    pub subscription: Option<Subscription>,
    /// The buyer's balance after the refund.
    pub balance_paise: i64,
}

impl From<ottsonly_core::orders::Refund> for Refund {
    fn from(r: ottsonly_core::orders::Refund) -> Self {
        Refund {
            order: r.order.into(),
            subscription: r.subscription.map(Into::into),
            balance_paise: r.balance.paise(),
        }
    }
}

// ---------- wallet ----------

#[derive(Debug, Clone, Object)]
#[oai(rename = "Balance")]
pub struct Balance {
    pub balance_paise: i64,
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "LedgerEntry")]
pub struct LedgerEntry {
    pub id: String,
    pub user_id: String,
    pub kind: EntryKind,
    pub amount_paise: i64,
    pub balance_after_paise: i64,
    pub reference_type: ReferenceType,
    pub reference_id: String,
    pub description: String,
    /// The admin who made an adjustment or refund.
    #[oai(nullable)]
    pub actor_id: Option<String>,
    pub created_at: UtcTime,
}

impl From<m::LedgerEntry> for LedgerEntry {
    fn from(e: m::LedgerEntry) -> Self {
        LedgerEntry {
            id: e.id.to_string(),
            user_id: e.user_id.to_string(),
            kind: e.kind.into(),
            amount_paise: e.amount.paise(),
            balance_after_paise: e.balance_after.paise(),
            reference_type: e.reference_type.into(),
            reference_id: e.reference_id,
            description: e.description,
            actor_id: e.actor_id.map(|a| a.to_string()),
            created_at: t(e.created_at),
        }
    }
}

page_type!(LedgerPage, "LedgerPage", LedgerEntry, m::LedgerEntry);

#[derive(Debug, Clone, Object)]
#[oai(rename = "AddMoneyRequest", deny_unknown_fields)]
pub struct AddMoneyRequest {
    pub amount_paise: i64,
}

/// What the checkout page needs to collect the payment.
#[derive(Debug, Clone, Object)]
#[oai(rename = "TopUpIntent")]
pub struct TopUpIntent {
    pub topup_id: String,
    /// The gateway's order id, passed to the checkout.
    pub order_id: String,
    pub amount_paise: i64,
    pub currency: String,
    /// The gateway's public key id.
    pub key_id: String,
    /// A page of this server that collects the payment without a bearer token (a signed link
    /// bound to this top-up and its user, expiring after two hours), for clients that do not
    /// embed the gateway's checkout themselves.
    pub checkout_url: String,
}

impl TopUpIntent {
    pub fn new(i: ottsonly_core::wallet::TopUpIntent, public_url: &str) -> Self {
        let checkout_url = crate::common::links::checkout_url(public_url, &i.topup.id, &i.checkout_token);
        TopUpIntent {
            topup_id: i.topup.id.to_string(),
            order_id: i.topup.gateway_order_id,
            amount_paise: i.topup.amount.paise(),
            currency: i.topup.currency,
            key_id: i.key_id,
            checkout_url,
        }
    }
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "VerifyPaymentRequest", deny_unknown_fields)]
pub struct VerifyPaymentRequest {
    pub razorpay_order_id: Text,
    pub razorpay_payment_id: Text,
    pub razorpay_signature: Text,
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "TopUpCredit")]
pub struct TopUpCredit {
    pub credited_paise: i64,
    pub balance_paise: i64,
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "AdjustRequest", deny_unknown_fields)]
pub struct AdjustRequest {
    pub user_id: Text,
    pub amount_paise: i64,
    pub direction: Direction,
    #[oai(validator(
        max_length = 500,
        pattern = r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x08\x0B-\x1F\x7F-\x9F]*$"
    ))]
    pub reason: Text,
    /// Makes a retried adjustment apply once: 1 to 128 visible ASCII characters.
    #[oai(nullable, validator(pattern = r"^[!-~]{1,128}$"))]
    pub request_id: Option<Text>,
}

// ---------- notifications ----------

#[derive(Debug, Clone, Object)]
#[oai(rename = "Notification")]
pub struct Notification {
    pub id: String,
    pub kind: NotificationKind,
    pub title: String,
    pub message: String,
    pub is_read: bool,
    /// Sent to many users at once.
    pub is_broadcast: bool,
    pub created_at: UtcTime,
}

impl From<m::NotificationView> for Notification {
    fn from(n: m::NotificationView) -> Self {
        Notification {
            id: n.id.to_string(),
            kind: n.kind.into(),
            title: n.title,
            message: n.message,
            is_read: n.is_read,
            is_broadcast: n.is_broadcast,
            created_at: t(n.created_at),
        }
    }
}

page_type!(NotificationPage, "NotificationPage", Notification, m::NotificationView);

#[derive(Debug, Clone, Object)]
#[oai(rename = "UnreadCount")]
pub struct UnreadCount {
    pub unread: u64,
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "MarkedRead")]
pub struct MarkedRead {
    pub marked: u64,
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "BroadcastRequest", deny_unknown_fields)]
pub struct BroadcastRequest {
    #[oai(validator(
        max_length = 200,
        pattern = r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x08\x0B-\x1F\x7F-\x9F]*$"
    ))]
    pub title: Text,
    #[oai(validator(
        max_length = 4000,
        pattern = r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x08\x0B-\x1F\x7F-\x9F]*$"
    ))]
    pub message: Text,
    pub audience: Audience,
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "Broadcast")]
pub struct Broadcast {
    pub id: String,
    pub audience: Audience,
    pub title: String,
    pub message: String,
    pub created_by: String,
    pub created_at: UtcTime,
}

impl From<m::Broadcast> for Broadcast {
    fn from(b: m::Broadcast) -> Self {
        Broadcast {
            id: b.id.to_string(),
            audience: b.audience.into(),
            title: b.title,
            message: b.message,
            created_by: b.created_by.to_string(),
            created_at: t(b.created_at),
        }
    }
}

// ---------- admin ----------

#[derive(Debug, Clone, Object)]
#[oai(rename = "OutboxItem")]
pub struct OutboxItem {
    pub id: String,
    pub status: OutboxStatus,
    pub attempts: u32,
    /// The alert as plain text, as it is sent.
    #[oai(nullable)]
    pub text: Option<String>,
    /// The alert as structured data.
    #[oai(nullable)]
    pub alert: Option<Value>,
    #[oai(nullable)]
    pub last_error: Option<String>,
    pub created_at: UtcTime,
    pub due_at: UtcTime,
    #[oai(nullable)]
    pub delivered_at: Option<UtcTime>,
}

impl From<m::OutboxItem> for OutboxItem {
    fn from(i: m::OutboxItem) -> Self {
        let alert = Outbox::decode(&i).ok();
        OutboxItem {
            id: i.id.to_string(),
            status: i.status.into(),
            attempts: i.attempts,
            text: alert.as_ref().map(|a| a.text()),
            alert: serde_json::from_str(&i.payload).ok(),
            last_error: i.last_error,
            created_at: t(i.created_at),
            due_at: t(i.due_at),
            delivered_at: i.delivered_at.map(t),
        }
    }
}

page_type!(OutboxPage, "OutboxPage", OutboxItem, m::OutboxItem);

/// One audited action (an admin's, or the operator's from the CLI).
#[derive(Debug, Clone, Object)]
#[oai(rename = "AuditEntry")]
pub struct AuditEntry {
    pub id: String,
    /// Who acted: a user id, or `system` for the operator's command line.
    pub actor_id: String,
    /// What was done, e.g. `order.refund`, `wallet.adjust`, `user.set_role`.
    pub action: String,
    /// What it was done to: `user`, `product`, `order`, `subscription`, `broadcast`, `topup`.
    pub target_type: String,
    pub target_id: String,
    /// The action's details (amounts, reasons, before and after).
    pub details: Value,
    pub created_at: UtcTime,
}

impl From<m::AuditEntry> for AuditEntry {
    fn from(e: m::AuditEntry) -> Self {
        AuditEntry {
            id: e.id.to_string(),
            actor_id: e.actor_id.to_string(),
            action: e.action,
            target_type: e.target_type,
            target_id: e.target_id,
            details: e.details,
            created_at: t(e.created_at),
        }
    }
}

page_type!(AuditPage, "AuditPage", AuditEntry, m::AuditEntry);

// ---------- operations ----------

#[derive(Debug, Clone, Object)]
#[oai(rename = "Health")]
pub struct Health {
    /// `ok` or `ready`.
    pub status: String,
}
