//! Multi-row inserts: a unit's notifications and admin alerts go in one statement per table
//! instead of one per row (each statement is a round trip while the writer is held).

use crate::map_err;
use crate::row::ms;
use ottsonly_core::StoreResult;
use ottsonly_core::model::Timestamp;
use ottsonly_core::model::{Notification, OutboxItem};
use sqlx::sqlite::SqliteConnection;
use sqlx::{QueryBuilder, Sqlite};

fn opt_ms(t: Option<Timestamp>) -> Option<i64> {
    t.map(ms)
}

/// Rows per statement: far below SQLite's bound-parameter limit (32,766), and few distinct
/// statement shapes for the prepared-statement cache.
const ROWS_PER_STATEMENT: usize = 64;

pub(crate) async fn insert_notifications(c: &mut SqliteConnection, rows: &[Notification]) -> StoreResult<()> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO notifications (id, user_id, kind, title, message, is_read, created_at) ",
        );
        q.push_values(chunk, |mut b, n| {
            b.push_bind(n.id.as_str())
                .push_bind(n.user_id.as_str())
                .push_bind(n.kind.as_str())
                .push_bind(n.title.as_str())
                .push_bind(n.message.as_str())
                .push_bind(n.is_read)
                .push_bind(ms(n.created_at));
        });
        q.build().execute(&mut *c).await.map_err(map_err)?;
    }
    Ok(())
}

pub(crate) async fn insert_outbox_items(c: &mut SqliteConnection, rows: &[OutboxItem]) -> StoreResult<()> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO outbox (id, payload, status, attempts, created_at, due_at, lease_owner, lease_until, \
             last_error, delivered_at) ",
        );
        q.push_values(chunk, |mut b, i| {
            b.push_bind(i.id.as_str())
                .push_bind(i.payload.as_str())
                .push_bind(i.status.as_str())
                .push_bind(i64::from(i.attempts))
                .push_bind(ms(i.created_at))
                .push_bind(ms(i.due_at))
                .push_bind(i.lease_owner.as_deref())
                .push_bind(opt_ms(i.lease_until))
                .push_bind(i.last_error.as_deref())
                .push_bind(opt_ms(i.delivered_at));
        });
        q.build().execute(&mut *c).await.map_err(map_err)?;
    }
    Ok(())
}
