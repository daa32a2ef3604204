//! Purchases and refunds: each one unit of work that moves stock, money and subscriptions together.

use crate::access::{Action, Actor};
use crate::ctx::{Ctx, UnitError, UnitResult};
use crate::error::{Error, Result, StoreError, constraint};
use crate::ids::{OrderId, ProductId, SubscriptionId};
use crate::model::*;
use crate::money::Money;
use crate::outbox::AdminAlert;
use crate::store::Tx;
use crate::validate;
use serde_json::json;

pub struct Orders<'a> {
    pub(crate) ctx: &'a Ctx,
}

/// The result of a purchase: the order and the subscription it created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purchase {
    pub order: Order,
    pub subscription: Subscription,
    /// True when an idempotency key matched an earlier purchase and nothing new happened.
    pub replayed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub order: Order,
    pub subscription: Option<Subscription>,
    /// The buyer's balance after the refund.
    pub balance: Money,
}

impl Orders<'_> {
    /// Buys one unit of a product from the wallet, all or nothing: stock −1, wallet −price with a
    /// ledger entry, an order, a subscription (active with a pool credential if one is left,
    /// otherwise waiting for an admin), the buyer's notifications and the admin alerts.
    ///
    /// With an `idempotency_key`, a retry returns the first purchase (`replayed`), and the same
    /// key for another product is [`Error::IdempotencyKeyReused`].
    pub async fn purchase(
        &self,
        actor: &Actor,
        product_id: &ProductId,
        idempotency_key: Option<&str>,
    ) -> Result<Purchase> {
        actor.require(Action::CreateOrder)?;
        let key = &idempotency_key.map(|k| validate::key("idempotency_key", k)).transpose()?;
        self.ctx.catalog_unit(|tx| Box::pin(self.purchase_once(tx, actor, product_id, key.as_deref()))).await
    }

    /// One run of the purchase unit.
    /// Run it inside [`Ctx::catalog_unit`]: it takes stock, which the cached product list shows.
    pub(crate) async fn purchase_once(
        &self,
        tx: &mut dyn Tx,
        actor: &Actor,
        product_id: &ProductId,
        key: Option<&str>,
    ) -> UnitResult<Purchase> {
        let ctx = self.ctx;
        let now = ctx.now();
        if let Some(key) = key
            && let Some(order) = tx.get_order_by_idempotency_key(&actor.user_id, key).await?
        {
            if order.product_id != *product_id {
                return Err(Error::IdempotencyKeyReused.into());
            }
            let subscription = tx
                .get_subscription_by_order(&order.id)
                .await?
                .ok_or_else(|| Error::Internal(format!("order {} has no subscription", order.id)))?;
            let subscription = Subscription { status: subscription.effective_status(now), ..subscription };
            return Ok(Purchase { order, subscription, replayed: true });
        }
        // The guarded updates return the rows they changed: no reads before them. When a guard
        // fails, reads name the reason, in the order the checks are documented (user first).
        let Some(product) = tx.take_one_in_stock(product_id, now).await? else {
            return Err(self.why_not_purchasable(tx, &actor.user_id, product_id).await?.into());
        };
        let stock = product.stock;
        let Some(user) = tx.debit_unblocked_user(&actor.user_id, product.price, now).await? else {
            let user = tx.get_user(&actor.user_id).await?.ok_or(Error::NotFound { what: "user" })?;
            return Err(if user.is_blocked { Error::UserBlocked } else { Error::InsufficientBalance }.into());
        };
        let balance = user.wallet_balance;

        let order = Order::purchase(ctx.id(), &user.id, &product, key, now);
        tx.insert_order(&order).await.map_err(|e| match e {
            // A concurrent retry with the same key won: run again and replay its result.
            StoreError::Conflict { constraint: constraint::ORDER_IDEMPOTENCY_KEY } => {
                UnitError::RunAgain("concurrent purchase with the same idempotency key")
            }
            e => e.into(),
        })?;
        tx.insert_ledger_entry(&LedgerEntry::purchase_debit(ctx.id(), &order, balance)).await?;

        let sub_id: SubscriptionId = ctx.id();
        let credential = tx.claim_credential(product_id, &sub_id, now).await?;
        let subscription = Subscription::for_order(sub_id, &order, &product, credential.map(|c| c.id), now);
        tx.insert_subscription(&subscription).await?;
        self.purchase_side_effects(tx, &user, &product, &order, &subscription, stock).await?;
        Ok(Purchase { order, subscription, replayed: false })
    }

    /// Why `take_one_in_stock` found nothing to take: the buyer's state first, then the product's.
    async fn why_not_purchasable(
        &self,
        tx: &mut dyn Tx,
        user_id: &crate::ids::UserId,
        product_id: &ProductId,
    ) -> UnitResult<Error> {
        let user = tx.get_user(user_id).await?.ok_or(Error::NotFound { what: "user" })?;
        if user.is_blocked {
            return Ok(Error::UserBlocked);
        }
        let product = tx.get_product(product_id).await?.ok_or(Error::NotFound { what: "product" })?;
        Ok(if !product.is_active { Error::ProductInactive } else { Error::OutOfStock })
    }

    /// The buyer's notifications and the admin alerts of a purchase: built first, then one
    /// multi-row insert per table (two round trips however many rows).
    async fn purchase_side_effects(
        &self,
        tx: &mut dyn Tx,
        user: &User,
        product: &Product,
        order: &Order,
        sub: &Subscription,
        stock: i64,
    ) -> Result<()> {
        let ctx = self.ctx;
        let name = &order.product_name;
        let phone = user.phone.masked();
        let mut notes = vec![ctx.notification(
            &user.id,
            NotificationKind::OrderConfirmed,
            "Order confirmed",
            format!("You bought {name} for {}.", order.amount),
        )];
        let mut alerts = vec![ctx.alert_item(&AdminAlert::NewOrder {
            order_id: order.id.as_str().into(),
            user_phone: phone.clone(),
            product_name: name.clone(),
            amount_paise: order.amount.paise(),
            remaining_stock: stock,
        })?];
        if sub.status == SubscriptionStatus::Active {
            notes.push(ctx.notification(
                &user.id,
                NotificationKind::CredentialsDelivered,
                "Your account is ready",
                format!(
                    "The login for {name} is in your subscription, valid for {} days.",
                    product.duration_days
                ),
            ));
        } else {
            notes.push(ctx.notification(
                &user.id,
                NotificationKind::AwaitingCredentials,
                "Preparing your account",
                format!(
                    "We are setting up {name}; your {} days start when the login arrives.",
                    product.duration_days
                ),
            ));
            alerts.push(ctx.alert_item(&AdminAlert::AwaitingCredentials {
                order_id: order.id.as_str().into(),
                subscription_id: sub.id.as_str().into(),
                user_phone: phone,
                product_name: name.clone(),
            })?);
        }
        if stock <= ctx.config.catalog.low_stock_threshold {
            alerts.push(ctx.alert_item(&AdminAlert::LowStock {
                product_id: product.id.as_str().into(),
                product_name: name.clone(),
                stock,
            })?);
        }
        tx.insert_notifications(&notes).await?;
        tx.insert_outbox_items(&alerts).await?;
        Ok(())
    }

    /// An order, for its owner or staff. Others get "not found".
    pub async fn get(&self, actor: &Actor, id: &OrderId) -> Result<Order> {
        let mut r = self.ctx.store.reader().await?;
        let order = r.get_order(id).await?.ok_or(Error::NotFound { what: "order" })?;
        if order.user_id != actor.user_id && actor.require(Action::ViewAllOrders).is_err() {
            return Err(Error::NotFound { what: "order" });
        }
        Ok(order)
    }

    pub async fn mine(&self, actor: &Actor, page: &PageRequest) -> Result<Page<Order>> {
        actor.require(Action::MyOrders)?;
        let filter = OrderFilter { user_id: Some(actor.user_id.clone()), ..Default::default() };
        self.list_unchecked(&filter, page).await
    }

    pub async fn list(&self, actor: &Actor, filter: &OrderFilter, page: &PageRequest) -> Result<Page<Order>> {
        actor.require(Action::ViewAllOrders)?;
        self.list_unchecked(filter, page).await
    }

    async fn list_unchecked(&self, filter: &OrderFilter, page: &PageRequest) -> Result<Page<Order>> {
        let slice = Ctx::slice(page)?;
        let mut r = self.ctx.store.reader().await?;
        let items = r.list_orders(filter, &slice).await?;
        Ok(Ctx::page(items, &slice, |o| o.id.as_str().to_string()))
    }

    /// Refunds an order in full, exactly once even under concurrent calls: the order becomes
    /// refunded, the buyer is credited with a ledger entry, the subscription ends as refunded,
    /// and with `restock` the unit goes back on sale.
    pub async fn refund(&self, actor: &Actor, id: &OrderId, reason: &str, restock: bool) -> Result<Refund> {
        actor.require(Action::RefundOrders)?;
        let reason = &validate::text("reason", reason, 500)?;
        self.ctx
            .catalog_unit(|tx| {
                Box::pin(async move {
                    let ctx = self.ctx;
                    let now = ctx.now();
                    let order = tx.get_order(id).await?.ok_or(Error::NotFound { what: "order" })?;
                    if order.status == OrderStatus::Refunded {
                        return Err(Error::AlreadyRefunded.into());
                    }
                    // Read before this unit writes the buyer's balance: nothing is read back.
                    let buyer = tx.get_user(&order.user_id).await?.ok_or(Error::NotFound { what: "user" })?;
                    if !tx.mark_order_refunded(id, reason, &actor.user_id, now).await? {
                        return Err(Error::AlreadyRefunded.into());
                    }
                    let balance = tx
                        .credit_balance(&order.user_id, order.amount, now)
                        .await?
                        .ok_or(Error::NotFound { what: "user" })?;
                    tx.insert_ledger_entry(&LedgerEntry {
                        id: ctx.id(),
                        user_id: order.user_id.clone(),
                        kind: EntryKind::Credit,
                        amount: order.amount,
                        balance_after: balance,
                        reference_type: ReferenceType::Refund,
                        reference_id: order.id.as_str().into(),
                        description: format!("Refund of {}: {reason}", order.product_name),
                        actor_id: Some(actor.user_id.clone()),
                        created_at: now,
                    })
                    .await
                    .map_err(|e| match e {
                        StoreError::Conflict { constraint: constraint::LEDGER_REFERENCE } => {
                            Error::AlreadyRefunded.into()
                        }
                        e => UnitError::from(e),
                    })?;
                    let mut subscription = tx.get_subscription_by_order(id).await?;
                    if let Some(sub) = subscription.as_mut() {
                        let expected = sub.status;
                        if !matches!(expected, SubscriptionStatus::Refunded | SubscriptionStatus::Cancelled) {
                            sub.status = SubscriptionStatus::Refunded;
                            sub.updated_at = now;
                            if !tx.update_subscription(sub, expected).await? {
                                return Err(UnitError::RunAgain("subscription changed during refund"));
                            }
                        }
                    }
                    if restock {
                        tx.adjust_stock(&order.product_id, 1, false, now).await?;
                    }
                    ctx.notify(
                        &mut *tx,
                        &order.user_id,
                        NotificationKind::Refund,
                        "Refund issued",
                        format!("{} for {} was returned to your wallet.", order.amount, order.product_name),
                    )
                    .await?;
                    ctx.alert(
                        &mut *tx,
                        &AdminAlert::Refund {
                            order_id: order.id.as_str().into(),
                            user_phone: buyer.phone.masked(),
                            product_name: order.product_name.clone(),
                            amount_paise: order.amount.paise(),
                            admin_id: actor.user_id.as_str().into(),
                            reason: reason.clone(),
                        },
                    )
                    .await?;
                    let details =
                        json!({ "amount_paise": order.amount, "reason": reason, "restock": restock });
                    ctx.audit(&mut *tx, actor, "order.refund", ("order", order.id.as_str()), details).await?;
                    // Exactly what `mark_order_refunded` wrote; no need to read it back.
                    let order = Order {
                        status: OrderStatus::Refunded,
                        refunded_at: Some(now),
                        refund_reason: Some(reason.clone()),
                        refunded_by: Some(actor.user_id.clone()),
                        updated_at: now,
                        ..order
                    };
                    Ok(Refund { order, subscription, balance })
                })
            })
            .await
    }
}
