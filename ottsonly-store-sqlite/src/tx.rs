//! The writes of a unit of work. Every guarded write is one conditional statement (`UPDATE ...
//! WHERE <guard>`), so the check and the change cannot be separated by another writer.

use crate::read::{Query, bind_recipient, fetch_all, fetch_opt, visible_broadcasts};
use crate::row::{insert_sql, ms, update_sql, upsert_sql};
use crate::{SqliteTx, map_err};
use async_trait::async_trait;
use ottsonly_core::ids::*;
use ottsonly_core::model::*;
use ottsonly_core::record::{PRODUCT_UPDATES, SUBSCRIPTION_UPDATES, USER_UPDATES};
use ottsonly_core::{Money, PhoneNumber, StoreError, StoreResult, Tx};
use sqlx::{QueryBuilder, Sqlite};

impl SqliteTx {
    /// Runs a statement and returns how many rows it changed.
    async fn exec(&mut self, q: Query<'_>) -> StoreResult<u64> {
        Ok(q.execute(&mut *self.tx).await.map_err(map_err)?.rows_affected())
    }

    /// Runs an [`insert_sql`] / [`upsert_sql`] statement.
    async fn insert(&mut self, mut qb: QueryBuilder<Sqlite>) -> StoreResult<()> {
        self.exec(qb.build()).await.map(drop)
    }

    /// Runs a statement expected to change at most one row; true if it did.
    async fn exec_one(&mut self, q: Query<'_>) -> StoreResult<bool> {
        Ok(self.exec(q).await? > 0)
    }

    /// Runs a guarded `... RETURNING <one integer column>`; `None` when the guard failed.
    async fn returning_i64(&mut self, q: Query<'_>) -> StoreResult<Option<i64>> {
        let row = q.fetch_optional(&mut *self.tx).await.map_err(map_err)?;
        row.map(|r| sqlx::Row::try_get::<i64, _>(&r, 0).map_err(map_err)).transpose()
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
        let q = sqlx::query(
            "UPDATE topups SET status = 'paid', gateway_payment_id = ?1, paid_at = ?2, updated_at = ?2 \
             WHERE id = ?3 AND status = ?4",
        )
        .bind(payment_id)
        .bind(ms(now))
        .bind(id.as_str())
        .bind(from.as_str());
        self.exec_one(q).await
    }

    async fn returning_money(&mut self, q: Query<'_>) -> StoreResult<Option<Money>> {
        self.returning_i64(q)
            .await?
            .map(|p| Money::from_paise(p).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()
    }
}

fn opt_ms(t: Option<Timestamp>) -> Option<i64> {
    t.map(ms)
}

#[async_trait]
impl Tx for SqliteTx {
    async fn insert_user(&mut self, u: &User) -> StoreResult<()> {
        self.insert(insert_sql("users", u)?).await
    }

    async fn update_user(&mut self, u: &User) -> StoreResult<bool> {
        self.exec_one(update_sql("users", u, USER_UPDATES)?.build()).await
    }

    async fn credit_balance(
        &mut self,
        user: &UserId,
        amount: Money,
        now: Timestamp,
    ) -> StoreResult<Option<Money>> {
        let q = sqlx::query(
            "UPDATE users SET wallet_balance_paise = wallet_balance_paise + ?, updated_at = ? \
             WHERE id = ? RETURNING wallet_balance_paise",
        )
        .bind(amount.paise())
        .bind(ms(now))
        .bind(user.as_str());
        self.returning_money(q).await
    }

    async fn debit_balance(
        &mut self,
        user: &UserId,
        amount: Money,
        now: Timestamp,
    ) -> StoreResult<Option<Money>> {
        let q = sqlx::query(
            "UPDATE users SET wallet_balance_paise = wallet_balance_paise - ?1, updated_at = ?2 \
             WHERE id = ?3 AND wallet_balance_paise >= ?1 RETURNING wallet_balance_paise",
        )
        .bind(amount.paise())
        .bind(ms(now))
        .bind(user.as_str());
        self.returning_money(q).await
    }

    async fn debit_unblocked_user(
        &mut self,
        user: &UserId,
        amount: Money,
        now: Timestamp,
    ) -> StoreResult<Option<User>> {
        crate::batch::debit_unblocked_user(&mut self.tx, user, amount, now).await
    }

    async fn insert_ledger_entry(&mut self, e: &LedgerEntry) -> StoreResult<()> {
        self.insert(insert_sql("ledger", e)?).await
    }

    async fn put_otp(&mut self, o: &OtpRecord) -> StoreResult<()> {
        self.insert(upsert_sql("otps", o)?).await
    }

    async fn record_otp_attempt(
        &mut self,
        phone: &PhoneNumber,
        max_attempts: u32,
        max_guesses: u32,
    ) -> StoreResult<Option<OtpRecord>> {
        let q = sqlx::query(
            "UPDATE otps SET attempts = attempts + 1, guesses_in_window = guesses_in_window + 1 \
             WHERE phone = ? AND consumed_at IS NULL AND attempts < ? AND guesses_in_window < ? RETURNING *",
        )
        .bind(phone.as_str())
        .bind(i64::from(max_attempts))
        .bind(i64::from(max_guesses));
        fetch_opt(&mut self.tx, q).await
    }

    async fn consume_otp(
        &mut self,
        phone: &PhoneNumber,
        created_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let q = sqlx::query(
            "UPDATE otps SET consumed_at = ? WHERE phone = ? AND created_at = ? AND consumed_at IS NULL",
        )
        .bind(ms(now))
        .bind(phone.as_str())
        .bind(ms(created_at));
        self.exec_one(q).await
    }

    async fn insert_refresh_token(&mut self, t: &RefreshToken) -> StoreResult<()> {
        self.insert(insert_sql("refresh_tokens", t)?).await
    }

    async fn mark_refresh_token_used(&mut self, id: &RefreshTokenId, now: Timestamp) -> StoreResult<bool> {
        let q = sqlx::query(
            "UPDATE refresh_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL",
        )
        .bind(ms(now))
        .bind(id.as_str());
        self.exec_one(q).await
    }

    async fn revoke_refresh_family(&mut self, family_id: &str, now: Timestamp) -> StoreResult<u64> {
        let q = sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL",
        )
        .bind(ms(now))
        .bind(family_id);
        self.exec(q).await
    }

    async fn revoke_user_refresh_tokens(&mut self, user: &UserId, now: Timestamp) -> StoreResult<u64> {
        let q =
            sqlx::query("UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL")
                .bind(ms(now))
                .bind(user.as_str());
        self.exec(q).await
    }

    async fn insert_product(&mut self, p: &Product) -> StoreResult<()> {
        self.insert(insert_sql("products", p)?).await
    }

    async fn update_product(&mut self, p: &Product) -> StoreResult<bool> {
        self.exec_one(update_sql("products", p, PRODUCT_UPDATES)?.build()).await
    }

    async fn adjust_stock(
        &mut self,
        product: &ProductId,
        delta: i64,
        require_active: bool,
        now: Timestamp,
    ) -> StoreResult<Option<i64>> {
        let q = sqlx::query(
            "UPDATE products SET stock = stock + ?1, updated_at = ?2 \
             WHERE id = ?3 AND stock + ?1 >= 0 AND (?4 = 0 OR is_active = 1) RETURNING stock",
        )
        .bind(delta)
        .bind(ms(now))
        .bind(product.as_str())
        .bind(require_active);
        self.returning_i64(q).await
    }

    async fn take_one_in_stock(
        &mut self,
        product: &ProductId,
        now: Timestamp,
    ) -> StoreResult<Option<Product>> {
        crate::batch::take_one_in_stock(&mut self.tx, product, now).await
    }

    async fn insert_credential(&mut self, cr: &CredentialRecord) -> StoreResult<()> {
        self.insert(insert_sql("credentials", cr)?).await
    }

    async fn claim_credential(
        &mut self,
        product: &ProductId,
        subscription: &SubscriptionId,
        now: Timestamp,
    ) -> StoreResult<Option<CredentialRecord>> {
        let q = sqlx::query(
            "UPDATE credentials SET status = 'assigned', subscription_id = ?, assigned_at = ? \
             WHERE id = (SELECT id FROM credentials WHERE product_id = ? AND status = 'available' \
             ORDER BY id LIMIT 1) RETURNING *",
        )
        .bind(subscription.as_str())
        .bind(ms(now))
        .bind(product.as_str());
        fetch_opt(&mut self.tx, q).await
    }

    async fn insert_order(&mut self, o: &Order) -> StoreResult<()> {
        self.insert(insert_sql("orders", o)?).await
    }

    async fn mark_order_refunded(
        &mut self,
        id: &OrderId,
        reason: &str,
        actor: &UserId,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let q = sqlx::query(
            "UPDATE orders SET status = 'refunded', refund_reason = ?1, refunded_by = ?2, refunded_at = ?3, \
             updated_at = ?3 WHERE id = ?4 AND status = 'completed'",
        )
        .bind(reason)
        .bind(actor.as_str())
        .bind(ms(now))
        .bind(id.as_str());
        self.exec_one(q).await
    }

    async fn insert_subscription(&mut self, s: &Subscription) -> StoreResult<()> {
        self.insert(insert_sql("subscriptions", s)?).await
    }

    async fn update_subscription(
        &mut self,
        s: &Subscription,
        expected: SubscriptionStatus,
    ) -> StoreResult<bool> {
        let mut q = update_sql("subscriptions", s, SUBSCRIPTION_UPDATES)?;
        q.push(" AND status = ").push_bind(expected.as_str());
        self.exec_one(q.build()).await
    }

    async fn insert_topup(&mut self, t: &TopUp) -> StoreResult<()> {
        self.insert(insert_sql("topups", t)?).await
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
        let q =
            sqlx::query("UPDATE topups SET status = ?, updated_at = ? WHERE id = ? AND status = 'created'")
                .bind(to.as_str())
                .bind(ms(now))
                .bind(id.as_str());
        self.exec_one(q).await
    }

    async fn insert_notification(&mut self, n: &Notification) -> StoreResult<()> {
        self.insert(insert_sql("notifications", n)?).await
    }

    async fn insert_notifications(&mut self, rows: &[Notification]) -> StoreResult<()> {
        crate::batch::insert_notifications(&mut self.tx, rows).await
    }

    async fn insert_broadcast(&mut self, b: &Broadcast) -> StoreResult<()> {
        self.insert(insert_sql("broadcasts", b)?).await
    }

    async fn mark_notification_read(
        &mut self,
        recipient: &Recipient,
        id: &NotificationId,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let personal = sqlx::query("UPDATE notifications SET is_read = 1 WHERE id = ? AND user_id = ?")
            .bind(id.as_str())
            .bind(recipient.user_id.as_str());
        if self.exec_one(personal).await? {
            return Ok(true);
        }
        // A broadcast: record the read in the recipient's state row, if they can see it.
        let q = sqlx::query(concat!(
            "INSERT INTO broadcast_states (broadcast_id, user_id, read_at) SELECT b.id, ?1, ?4",
            visible_broadcasts!(),
            " AND b.id = ?5 ON CONFLICT (broadcast_id, user_id) \
             DO UPDATE SET read_at = COALESCE(broadcast_states.read_at, excluded.read_at)"
        ));
        let q = bind_recipient(q, recipient).bind(ms(now)).bind(id.as_str());
        self.exec_one(q).await
    }

    async fn mark_all_notifications_read(
        &mut self,
        recipient: &Recipient,
        now: Timestamp,
    ) -> StoreResult<u64> {
        let personal = sqlx::query("UPDATE notifications SET is_read = 1 WHERE user_id = ? AND is_read = 0")
            .bind(recipient.user_id.as_str());
        let personal = self.exec(personal).await?;
        let q = sqlx::query(concat!(
            "INSERT INTO broadcast_states (broadcast_id, user_id, read_at) SELECT b.id, ?1, ?4",
            visible_broadcasts!(),
            " AND s.read_at IS NULL ON CONFLICT (broadcast_id, user_id) \
             DO UPDATE SET read_at = excluded.read_at WHERE broadcast_states.read_at IS NULL"
        ));
        let broadcasts = self.exec(bind_recipient(q, recipient).bind(ms(now))).await?;
        Ok(personal + broadcasts)
    }

    async fn delete_notification(
        &mut self,
        recipient: &Recipient,
        id: &NotificationId,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let personal = sqlx::query("DELETE FROM notifications WHERE id = ? AND user_id = ?")
            .bind(id.as_str())
            .bind(recipient.user_id.as_str());
        if self.exec_one(personal).await? {
            return Ok(true);
        }
        // A broadcast is shared: hide it for this recipient only.
        let q = sqlx::query(concat!(
            "INSERT INTO broadcast_states (broadcast_id, user_id, deleted_at) SELECT b.id, ?1, ?4",
            visible_broadcasts!(),
            " AND b.id = ?5 ON CONFLICT (broadcast_id, user_id) DO UPDATE SET deleted_at = excluded.deleted_at"
        ));
        let q = bind_recipient(q, recipient).bind(ms(now)).bind(id.as_str());
        self.exec_one(q).await
    }

    async fn insert_outbox(&mut self, i: &OutboxItem) -> StoreResult<()> {
        self.insert(insert_sql("outbox", i)?).await
    }

    async fn insert_outbox_items(&mut self, rows: &[OutboxItem]) -> StoreResult<()> {
        crate::batch::insert_outbox_items(&mut self.tx, rows).await
    }

    async fn claim_outbox(
        &mut self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<OutboxItem>> {
        let q = sqlx::query(
            "UPDATE outbox SET lease_owner = ?1, lease_until = ?2, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' AND due_at <= ?3 \
             AND (lease_until IS NULL OR lease_until <= ?3) ORDER BY due_at, id LIMIT ?4) RETURNING *",
        )
        .bind(owner)
        .bind(ms(lease_until))
        .bind(ms(now))
        .bind(i64::from(limit));
        // RETURNING yields rows in no particular order.
        let mut items: Vec<OutboxItem> = fetch_all(&mut self.tx, q).await?;
        items.sort_by(|a, b| (a.due_at, &a.id).cmp(&(b.due_at, &b.id)));
        Ok(items)
    }

    async fn complete_outbox(&mut self, id: &OutboxId, owner: &str, now: Timestamp) -> StoreResult<bool> {
        let q = sqlx::query(
            "UPDATE outbox SET status = 'delivered', delivered_at = ?, lease_owner = NULL, lease_until = NULL \
             WHERE id = ? AND lease_owner = ? AND status = 'pending'",
        )
        .bind(ms(now))
        .bind(id.as_str())
        .bind(owner);
        self.exec_one(q).await
    }

    async fn fail_outbox(
        &mut self,
        id: &OutboxId,
        owner: &str,
        error: &str,
        retry_at: Option<Timestamp>,
    ) -> StoreResult<bool> {
        let q = sqlx::query(
            "UPDATE outbox SET status = CASE WHEN ?1 IS NULL THEN 'failed' ELSE 'pending' END, \
             due_at = COALESCE(?1, due_at), last_error = ?2, lease_owner = NULL, lease_until = NULL \
             WHERE id = ?3 AND lease_owner = ?4 AND status = 'pending'",
        )
        .bind(opt_ms(retry_at))
        .bind(error)
        .bind(id.as_str())
        .bind(owner);
        self.exec_one(q).await
    }

    async fn requeue_outbox(&mut self, id: &OutboxId, now: Timestamp) -> StoreResult<bool> {
        let q = sqlx::query(
            "UPDATE outbox SET status = 'pending', due_at = ?1, attempts = 0 WHERE id = ?2 AND status = 'failed'",
        );
        self.exec_one(q.bind(ms(now)).bind(id.as_str())).await
    }

    async fn insert_audit(&mut self, a: &AuditEntry) -> StoreResult<()> {
        self.insert(insert_sql("audit_log", a)?).await
    }

    async fn put_setting_if_absent(&mut self, key: &str, value: &str) -> StoreResult<String> {
        let q = sqlx::query("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(value);
        self.exec(q).await?;
        let stored = sqlx::query_scalar("SELECT value FROM settings WHERE key = ?").bind(key);
        stored.fetch_one(&mut *self.tx).await.map_err(map_err)
    }

    async fn record_webhook_event(
        &mut self,
        source: &str,
        event_id: &str,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let q = sqlx::query(
            "INSERT INTO webhook_events (source, event_id, received_at) VALUES (?, ?, ?) \
             ON CONFLICT (source, event_id) DO NOTHING",
        )
        .bind(source)
        .bind(event_id)
        .bind(now.timestamp_millis());
        Ok(self.exec(q).await? == 1)
    }

    async fn link_telegram(&mut self, link: &ottsonly_core::telegram_shop::TelegramLink) -> StoreResult<()> {
        crate::telegram::link_telegram(&mut self.tx, link).await
    }

    async fn unlink_telegram(&mut self, telegram_user_id: i64) -> StoreResult<bool> {
        crate::telegram::unlink_telegram(&mut self.tx, telegram_user_id).await
    }

    async fn acquire_bot_lease(
        &mut self,
        name: &str,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> StoreResult<bool> {
        crate::telegram::acquire_bot_lease(&mut self.tx, name, owner, now, until).await
    }

    async fn release_bot_lease(&mut self, name: &str, owner: &str) -> StoreResult<bool> {
        crate::telegram::release_bot_lease(&mut self.tx, name, owner).await
    }

    async fn set_bot_offset(
        &mut self,
        name: &str,
        owner: &str,
        offset: i64,
        now: Timestamp,
    ) -> StoreResult<bool> {
        crate::telegram::set_bot_offset(&mut self.tx, name, owner, offset, now).await
    }

    async fn set_bot_push_cursor(
        &mut self,
        name: &str,
        owner: &str,
        cursor: &NotificationId,
        now: Timestamp,
    ) -> StoreResult<bool> {
        crate::telegram::set_bot_push_cursor(&mut self.tx, name, owner, cursor, now).await
    }

    async fn record_telegram_delivery(
        &mut self,
        notification: &NotificationId,
        chat_id: i64,
        now: Timestamp,
    ) -> StoreResult<bool> {
        crate::telegram::record_telegram_delivery(&mut self.tx, notification, chat_id, now).await
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        let SqliteTx { tx, _writer } = *self;
        tx.commit().await.map_err(map_err)
        // `_writer` is released only now, after SQLite has committed.
    }
}
