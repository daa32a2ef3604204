//! In-app notifications: personal ones written by business events, and broadcasts stored once.

use crate::access::{Action, Actor};
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::ids::NotificationId;
use crate::model::{Audience, Broadcast, NotificationView, Page, PageRequest};
use crate::validate;
use serde_json::json;

pub struct Notifications<'a> {
    pub(crate) ctx: &'a Ctx,
}

impl Notifications<'_> {
    pub async fn list(
        &self,
        actor: &Actor,
        unread_only: bool,
        page: &PageRequest,
    ) -> Result<Page<NotificationView>> {
        actor.require(Action::Notifications)?;
        let slice = Ctx::slice(page)?;
        let mut r = self.ctx.store.reader().await?;
        let items = r.list_notifications(&actor.recipient(), unread_only, &slice).await?;
        Ok(Ctx::page(items, &slice, |n| n.id.as_str().to_string()))
    }

    pub async fn unread_count(&self, actor: &Actor) -> Result<u64> {
        actor.require(Action::Notifications)?;
        let mut r = self.ctx.store.reader().await?;
        Ok(r.count_unread_notifications(&actor.recipient()).await?)
    }

    /// Marks one read. Another user's notification is "not found" (existence is not revealed).
    pub async fn mark_read(&self, actor: &Actor, id: &NotificationId) -> Result<()> {
        actor.require(Action::Notifications)?;
        self.ctx
            .unit(|tx| {
                Box::pin(async move {
                    if !tx.mark_notification_read(&actor.recipient(), id, self.ctx.now()).await? {
                        return Err(Error::NotFound { what: "notification" }.into());
                    }
                    Ok(())
                })
            })
            .await
    }

    /// Returns how many were marked.
    pub async fn mark_all_read(&self, actor: &Actor) -> Result<u64> {
        actor.require(Action::Notifications)?;
        self.ctx
            .unit(|tx| {
                Box::pin(async move {
                    Ok(tx.mark_all_notifications_read(&actor.recipient(), self.ctx.now()).await?)
                })
            })
            .await
    }

    pub async fn delete(&self, actor: &Actor, id: &NotificationId) -> Result<()> {
        actor.require(Action::Notifications)?;
        self.ctx
            .unit(|tx| {
                Box::pin(async move {
                    if !tx.delete_notification(&actor.recipient(), id, self.ctx.now()).await? {
                        return Err(Error::NotFound { what: "notification" }.into());
                    }
                    Ok(())
                })
            })
            .await
    }

    /// Sends a message to every user or every user of a role with one write, whatever their number.
    pub async fn broadcast(
        &self,
        actor: &Actor,
        audience: Audience,
        title: &str,
        message: &str,
    ) -> Result<Broadcast> {
        actor.require(Action::BulkNotify)?;
        let b = &Broadcast {
            id: self.ctx.id(),
            audience,
            title: validate::text("title", title, 200)?,
            message: validate::text("message", message, 4000)?,
            created_by: actor.user_id.clone(),
            created_at: self.ctx.now(),
        };
        self.ctx
            .unit(|tx| {
                Box::pin(async move {
                    tx.insert_broadcast(b).await?;
                    let details = json!({ "audience": audience.as_str(), "title": b.title });
                    self.ctx
                        .audit(tx, actor, "notification.broadcast", ("broadcast", b.id.as_str()), details)
                        .await?;
                    Ok(b.clone())
                })
            })
            .await
    }
}
