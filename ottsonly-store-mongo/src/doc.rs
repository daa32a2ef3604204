//! Records to BSON documents and back. Every stored value is checked on the way out: a value
//! that does not fit its domain type (an unknown enum string, a negative amount, a wrong BSON
//! type) is `StoreError::Corrupt` naming the field.
//!
//! Conventions: ids are the UUIDv7 strings of core, stored as `_id` (so `_id` order is creation
//! order); money is `Int64` paise in `*_paise` fields; timestamps are BSON `DateTime`
//! (milliseconds, which is all core keeps); `None` is stored as `null` (partial indexes select
//! present values with `$type: "string"`, so a `null` never collides).

use crate::schema::f;
use chrono::DateTime;
use mongodb::bson::spec::BinarySubtype;
use mongodb::bson::{Binary, Bson, Document, doc};
use ottsonly_core::ids::*;
use ottsonly_core::model::*;
use ottsonly_core::{Money, PhoneNumber, StoreError, StoreResult};

/// A BSON `DateTime` of a core timestamp (which core keeps at millisecond precision).
pub(crate) fn dt(t: Timestamp) -> Bson {
    Bson::DateTime(mongodb::bson::DateTime::from_millis(t.timestamp_millis()))
}

/// The upper bound `<= t` as `< t + 1 ms`: the same set of BSON dates, which are whole
/// milliseconds. Written this way because SecantusDB 0.7.0b3 (the test server) treats `$lte` on
/// a middle field of a compound index as `$lt`, which dropped the boundary item.
pub(crate) fn at_or_before(t: Timestamp) -> Document {
    match t.checked_add_signed(chrono::TimeDelta::milliseconds(1)) {
        Some(next) => doc! { "$lt": dt(next) },
        None => doc! { "$lte": dt(t) },
    }
}

/// `null` for `None`, so that every document of a collection has the same fields.
pub(crate) fn opt_dt(t: Option<Timestamp>) -> Bson {
    t.map_or(Bson::Null, dt)
}

pub(crate) fn opt_str(s: Option<&str>) -> Bson {
    s.map_or(Bson::Null, |s| Bson::String(s.to_owned()))
}

/// A record stored in one document of its collection.
pub(crate) trait FromDoc: Sized {
    fn from_doc(d: &Document) -> StoreResult<Self>;
}

/// Decodes every document of a result, failing on the first corrupt one.
pub(crate) fn decode_all<T: FromDoc>(docs: &[Document]) -> StoreResult<Vec<T>> {
    docs.iter().map(T::from_doc).collect()
}

pub(crate) fn corrupt(field: &str, what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("field {field}: {what}"))
}

/// Typed field access that reports failures as `Corrupt` with the field name. A missing field
/// and `null` both read as absent.
pub(crate) struct Fields<'d>(pub(crate) &'d Document);

impl<'d> Fields<'d> {
    fn opt(&self, key: &str) -> Option<&'d Bson> {
        self.0.get(key).filter(|v| !matches!(v, Bson::Null))
    }

    fn req(&self, key: &str) -> StoreResult<&'d Bson> {
        self.opt(key).ok_or_else(|| corrupt(key, "missing"))
    }

    pub(crate) fn string(&self, key: &str) -> StoreResult<String> {
        match self.req(key)? {
            Bson::String(s) => Ok(s.clone()),
            other => Err(corrupt(key, format!("expected a string, found {:?}", other.element_type()))),
        }
    }

    pub(crate) fn opt_string(&self, key: &str) -> StoreResult<Option<String>> {
        match self.opt(key) {
            None => Ok(None),
            Some(Bson::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(corrupt(key, format!("expected a string, found {:?}", other.element_type()))),
        }
    }

    pub(crate) fn i64(&self, key: &str) -> StoreResult<i64> {
        int(key, self.req(key)?)
    }

    pub(crate) fn u32(&self, key: &str) -> StoreResult<u32> {
        u32::try_from(self.i64(key)?).map_err(|e| corrupt(key, e))
    }

    pub(crate) fn opt_u32(&self, key: &str) -> StoreResult<Option<u32>> {
        match self.opt(key) {
            None | Some(Bson::Null) => Ok(None),
            Some(v) => u32::try_from(int(key, v)?).map(Some).map_err(|e| corrupt(key, e)),
        }
    }

    pub(crate) fn money(&self, key: &str) -> StoreResult<Money> {
        Money::from_paise(self.i64(key)?).map_err(|e| corrupt(key, e))
    }

    pub(crate) fn bool(&self, key: &str) -> StoreResult<bool> {
        match self.req(key)? {
            Bson::Boolean(b) => Ok(*b),
            other => Err(corrupt(key, format!("expected a bool, found {:?}", other.element_type()))),
        }
    }

    pub(crate) fn ts(&self, key: &str) -> StoreResult<Timestamp> {
        timestamp(key, self.req(key)?)
    }

    pub(crate) fn opt_ts(&self, key: &str) -> StoreResult<Option<Timestamp>> {
        self.opt(key).map(|v| timestamp(key, v)).transpose()
    }

    pub(crate) fn bytes(&self, key: &str) -> StoreResult<Vec<u8>> {
        match self.req(key)? {
            Bson::Binary(b) if b.subtype == BinarySubtype::Generic => Ok(b.bytes.clone()),
            other => Err(corrupt(key, format!("expected generic binary, found {:?}", other.element_type()))),
        }
    }

    pub(crate) fn enumeration<E>(&self, key: &str, parse: fn(&str) -> Option<E>) -> StoreResult<E> {
        let s = self.string(key)?;
        parse(&s).ok_or_else(|| corrupt(key, format!("unknown value {s:?}")))
    }

    pub(crate) fn phone(&self, key: &str) -> StoreResult<PhoneNumber> {
        let s = self.string(key)?;
        PhoneNumber::from_e164(&s).map_err(|e| corrupt(key, e))
    }
}

/// An integer field: `Int64` as written, `Int32` as some servers return small sums.
pub(crate) fn int(key: &str, v: &Bson) -> StoreResult<i64> {
    match v {
        Bson::Int64(n) => Ok(*n),
        Bson::Int32(n) => Ok(i64::from(*n)),
        other => Err(corrupt(key, format!("expected an integer, found {:?}", other.element_type()))),
    }
}

fn timestamp(key: &str, v: &Bson) -> StoreResult<Timestamp> {
    match v {
        Bson::DateTime(d) => {
            let ms = d.timestamp_millis();
            DateTime::from_timestamp_millis(ms)
                .ok_or_else(|| corrupt(key, format!("timestamp {ms} out of range")))
        }
        other => Err(corrupt(key, format!("expected a date, found {:?}", other.element_type()))),
    }
}

/// Implements [`FromDoc`] for each record from a list of `field: how` pairs.
macro_rules! from_doc {
    ($($ty:ty { $($field:ident : |$c:ident| $e:expr),+ $(,)? })+) => {$(
        impl FromDoc for $ty {
            fn from_doc(d: &Document) -> StoreResult<Self> {
                let c = Fields(d);
                Ok(Self { $($field: { let $c = &c; $e }),+ })
            }
        }
    )+};
}

from_doc! {
    User {
        id: |c| UserId::from_string(c.string(f::ID)?),
        phone: |c| c.phone("phone")?,
        name: |c| c.opt_string("name")?,
        email: |c| c.opt_string("email")?,
        role: |c| c.enumeration("role", Role::parse)?,
        is_blocked: |c| c.bool("is_blocked")?,
        token_version: |c| c.i64("token_version")?,
        wallet_balance: |c| c.money(f::BALANCE)?,
        created_at: |c| c.ts("created_at")?,
        updated_at: |c| c.ts("updated_at")?,
    }
    Product {
        id: |c| ProductId::from_string(c.string(f::ID)?),
        platform_name: |c| c.string("platform_name")?,
        plan_name: |c| c.string("plan_name")?,
        description: |c| c.string("description")?,
        price: |c| c.money("price_paise")?,
        duration_days: |c| c.u32("duration_days")?,
        stock: |c| c.i64(f::STOCK)?,
        is_active: |c| c.bool("is_active")?,
        created_at: |c| c.ts("created_at")?,
        updated_at: |c| c.ts("updated_at")?,
    }
    CredentialRecord {
        id: |c| CredentialId::from_string(c.string(f::ID)?),
        product_id: |c| c.opt_string("product_id")?.map(ProductId::from_string),
        sealed: |c| c.bytes("sealed")?,
        status: |c| c.enumeration("status", CredentialStatus::parse)?,
        subscription_id: |c| c.opt_string("subscription_id")?.map(SubscriptionId::from_string),
        created_at: |c| c.ts("created_at")?,
        assigned_at: |c| c.opt_ts("assigned_at")?,
    }
    Order {
        id: |c| OrderId::from_string(c.string(f::ID)?),
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
        id: |c| SubscriptionId::from_string(c.string(f::ID)?),
        user_id: |c| UserId::from_string(c.string("user_id")?),
        product_id: |c| ProductId::from_string(c.string("product_id")?),
        order_id: |c| OrderId::from_string(c.string("order_id")?),
        platform_name: |c| c.string("platform_name")?,
        plan_name: |c| c.string("plan_name")?,
        duration_days: |c| c.u32("duration_days")?,
        status: |c| c.enumeration("status", SubscriptionStatus::parse)?,
        start_at: |c| c.opt_ts(f::START)?,
        end_at: |c| c.opt_ts(f::END)?,
        credential_id: |c| c.opt_string("credential_id")?.map(CredentialId::from_string),
        reminded_at: |c| c.opt_ts("reminded_at")?,
        created_at: |c| c.ts("created_at")?,
        updated_at: |c| c.ts("updated_at")?,
    }
    LedgerEntry {
        id: |c| LedgerEntryId::from_string(c.string(f::ID)?),
        user_id: |c| UserId::from_string(c.string("user_id")?),
        kind: |c| c.enumeration(f::KIND, EntryKind::parse)?,
        amount: |c| c.money("amount_paise")?,
        balance_after: |c| c.money("balance_after_paise")?,
        reference_type: |c| c.enumeration("reference_type", ReferenceType::parse)?,
        reference_id: |c| c.string("reference_id")?,
        description: |c| c.string("description")?,
        actor_id: |c| c.opt_string("actor_id")?.map(UserId::from_string),
        created_at: |c| c.ts("created_at")?,
    }
    TopUp {
        id: |c| TopUpId::from_string(c.string(f::ID)?),
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
    OtpRecord {
        phone: |c| c.phone(f::ID)?,
        code_mac: |c| c.string("code_mac")?,
        created_at: |c| c.ts("created_at")?,
        expires_at: |c| c.ts("expires_at")?,
        attempts: |c| c.u32("attempts")?,
        consumed_at: |c| c.opt_ts("consumed_at")?,
        last_sent_at: |c| c.ts("last_sent_at")?,
        window_start: |c| c.ts("window_start")?,
        sends_in_window: |c| c.u32("sends_in_window")?,
        // Absent in documents written before the guess budget: none counted yet.
        guesses_in_window: |c| c.opt_u32("guesses_in_window")?.unwrap_or(0),
    }
    RefreshToken {
        id: |c| RefreshTokenId::from_string(c.string(f::ID)?),
        user_id: |c| UserId::from_string(c.string("user_id")?),
        family_id: |c| c.string("family_id")?,
        token_hash: |c| c.string("token_hash")?,
        token_version: |c| c.i64("token_version")?,
        created_at: |c| c.ts("created_at")?,
        expires_at: |c| c.ts("expires_at")?,
        used_at: |c| c.opt_ts("used_at")?,
        revoked_at: |c| c.opt_ts("revoked_at")?,
    }
    OutboxItem {
        id: |c| OutboxId::from_string(c.string(f::ID)?),
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
        id: |c| AuditId::from_string(c.string(f::ID)?),
        actor_id: |c| UserId::from_string(c.string("actor_id")?),
        action: |c| c.string("action")?,
        target_type: |c| c.string("target_type")?,
        target_id: |c| c.string("target_id")?,
        details: |c| serde_json::from_str(&c.string("details")?).map_err(|e| corrupt("details", e))?,
        created_at: |c| c.ts("created_at")?,
    }
}

/// A personal notification as one entry of the merged list.
pub(crate) fn personal_view(d: &Document) -> StoreResult<NotificationView> {
    let c = Fields(d);
    Ok(NotificationView {
        id: NotificationId::from_string(c.string(f::ID)?),
        kind: c.enumeration(f::KIND, NotificationKind::parse)?,
        title: c.string("title")?,
        message: c.string("message")?,
        is_read: c.bool("is_read")?,
        is_broadcast: false,
        created_at: c.ts("created_at")?,
    })
}

/// A broadcast (with the reader's state looked up into `state`, if any) as one list entry.
pub(crate) fn broadcast_view(d: &Document) -> StoreResult<NotificationView> {
    let c = Fields(d);
    let read = match d.get("state") {
        Some(Bson::Document(state)) => Fields(state).opt_ts("read_at")?.is_some(),
        None | Some(Bson::Null) => false,
        Some(other) => return Err(corrupt("state", format!("unexpected {:?}", other.element_type()))),
    };
    Ok(NotificationView {
        id: NotificationId::from_string(c.string(f::ID)?),
        kind: NotificationKind::Broadcast,
        title: c.string("title")?,
        message: c.string("message")?,
        is_read: read,
        is_broadcast: true,
        created_at: c.ts("created_at")?,
    })
}

// --- records to documents ---

pub(crate) fn user_doc(u: &User) -> Document {
    doc! {
        (f::ID): u.id.as_str(),
        "phone": u.phone.as_str(),
        "name": opt_str(u.name.as_deref()),
        "email": opt_str(u.email.as_deref()),
        "role": u.role.as_str(),
        "is_blocked": u.is_blocked,
        "token_version": u.token_version,
        (f::BALANCE): u.wallet_balance.paise(),
        "created_at": dt(u.created_at),
        "updated_at": dt(u.updated_at),
    }
}

pub(crate) fn product_doc(p: &Product) -> Document {
    doc! {
        (f::ID): p.id.as_str(),
        "platform_name": p.platform_name.as_str(),
        "plan_name": p.plan_name.as_str(),
        "description": p.description.as_str(),
        "price_paise": p.price.paise(),
        "duration_days": i64::from(p.duration_days),
        (f::STOCK): p.stock,
        "is_active": p.is_active,
        "created_at": dt(p.created_at),
        "updated_at": dt(p.updated_at),
    }
}

pub(crate) fn credential_doc(c: &CredentialRecord) -> Document {
    doc! {
        (f::ID): c.id.as_str(),
        "product_id": opt_str(c.product_id.as_ref().map(ProductId::as_str)),
        "sealed": Binary { subtype: BinarySubtype::Generic, bytes: c.sealed.clone() },
        "status": c.status.as_str(),
        "subscription_id": opt_str(c.subscription_id.as_ref().map(SubscriptionId::as_str)),
        "created_at": dt(c.created_at),
        "assigned_at": opt_dt(c.assigned_at),
    }
}

pub(crate) fn order_doc(o: &Order) -> Document {
    doc! {
        (f::ID): o.id.as_str(),
        "user_id": o.user_id.as_str(),
        "product_id": o.product_id.as_str(),
        "product_name": o.product_name.as_str(),
        "amount_paise": o.amount.paise(),
        "status": o.status.as_str(),
        "idempotency_key": opt_str(o.idempotency_key.as_deref()),
        "created_at": dt(o.created_at),
        "paid_at": dt(o.paid_at),
        "refunded_at": opt_dt(o.refunded_at),
        "refund_reason": opt_str(o.refund_reason.as_deref()),
        "refunded_by": opt_str(o.refunded_by.as_ref().map(UserId::as_str)),
        "updated_at": dt(o.updated_at),
    }
}

/// The fields `update_subscription` may change.
pub(crate) fn subscription_mutable(s: &Subscription) -> Document {
    doc! {
        "status": s.status.as_str(),
        (f::START): opt_dt(s.start_at),
        (f::END): opt_dt(s.end_at),
        "credential_id": opt_str(s.credential_id.as_ref().map(CredentialId::as_str)),
        "reminded_at": opt_dt(s.reminded_at),
        "updated_at": dt(s.updated_at),
    }
}

pub(crate) fn subscription_doc(s: &Subscription) -> Document {
    let mut d = doc! {
        (f::ID): s.id.as_str(),
        "user_id": s.user_id.as_str(),
        "product_id": s.product_id.as_str(),
        "order_id": s.order_id.as_str(),
        "platform_name": s.platform_name.as_str(),
        "plan_name": s.plan_name.as_str(),
        "duration_days": i64::from(s.duration_days),
        "created_at": dt(s.created_at),
    };
    d.extend(subscription_mutable(s));
    d
}

pub(crate) fn ledger_doc(e: &LedgerEntry) -> Document {
    doc! {
        (f::ID): e.id.as_str(),
        "user_id": e.user_id.as_str(),
        (f::KIND): e.kind.as_str(),
        "amount_paise": e.amount.paise(),
        "balance_after_paise": e.balance_after.paise(),
        "reference_type": e.reference_type.as_str(),
        "reference_id": e.reference_id.as_str(),
        "description": e.description.as_str(),
        "actor_id": opt_str(e.actor_id.as_ref().map(UserId::as_str)),
        "created_at": dt(e.created_at),
    }
}

pub(crate) fn otp_doc(o: &OtpRecord) -> Document {
    doc! {
        (f::ID): o.phone.as_str(),
        "code_mac": o.code_mac.as_str(),
        "created_at": dt(o.created_at),
        "expires_at": dt(o.expires_at),
        "attempts": i64::from(o.attempts),
        "consumed_at": opt_dt(o.consumed_at),
        "last_sent_at": dt(o.last_sent_at),
        "window_start": dt(o.window_start),
        "sends_in_window": i64::from(o.sends_in_window),
        "guesses_in_window": i64::from(o.guesses_in_window),
    }
}

pub(crate) fn refresh_token_doc(t: &RefreshToken) -> Document {
    doc! {
        (f::ID): t.id.as_str(),
        "user_id": t.user_id.as_str(),
        "family_id": t.family_id.as_str(),
        "token_hash": t.token_hash.as_str(),
        "token_version": t.token_version,
        "created_at": dt(t.created_at),
        "expires_at": dt(t.expires_at),
        "used_at": opt_dt(t.used_at),
        "revoked_at": opt_dt(t.revoked_at),
    }
}

pub(crate) fn topup_doc(t: &TopUp) -> Document {
    doc! {
        (f::ID): t.id.as_str(),
        "user_id": t.user_id.as_str(),
        "amount_paise": t.amount.paise(),
        "currency": t.currency.as_str(),
        "gateway_order_id": t.gateway_order_id.as_str(),
        "gateway_payment_id": opt_str(t.gateway_payment_id.as_deref()),
        "status": t.status.as_str(),
        "created_at": dt(t.created_at),
        "updated_at": dt(t.updated_at),
        "paid_at": opt_dt(t.paid_at),
    }
}

pub(crate) fn notification_doc(n: &Notification) -> Document {
    doc! {
        (f::ID): n.id.as_str(),
        "user_id": n.user_id.as_str(),
        (f::KIND): n.kind.as_str(),
        "title": n.title.as_str(),
        "message": n.message.as_str(),
        "is_read": n.is_read,
        "created_at": dt(n.created_at),
    }
}

pub(crate) fn broadcast_doc(b: &Broadcast) -> Document {
    doc! {
        (f::ID): b.id.as_str(),
        "audience": b.audience.as_str(),
        "title": b.title.as_str(),
        "message": b.message.as_str(),
        "created_by": b.created_by.as_str(),
        "created_at": dt(b.created_at),
    }
}

pub(crate) fn outbox_doc(i: &OutboxItem) -> Document {
    doc! {
        (f::ID): i.id.as_str(),
        "payload": i.payload.as_str(),
        "status": i.status.as_str(),
        "attempts": i64::from(i.attempts),
        "created_at": dt(i.created_at),
        "due_at": dt(i.due_at),
        "lease_owner": opt_str(i.lease_owner.as_deref()),
        "lease_until": opt_dt(i.lease_until),
        "last_error": opt_str(i.last_error.as_deref()),
        "delivered_at": opt_dt(i.delivered_at),
    }
}

/// `details` is kept as JSON text: an arbitrary JSON value does not always survive BSON
/// (integers above `i64::MAX`, keys starting with `$` or holding `.`), and the audit log must
/// read back exactly what was written.
pub(crate) fn audit_doc(a: &AuditEntry) -> StoreResult<Document> {
    let details = serde_json::to_string(&a.details).map_err(StoreError::backend)?;
    Ok(doc! {
        (f::ID): a.id.as_str(),
        "actor_id": a.actor_id.as_str(),
        "action": a.action.as_str(),
        "target_type": a.target_type.as_str(),
        "target_id": a.target_id.as_str(),
        "details": details,
        "created_at": dt(a.created_at),
    })
}

/// The `_id` of one reader's state of one broadcast. Field order is part of the value (BSON
/// documents compare field by field), so it is built only here.
pub(crate) fn broadcast_state_id(broadcast_id: &str, user_id: &str) -> Document {
    doc! { "b": broadcast_id, "u": user_id }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: i64) -> Timestamp {
        DateTime::from_timestamp_millis(1_900_000_000_000 + ms).unwrap()
    }

    #[test]
    fn records_round_trip_through_documents() {
        let u = User {
            id: UserId::from_string("u1"),
            phone: PhoneNumber::parse("+919876543210", None).unwrap(),
            name: None,
            email: Some("a@b.c".into()),
            role: Role::Support,
            is_blocked: true,
            token_version: 7,
            wallet_balance: Money::from_paise(12_345).unwrap(),
            created_at: t(1),
            updated_at: t(2),
        };
        assert_eq!(User::from_doc(&user_doc(&u)).unwrap(), u);

        let c = CredentialRecord {
            id: CredentialId::from_string("c1"),
            product_id: None,
            sealed: vec![0, 255, 1],
            status: CredentialStatus::Available,
            subscription_id: Some(SubscriptionId::from_string("s1")),
            created_at: t(3),
            assigned_at: None,
        };
        assert_eq!(CredentialRecord::from_doc(&credential_doc(&c)).unwrap(), c);
    }

    #[test]
    fn wrong_types_and_values_are_corrupt() {
        let mut d = product_doc(&Product {
            id: ProductId::from_string("p1"),
            platform_name: "Netflix".into(),
            plan_name: "Premium".into(),
            description: String::new(),
            price: Money::from_paise(100).unwrap(),
            duration_days: 30,
            stock: 3,
            is_active: true,
            created_at: t(0),
            updated_at: t(0),
        });
        // A small integer written by hand (Int32) is still an integer.
        d.insert(f::STOCK, 3i32);
        assert_eq!(Product::from_doc(&d).unwrap().stock, 3);
        d.insert("price_paise", -1i64);
        assert!(matches!(Product::from_doc(&d), Err(StoreError::Corrupt(m)) if m.contains("price_paise")));
        d.insert("price_paise", 1.5f64);
        assert!(matches!(Product::from_doc(&d), Err(StoreError::Corrupt(m)) if m.contains("price_paise")));
        d.insert("price_paise", 100i64);
        d.remove("created_at");
        assert!(matches!(Product::from_doc(&d), Err(StoreError::Corrupt(m)) if m.contains("created_at")));
    }
}
