//! The Telegram shop's collections: `telegram_links` (`_id` the Telegram user id, unique
//! `user_id`) and `telegram_bot_leases` (`_id` the lease name). Reads are shared by the reader and
//! the unit of work (`read.rs` re-exports them); writes are free functions the `Tx` methods call.

use crate::doc::{Fields, dt};
use crate::error::map_err;
use crate::read::Conn;
use crate::schema::Colls;
use mongodb::ClientSession;
use mongodb::bson::{Bson, Document, doc};
use ottsonly_core::StoreResult;
use ottsonly_core::ids::{NotificationId, UserId};
use ottsonly_core::model::{Notification, Timestamp};
use ottsonly_core::telegram_shop::{BotLease, TelegramLink};

fn link(d: &Document) -> StoreResult<TelegramLink> {
    let f = Fields(d);
    Ok(TelegramLink {
        telegram_user_id: f.i64("_id")?,
        user_id: UserId::from_string(f.string("user_id")?),
        chat_id: f.i64("chat_id")?,
        linked_at: f.ts("linked_at")?,
    })
}

fn lease(d: &Document) -> StoreResult<BotLease> {
    let f = Fields(d);
    Ok(BotLease {
        name: f.string("_id")?,
        owner: f.opt_string("owner")?,
        lease_until: f.ts("lease_until")?,
        offset: f.i64("update_offset")?,
        push_cursor: f.opt_string("push_cursor")?.map(NotificationId::from_string),
    })
}

pub(crate) async fn list_notifications_after(
    c: &mut Conn<'_>,
    after: Option<&NotificationId>,
    limit: u32,
) -> StoreResult<Vec<Notification>> {
    let coll = &c.colls.notifications;
    let filter = match after {
        Some(a) => doc! { "_id": { "$gt": a.as_str() } },
        None => doc! {},
    };
    let docs = c.find(coll, filter, doc! { "_id": 1 }, limit).await?;
    crate::doc::decode_all(&docs)
}

pub(crate) async fn set_bot_push_cursor(
    colls: &Colls,
    s: &mut ClientSession,
    name: &str,
    owner: &str,
    cursor: &NotificationId,
    now: Timestamp,
) -> StoreResult<bool> {
    let r = colls
        .telegram_bot_leases
        .update_one(
            doc! { "_id": name, "owner": owner, "lease_until": { "$gt": dt(now) } },
            doc! { "$max": { "push_cursor": cursor.as_str() } },
        )
        .session(s)
        .await
        .map_err(map_err)?;
    Ok(r.matched_count > 0)
}

pub(crate) async fn record_telegram_delivery(
    colls: &Colls,
    s: &mut ClientSession,
    notification: &NotificationId,
    chat_id: i64,
    now: Timestamp,
) -> StoreResult<bool> {
    let id = format!("{notification}\u{1f}{chat_id}");
    let r = colls
        .telegram_deliveries
        .update_one(
            doc! { "_id": id },
            doc! { "$setOnInsert": { "notification_id": notification.as_str(), "chat_id": chat_id, "sent_at": dt(now) } },
        )
        .upsert(true)
        .session(s)
        .await
        .map_err(map_err)?;
    Ok(r.upserted_id.is_some())
}

pub(crate) async fn get_telegram_link(
    c: &mut Conn<'_>,
    telegram_user_id: i64,
) -> StoreResult<Option<TelegramLink>> {
    let coll = &c.colls.telegram_links;
    c.find_one(coll, doc! { "_id": telegram_user_id }).await?.as_ref().map(link).transpose()
}

pub(crate) async fn get_telegram_link_by_user(
    c: &mut Conn<'_>,
    user: &UserId,
) -> StoreResult<Option<TelegramLink>> {
    let coll = &c.colls.telegram_links;
    c.find_one(coll, doc! { "user_id": user.as_str() }).await?.as_ref().map(link).transpose()
}

pub(crate) async fn get_bot_lease(c: &mut Conn<'_>, name: &str) -> StoreResult<Option<BotLease>> {
    let coll = &c.colls.telegram_bot_leases;
    c.find_one(coll, doc! { "_id": name }).await?.as_ref().map(lease).transpose()
}

pub(crate) async fn link_telegram(colls: &Colls, s: &mut ClientSession, l: &TelegramLink) -> StoreResult<()> {
    let coll = &colls.telegram_links;
    coll.delete_many(doc! { "$or": [ { "_id": l.telegram_user_id }, { "user_id": l.user_id.as_str() } ] })
        .session(&mut *s)
        .await
        .map_err(map_err)?;
    let d = doc! {
        "_id": l.telegram_user_id,
        "user_id": l.user_id.as_str(),
        "chat_id": l.chat_id,
        "linked_at": dt(l.linked_at),
    };
    coll.insert_one(d).session(s).await.map(drop).map_err(map_err)
}

pub(crate) async fn unlink_telegram(
    colls: &Colls,
    s: &mut ClientSession,
    telegram_user_id: i64,
) -> StoreResult<bool> {
    let r = colls
        .telegram_links
        .delete_one(doc! { "_id": telegram_user_id })
        .session(s)
        .await
        .map_err(map_err)?;
    Ok(r.deleted_count > 0)
}

/// Read, then a compare-and-set on what was read (or an insert the first time): a concurrent
/// unit that changed or created the lease meanwhile makes this one conflict or not match.
pub(crate) async fn acquire_bot_lease(
    colls: &Colls,
    s: &mut ClientSession,
    name: &str,
    owner: &str,
    now: Timestamp,
    until: Timestamp,
) -> StoreResult<bool> {
    let coll = &colls.telegram_bot_leases;
    let current = {
        let mut c = Conn { colls, session: Some(&mut *s) };
        c.find_one(coll, doc! { "_id": name }).await?.as_ref().map(lease).transpose()?
    };
    let Some(current) = current else {
        let d = doc! { "_id": name, "owner": owner, "lease_until": dt(until), "update_offset": 0_i64, "push_cursor": Bson::Null };
        coll.insert_one(d).session(s).await.map_err(map_err)?;
        return Ok(true);
    };
    let free = current.owner.as_deref().is_none_or(|o| o == owner) || current.lease_until <= now;
    if !free {
        return Ok(false);
    }
    let prev_owner = current.owner.map_or(Bson::Null, Bson::String);
    let r = coll
        .update_one(
            doc! { "_id": name, "owner": prev_owner, "lease_until": dt(current.lease_until) },
            doc! { "$set": { "owner": owner, "lease_until": dt(until) } },
        )
        .session(s)
        .await
        .map_err(map_err)?;
    Ok(r.matched_count > 0)
}

pub(crate) async fn release_bot_lease(
    colls: &Colls,
    s: &mut ClientSession,
    name: &str,
    owner: &str,
) -> StoreResult<bool> {
    let r = colls
        .telegram_bot_leases
        .update_one(
            doc! { "_id": name, "owner": owner },
            doc! { "$set": { "owner": Bson::Null, "lease_until": dt(chrono::DateTime::UNIX_EPOCH) } },
        )
        .session(s)
        .await
        .map_err(map_err)?;
    Ok(r.matched_count > 0)
}

pub(crate) async fn set_bot_offset(
    colls: &Colls,
    s: &mut ClientSession,
    name: &str,
    owner: &str,
    offset: i64,
    now: Timestamp,
) -> StoreResult<bool> {
    let r = colls
        .telegram_bot_leases
        .update_one(
            doc! { "_id": name, "owner": owner, "lease_until": { "$gt": dt(now) } },
            doc! { "$max": { "update_offset": offset } },
        )
        .session(s)
        .await
        .map_err(map_err)?;
    Ok(r.matched_count > 0)
}
