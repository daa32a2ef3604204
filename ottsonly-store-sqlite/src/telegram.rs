//! The Telegram shop's tables (migration 0006): account links and the polling lease. Reads are
//! shared by the reader and the unit of work (`read.rs` re-exports them); writes are free
//! functions the `Tx` methods call.

use crate::map_err;
use crate::row::ms;
use chrono::DateTime;
use ottsonly_core::StoreError;
use ottsonly_core::StoreResult;
use ottsonly_core::ids::{NotificationId, UserId};
use ottsonly_core::model::{Notification, NotificationKind, Timestamp};
use ottsonly_core::telegram_shop::{BotLease, TelegramLink};
use sqlx::Row as _;
use sqlx::sqlite::{SqliteConnection, SqliteRow};

fn ts(row: &SqliteRow, col: &str) -> StoreResult<Timestamp> {
    let v: i64 = row.try_get(col).map_err(map_err)?;
    DateTime::from_timestamp_millis(v).ok_or_else(|| StoreError::Corrupt(format!("column {col}: {v}")))
}

fn link(row: &SqliteRow) -> StoreResult<TelegramLink> {
    Ok(TelegramLink {
        telegram_user_id: row.try_get("telegram_user_id").map_err(map_err)?,
        user_id: UserId::from_string(row.try_get::<String, _>("user_id").map_err(map_err)?),
        chat_id: row.try_get("chat_id").map_err(map_err)?,
        linked_at: ts(row, "linked_at")?,
    })
}

pub(crate) async fn get_telegram_link(
    c: &mut SqliteConnection,
    telegram_user_id: i64,
) -> StoreResult<Option<TelegramLink>> {
    let q = sqlx::query("SELECT * FROM telegram_links WHERE telegram_user_id = ?").bind(telegram_user_id);
    q.fetch_optional(c).await.map_err(map_err)?.as_ref().map(link).transpose()
}

pub(crate) async fn get_telegram_link_by_user(
    c: &mut SqliteConnection,
    user: &UserId,
) -> StoreResult<Option<TelegramLink>> {
    let q = sqlx::query("SELECT * FROM telegram_links WHERE user_id = ?").bind(user.as_str());
    q.fetch_optional(c).await.map_err(map_err)?.as_ref().map(link).transpose()
}

pub(crate) async fn get_bot_lease(c: &mut SqliteConnection, name: &str) -> StoreResult<Option<BotLease>> {
    let q = sqlx::query("SELECT * FROM telegram_bot_leases WHERE name = ?").bind(name);
    let Some(row) = q.fetch_optional(c).await.map_err(map_err)? else { return Ok(None) };
    Ok(Some(BotLease {
        name: row.try_get("name").map_err(map_err)?,
        owner: row.try_get("owner").map_err(map_err)?,
        lease_until: ts(&row, "lease_until")?,
        offset: row.try_get("update_offset").map_err(map_err)?,
        push_cursor: row
            .try_get::<Option<String>, _>("push_cursor")
            .map_err(map_err)?
            .map(NotificationId::from_string),
    }))
}

pub(crate) async fn list_notifications_after(
    c: &mut SqliteConnection,
    after: Option<&NotificationId>,
    limit: u32,
) -> StoreResult<Vec<Notification>> {
    let q = sqlx::query("SELECT * FROM notifications WHERE id > ? ORDER BY id LIMIT ?")
        .bind(after.map_or("", |a| a.as_str()))
        .bind(i64::from(limit));
    let rows = q.fetch_all(c).await.map_err(map_err)?;
    rows.iter()
        .map(|row| {
            let kind: String = row.try_get("kind").map_err(map_err)?;
            Ok(Notification {
                id: NotificationId::from_string(row.try_get::<String, _>("id").map_err(map_err)?),
                user_id: UserId::from_string(row.try_get::<String, _>("user_id").map_err(map_err)?),
                kind: NotificationKind::parse(&kind)
                    .ok_or_else(|| StoreError::Corrupt(format!("column kind: {kind:?}")))?,
                title: row.try_get("title").map_err(map_err)?,
                message: row.try_get("message").map_err(map_err)?,
                is_read: row.try_get::<i64, _>("is_read").map_err(map_err)? != 0,
                created_at: ts(row, "created_at")?,
            })
        })
        .collect()
}

pub(crate) async fn set_bot_push_cursor(
    c: &mut SqliteConnection,
    name: &str,
    owner: &str,
    cursor: &NotificationId,
    now: Timestamp,
) -> StoreResult<bool> {
    let q = sqlx::query(
        "UPDATE telegram_bot_leases SET push_cursor = CASE WHEN push_cursor IS NULL OR push_cursor < ?1 \
         THEN ?1 ELSE push_cursor END WHERE name = ?2 AND owner = ?3 AND lease_until > ?4",
    )
    .bind(cursor.as_str())
    .bind(name)
    .bind(owner)
    .bind(ms(now));
    Ok(q.execute(c).await.map_err(map_err)?.rows_affected() > 0)
}

pub(crate) async fn record_telegram_delivery(
    c: &mut SqliteConnection,
    notification: &NotificationId,
    chat_id: i64,
    now: Timestamp,
) -> StoreResult<bool> {
    let q = sqlx::query(
        "INSERT INTO telegram_deliveries (notification_id, chat_id, sent_at) VALUES (?, ?, ?) \
         ON CONFLICT (notification_id, chat_id) DO NOTHING",
    )
    .bind(notification.as_str())
    .bind(chat_id)
    .bind(ms(now));
    Ok(q.execute(c).await.map_err(map_err)?.rows_affected() == 1)
}

pub(crate) async fn link_telegram(c: &mut SqliteConnection, l: &TelegramLink) -> StoreResult<()> {
    sqlx::query("DELETE FROM telegram_links WHERE telegram_user_id = ? OR user_id = ?")
        .bind(l.telegram_user_id)
        .bind(l.user_id.as_str())
        .execute(&mut *c)
        .await
        .map_err(map_err)?;
    sqlx::query(
        "INSERT INTO telegram_links (telegram_user_id, user_id, chat_id, linked_at) VALUES (?, ?, ?, ?)",
    )
    .bind(l.telegram_user_id)
    .bind(l.user_id.as_str())
    .bind(l.chat_id)
    .bind(ms(l.linked_at))
    .execute(&mut *c)
    .await
    .map_err(map_err)?;
    Ok(())
}

pub(crate) async fn unlink_telegram(c: &mut SqliteConnection, telegram_user_id: i64) -> StoreResult<bool> {
    let q = sqlx::query("DELETE FROM telegram_links WHERE telegram_user_id = ?").bind(telegram_user_id);
    Ok(q.execute(c).await.map_err(map_err)?.rows_affected() > 0)
}

pub(crate) async fn acquire_bot_lease(
    c: &mut SqliteConnection,
    name: &str,
    owner: &str,
    now: Timestamp,
    until: Timestamp,
) -> StoreResult<bool> {
    let q = sqlx::query(
        "INSERT INTO telegram_bot_leases (name, owner, lease_until, update_offset) VALUES (?1, ?2, ?3, 0) \
         ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until \
         WHERE telegram_bot_leases.owner IS NULL OR telegram_bot_leases.owner = ?2 \
            OR telegram_bot_leases.lease_until <= ?4",
    )
    .bind(name)
    .bind(owner)
    .bind(ms(until))
    .bind(ms(now));
    Ok(q.execute(c).await.map_err(map_err)?.rows_affected() > 0)
}

pub(crate) async fn release_bot_lease(
    c: &mut SqliteConnection,
    name: &str,
    owner: &str,
) -> StoreResult<bool> {
    let q = sqlx::query(
        "UPDATE telegram_bot_leases SET owner = NULL, lease_until = 0 WHERE name = ? AND owner = ?",
    )
    .bind(name)
    .bind(owner);
    Ok(q.execute(c).await.map_err(map_err)?.rows_affected() > 0)
}

pub(crate) async fn set_bot_offset(
    c: &mut SqliteConnection,
    name: &str,
    owner: &str,
    offset: i64,
    now: Timestamp,
) -> StoreResult<bool> {
    let q = sqlx::query(
        "UPDATE telegram_bot_leases SET update_offset = MAX(update_offset, ?1) \
         WHERE name = ?2 AND owner = ?3 AND lease_until > ?4",
    )
    .bind(offset)
    .bind(name)
    .bind(owner)
    .bind(ms(now));
    Ok(q.execute(c).await.map_err(map_err)?.rows_affected() > 0)
}
