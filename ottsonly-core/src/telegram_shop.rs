//! The Telegram shop's rules: who a Telegram account is (a stored link to one user, made by
//! sharing one's own verified phone number), buying at the price the customer was shown, and the
//! polling lease that lets exactly one server instance read the bot's updates.
//!
//! The bot front-end only parses updates and renders answers; everything it may do for a
//! customer goes through here or the other services with the linked user as the [`Actor`].

use crate::access::{Action, Actor};
use crate::auth::phone_race;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::ids::{NotificationId, ProductId, UserId};
use crate::model::{Notification, Product, Role, Timestamp, User};
use crate::money::Money;
use crate::orders::Purchase;
use chrono::TimeDelta;
use std::time::Duration;

/// A Telegram account linked to a user: one account links to one user, a user has at most one
/// account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelegramLink {
    pub telegram_user_id: i64,
    pub user_id: UserId,
    /// The private chat with the bot, where pushed messages go.
    pub chat_id: i64,
    pub linked_at: Timestamp,
}

/// A named polling lease with the bot's stored update offset (the next `getUpdates` offset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotLease {
    pub name: String,
    /// The instance that holds (or last held) the lease; `None` once released.
    pub owner: Option<String>,
    pub lease_until: Timestamp,
    pub offset: i64,
    /// The last notification the push to linked chats has looked at.
    pub push_cursor: Option<NotificationId>,
}

/// What a purchase at a shown price came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShopPurchase {
    /// Bought (or, for a repeated confirmation, the earlier purchase: `replayed`).
    Bought(Box<Purchase>),
    /// The product's price is no longer the one confirmed; nothing was charged.
    PriceChanged { product: Product },
}

/// New personal notifications of linked users, for the push to their chats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushBatch {
    pub items: Vec<(Notification, TelegramLink)>,
    /// Where the push has looked up to (unlinked users' notifications included).
    pub scanned_to: Option<NotificationId>,
}

pub struct TelegramShop<'a> {
    pub(crate) ctx: &'a Ctx,
}

/// A phone number as Telegram shares it: international digits, usually without the `+`.
fn telegram_phone(raw: &str) -> String {
    let t = raw.trim();
    if t.starts_with('+') { t.to_string() } else { format!("+{t}") }
}

impl TelegramShop<'_> {
    /// Logs a Telegram account in with a shared contact. Accepted only when the contact is the
    /// sender's own (`contact_user_id == sender`, which Telegram verifies); the phone is parsed
    /// as at every login, the user found or created by phone (so web and Telegram are one user),
    /// and the link stored, moving it from another account or user if it existed. Blocked users
    /// are refused and nothing is linked.
    pub async fn login_with_contact(
        &self,
        sender: i64,
        chat_id: i64,
        contact_user_id: Option<i64>,
        phone_raw: &str,
    ) -> Result<User> {
        if contact_user_id != Some(sender) {
            return Err(Error::validation("contact", "share your own phone number, not someone else's"));
        }
        let phone = &crate::auth::Auth { ctx: self.ctx }.parse_phone(&telegram_phone(phone_raw))?;
        self.ctx
            .unit(|tx| {
                Box::pin(async move {
                    let now = self.ctx.now();
                    let user = match tx.get_user_by_phone(phone).await? {
                        Some(u) => u,
                        None => {
                            let u = User::new(self.ctx.id(), phone.clone(), Role::User, now);
                            tx.insert_user(&u).await.map_err(phone_race)?;
                            u
                        }
                    };
                    if user.is_blocked {
                        return Err(Error::UserBlocked.into());
                    }
                    let link = TelegramLink {
                        telegram_user_id: sender,
                        user_id: user.id.clone(),
                        chat_id,
                        linked_at: now,
                    };
                    tx.link_telegram(&link).await?;
                    Ok(user)
                })
            })
            .await
    }

    /// The user a Telegram account acts as, loaded fresh (role and block are current): `None`
    /// when the account is not linked, [`Error::UserBlocked`] when the user is blocked.
    pub async fn actor(&self, telegram_user_id: i64) -> Result<Option<Actor>> {
        let mut r = self.ctx.store.reader().await?;
        let Some(link) = r.get_telegram_link(telegram_user_id).await? else { return Ok(None) };
        let Some(user) = r.get_user(&link.user_id).await? else { return Ok(None) };
        if user.is_blocked {
            return Err(Error::UserBlocked);
        }
        Ok(Some(Actor { user_id: user.id, role: user.role, joined_at: user.created_at }))
    }

    /// The link of a user, if they have one.
    pub async fn link_of(&self, user: &UserId) -> Result<Option<TelegramLink>> {
        Ok(self.ctx.store.reader().await?.get_telegram_link_by_user(user).await?)
    }

    /// Unlinks the Telegram account; false if it was not linked.
    pub async fn logout(&self, telegram_user_id: i64) -> Result<bool> {
        self.ctx.unit(|tx| Box::pin(async move { Ok(tx.unlink_telegram(telegram_user_id).await?) })).await
    }

    /// Buys a product at the price the customer confirmed: the same unit of work as
    /// [`crate::orders::Orders::purchase`], refused without a charge when the price changed since.
    /// A confirmation seen before (same idempotency key) answers the first purchase.
    pub async fn purchase_at(
        &self,
        actor: &Actor,
        product_id: &ProductId,
        confirmed_price: Money,
        idempotency_key: &str,
    ) -> Result<ShopPurchase> {
        actor.require(Action::CreateOrder)?;
        let key = &crate::validate::key("idempotency_key", idempotency_key)?;
        let orders = crate::orders::Orders { ctx: self.ctx };
        let orders = &orders;
        // A purchase changes stock: the cached product list must not outlive it.
        self.ctx
            .catalog_unit(|tx| {
                Box::pin(async move {
                    let seen = tx.get_order_by_idempotency_key(&actor.user_id, key).await?.is_some();
                    if !seen
                        && let Some(product) = tx.get_product(product_id).await?
                        && product.price != confirmed_price
                    {
                        return Ok(ShopPurchase::PriceChanged { product });
                    }
                    Ok(ShopPurchase::Bought(Box::new(
                        orders.purchase_once(tx, actor, product_id, Some(key)).await?,
                    )))
                })
            })
            .await
    }

    /// Takes or renews the polling lease `name` for `owner` for `ttl`; the stored update offset
    /// when held, `None` while another live instance holds it.
    pub async fn acquire_poll_lease(&self, name: &str, owner: &str, ttl: Duration) -> Result<Option<i64>> {
        let ttl = TimeDelta::from_std(ttl).map_err(|e| Error::Internal(e.to_string()))?;
        self.ctx
            .unit(|tx| {
                Box::pin(async move {
                    let now = self.ctx.now();
                    if !tx.acquire_bot_lease(name, owner, now, now + ttl).await? {
                        return Ok(None);
                    }
                    Ok(tx.get_bot_lease(name).await?.map(|l| l.offset))
                })
            })
            .await
    }

    /// Stores the next update offset while `owner` holds the lease; false if it lost it.
    pub async fn save_offset(&self, name: &str, owner: &str, offset: i64) -> Result<bool> {
        self.ctx
            .unit(|tx| {
                Box::pin(async move { Ok(tx.set_bot_offset(name, owner, offset, self.ctx.now()).await?) })
            })
            .await
    }

    /// Hands the lease back (at shutdown), so another instance can poll at once.
    pub async fn release_poll_lease(&self, name: &str, owner: &str) -> Result<bool> {
        self.ctx.unit(|tx| Box::pin(async move { Ok(tx.release_bot_lease(name, owner).await?) })).await
    }

    /// Up to `limit` personal notifications after the push cursor of lease `name`, with the link
    /// of their user when linked, while `owner` holds the lease. The first call sets the cursor
    /// to now, so notifications from before the bot ran are not pushed.
    pub async fn pushes(&self, name: &str, owner: &str, limit: u32) -> Result<PushBatch> {
        let mut r = self.ctx.store.reader().await?;
        let Some(lease) = r.get_bot_lease(name).await? else { return Ok(PushBatch::default()) };
        if lease.owner.as_deref() != Some(owner) {
            return Ok(PushBatch::default());
        }
        let Some(cursor) = lease.push_cursor else {
            let start: NotificationId = self.ctx.id();
            self.advance_push(name, owner, &start).await?;
            return Ok(PushBatch::default());
        };
        let list = r.list_notifications_after(Some(&cursor), limit.clamp(1, 500)).await?;
        let scanned_to = list.last().map(|n| n.id.clone());
        let mut items = Vec::new();
        for n in list {
            if let Some(link) = r.get_telegram_link_by_user(&n.user_id).await? {
                items.push((n, link));
            }
        }
        Ok(PushBatch { items, scanned_to })
    }

    /// Records that a notification goes to a chat; true once per notification and chat, so a
    /// message is sent at most once even when two passes overlap or one crashed.
    pub async fn claim_push(&self, notification: &NotificationId, chat_id: i64) -> Result<bool> {
        self.ctx
            .unit(|tx| {
                Box::pin(async move {
                    Ok(tx.record_telegram_delivery(notification, chat_id, self.ctx.now()).await?)
                })
            })
            .await
    }

    /// Moves the push cursor forward while `owner` holds the lease.
    pub async fn advance_push(&self, name: &str, owner: &str, to: &NotificationId) -> Result<bool> {
        self.ctx
            .unit(|tx| {
                Box::pin(async move { Ok(tx.set_bot_push_cursor(name, owner, to, self.ctx.now()).await?) })
            })
            .await
    }

    /// The lease as stored (for `/health` and tests).
    pub async fn poll_lease(&self, name: &str) -> Result<Option<BotLease>> {
        Ok(self.ctx.store.reader().await?.get_bot_lease(name).await?)
    }
}
