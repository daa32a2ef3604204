//! How each stored record splits into named fields, written once for every backend.
//!
//! A backend implements [`Fields`] over one stored row or document (typed reads of a named
//! value) and takes the `(name, Value)` pairs of [`Record::write`] to build its insert; the
//! mapping of a record to its fields, and the checks on the way back (an unknown enum string, a
//! negative amount), live here. A backend may store a field under another name (the Mongo store
//! keeps the original system's names), but it maps names, never values.

use crate::error::StoreError;
use crate::model::*;
use crate::money::Money;
use crate::phone::PhoneNumber;
use crate::store::StoreResult;
use std::borrow::Cow;

/// A stored value that does not fit its domain type.
pub fn corrupt(name: &str, what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("field {name}: {what}"))
}

/// One value as a backend stores it. Timestamps keep milliseconds (all core keeps).
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Text(Cow<'a, str>),
    Int(i64),
    Bool(bool),
    Bytes(&'a [u8]),
    Time(Timestamp),
}

/// Typed reads of the named values of one stored record. Each read of an absent or null value
/// is `Corrupt`, except [`Fields::is_null`], which asks.
pub trait Fields {
    fn is_null(&self, name: &str) -> StoreResult<bool>;
    fn text(&self, name: &str) -> StoreResult<String>;
    fn int(&self, name: &str) -> StoreResult<i64>;
    fn boolean(&self, name: &str) -> StoreResult<bool>;
    fn bytes(&self, name: &str) -> StoreResult<Vec<u8>>;
    fn time(&self, name: &str) -> StoreResult<Timestamp>;
}

/// A field type: how it reads from a [`Fields`] and what [`Value`] it stores as.
pub trait Field: Sized {
    fn read(f: &dyn Fields, name: &str) -> StoreResult<Self>;
    fn value(&self) -> StoreResult<Value<'_>>;
}

impl<T: Field> Field for Option<T> {
    fn read(f: &dyn Fields, name: &str) -> StoreResult<Self> {
        if f.is_null(name)? { Ok(None) } else { T::read(f, name).map(Some) }
    }
    fn value(&self) -> StoreResult<Value<'_>> {
        self.as_ref().map_or(Ok(Value::Null), T::value)
    }
}

/// Types a backend stores as they are: one typed read, one kind of [`Value`].
macro_rules! plain_fields {
    ($($ty:ty: $read:ident, |$v:ident| $value:expr;)+) => {$(
        impl Field for $ty {
            fn read(f: &dyn Fields, name: &str) -> StoreResult<Self> {
                f.$read(name)
            }
            fn value(&self) -> StoreResult<Value<'_>> {
                let $v = self;
                Ok($value)
            }
        }
    )+};
}

plain_fields! {
    String: text, |s| Value::text(s);
    i64: int, |n| Value::Int(*n);
    bool: boolean, |b| Value::Bool(*b);
    Vec<u8>: bytes, |b| Value::Bytes(b);
    Timestamp: time, |t| Value::Time(*t);
}

/// Types stored as an integer or a text and checked on the way back: a value out of their
/// domain (a negative amount, a malformed phone) is corrupt.
macro_rules! checked_fields {
    ($($(#[$doc:meta])* $ty:ty: $read:ident, |$r:ident| $parse:expr, |$v:ident| $value:expr;)+) => {$(
        $(#[$doc])*
        impl Field for $ty {
            fn read(f: &dyn Fields, name: &str) -> StoreResult<Self> {
                let $r = f.$read(name)?;
                $parse.map_err(|e| corrupt(name, e))
            }
            fn value(&self) -> StoreResult<Value<'_>> {
                let $v = self;
                $value
            }
        }
    )+};
}

checked_fields! {
    u32: int, |n| u32::try_from(n), |v| Ok(Value::Int(i64::from(*v)));
    Money: int, |n| Money::from_paise(n), |v| Ok(Value::Int(v.paise()));
    PhoneNumber: text, |s| PhoneNumber::from_e164(&s), |v| Ok(Value::text(v.as_str()));
    /// Kept as JSON text: an arbitrary JSON value does not survive every backend's own types
    /// (BSON has no integers above `i64::MAX` and forbids some keys), and the audit log must
    /// read back exactly what was written.
    serde_json::Value: text, |s| serde_json::from_str(&s),
        |v| serde_json::to_string(v).map(|s| Value::Text(Cow::Owned(s))).map_err(StoreError::backend);
}

/// A value stored as one of its stable strings (an enum's `as_str`); an unknown one is corrupt.
pub fn parsed<T>(f: &dyn Fields, name: &str, parse: fn(&str) -> Option<T>) -> StoreResult<T> {
    let s = f.text(name)?;
    parse(&s).ok_or_else(|| corrupt(name, format!("unknown value {s:?}")))
}

impl<'a> Value<'a> {
    pub fn text(s: &'a str) -> Self {
        Value::Text(Cow::Borrowed(s))
    }
}

impl Field for Audience {
    fn read(f: &dyn Fields, name: &str) -> StoreResult<Self> {
        parsed(f, name, Audience::parse)
    }
    fn value(&self) -> StoreResult<Value<'_>> {
        Ok(Value::text(self.as_str()))
    }
}

/// A record stored as one row or document of its own table or collection.
pub trait Record: Sized {
    /// The field that identifies the record (a backend may store it as its primary key).
    const KEY: &'static str;
    fn read(f: &dyn Fields) -> StoreResult<Self>;
    /// Every field, in declaration order, as `(stored name, value)`.
    fn fields(&self) -> StoreResult<Fieldset<'_>>;
}

/// The fields a whole-record update of the contract may change (`Tx::update_user`,
/// `update_product`, `update_subscription`); the others are fixed at insert or move only through
/// their own guarded writes (a balance, stock, a refund).
pub const USER_UPDATES: &[&str] = &["name", "email", "role", "is_blocked", "token_version", "updated_at"];
pub const PRODUCT_UPDATES: &[&str] =
    &["platform_name", "plan_name", "description", "price_paise", "duration_days", "is_active", "updated_at"];
pub const SUBSCRIPTION_UPDATES: &[&str] =
    &["status", "start_at", "end_at", "credential_id", "reminded_at", "updated_at"];

/// The named fields of a record, in its order, and the value of its key (for an update).
pub fn some_fields<'r, R: Record>(r: &'r R, names: &[&str]) -> StoreResult<(Fieldset<'r>, Value<'r>)> {
    let mut key = Value::Null;
    let mut picked = Vec::with_capacity(names.len());
    for (name, v) in r.fields()? {
        if name == R::KEY {
            key = v.clone();
        }
        if names.contains(&name) {
            picked.push((name, v));
        }
    }
    Ok((picked, key))
}

/// Named values, as [`Record::fields`] lists them.
pub type Fieldset<'r> = Vec<(&'static str, Value<'r>)>;

/// `Type (key) { field, field: "stored_name", field = default }`: a field's stored name is its
/// own unless given; `= default` reads an absent value as the type's default (a field added later).
macro_rules! records {
    (@name $field:ident) => { stringify!($field) };
    (@name $field:ident $stored:literal) => { $stored };
    (@read $f:ident $name:expr) => { Field::read($f, $name)? };
    (@read $f:ident $name:expr, default) => { Option::<_>::read($f, $name)?.unwrap_or_default() };
    ($($ty:ident ($key:ident) { $($field:ident $(: $stored:literal)? $(= $default:ident)?),+ $(,)? })+) => {$(
        impl Record for $ty {
            const KEY: &'static str = stringify!($key);
            fn read(f: &dyn Fields) -> StoreResult<Self> {
                Ok(Self { $($field: records!(@read f records!(@name $field $($stored)?) $(, $default)?)),+ })
            }
            fn fields(&self) -> StoreResult<Fieldset<'_>> {
                Ok(vec![$((records!(@name $field $($stored)?), self.$field.value()?)),+])
            }
        }
    )+};
}

records! {
    User (id) { id, phone, name, email, role, is_blocked, token_version,
        wallet_balance: "wallet_balance_paise", created_at, updated_at }
    Product (id) { id, platform_name, plan_name, description, price: "price_paise", duration_days, stock,
        is_active, created_at, updated_at }
    CredentialRecord (id) { id, product_id, sealed, status, subscription_id, created_at, assigned_at }
    Order (id) { id, user_id, product_id, product_name, amount: "amount_paise", status, idempotency_key,
        created_at, paid_at, refunded_at, refund_reason, refunded_by, updated_at }
    Subscription (id) { id, user_id, product_id, order_id, platform_name, plan_name, duration_days, status,
        start_at, end_at, credential_id, reminded_at, created_at, updated_at }
    LedgerEntry (id) { id, user_id, kind, amount: "amount_paise", balance_after: "balance_after_paise",
        reference_type, reference_id, description, actor_id, created_at }
    TopUp (id) { id, user_id, amount: "amount_paise", currency, gateway_order_id, gateway_payment_id, status,
        created_at, updated_at, paid_at }
    Notification (id) { id, user_id, kind, title, message, is_read, created_at }
    Broadcast (id) { id, audience, title, message, created_by, created_at }
    // The guess budget came after the first codes were stored: none counted yet.
    OtpRecord (phone) { phone, code_mac, created_at, expires_at, attempts, consumed_at, last_sent_at,
        window_start, sends_in_window, guesses_in_window = default }
    RefreshToken (id) { id, user_id, family_id, token_hash, token_version, created_at, expires_at, used_at,
        revoked_at }
    OutboxItem (id) { id, payload, status, attempts, created_at, due_at, lease_owner, lease_until,
        last_error, delivered_at }
    // Not stored as such: the rows of a merged notification list, for a backend that reads it so.
    NotificationView (id) { id, kind, title, message, is_read, is_broadcast, created_at }
    AuditEntry (id) { id, actor_id, action, target_type, target_id, details, created_at }
}
