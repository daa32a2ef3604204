//! Decoding rows into records. Every stored value is checked on the way out: a value that does
//! not fit its domain type (an unknown enum string, a negative amount) is `StoreError::Corrupt`.

use chrono::DateTime;
use ottsonly_core::model::*;
use ottsonly_core::{Money, PhoneNumber, StoreError, StoreResult};
use sqlx::sqlite::SqliteRow;
use sqlx::{Decode, Row as _, Sqlite, Type};

/// Timestamps are stored as unix milliseconds.
pub(crate) fn ms(t: Timestamp) -> i64 {
    t.timestamp_millis()
}

/// A record that can be read from a `SELECT *` / `RETURNING *` row of its table.
pub(crate) trait FromRow: Sized {
    fn from_row(row: &SqliteRow) -> StoreResult<Self>;
}

/// Typed column access that reports failures as `Corrupt` with the column name.
struct Cols<'r>(&'r SqliteRow);

fn corrupt(col: &str, what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("column {col}: {what}"))
}

impl<'r> Cols<'r> {
    fn get<T: Decode<'r, Sqlite> + Type<Sqlite>>(&self, col: &str) -> StoreResult<T> {
        self.0.try_get(col).map_err(|e| corrupt(col, e))
    }

    fn string(&self, col: &str) -> StoreResult<String> {
        self.get(col)
    }

    fn opt_string(&self, col: &str) -> StoreResult<Option<String>> {
        self.get(col)
    }

    fn ts(&self, col: &str) -> StoreResult<Timestamp> {
        let v: i64 = self.get(col)?;
        DateTime::from_timestamp_millis(v).ok_or_else(|| corrupt(col, format!("timestamp {v} out of range")))
    }

    fn opt_ts(&self, col: &str) -> StoreResult<Option<Timestamp>> {
        match self.get::<Option<i64>>(col)? {
            None => Ok(None),
            Some(v) => DateTime::from_timestamp_millis(v)
                .map(Some)
                .ok_or_else(|| corrupt(col, format!("timestamp {v} out of range"))),
        }
    }

    fn money(&self, col: &str) -> StoreResult<Money> {
        Money::from_paise(self.get(col)?).map_err(|e| corrupt(col, e))
    }

    fn u32(&self, col: &str) -> StoreResult<u32> {
        let v: i64 = self.get(col)?;
        u32::try_from(v).map_err(|e| corrupt(col, e))
    }

    fn enumeration<E>(&self, col: &str, parse: fn(&str) -> Option<E>) -> StoreResult<E> {
        let s: String = self.get(col)?;
        parse(&s).ok_or_else(|| corrupt(col, format!("unknown value {s:?}")))
    }

    fn phone(&self, col: &str) -> StoreResult<PhoneNumber> {
        let s: String = self.get(col)?;
        PhoneNumber::from_e164(&s).map_err(|e| corrupt(col, e))
    }
}

/// Implements [`FromRow`] for each record from a list of `field: how` pairs.
macro_rules! from_row {
    ($($ty:ty { $($field:ident : |$c:ident| $e:expr),+ $(,)? })+) => {$(
        impl FromRow for $ty {
            fn from_row(row: &SqliteRow) -> StoreResult<Self> {
                let c = Cols(row);
                Ok(Self { $($field: { let $c = &c; $e }),+ })
            }
        }
    )+};
}

use ottsonly_core::ids::*;

from_row! {
    User {
        id: |c| UserId::from_string(c.string("id")?),
        phone: |c| c.phone("phone")?,
        name: |c| c.opt_string("name")?,
        email: |c| c.opt_string("email")?,
        role: |c| c.enumeration("role", Role::parse)?,
        is_blocked: |c| c.get("is_blocked")?,
        token_version: |c| c.get("token_version")?,
        wallet_balance: |c| c.money("wallet_balance_paise")?,
        created_at: |c| c.ts("created_at")?,
        updated_at: |c| c.ts("updated_at")?,
    }
    Product {
        id: |c| ProductId::from_string(c.string("id")?),
        platform_name: |c| c.string("platform_name")?,
        plan_name: |c| c.string("plan_name")?,
        description: |c| c.string("description")?,
        price: |c| c.money("price_paise")?,
        duration_days: |c| c.u32("duration_days")?,
        stock: |c| c.get("stock")?,
        is_active: |c| c.get("is_active")?,
        created_at: |c| c.ts("created_at")?,
        updated_at: |c| c.ts("updated_at")?,
    }
    CredentialRecord {
        id: |c| CredentialId::from_string(c.string("id")?),
        product_id: |c| c.opt_string("product_id")?.map(ProductId::from_string),
        sealed: |c| c.get("sealed")?,
        status: |c| c.enumeration("status", CredentialStatus::parse)?,
        subscription_id: |c| c.opt_string("subscription_id")?.map(SubscriptionId::from_string),
        created_at: |c| c.ts("created_at")?,
        assigned_at: |c| c.opt_ts("assigned_at")?,
    }
    Order {
        id: |c| OrderId::from_string(c.string("id")?),
        user_id: |c| UserId::from_string(c.string("user_id")?),
        product_id: |c| ProductId::from_string(c.string("product_id")?),
        product_name: |c| c.string("product_name")?,
        amount: |c| c.money("amount_paise")?,
        status: |c| c.enumeration("status", OrderStatus::parse)?,
        idempotency_key: |c| c.opt_string("idempotency_key")?,
        created_at: |c| c.ts("created_at")?,
        paid_at: |c| c.ts("paid_at")?,
        refunded_at: |c| c.opt_ts("refunded_at")?,
        refund_reason: |c| c.opt_string("refund_reason")?,
        refunded_by: |c| c.opt_string("refunded_by")?.map(UserId::from_string),
        updated_at: |c| c.ts("updated_at")?,
    }
    Subscription {
        id: |c| SubscriptionId::from_string(c.string("id")?),
        user_id: |c| UserId::from_string(c.string("user_id")?),
        product_id: |c| ProductId::from_string(c.string("product_id")?),
        order_id: |c| OrderId::from_string(c.string("order_id")?),
        platform_name: |c| c.string("platform_name")?,
        plan_name: |c| c.string("plan_name")?,
        duration_days: |c| c.u32("duration_days")?,
        status: |c| c.enumeration("status", SubscriptionStatus::parse)?,
        start_at: |c| c.opt_ts("start_at")?,
        end_at: |c| c.opt_ts("end_at")?,
        credential_id: |c| c.opt_string("credential_id")?.map(CredentialId::from_string),
        reminded_at: |c| c.opt_ts("reminded_at")?,
        created_at: |c| c.ts("created_at")?,
        updated_at: |c| c.ts("updated_at")?,
    }
    LedgerEntry {
        id: |c| LedgerEntryId::from_string(c.string("id")?),
        user_id: |c| UserId::from_string(c.string("user_id")?),
        kind: |c| c.enumeration("kind", EntryKind::parse)?,
        amount: |c| c.money("amount_paise")?,
        balance_after: |c| c.money("balance_after_paise")?,
        reference_type: |c| c.enumeration("reference_type", ReferenceType::parse)?,
        reference_id: |c| c.string("reference_id")?,
        description: |c| c.string("description")?,
        actor_id: |c| c.opt_string("actor_id")?.map(UserId::from_string),
        created_at: |c| c.ts("created_at")?,
    }
    TopUp {
        id: |c| TopUpId::from_string(c.string("id")?),
        user_id: |c| UserId::from_string(c.string("user_id")?),
        amount: |c| c.money("amount_paise")?,
        currency: |c| c.string("currency")?,
        gateway_order_id: |c| c.string("gateway_order_id")?,
        gateway_payment_id: |c| c.opt_string("gateway_payment_id")?,
        status: |c| c.enumeration("status", TopUpStatus::parse)?,
        created_at: |c| c.ts("created_at")?,
        updated_at: |c| c.ts("updated_at")?,
        paid_at: |c| c.opt_ts("paid_at")?,
    }
    NotificationView {
        id: |c| NotificationId::from_string(c.string("id")?),
        kind: |c| c.enumeration("kind", NotificationKind::parse)?,
        title: |c| c.string("title")?,
        message: |c| c.string("message")?,
        is_read: |c| c.get("is_read")?,
        is_broadcast: |c| c.get("is_broadcast")?,
        created_at: |c| c.ts("created_at")?,
    }
    OtpRecord {
        phone: |c| c.phone("phone")?,
        code_mac: |c| c.string("code_mac")?,
        created_at: |c| c.ts("created_at")?,
        expires_at: |c| c.ts("expires_at")?,
        attempts: |c| c.u32("attempts")?,
        consumed_at: |c| c.opt_ts("consumed_at")?,
        last_sent_at: |c| c.ts("last_sent_at")?,
        window_start: |c| c.ts("window_start")?,
        sends_in_window: |c| c.u32("sends_in_window")?,
        guesses_in_window: |c| c.u32("guesses_in_window")?,
    }
    RefreshToken {
        id: |c| RefreshTokenId::from_string(c.string("id")?),
        user_id: |c| UserId::from_string(c.string("user_id")?),
        family_id: |c| c.string("family_id")?,
        token_hash: |c| c.string("token_hash")?,
        token_version: |c| c.get("token_version")?,
        created_at: |c| c.ts("created_at")?,
        expires_at: |c| c.ts("expires_at")?,
        used_at: |c| c.opt_ts("used_at")?,
        revoked_at: |c| c.opt_ts("revoked_at")?,
    }
    OutboxItem {
        id: |c| OutboxId::from_string(c.string("id")?),
        payload: |c| c.string("payload")?,
        status: |c| c.enumeration("status", OutboxStatus::parse)?,
        attempts: |c| c.u32("attempts")?,
        created_at: |c| c.ts("created_at")?,
        due_at: |c| c.ts("due_at")?,
        lease_owner: |c| c.opt_string("lease_owner")?,
        lease_until: |c| c.opt_ts("lease_until")?,
        last_error: |c| c.opt_string("last_error")?,
        delivered_at: |c| c.opt_ts("delivered_at")?,
    }
    AuditEntry {
        id: |c| AuditId::from_string(c.string("id")?),
        actor_id: |c| UserId::from_string(c.string("actor_id")?),
        action: |c| c.string("action")?,
        target_type: |c| c.string("target_type")?,
        target_id: |c| c.string("target_id")?,
        details: |c| serde_json::from_str(&c.string("details")?).map_err(|e| corrupt("details", e))?,
        created_at: |c| c.ts("created_at")?,
    }
}
