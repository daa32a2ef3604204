//! Decoding rows into records. Every stored value is checked on the way out: a value that does
//! not fit its domain type (an unknown enum string, a negative amount) is `StoreError::Corrupt`.

use chrono::DateTime;
use ottsonly_core::StoreResult;
use ottsonly_core::model::*;
use ottsonly_core::record::{Fields, Record, Value, corrupt, some_fields};
use sqlx::sqlite::SqliteRow;
use sqlx::{Decode, QueryBuilder, Row as _, Sqlite, Type, ValueRef as _};

/// Timestamps are stored as unix milliseconds.
pub(crate) fn ms(t: Timestamp) -> i64 {
    t.timestamp_millis()
}

/// A record that can be read from a `SELECT *` / `RETURNING *` row of its table.
pub(crate) trait FromRow: Sized {
    fn from_row(row: &SqliteRow) -> StoreResult<Self>;
}

/// The columns of one row as core's [`Fields`]: timestamps are unix milliseconds, booleans
/// integers; a failure is `Corrupt` with the column name.
struct Cols<'r>(&'r SqliteRow);

impl<'r> Cols<'r> {
    fn get<T: Decode<'r, Sqlite> + Type<Sqlite>>(&self, col: &str) -> StoreResult<T> {
        self.0.try_get::<Option<T>, _>(col).map_err(|e| corrupt(col, e))?.ok_or_else(|| corrupt(col, "null"))
    }
}

impl Fields for Cols<'_> {
    fn is_null(&self, col: &str) -> StoreResult<bool> {
        Ok(self.0.try_get_raw(col).map_err(|e| corrupt(col, e))?.is_null())
    }
    fn text(&self, col: &str) -> StoreResult<String> {
        self.get(col)
    }
    fn int(&self, col: &str) -> StoreResult<i64> {
        self.get(col)
    }
    fn boolean(&self, col: &str) -> StoreResult<bool> {
        self.get(col)
    }
    fn bytes(&self, col: &str) -> StoreResult<Vec<u8>> {
        self.get(col)
    }
    fn time(&self, col: &str) -> StoreResult<Timestamp> {
        let v: i64 = self.get(col)?;
        DateTime::from_timestamp_millis(v).ok_or_else(|| corrupt(col, format!("timestamp {v} out of range")))
    }
}

/// Every stored record reads through its one field list in core.
macro_rules! from_record {
    ($($ty:ty),+) => {$(
        impl FromRow for $ty {
            fn from_row(row: &SqliteRow) -> StoreResult<Self> {
                <$ty as Record>::read(&Cols(row))
            }
        }
    )+};
}

from_record!(
    User,
    Product,
    CredentialRecord,
    Order,
    Subscription,
    LedgerEntry,
    TopUp,
    NotificationView,
    OtpRecord,
    RefreshToken,
    OutboxItem,
    AuditEntry
);

/// Binds one stored value as its column type.
fn push_value(qb: &mut QueryBuilder<Sqlite>, v: Value<'_>) {
    match v {
        Value::Null => qb.push_bind(None::<i64>),
        Value::Text(s) => qb.push_bind(s.into_owned()),
        Value::Int(n) => qb.push_bind(n),
        Value::Bool(b) => qb.push_bind(b),
        Value::Bytes(b) => qb.push_bind(b.to_vec()),
        Value::Time(t) => qb.push_bind(ms(t)),
    };
}

/// `INSERT INTO <table> (<every field>) VALUES (...)`: the columns are the record's field list
/// in core, so a field added there cannot be forgotten here.
pub(crate) fn insert_sql<R: Record>(table: &str, r: &R) -> StoreResult<QueryBuilder<Sqlite>> {
    let fields = r.fields()?;
    let names: Vec<&str> = fields.iter().map(|(name, _)| *name).collect();
    let mut qb = QueryBuilder::new(format!("INSERT INTO {table} ({}) VALUES (", names.join(", ")));
    for (i, (_, v)) in fields.into_iter().enumerate() {
        qb.push(if i == 0 { "" } else { ", " });
        push_value(&mut qb, v);
    }
    qb.push(")");
    Ok(qb)
}

/// [`insert_sql`] that replaces every other field of the row with the same key.
pub(crate) fn upsert_sql<R: Record>(table: &str, r: &R) -> StoreResult<QueryBuilder<Sqlite>> {
    let mut qb = insert_sql(table, r)?;
    let others: Vec<String> = (r.fields()?.iter())
        .filter(|(name, _)| *name != R::KEY)
        .map(|(name, _)| format!("{name} = excluded.{name}"))
        .collect();
    qb.push(format!(" ON CONFLICT ({}) DO UPDATE SET {}", R::KEY, others.join(", ")));
    Ok(qb)
}

/// `UPDATE <table> SET <the named fields> WHERE <key> = <the record's>`; a caller may push
/// further `AND` guards.
pub(crate) fn update_sql<R: Record>(table: &str, r: &R, names: &[&str]) -> StoreResult<QueryBuilder<Sqlite>> {
    let (fields, key) = some_fields(r, names)?;
    let mut qb = QueryBuilder::new(format!("UPDATE {table} SET "));
    for (i, (name, v)) in fields.into_iter().enumerate() {
        qb.push(format!("{}{name} = ", if i == 0 { "" } else { ", " }));
        push_value(&mut qb, v);
    }
    qb.push(format!(" WHERE {} = ", R::KEY));
    push_value(&mut qb, key);
    Ok(qb)
}
