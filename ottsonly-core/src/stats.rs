//! The shop's figures for the admin dashboard.

use crate::access::{Action, Actor};
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::model::{ShopStats, Timestamp};

pub struct Stats<'a> {
    pub(crate) ctx: &'a Ctx,
}

impl Stats<'_> {
    /// Orders, revenue, refunds, top-ups and new users of `[from, to)`, the best sellers, low stock
    /// (at the catalog's low-stock threshold), subscriptions waiting for a login and the alert
    /// backlog. Staff ([`Action::ViewAllOrders`]): these are the shop's figures, no one's balance.
    pub async fn shop(&self, actor: &Actor, from: Timestamp, to: Timestamp) -> Result<ShopStats> {
        actor.require(Action::ViewAllOrders)?;
        if to <= from {
            return Err(Error::validation("to", "must be after from"));
        }
        let low = self.ctx.config.catalog.low_stock_threshold;
        let mut r = self.ctx.store.reader().await?;
        Ok(r.shop_stats(from, to, low).await?)
    }
}
