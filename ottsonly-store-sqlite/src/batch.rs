//! Multi-row inserts: a unit's notifications and admin alerts go in one statement per table
//! instead of one per row (each statement is a round trip while the writer is held).

use crate::map_err;
use crate::read::fetch_opt;
use crate::row::ms;
use ottsonly_core::Money;
use ottsonly_core::StoreResult;
use ottsonly_core::ids::{ProductId, UserId};
use ottsonly_core::model::Timestamp;
use ottsonly_core::model::{Notification, OutboxItem, Product, User};
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

/// The purchase's guarded stock step, returning the product row (no separate read).
pub(crate) async fn take_one_in_stock(
    c: &mut SqliteConnection,
    product: &ProductId,
    now: Timestamp,
) -> StoreResult<Option<Product>> {
    let q = sqlx::query(
        "UPDATE products SET stock = stock - 1, updated_at = ?1 \
         WHERE id = ?2 AND stock >= 1 AND is_active = 1 RETURNING *",
    )
    .bind(ms(now))
    .bind(product.as_str());
    fetch_opt(c, q).await
}

/// The purchase's guarded debit, returning the user row (no separate read).
pub(crate) async fn debit_unblocked_user(
    c: &mut SqliteConnection,
    user: &UserId,
    amount: Money,
    now: Timestamp,
) -> StoreResult<Option<User>> {
    let q = sqlx::query(
        "UPDATE users SET wallet_balance_paise = wallet_balance_paise - ?1, updated_at = ?2 \
         WHERE id = ?3 AND is_blocked = 0 AND wallet_balance_paise >= ?1 RETURNING *",
    )
    .bind(amount.paise())
    .bind(ms(now))
    .bind(user.as_str());
    fetch_opt(c, q).await
}
