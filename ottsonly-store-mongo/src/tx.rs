//! The writes of a unit of work, each passing the transaction's session. Every guarded write is
//! one conditional statement (an update or `findAndModify` whose filter is the guard), so the
//! check and the change cannot be separated by another writer: a concurrent transaction that
//! touched the same document makes this one fail with a write conflict (`Transient`) instead.
//! Notification read and hide state, which the contract does not call guarded, is read and then
//! written inside the transaction; two units racing on one state document still conflict.

use crate::MongoTx;
use crate::doc::*;
use crate::error::map_err;
use crate::read::{Conn, broadcasts_for, with_state};
use crate::schema::{Colls, c as coll, f};
use async_trait::async_trait;
use mongodb::Collection;
use mongodb::bson::{Bson, Document, doc};
use mongodb::options::ReturnDocument;
use ottsonly_core::ids::*;
use ottsonly_core::model::*;
use ottsonly_core::record::{PRODUCT_UPDATES, SUBSCRIPTION_UPDATES, USER_UPDATES};
use ottsonly_core::{Money, PhoneNumber, StoreError, StoreResult, Tx};

/// Which collection a helper works on, e.g. `|c| &c.users`.
type Pick = fn(&Colls) -> &Collection<Document>;

impl MongoTx {
    async fn insert(&mut self, pick: Pick, d: Document) -> StoreResult<()> {
        let (colls, s) = self.parts()?;
        pick(colls).insert_one(d).session(s).await.map(drop).map_err(map_err)
    }

    /// `insert_many` (ordered: the first failure stops it, and the unit fails); nothing to send
    /// for no documents (the driver refuses an empty batch).
    async fn insert_many(&mut self, pick: Pick, docs: Vec<Document>) -> StoreResult<()> {
        if docs.is_empty() {
            return Ok(());
        }
        let (colls, s) = self.parts()?;
        pick(colls).insert_many(docs).session(s).await.map(drop).map_err(map_err)
    }

    /// `update_one`; true if a document matched the filter (the guard held).
    async fn update_one(&mut self, pick: Pick, filter: Document, update: Document) -> StoreResult<bool> {
        let (colls, s) = self.parts()?;
        let r = pick(colls).update_one(filter, update).session(s).await.map_err(map_err)?;
        Ok(r.matched_count > 0)
    }

    /// `update_many`; how many documents changed.
    async fn update_many(&mut self, pick: Pick, filter: Document, update: Document) -> StoreResult<u64> {
        let (colls, s) = self.parts()?;
        let r = pick(colls).update_many(filter, update).session(s).await.map_err(map_err)?;
        Ok(r.modified_count)
    }

    /// A guarded `findAndModify` returning the document as it is after the update.
    async fn modify(
        &mut self,
        pick: Pick,
        filter: Document,
        update: Document,
        sort: Option<Document>,
    ) -> StoreResult<Option<Document>> {
        let (colls, s) = self.parts()?;
        let mut action =
            pick(colls).find_one_and_update(filter, update).return_document(ReturnDocument::After);
        if let Some(sort) = sort {
            action = action.sort(sort);
        }
        action.session(s).await.map_err(map_err)
    }

    pub(crate) fn conn(&mut self) -> StoreResult<Conn<'_>> {
        let (colls, s) = self.parts()?;
        Ok(Conn { colls, session: Some(s) })
    }

    /// Whether the recipient may see broadcast `id` (audience and join date).
    async fn visible_broadcast(&mut self, r: &Recipient, id: &NotificationId) -> StoreResult<bool> {
        let mut q = broadcasts_for(r);
        q.insert(f::ID, id.as_str());
        let mut c = self.conn()?;
        let coll = &c.colls.broadcasts;
        Ok(c.find_one(coll, q).await?.is_some())
    }

    /// The recipient's state of one broadcast, if they ever acted on it.
    async fn broadcast_state(&mut self, key: &Document) -> StoreResult<Option<Document>> {
        let mut c = self.conn()?;
        let coll = &c.colls.broadcast_states;
        c.find_one(coll, doc! { (f::ID): key.clone() }).await
    }

    /// Writes the recipient's state of one broadcast, creating it if needed.
    async fn put_broadcast_state(&mut self, key: Document, r: &Recipient, set: Document) -> StoreResult<()> {
        let (colls, s) = self.parts()?;
        let broadcast_id = key.get_str("b").map_err(StoreError::backend)?.to_owned();
        let mut on_insert = doc! { "broadcast_id": broadcast_id, "user_id": r.user_id.as_str() };
        for field in ["read_at", "deleted_at"] {
            if !set.contains_key(field) {
                on_insert.insert(field, Bson::Null);
            }
        }
        colls
            .broadcast_states
            .update_one(doc! { (f::ID): key }, doc! { "$set": set, "$setOnInsert": on_insert })
            .upsert(true)
            .session(s)
            .await
            .map(drop)
            .map_err(map_err)
    }

    /// Guarded: `from` → `Paid` with the payment id (`Created` for a capture, `Expired` for a
    /// late one).
    async fn mark_paid_from(
        &mut self,
        from: TopUpStatus,
        id: &TopUpId,
        payment_id: &str,
        now: Timestamp,
    ) -> StoreResult<bool> {
        self.take_turn(coll::TOPUPS, id.as_str())?;
        let filter = doc! { (f::ID): id.as_str(), "status": from.as_str() };
        let set = doc! {
            "status": TopUpStatus::Paid.as_str(),
            "gateway_payment_id": payment_id,
            "paid_at": dt(now),
            "updated_at": dt(now),
        };
        self.update_one(|c| &c.topups, filter, doc! { "$set": set }).await
    }
}

fn money_of(d: Option<Document>, field: &str) -> StoreResult<Option<Money>> {
    d.map(|d| Fields(&d).money(field)).transpose()
}

fn by_id(id: &str) -> Document {
    doc! { (f::ID): id }
}

#[async_trait]
impl Tx for MongoTx {
    async fn insert_user(&mut self, u: &User) -> StoreResult<()> {
        self.insert(|c| &c.users, to_doc(u)?).await
    }

    async fn update_user(&mut self, u: &User) -> StoreResult<bool> {
        self.take_turn(coll::USERS, u.id.as_str())?;
        self.update_one(|c| &c.users, by_id(u.id.as_str()), set_doc(u, USER_UPDATES)?).await
    }

    async fn credit_balance(
        &mut self,
        user: &UserId,
        amount: Money,
        now: Timestamp,
    ) -> StoreResult<Option<Money>> {
        self.take_turn(coll::USERS, user.as_str())?;
        let update = doc! { "$inc": { (f::BALANCE): amount.paise() }, "$set": { "updated_at": dt(now) } };
        let d = self.modify(|c| &c.users, by_id(user.as_str()), update, None).await?;
        money_of(d, f::BALANCE)
    }

    async fn debit_balance(
        &mut self,
        user: &UserId,
        amount: Money,
        now: Timestamp,
    ) -> StoreResult<Option<Money>> {
        self.take_turn(coll::USERS, user.as_str())?;
        let filter = doc! { (f::ID): user.as_str(), (f::BALANCE): { "$gte": amount.paise() } };
        let update = doc! { "$inc": { (f::BALANCE): -amount.paise() }, "$set": { "updated_at": dt(now) } };
        let d = self.modify(|c| &c.users, filter, update, None).await?;
        money_of(d, f::BALANCE)
    }

    async fn debit_unblocked_user(
        &mut self,
        user: &UserId,
        amount: Money,
        now: Timestamp,
    ) -> StoreResult<Option<User>> {
        self.take_turn(coll::USERS, user.as_str())?;
        let filter = doc! {
            (f::ID): user.as_str(), "is_blocked": false, (f::BALANCE): { "$gte": amount.paise() }
        };
        let update = doc! { "$inc": { (f::BALANCE): -amount.paise() }, "$set": { "updated_at": dt(now) } };
        let d = self.modify(|c| &c.users, filter, update, None).await?;
        d.as_ref().map(User::from_doc).transpose()
    }

    async fn insert_ledger_entry(&mut self, e: &LedgerEntry) -> StoreResult<()> {
        self.insert(|c| &c.ledger, to_doc(e)?).await
    }

    async fn put_otp(&mut self, o: &OtpRecord) -> StoreResult<()> {
        self.take_turn(coll::OTPS, o.phone.as_str())?;
        let (colls, s) = self.parts()?;
        colls
            .otps
            .replace_one(by_id(o.phone.as_str()), to_doc(o)?)
            .upsert(true)
            .session(s)
            .await
            .map(drop)
            .map_err(map_err)
    }

    async fn record_otp_attempt(
        &mut self,
        phone: &PhoneNumber,
        max_attempts: u32,
        max_guesses: u32,
    ) -> StoreResult<Option<OtpRecord>> {
        self.take_turn(coll::OTPS, phone.as_str())?;
        // A document from before the guess budget has no `guesses_in_window`: it counts as 0.
        let filter = doc! {
            (f::ID): phone.as_str(),
            "consumed_at": Bson::Null,
            "attempts": { "$lt": i64::from(max_attempts) },
            "$or": [
                { "guesses_in_window": { "$lt": i64::from(max_guesses) } },
                { "guesses_in_window": { "$exists": false } },
            ],
        };
        let update = doc! { "$inc": { "attempts": 1i64, "guesses_in_window": 1i64 } };
        let d = self.modify(|c| &c.otps, filter, update, None).await?;
        d.as_ref().map(OtpRecord::from_doc).transpose()
    }

    async fn consume_otp(
        &mut self,
        phone: &PhoneNumber,
        created_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<bool> {
        self.take_turn(coll::OTPS, phone.as_str())?;
        let filter =
            doc! { (f::ID): phone.as_str(), "created_at": dt(created_at), "consumed_at": Bson::Null };
        self.update_one(|c| &c.otps, filter, doc! { "$set": { "consumed_at": dt(now) } }).await
    }

    async fn insert_refresh_token(&mut self, t: &RefreshToken) -> StoreResult<()> {
        self.insert(|c| &c.refresh_tokens, to_doc(t)?).await
    }

    async fn mark_refresh_token_used(&mut self, id: &RefreshTokenId, now: Timestamp) -> StoreResult<bool> {
        self.take_turn(coll::REFRESH_TOKENS, id.as_str())?;
        let filter = doc! { (f::ID): id.as_str(), "used_at": Bson::Null, "revoked_at": Bson::Null };
        self.update_one(|c| &c.refresh_tokens, filter, doc! { "$set": { "used_at": dt(now) } }).await
    }

    async fn revoke_refresh_family(&mut self, family_id: &str, now: Timestamp) -> StoreResult<u64> {
        let filter = doc! { "family_id": family_id, "revoked_at": Bson::Null };
        self.update_many(|c| &c.refresh_tokens, filter, doc! { "$set": { "revoked_at": dt(now) } }).await
    }

    async fn revoke_user_refresh_tokens(&mut self, user: &UserId, now: Timestamp) -> StoreResult<u64> {
        let filter = doc! { "user_id": user.as_str(), "revoked_at": Bson::Null };
        self.update_many(|c| &c.refresh_tokens, filter, doc! { "$set": { "revoked_at": dt(now) } }).await
    }

    async fn insert_product(&mut self, p: &Product) -> StoreResult<()> {
        self.insert(|c| &c.products, to_doc(p)?).await
    }

    async fn update_product(&mut self, p: &Product) -> StoreResult<bool> {
        self.take_turn(coll::PRODUCTS, p.id.as_str())?;
        self.update_one(|c| &c.products, by_id(p.id.as_str()), set_doc(p, PRODUCT_UPDATES)?).await
    }

    async fn adjust_stock(
        &mut self,
        product: &ProductId,
        delta: i64,
        require_active: bool,
        now: Timestamp,
    ) -> StoreResult<Option<i64>> {
        self.take_turn(coll::PRODUCTS, product.as_str())?;
        // `stock + delta >= 0` as a filter on the stored value.
        let floor = delta.checked_neg().ok_or_else(|| StoreError::Corrupt(format!("stock delta {delta}")))?;
        let mut filter = doc! { (f::ID): product.as_str(), (f::STOCK): { "$gte": floor } };
        if require_active {
            filter.insert("is_active", true);
        }
        let update = doc! { "$inc": { (f::STOCK): delta }, "$set": { "updated_at": dt(now) } };
        let d = self.modify(|c| &c.products, filter, update, None).await?;
        d.map(|d| Fields(&d).i64(f::STOCK)).transpose()
    }

    async fn take_one_in_stock(
        &mut self,
        product: &ProductId,
        now: Timestamp,
    ) -> StoreResult<Option<Product>> {
        self.take_turn(coll::PRODUCTS, product.as_str())?;
        let filter = doc! { (f::ID): product.as_str(), (f::STOCK): { "$gte": 1 }, "is_active": true };
        let update = doc! { "$inc": { (f::STOCK): -1 }, "$set": { "updated_at": dt(now) } };
        let d = self.modify(|c| &c.products, filter, update, None).await?;
        d.as_ref().map(Product::from_doc).transpose()
    }

    async fn insert_credential(&mut self, cr: &CredentialRecord) -> StoreResult<()> {
        self.insert(|c| &c.credentials, to_doc(cr)?).await
    }

    async fn claim_credential(
        &mut self,
        product: &ProductId,
        subscription: &SubscriptionId,
        now: Timestamp,
    ) -> StoreResult<Option<CredentialRecord>> {
        // Every claimer of a pool goes for the same oldest credential: take turns on the pool.
        self.take_turn(coll::CREDENTIALS, product.as_str())?;
        let filter = doc! { "product_id": product.as_str(), "status": CredentialStatus::Available.as_str() };
        let update = doc! { "$set": {
            "status": CredentialStatus::Assigned.as_str(),
            "subscription_id": subscription.as_str(),
            "assigned_at": dt(now),
        } };
        // Oldest first: ids are time-ordered.
        let d = self.modify(|c| &c.credentials, filter, update, Some(doc! { (f::ID): 1 })).await?;
        d.as_ref().map(CredentialRecord::from_doc).transpose()
    }

    async fn insert_order(&mut self, o: &Order) -> StoreResult<()> {
        self.insert(|c| &c.orders, to_doc(o)?).await
    }

    async fn mark_order_refunded(
        &mut self,
        id: &OrderId,
        reason: &str,
        actor: &UserId,
        now: Timestamp,
    ) -> StoreResult<bool> {
        self.take_turn(coll::ORDERS, id.as_str())?;
        let filter = doc! { (f::ID): id.as_str(), "status": OrderStatus::Completed.as_str() };
        let set = doc! {
            "status": OrderStatus::Refunded.as_str(),
            "refund_reason": reason,
            "refunded_by": actor.as_str(),
            "refunded_at": dt(now),
            "updated_at": dt(now),
        };
        self.update_one(|c| &c.orders, filter, doc! { "$set": set }).await
    }

    async fn insert_subscription(&mut self, s: &Subscription) -> StoreResult<()> {
        self.insert(|c| &c.subscriptions, to_doc(s)?).await
    }

    async fn update_subscription(
        &mut self,
        s: &Subscription,
        expected: SubscriptionStatus,
    ) -> StoreResult<bool> {
        self.take_turn(coll::SUBSCRIPTIONS, s.id.as_str())?;
        let filter = doc! { (f::ID): s.id.as_str(), "status": expected.as_str() };
        self.update_one(|c| &c.subscriptions, filter, set_doc(s, SUBSCRIPTION_UPDATES)?).await
    }

    async fn insert_topup(&mut self, t: &TopUp) -> StoreResult<()> {
        self.insert(|c| &c.topups, to_doc(t)?).await
    }

    async fn mark_topup_paid(&mut self, id: &TopUpId, payment_id: &str, now: Timestamp) -> StoreResult<bool> {
        self.mark_paid_from(TopUpStatus::Created, id, payment_id, now).await
    }

    async fn mark_expired_topup_paid(
        &mut self,
        id: &TopUpId,
        payment_id: &str,
        now: Timestamp,
    ) -> StoreResult<bool> {
        self.mark_paid_from(TopUpStatus::Expired, id, payment_id, now).await
    }

    async fn close_topup(&mut self, id: &TopUpId, to: TopUpStatus, now: Timestamp) -> StoreResult<bool> {
        // Only the two closing states are legal targets; anything else changes nothing.
        if !matches!(to, TopUpStatus::Expired | TopUpStatus::Failed) {
            return Ok(false);
        }
        self.take_turn(coll::TOPUPS, id.as_str())?;
        let filter = doc! { (f::ID): id.as_str(), "status": TopUpStatus::Created.as_str() };
        let set = doc! { "status": to.as_str(), "updated_at": dt(now) };
        self.update_one(|c| &c.topups, filter, doc! { "$set": set }).await
    }

    async fn insert_notification(&mut self, n: &Notification) -> StoreResult<()> {
        self.insert(|c| &c.notifications, to_doc(n)?).await
    }

    async fn insert_notifications(&mut self, rows: &[Notification]) -> StoreResult<()> {
        self.insert_many(|c| &c.notifications, rows.iter().map(to_doc).collect::<StoreResult<Vec<_>>>()?)
            .await
    }

    async fn insert_broadcast(&mut self, b: &Broadcast) -> StoreResult<()> {
        self.insert(|c| &c.broadcasts, to_doc(b)?).await
    }

    async fn mark_notification_read(
        &mut self,
        recipient: &Recipient,
        id: &NotificationId,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let personal = doc! { (f::ID): id.as_str(), "user_id": recipient.user_id.as_str() };
        if self.update_one(|c| &c.notifications, personal, doc! { "$set": { "is_read": true } }).await? {
            return Ok(true);
        }
        // A broadcast: record the read in the recipient's state, if they can see it.
        if !self.visible_broadcast(recipient, id).await? {
            return Ok(false);
        }
        let key = broadcast_state_id(id.as_str(), recipient.user_id.as_str());
        match self.broadcast_state(&key).await? {
            Some(state) if !matches!(state.get("deleted_at"), None | Some(Bson::Null)) => Ok(false),
            // Read before: keep the first read time.
            Some(state) if !matches!(state.get("read_at"), None | Some(Bson::Null)) => Ok(true),
            _ => {
                self.put_broadcast_state(key, recipient, doc! { "read_at": dt(now) }).await?;
                Ok(true)
            }
        }
    }

    async fn mark_all_notifications_read(
        &mut self,
        recipient: &Recipient,
        now: Timestamp,
    ) -> StoreResult<u64> {
        let unread = doc! { "user_id": recipient.user_id.as_str(), "is_read": false };
        let personal =
            self.update_many(|c| &c.notifications, unread, doc! { "$set": { "is_read": true } }).await?;
        // Every visible broadcast still unread for them (and not hidden) gets a read state.
        let mut pipeline = vec![doc! { "$match": broadcasts_for(recipient) }];
        pipeline.extend(with_state(recipient, true));
        pipeline.push(doc! { "$project": { (f::ID): 1 } });
        let unread_broadcasts = {
            let mut c = self.conn()?;
            let coll = &c.colls.broadcasts;
            c.aggregate(coll, pipeline).await?
        };
        let mut broadcasts = 0u64;
        for d in &unread_broadcasts {
            let id = Fields(d).string(f::ID)?;
            let key = broadcast_state_id(&id, recipient.user_id.as_str());
            self.put_broadcast_state(key, recipient, doc! { "read_at": dt(now) }).await?;
            broadcasts += 1;
        }
        Ok(personal + broadcasts)
    }

    async fn delete_notification(
        &mut self,
        recipient: &Recipient,
        id: &NotificationId,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let personal = doc! { (f::ID): id.as_str(), "user_id": recipient.user_id.as_str() };
        let deleted = {
            let (colls, s) = self.parts()?;
            colls.notifications.delete_one(personal).session(s).await.map_err(map_err)?.deleted_count
        };
        if deleted > 0 {
            return Ok(true);
        }
        // A broadcast is shared: hide it for this recipient only.
        if !self.visible_broadcast(recipient, id).await? {
            return Ok(false);
        }
        let key = broadcast_state_id(id.as_str(), recipient.user_id.as_str());
        if let Some(state) = self.broadcast_state(&key).await?
            && !matches!(state.get("deleted_at"), None | Some(Bson::Null))
        {
            return Ok(false);
        }
        self.put_broadcast_state(key, recipient, doc! { "deleted_at": dt(now) }).await?;
        Ok(true)
    }

    async fn insert_outbox(&mut self, i: &OutboxItem) -> StoreResult<()> {
        self.insert(|c| &c.outbox, to_doc(i)?).await
    }

    async fn insert_outbox_items(&mut self, rows: &[OutboxItem]) -> StoreResult<()> {
        self.insert_many(|c| &c.outbox, rows.iter().map(to_doc).collect::<StoreResult<Vec<_>>>()?).await
    }

    async fn claim_outbox(
        &mut self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<OutboxItem>> {
        // One guarded findAndModify per item, oldest due first, at most `limit` (a bounded
        // loop). Items claimed by this call are excluded, in case `lease_until <= now`.
        let mut claimed: Vec<OutboxItem> = Vec::new();
        for _ in 0..limit {
            let taken: Vec<&str> = claimed.iter().map(|i| i.id.as_str()).collect();
            let filter = doc! {
                (f::ID): { "$nin": taken },
                "status": OutboxStatus::Pending.as_str(),
                "due_at": at_or_before(now),
                "$or": [{ "lease_until": Bson::Null }, { "lease_until": at_or_before(now) }],
            };
            let update = doc! {
                "$set": { "lease_owner": owner, "lease_until": dt(lease_until) },
                "$inc": { "attempts": 1i64 },
            };
            let sort = doc! { "due_at": 1, (f::ID): 1 };
            match self.modify(|c| &c.outbox, filter, update, Some(sort)).await? {
                Some(d) => claimed.push(OutboxItem::from_doc(&d)?),
                None => break,
            }
        }
        Ok(claimed)
    }

    async fn complete_outbox(&mut self, id: &OutboxId, owner: &str, now: Timestamp) -> StoreResult<bool> {
        let filter =
            doc! { (f::ID): id.as_str(), "lease_owner": owner, "status": OutboxStatus::Pending.as_str() };
        let set = doc! {
            "status": OutboxStatus::Delivered.as_str(),
            "delivered_at": dt(now),
            "lease_owner": Bson::Null,
            "lease_until": Bson::Null,
        };
        self.update_one(|c| &c.outbox, filter, doc! { "$set": set }).await
    }

    async fn fail_outbox(
        &mut self,
        id: &OutboxId,
        owner: &str,
        error: &str,
        retry_at: Option<Timestamp>,
    ) -> StoreResult<bool> {
        let filter =
            doc! { (f::ID): id.as_str(), "lease_owner": owner, "status": OutboxStatus::Pending.as_str() };
        let mut set = doc! { "last_error": error, "lease_owner": Bson::Null, "lease_until": Bson::Null };
        match retry_at {
            Some(at) => set.insert("due_at", dt(at)),
            None => set.insert("status", OutboxStatus::Failed.as_str()),
        };
        self.update_one(|c| &c.outbox, filter, doc! { "$set": set }).await
    }

    async fn requeue_outbox(&mut self, id: &OutboxId, now: Timestamp) -> StoreResult<bool> {
        let filter = doc! { (f::ID): id.as_str(), "status": OutboxStatus::Failed.as_str() };
        let set = doc! { "status": OutboxStatus::Pending.as_str(), "due_at": dt(now), "attempts": 0i64 };
        self.update_one(|c| &c.outbox, filter, doc! { "$set": set }).await
    }

    async fn insert_audit(&mut self, a: &AuditEntry) -> StoreResult<()> {
        let d = to_doc(a)?;
        self.insert(|c| &c.audit, d).await
    }

    async fn put_setting_if_absent(&mut self, key: &str, value: &str) -> StoreResult<String> {
        let d = {
            let (colls, s) = self.parts()?;
            colls
                .settings
                .find_one_and_update(by_id(key), doc! { "$setOnInsert": { "value": value } })
                .upsert(true)
                .return_document(ReturnDocument::After)
                .session(s)
                .await
                .map_err(map_err)?
        };
        let d = d.ok_or_else(|| StoreError::Corrupt(format!("setting {key} missing after upsert")))?;
        Fields(&d).string("value")
    }

    async fn record_webhook_event(
        &mut self,
        source: &str,
        event_id: &str,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let (colls, s) = self.parts()?;
        let id = crate::schema::webhook_event_id(source, event_id);
        let r = colls
            .webhook_events
            .update_one(
                by_id(&id),
                doc! { "$setOnInsert": { "source": source, "event_id": event_id, "received_at": crate::doc::dt(now) } },
            )
            .upsert(true)
            .session(s)
            .await
            .map_err(map_err)?;
        Ok(r.upserted_id.is_some())
    }

    async fn link_telegram(&mut self, link: &ottsonly_core::telegram_shop::TelegramLink) -> StoreResult<()> {
        let (colls, s) = self.parts()?;
        crate::telegram::link_telegram(colls, s, link).await
    }

    async fn unlink_telegram(&mut self, telegram_user_id: i64) -> StoreResult<bool> {
        let (colls, s) = self.parts()?;
        crate::telegram::unlink_telegram(colls, s, telegram_user_id).await
    }

    async fn acquire_bot_lease(
        &mut self,
        name: &str,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> StoreResult<bool> {
        let (colls, s) = self.parts()?;
        crate::telegram::acquire_bot_lease(colls, s, name, owner, now, until).await
    }

    async fn release_bot_lease(&mut self, name: &str, owner: &str) -> StoreResult<bool> {
        let (colls, s) = self.parts()?;
        crate::telegram::release_bot_lease(colls, s, name, owner).await
    }

    async fn set_bot_offset(
        &mut self,
        name: &str,
        owner: &str,
        offset: i64,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let (colls, s) = self.parts()?;
        crate::telegram::set_bot_offset(colls, s, name, owner, offset, now).await
    }

    async fn set_bot_push_cursor(
        &mut self,
        name: &str,
        owner: &str,
        cursor: &NotificationId,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let (colls, s) = self.parts()?;
        crate::telegram::set_bot_push_cursor(colls, s, name, owner, cursor, now).await
    }

    async fn record_telegram_delivery(
        &mut self,
        notification: &NotificationId,
        chat_id: i64,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let (colls, s) = self.parts()?;
        crate::telegram::record_telegram_delivery(colls, s, notification, chat_id, now).await
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.commit_inner().await
    }
}
