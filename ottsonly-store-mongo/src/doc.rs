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
use ottsonly_core::model::*;
pub(crate) use ottsonly_core::record::corrupt;
use ottsonly_core::record::{self, Fieldset, Record, Value};
use ottsonly_core::{Money, StoreResult};

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

/// A record stored in one document of its collection.
pub(crate) trait FromDoc: Sized {
    fn from_doc(d: &Document) -> StoreResult<Self>;
}

/// Every record reads through its one field list in core.
impl<R: Record> FromDoc for R {
    fn from_doc(d: &Document) -> StoreResult<Self> {
        R::read(&DocFields { d: Fields(d), key: R::KEY })
    }
}

/// Decodes every document of a result, failing on the first corrupt one.
pub(crate) fn decode_all<T: FromDoc>(docs: &[Document]) -> StoreResult<Vec<T>> {
    docs.iter().map(T::from_doc).collect()
}

/// Where a field of core's records is stored: the record's key as `_id`, and a few fields under
/// the original system's names.
fn stored<'n>(key: &str, name: &'n str) -> &'n str {
    if name == key {
        return f::ID;
    }
    match name {
        "kind" => f::KIND,
        "start_at" => f::START,
        "end_at" => f::END,
        other => other,
    }
}

/// The document of a record: every field of its list in core, under its stored name.
pub(crate) fn to_doc<R: Record>(r: &R) -> StoreResult<Document> {
    Ok(fields_doc::<R>(r.fields()?))
}

/// `$set` of the named fields of a record (one of core's `*_UPDATES` lists).
pub(crate) fn set_doc<R: Record>(r: &R, names: &[&str]) -> StoreResult<Document> {
    Ok(doc! { "$set": fields_doc::<R>(record::some_fields(r, names)?.0) })
}

fn fields_doc<R: Record>(fields: Fieldset<'_>) -> Document {
    let mut d = Document::new();
    for (name, v) in fields {
        let v = match v {
            Value::Null => Bson::Null,
            Value::Text(s) => Bson::String(s.into_owned()),
            Value::Int(n) => Bson::Int64(n),
            Value::Bool(b) => Bson::Boolean(b),
            Value::Bytes(b) => Bson::Binary(Binary { subtype: BinarySubtype::Generic, bytes: b.to_vec() }),
            Value::Time(t) => dt(t),
        };
        d.insert(stored(R::KEY, name), v);
    }
    d
}

/// One document as core's record fields, under their stored names.
struct DocFields<'d> {
    d: Fields<'d>,
    key: &'static str,
}

impl record::Fields for DocFields<'_> {
    fn is_null(&self, name: &str) -> StoreResult<bool> {
        Ok(self.d.opt(stored(self.key, name)).is_none())
    }
    fn text(&self, name: &str) -> StoreResult<String> {
        self.d.string(stored(self.key, name))
    }
    fn int(&self, name: &str) -> StoreResult<i64> {
        self.d.i64(stored(self.key, name))
    }
    fn boolean(&self, name: &str) -> StoreResult<bool> {
        self.d.bool(stored(self.key, name))
    }
    fn bytes(&self, name: &str) -> StoreResult<Vec<u8>> {
        self.d.bytes(stored(self.key, name))
    }
    fn time(&self, name: &str) -> StoreResult<Timestamp> {
        self.d.ts(stored(self.key, name))
    }
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

    pub(crate) fn i64(&self, key: &str) -> StoreResult<i64> {
        int(key, self.req(key)?)
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

/// A personal notification as one entry of the merged list.
pub(crate) fn personal_view(d: &Document) -> StoreResult<NotificationView> {
    Notification::from_doc(d).map(NotificationView::personal)
}

/// A broadcast (with the reader's state looked up into `state`, if any) as one list entry.
pub(crate) fn broadcast_view(d: &Document) -> StoreResult<NotificationView> {
    let read = match d.get("state") {
        Some(Bson::Document(state)) => Fields(state).opt_ts("read_at")?.is_some(),
        None | Some(Bson::Null) => false,
        Some(other) => return Err(corrupt("state", format!("unexpected {:?}", other.element_type()))),
    };
    Broadcast::from_doc(d).map(|b| NotificationView::broadcast(b, read))
}

/// The `_id` of one reader's state of one broadcast. Field order is part of the value (BSON
/// documents compare field by field), so it is built only here.
pub(crate) fn broadcast_state_id(broadcast_id: &str, user_id: &str) -> Document {
    doc! { "b": broadcast_id, "u": user_id }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ottsonly_core::ids::*;
    use ottsonly_core::testing::records;
    use ottsonly_core::{PhoneNumber, StoreError};

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
        assert_eq!(User::from_doc(&to_doc(&u).unwrap()).unwrap(), u);

        let c = records::linked().cred;
        assert_eq!(CredentialRecord::from_doc(&to_doc(&c).unwrap()).unwrap(), c);
    }

    #[test]
    fn wrong_types_and_values_are_corrupt() {
        let mut d = to_doc(&records::product("p1")).unwrap();
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
