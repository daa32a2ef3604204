//! Subscriptions: reading them (credentials only for owner and admins), assigning credentials,
//! cancelling, and the time-driven expiry sweep and reminders.

use crate::access::{Action, Actor};
use crate::catalog::check_credentials;
use crate::crypto::Credentials;
use crate::ctx::{Ctx, UnitError};
use crate::error::{Error, Result};
use crate::ids::{CredentialId, SubscriptionId};
use crate::model::*;
use crate::validate;
use chrono::TimeDelta;
use serde_json::json;

pub struct Subscriptions<'a> {
    pub(crate) ctx: &'a Ctx,
}

/// A subscription as its reader may see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionView {
    /// With `status` as of now (an ended active one reads as expired).
    pub subscription: Subscription,
    /// Decrypted credentials: `Some` only for the owner and admins, and only once assigned.
    pub credentials: Option<Credentials>,
}

/// What a maintenance pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub expired: u64,
    pub reminded: u64,
}

impl Subscriptions<'_> {
    pub async fn get(&self, actor: &Actor, id: &SubscriptionId) -> Result<SubscriptionView> {
        let now = self.ctx.now();
        let mut r = self.ctx.store.reader().await?;
        let sub = r.get_subscription(id).await?.ok_or(Error::NotFound { what: "subscription" })?;
        let is_owner = sub.user_id == actor.user_id;
        if !is_owner && actor.require(Action::ViewAllSubscriptions).is_err() {
            return Err(Error::NotFound { what: "subscription" });
        }
        // Support staff see subscriptions but never the secrets in them.
        let may_see_secret = is_owner || actor.role == Role::Admin;
        let credentials = match (&sub.credential_id, may_see_secret) {
            (Some(cid), true) => {
                let rec = r
                    .get_credential(cid)
                    .await?
                    .ok_or(Error::Internal(format!("credential {cid} missing")))?;
                Some(self.ctx.cipher.open(rec.id.as_str(), &rec.sealed)?)
            }
            _ => None,
        };
        let subscription = Subscription { status: sub.effective_status(now), ..sub };
        Ok(SubscriptionView { subscription, credentials })
    }

    pub async fn mine(
        &self,
        actor: &Actor,
        status: Option<SubscriptionStatus>,
        page: &PageRequest,
    ) -> Result<Page<Subscription>> {
        actor.require(Action::MySubscriptions)?;
        let filter = SubscriptionFilter { user_id: Some(actor.user_id.clone()), status, product_id: None };
        self.list_unchecked(&filter, page).await
    }

    pub async fn list(
        &self,
        actor: &Actor,
        filter: &SubscriptionFilter,
        page: &PageRequest,
    ) -> Result<Page<Subscription>> {
        actor.require(Action::ViewAllSubscriptions)?;
        self.list_unchecked(filter, page).await
    }

    async fn list_unchecked(
        &self,
        filter: &SubscriptionFilter,
        page: &PageRequest,
    ) -> Result<Page<Subscription>> {
        let now = self.ctx.now();
        let slice = Ctx::slice(page)?;
        let mut r = self.ctx.store.reader().await?;
        let items = r.list_subscriptions(filter, &slice).await?;
        let mut page = Ctx::page(items, &slice, |s| s.id.as_str().to_string());
        for s in &mut page.items {
            s.status = s.effective_status(now);
        }
        Ok(page)
    }

    /// Gives a subscription its credentials (sealed at rest). A waiting subscription becomes
    /// active and its period starts now; an active one keeps its dates and gets the new login.
    pub async fn assign_credentials(
        &self,
        actor: &Actor,
        id: &SubscriptionId,
        creds: Credentials,
    ) -> Result<SubscriptionView> {
        actor.require(Action::AssignCredentials)?;
        let creds = &check_credentials(creds)?;
        self.ctx
            .unit(|tx| {
                Box::pin(async move {
                    let ctx = self.ctx;
                    let now = ctx.now();
                    let mut sub =
                        tx.get_subscription(id).await?.ok_or(Error::NotFound { what: "subscription" })?;
                    let expected = sub.status;
                    let replacing = match sub.effective_status(now) {
                        SubscriptionStatus::PendingCredentials => false,
                        SubscriptionStatus::Active => true,
                        s => {
                            return Err(Error::InvalidState(format!(
                                "cannot assign credentials to a {s} subscription"
                            ))
                            .into());
                        }
                    };
                    let cid: CredentialId = ctx.id();
                    let sealed = ctx.cipher.seal(ctx.entropy.as_ref(), cid.as_str(), creds)?;
                    // Assigned directly, outside any pool; the subscription points at it.
                    tx.insert_credential(&CredentialRecord {
                        id: cid.clone(),
                        product_id: None,
                        sealed,
                        status: CredentialStatus::Assigned,
                        subscription_id: None,
                        created_at: now,
                        assigned_at: Some(now),
                    })
                    .await?;
                    sub.credential_id = Some(cid);
                    if !replacing {
                        start_period(&mut sub, now);
                    }
                    sub.updated_at = now;
                    if !tx.update_subscription(&sub, expected).await? {
                        return Err(UnitError::RunAgain("subscription changed meanwhile"));
                    }
                    delivered(ctx, &mut *tx, actor, &sub, replacing, json!({ "replaced": replacing }))
                        .await?;
                    Ok(SubscriptionView { subscription: sub, credentials: Some(creds.clone()) })
                })
            })
            .await
    }

    /// Admin: gives a subscription waiting for its login the next pooled login of its product
    /// (the oldest available), starting its period now; `None` when the pool is empty.
    pub async fn assign_from_pool(&self, actor: &Actor, id: &SubscriptionId) -> Result<Option<Subscription>> {
        actor.require(Action::AssignCredentials)?;
        self.ctx
            .unit(|tx| {
                Box::pin(async move {
                    let ctx = self.ctx;
                    let now = ctx.now();
                    let mut sub =
                        tx.get_subscription(id).await?.ok_or(Error::NotFound { what: "subscription" })?;
                    if sub.status != SubscriptionStatus::PendingCredentials {
                        return Err(Error::InvalidState(format!(
                            "the subscription is {}, not waiting for a login",
                            sub.status
                        ))
                        .into());
                    }
                    let Some(cred) = tx.claim_credential(&sub.product_id, &sub.id, now).await? else {
                        return Ok(None);
                    };
                    sub.credential_id = Some(cred.id);
                    start_period(&mut sub, now);
                    sub.updated_at = now;
                    if !tx.update_subscription(&sub, SubscriptionStatus::PendingCredentials).await? {
                        return Err(UnitError::RunAgain("subscription changed meanwhile"));
                    }
                    delivered(ctx, &mut *tx, actor, &sub, false, json!({ "from_pool": true })).await?;
                    Ok(Some(sub))
                })
            })
            .await
    }

    /// Cancels a waiting or active subscription (no money moves; refunds are separate).
    pub async fn cancel(
        &self,
        actor: &Actor,
        id: &SubscriptionId,
        reason: Option<&str>,
    ) -> Result<Subscription> {
        actor.require(Action::AssignCredentials)?;
        let reason = &reason.map(|r| validate::optional_text("reason", r, 500)).transpose()?;
        self.ctx
            .unit(|tx| {
                Box::pin(async move {
                    let ctx = self.ctx;
                    let now = ctx.now();
                    let mut sub =
                        tx.get_subscription(id).await?.ok_or(Error::NotFound { what: "subscription" })?;
                    let expected = sub.status;
                    if !matches!(
                        sub.effective_status(now),
                        SubscriptionStatus::PendingCredentials | SubscriptionStatus::Active
                    ) {
                        return Err(Error::InvalidState(format!(
                            "cannot cancel a {} subscription",
                            sub.effective_status(now)
                        ))
                        .into());
                    }
                    sub.status = SubscriptionStatus::Cancelled;
                    sub.updated_at = now;
                    if !tx.update_subscription(&sub, expected).await? {
                        return Err(UnitError::RunAgain("subscription changed meanwhile"));
                    }
                    let msg =
                        format!("Your {} {} subscription was cancelled.", sub.platform_name, sub.plan_name);
                    ctx.notify(
                        &mut *tx,
                        &sub.user_id,
                        NotificationKind::Cancelled,
                        "Subscription cancelled",
                        msg,
                    )
                    .await?;
                    let details = json!({ "reason": reason });
                    ctx.audit(
                        &mut *tx,
                        actor,
                        "subscription.cancel",
                        ("subscription", sub.id.as_str()),
                        details,
                    )
                    .await?;
                    Ok(sub)
                })
            })
            .await
    }

    /// Marks ended subscriptions expired (telling their owners) and reminds owners of those
    /// ending within the configured days. Works in bounded batches; safe to run from several
    /// instances at once (each change is a compare-and-set).
    pub async fn run_maintenance(&self) -> Result<SweepReport> {
        let mut report = SweepReport::default();
        let batch = self.ctx.config.subscriptions.sweep_batch.max(1);
        // Bounded: at most 1000 batches per pass; the next pass continues.
        for _ in 0..1000 {
            let n = self.expire_batch(batch).await?;
            report.expired += n;
            if n < u64::from(batch) {
                break;
            }
        }
        for _ in 0..1000 {
            let n = self.remind_batch(batch).await?;
            report.reminded += n;
            if n < u64::from(batch) {
                break;
            }
        }
        Ok(report)
    }

    async fn expire_batch(&self, limit: u32) -> Result<u64> {
        self.ctx
            .unit(|tx| {
                Box::pin(async move {
                    let ctx = self.ctx;
                    let now = ctx.now();
                    let due = tx.list_subscriptions_ended(now, limit).await?;
                    let mut n = 0;
                    for mut sub in due {
                        sub.status = SubscriptionStatus::Expired;
                        sub.updated_at = now;
                        if tx.update_subscription(&sub, SubscriptionStatus::Active).await? {
                            n += 1;
                            let msg = format!(
                                "Your {} {} subscription has ended.",
                                sub.platform_name, sub.plan_name
                            );
                            ctx.notify(
                                &mut *tx,
                                &sub.user_id,
                                NotificationKind::Expired,
                                "Subscription expired",
                                msg,
                            )
                            .await?;
                        }
                    }
                    Ok(n)
                })
            })
            .await
    }

    async fn remind_batch(&self, limit: u32) -> Result<u64> {
        self.ctx
            .unit(|tx| {
                Box::pin(async move {
                    let ctx = self.ctx;
                    let now = ctx.now();
                    let until = now + TimeDelta::days(i64::from(ctx.config.subscriptions.reminder_days));
                    let due = tx.list_subscriptions_to_remind(now, until, limit).await?;
                    let mut n = 0;
                    for mut sub in due {
                        sub.reminded_at = Some(now);
                        sub.updated_at = now;
                        if tx.update_subscription(&sub, SubscriptionStatus::Active).await? {
                            n += 1;
                            let days =
                                sub.end_at.map(|e| (e - now).num_hours().div_euclid(24) + 1).unwrap_or(0);
                            let msg = format!(
                                "Your {} {} subscription ends in {days} day{}.",
                                sub.platform_name,
                                sub.plan_name,
                                if days == 1 { "" } else { "s" }
                            );
                            ctx.notify(
                                &mut *tx,
                                &sub.user_id,
                                NotificationKind::ExpiringSoon,
                                "Subscription ending soon",
                                msg,
                            )
                            .await?;
                        }
                    }
                    Ok(n)
                })
            })
            .await
    }
}

/// A waiting subscription gets its login: active from now for its duration.
fn start_period(sub: &mut Subscription, now: Timestamp) {
    sub.status = SubscriptionStatus::Active;
    sub.start_at = Some(now);
    sub.end_at = Some(now + TimeDelta::days(i64::from(sub.duration_days)));
}

/// A login is in the subscription now: the owner is told, and who put it there is audited.
async fn delivered(
    ctx: &Ctx,
    tx: &mut dyn crate::store::Tx,
    actor: &Actor,
    sub: &Subscription,
    replaced: bool,
    details: serde_json::Value,
) -> Result<()> {
    let (title, msg) = if replaced {
        (
            "Your login was updated",
            format!(
                "New login details for {} {} are in your subscription.",
                sub.platform_name, sub.plan_name
            ),
        )
    } else {
        (
            "Your account is ready",
            format!("The login for {} {} is in your subscription.", sub.platform_name, sub.plan_name),
        )
    };
    ctx.notify(&mut *tx, &sub.user_id, NotificationKind::CredentialsDelivered, title, msg).await?;
    ctx.audit(tx, actor, "subscription.assign_credentials", ("subscription", sub.id.as_str()), details).await
}
