//! Every read, written once over a [`Conn`]: the reader runs them without a session (each sees
//! committed data), the unit of work passes its transaction's session (so it sees its own
//! writes).

use crate::doc::{FromDoc, at_or_before, broadcast_view, decode_all, dt, int, personal_view};
use crate::error::map_err;
use crate::schema::{Colls, c, f};
use futures::TryStreamExt;
use mongodb::bson::{Bson, Document, doc};
use mongodb::{ClientSession, Collection};
use ottsonly_core::ids::*;
use ottsonly_core::model::*;
use ottsonly_core::{PhoneNumber, StoreError, StoreResult};

/// The dashboard's figures live in their own file.
pub(crate) use crate::stats::shop_stats;
pub(crate) use crate::telegram::{
    get_bot_lease, get_telegram_link, get_telegram_link_by_user, list_notifications_after,
};

/// Where a read runs: the collections, and the transaction's session if inside a unit of work.
pub(crate) struct Conn<'a> {
    pub(crate) colls: &'a Colls,
    pub(crate) session: Option<&'a mut ClientSession>,
}

impl Conn<'_> {
    pub(crate) async fn find_one(
        &mut self,
        coll: &Collection<Document>,
        filter: Document,
    ) -> StoreResult<Option<Document>> {
        let action = coll.find_one(filter);
        match self.session.as_deref_mut() {
            Some(s) => action.session(s).await,
            None => action.await,
        }
        .map_err(map_err)
    }

    /// At most `limit` documents in `sort` order (`limit` 0 reads nothing, as in SQL; to the
    /// server 0 would mean "no limit").
    pub(crate) async fn find(
        &mut self,
        coll: &Collection<Document>,
        filter: Document,
        sort: Document,
        limit: u32,
    ) -> StoreResult<Vec<Document>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let action = coll.find(filter).sort(sort).limit(i64::from(limit));
        match self.session.as_deref_mut() {
            Some(s) => {
                let mut cursor = action.session(&mut *s).await.map_err(map_err)?;
                cursor.stream(s).try_collect().await.map_err(map_err)
            }
            None => action.await.map_err(map_err)?.try_collect().await.map_err(map_err),
        }
    }

    pub(crate) async fn aggregate(
        &mut self,
        coll: &Collection<Document>,
        pipeline: Vec<Document>,
    ) -> StoreResult<Vec<Document>> {
        let action = coll.aggregate(pipeline);
        match self.session.as_deref_mut() {
            Some(s) => {
                let mut cursor = action.session(&mut *s).await.map_err(map_err)?;
                cursor.stream(s).try_collect().await.map_err(map_err)
            }
            None => action.await.map_err(map_err)?.try_collect().await.map_err(map_err),
        }
    }

    pub(crate) async fn count(&mut self, coll: &Collection<Document>, filter: Document) -> StoreResult<u64> {
        let action = coll.count_documents(filter);
        match self.session.as_deref_mut() {
            Some(s) => action.session(s).await,
            None => action.await,
        }
        .map_err(map_err)
    }

    async fn get<T: FromDoc>(
        &mut self,
        coll: &Collection<Document>,
        filter: Document,
    ) -> StoreResult<Option<T>> {
        self.find_one(coll, filter).await?.as_ref().map(T::from_doc).transpose()
    }

    /// A page of a list: `filter`, ids strictly below `before_id`, newest (largest id) first.
    async fn page<T: FromDoc>(
        &mut self,
        coll: &Collection<Document>,
        mut filter: Document,
        slice: &Slice,
    ) -> StoreResult<Vec<T>> {
        if let Some(before) = &slice.before_id {
            filter.insert(f::ID, doc! { "$lt": before.as_str() });
        }
        let docs = self.find(coll, filter, doc! { (f::ID): -1 }, slice.limit).await?;
        decode_all(&docs)
    }
}

/// Inserts `key: value` when `value` is present.
fn put(filter: &mut Document, key: &str, value: Option<&str>) {
    if let Some(v) = value {
        filter.insert(key, v);
    }
}

pub(crate) async fn get_user(c: &mut Conn<'_>, id: &UserId) -> StoreResult<Option<User>> {
    let coll = &c.colls.users;
    c.get(coll, doc! { (f::ID): id.as_str() }).await
}

pub(crate) async fn get_user_by_phone(c: &mut Conn<'_>, phone: &PhoneNumber) -> StoreResult<Option<User>> {
    let coll = &c.colls.users;
    c.get(coll, doc! { "phone": phone.as_str() }).await
}

pub(crate) async fn list_users(
    c: &mut Conn<'_>,
    filter: &UserFilter,
    slice: &Slice,
) -> StoreResult<Vec<User>> {
    let mut q = Document::new();
    if let Some(prefix) = filter.phone_prefix.as_deref().filter(|p| !p.is_empty()) {
        // A range on the unique phone index rather than a regex: every string starting with
        // `prefix` sorts in [prefix, prefix + U+10FFFF) in binary (UTF-8) order, and the prefix
        // stays literal text.
        q.insert("phone", doc! { "$gte": prefix, "$lt": format!("{prefix}\u{10FFFF}") });
    }
    put(&mut q, "role", filter.role.map(|r| r.as_str()));
    let coll = &c.colls.users;
    c.page(coll, q, slice).await
}

pub(crate) async fn get_product(c: &mut Conn<'_>, id: &ProductId) -> StoreResult<Option<Product>> {
    let coll = &c.colls.products;
    c.get(coll, doc! { (f::ID): id.as_str() }).await
}

pub(crate) async fn list_products(
    c: &mut Conn<'_>,
    include_inactive: bool,
    slice: &Slice,
) -> StoreResult<Vec<Product>> {
    let q = if include_inactive {
        doc! {}
    } else {
        doc! { "is_active": true }
    };
    let coll = &c.colls.products;
    c.page(coll, q, slice).await
}

pub(crate) async fn count_available_credentials(c: &mut Conn<'_>, product: &ProductId) -> StoreResult<u64> {
    let coll = &c.colls.credentials;
    c.count(coll, doc! { "product_id": product.as_str(), "status": CredentialStatus::Available.as_str() })
        .await
}

pub(crate) async fn get_credential(
    c: &mut Conn<'_>,
    id: &CredentialId,
) -> StoreResult<Option<CredentialRecord>> {
    let coll = &c.colls.credentials;
    c.get(coll, doc! { (f::ID): id.as_str() }).await
}

pub(crate) async fn get_order(c: &mut Conn<'_>, id: &OrderId) -> StoreResult<Option<Order>> {
    let coll = &c.colls.orders;
    c.get(coll, doc! { (f::ID): id.as_str() }).await
}

pub(crate) async fn get_order_by_idempotency_key(
    c: &mut Conn<'_>,
    user: &UserId,
    key: &str,
) -> StoreResult<Option<Order>> {
    let coll = &c.colls.orders;
    c.get(coll, doc! { "user_id": user.as_str(), "idempotency_key": key }).await
}

pub(crate) async fn list_orders(
    c: &mut Conn<'_>,
    filter: &OrderFilter,
    slice: &Slice,
) -> StoreResult<Vec<Order>> {
    let mut q = Document::new();
    put(&mut q, "user_id", filter.user_id.as_ref().map(UserId::as_str));
    put(&mut q, "status", filter.status.map(|s| s.as_str()));
    let mut placed = Document::new();
    if let Some(t) = filter.placed_from {
        placed.insert("$gte", crate::doc::dt(t));
    }
    if let Some(t) = filter.placed_to {
        placed.insert("$lte", crate::doc::dt(t));
    }
    if !placed.is_empty() {
        q.insert("created_at", placed);
    }
    let coll = &c.colls.orders;
    c.page(coll, q, slice).await
}

pub(crate) async fn get_subscription(
    c: &mut Conn<'_>,
    id: &SubscriptionId,
) -> StoreResult<Option<Subscription>> {
    let coll = &c.colls.subscriptions;
    c.get(coll, doc! { (f::ID): id.as_str() }).await
}

pub(crate) async fn get_subscription_by_order(
    c: &mut Conn<'_>,
    order: &OrderId,
) -> StoreResult<Option<Subscription>> {
    let coll = &c.colls.subscriptions;
    c.get(coll, doc! { "order_id": order.as_str() }).await
}

pub(crate) async fn list_subscriptions(
    c: &mut Conn<'_>,
    filter: &SubscriptionFilter,
    slice: &Slice,
) -> StoreResult<Vec<Subscription>> {
    let mut q = Document::new();
    put(&mut q, "user_id", filter.user_id.as_ref().map(UserId::as_str));
    put(&mut q, "status", filter.status.map(|s| s.as_str()));
    put(&mut q, "product_id", filter.product_id.as_ref().map(ProductId::as_str));
    let coll = &c.colls.subscriptions;
    c.page(coll, q, slice).await
}

/// `Active` subscriptions whose end falls in `end`, oldest end first.
async fn active_ending(
    c: &mut Conn<'_>,
    end: Document,
    extra: Document,
    limit: u32,
) -> StoreResult<Vec<Subscription>> {
    let mut q = doc! { "status": SubscriptionStatus::Active.as_str(), (f::END): end };
    q.extend(extra);
    let coll = &c.colls.subscriptions;
    let docs = c.find(coll, q, doc! { (f::END): 1, (f::ID): 1 }, limit).await?;
    decode_all(&docs)
}

pub(crate) async fn list_subscriptions_ended(
    c: &mut Conn<'_>,
    now: Timestamp,
    limit: u32,
) -> StoreResult<Vec<Subscription>> {
    active_ending(c, at_or_before(now), doc! {}, limit).await
}

pub(crate) async fn list_subscriptions_to_remind(
    c: &mut Conn<'_>,
    now: Timestamp,
    until: Timestamp,
    limit: u32,
) -> StoreResult<Vec<Subscription>> {
    let mut window = at_or_before(until);
    window.insert("$gt", dt(now));
    active_ending(c, window, doc! { "reminded_at": Bson::Null }, limit).await
}

pub(crate) async fn list_ledger(
    c: &mut Conn<'_>,
    user: &UserId,
    slice: &Slice,
) -> StoreResult<Vec<LedgerEntry>> {
    let coll = &c.colls.ledger;
    c.page(coll, doc! { "user_id": user.as_str() }, slice).await
}

/// Only for core's testing extension (`StoreTestingExt`): production code never needs it.
#[cfg(feature = "testing")]
pub(crate) async fn ledger_sum(c: &mut Conn<'_>, user: &UserId) -> StoreResult<i64> {
    let signed = doc! {
        "$cond": [
            { "$eq": [format!("${}", f::KIND), EntryKind::Credit.as_str()] },
            "$amount_paise",
            { "$subtract": [0i64, "$amount_paise"] },
        ]
    };
    let pipeline = vec![
        doc! { "$match": { "user_id": user.as_str() } },
        doc! { "$group": { (f::ID): Bson::Null, "total": { "$sum": signed } } },
    ];
    let coll = &c.colls.ledger;
    match c.aggregate(coll, pipeline).await?.first() {
        None => Ok(0),
        Some(d) => int("total", d.get("total").unwrap_or(&Bson::Null)),
    }
}

pub(crate) async fn get_ledger_entry_by_reference(
    c: &mut Conn<'_>,
    reference_type: ReferenceType,
    reference_id: &str,
    kind: EntryKind,
) -> StoreResult<Option<LedgerEntry>> {
    let q = doc! {
        "reference_type": reference_type.as_str(),
        "reference_id": reference_id,
        (f::KIND): kind.as_str(),
    };
    let coll = &c.colls.ledger;
    c.get(coll, q).await
}

pub(crate) async fn get_topup(c: &mut Conn<'_>, id: &TopUpId) -> StoreResult<Option<TopUp>> {
    let coll = &c.colls.topups;
    c.get(coll, doc! { (f::ID): id.as_str() }).await
}

pub(crate) async fn get_topup_by_gateway_order(
    c: &mut Conn<'_>,
    gateway_order_id: &str,
) -> StoreResult<Option<TopUp>> {
    let coll = &c.colls.topups;
    c.get(coll, doc! { "gateway_order_id": gateway_order_id }).await
}

pub(crate) async fn list_open_topups(
    c: &mut Conn<'_>,
    created_before: Timestamp,
    slice: &Slice,
) -> StoreResult<Vec<TopUp>> {
    // Index `topups_status_id`; `created_at` is checked on the documents it walks.
    let q = doc! { "status": TopUpStatus::Created.as_str(), "created_at": at_or_before(created_before) };
    let coll = &c.colls.topups;
    c.page(coll, q, slice).await
}

pub(crate) async fn list_expired_topups(
    c: &mut Conn<'_>,
    created_since: Timestamp,
    slice: &Slice,
) -> StoreResult<Vec<TopUp>> {
    // Index `topups_status_id`, like the open ones.
    let q = doc! { "status": TopUpStatus::Expired.as_str(), "created_at": { "$gte": crate::doc::dt(created_since) } };
    let coll = &c.colls.topups;
    c.page(coll, q, slice).await
}

pub(crate) async fn count_user_topups(
    c: &mut Conn<'_>,
    user: &UserId,
    status: Option<TopUpStatus>,
    created_since: Timestamp,
) -> StoreResult<u64> {
    // Index `topups_user_created`.
    let mut q = doc! { "user_id": user.as_str(), "created_at": { "$gte": crate::doc::dt(created_since) } };
    put(&mut q, "status", status.map(|s| s.as_str()));
    let coll = &c.colls.topups;
    c.count(coll, q).await
}

pub(crate) async fn get_otp(c: &mut Conn<'_>, phone: &PhoneNumber) -> StoreResult<Option<OtpRecord>> {
    let coll = &c.colls.otps;
    c.get(coll, doc! { (f::ID): phone.as_str() }).await
}

pub(crate) async fn get_refresh_token_by_hash(
    c: &mut Conn<'_>,
    token_hash: &str,
) -> StoreResult<Option<RefreshToken>> {
    let coll = &c.colls.refresh_tokens;
    c.get(coll, doc! { "token_hash": token_hash }).await
}

/// The filter of the broadcasts a recipient may see (before their own hide/read state).
pub(crate) fn broadcasts_for(r: &Recipient) -> Document {
    doc! {
        "audience": { "$in": [Audience::All.as_str(), r.role.as_str()] },
        "created_at": { "$gte": dt(r.joined_at) },
    }
}

/// Pipeline stages that join each broadcast with the recipient's state (`state`, absent when
/// they never acted on it) and drop the ones they hid; with `unread_only`, also the read ones.
/// The join is on the state's `_id` (`{b, u}`), so it is a point lookup per broadcast.
pub(crate) fn with_state(r: &Recipient, unread_only: bool) -> Vec<Document> {
    let mut keep = doc! { "state.deleted_at": Bson::Null };
    if unread_only {
        keep.insert("state.read_at", Bson::Null);
    }
    vec![
        // `$literal`: an id starting with `$` must stay a value, not become a field path.
        doc! { "$addFields": { "state_key": { "b": "$_id", "u": { "$literal": r.user_id.as_str() } } } },
        doc! { "$lookup": {
            "from": c::BROADCAST_STATES,
            "localField": "state_key",
            "foreignField": f::ID,
            "as": "state",
        } },
        doc! { "$addFields": { "state": { "$arrayElemAt": ["$state", 0] } } },
        doc! { "$match": keep },
    ]
}

pub(crate) async fn list_notifications(
    c: &mut Conn<'_>,
    r: &Recipient,
    unread_only: bool,
    slice: &Slice,
) -> StoreResult<Vec<NotificationView>> {
    if slice.limit == 0 {
        return Ok(Vec::new());
    }
    let before = slice.before_id.as_deref();
    // Personal notifications and visible broadcasts, each newest first and at most `limit`;
    // the page is the newest `limit` of the two merged by id (both UUIDv7).
    let mut personal = doc! { "user_id": r.user_id.as_str() };
    if unread_only {
        personal.insert("is_read", false);
    }
    if let Some(b) = before {
        personal.insert(f::ID, doc! { "$lt": b });
    }
    let coll = &c.colls.notifications;
    let mine = c.find(coll, personal, doc! { (f::ID): -1 }, slice.limit).await?;

    let mut visible = broadcasts_for(r);
    if let Some(b) = before {
        visible.insert(f::ID, doc! { "$lt": b });
    }
    let mut pipeline = vec![doc! { "$match": visible }, doc! { "$sort": { (f::ID): -1 } }];
    pipeline.extend(with_state(r, unread_only));
    pipeline.push(doc! { "$limit": i64::from(slice.limit) });
    let coll = &c.colls.broadcasts;
    let shared = c.aggregate(coll, pipeline).await?;

    let mut views = Vec::with_capacity(mine.len() + shared.len());
    for d in &mine {
        views.push(personal_view(d)?);
    }
    for d in &shared {
        views.push(broadcast_view(d)?);
    }
    views.sort_by(|a, b| b.id.cmp(&a.id));
    views.truncate(slice.limit as usize);
    Ok(views)
}

pub(crate) async fn count_unread_notifications(c: &mut Conn<'_>, r: &Recipient) -> StoreResult<u64> {
    let coll = &c.colls.notifications;
    let personal = c.count(coll, doc! { "user_id": r.user_id.as_str(), "is_read": false }).await?;
    let mut pipeline = vec![doc! { "$match": broadcasts_for(r) }];
    pipeline.extend(with_state(r, true));
    pipeline.push(doc! { "$count": "n" });
    let coll = &c.colls.broadcasts;
    let shared = match c.aggregate(coll, pipeline).await?.first() {
        None => 0,
        Some(d) => int("n", d.get("n").unwrap_or(&Bson::Null))?,
    };
    let shared = u64::try_from(shared).map_err(|e| StoreError::Corrupt(format!("unread count: {e}")))?;
    Ok(personal + shared)
}

pub(crate) async fn list_outbox(
    c: &mut Conn<'_>,
    status: Option<OutboxStatus>,
    slice: &Slice,
) -> StoreResult<Vec<OutboxItem>> {
    let mut q = Document::new();
    put(&mut q, "status", status.map(|s| s.as_str()));
    let coll = &c.colls.outbox;
    c.page(coll, q, slice).await
}

pub(crate) async fn list_audit(
    c: &mut Conn<'_>,
    filter: &AuditFilter,
    slice: &Slice,
) -> StoreResult<Vec<AuditEntry>> {
    let mut q = Document::new();
    put(&mut q, "actor_id", filter.actor_id.as_ref().map(UserId::as_str));
    put(&mut q, "target_type", filter.target_type.as_deref());
    put(&mut q, "target_id", filter.target_id.as_deref());
    put(&mut q, "action", filter.action.as_deref());
    let coll = &c.colls.audit;
    c.page(coll, q, slice).await
}

pub(crate) async fn get_setting(c: &mut Conn<'_>, key: &str) -> StoreResult<Option<String>> {
    let coll = &c.colls.settings;
    match c.find_one(coll, doc! { (f::ID): key }).await? {
        None => Ok(None),
        Some(d) => crate::doc::Fields(&d).string("value").map(Some),
    }
}

pub(crate) async fn webhook_event_seen(c: &mut Conn<'_>, source: &str, event_id: &str) -> StoreResult<bool> {
    let coll = &c.colls.webhook_events;
    Ok(c.find_one(coll, doc! { (f::ID): crate::schema::webhook_event_id(source, event_id) }).await?.is_some())
}
