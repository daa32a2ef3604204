//! The prepaid wallet: balance, ledger, admin adjustments and gateway top-ups.
//!
//! Every credit or debit changes the balance and appends a ledger entry (with `balance_after`)
//! in one unit of work, so a balance always equals the sum of its ledger.

use crate::access::{Action, Actor};
use crate::ctx::{Ctx, UnitError};
use crate::error::{Error, Result, StoreError, constraint};
use crate::ids::{TopUpId, UserId};
use crate::model::*;
use crate::money::Money;
use crate::outbox::AdminAlert;
use crate::payments::{
    CaptureMode, GatewayError, GatewayOrderRequest, GatewayPayment, PaymentGateway, PaymentStatus,
};
use crate::store::Tx;
use crate::validate;
use chrono::TimeDelta;
use serde_json::json;
use std::sync::Arc;

pub struct Wallet<'a> {
    pub(crate) ctx: &'a Ctx,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Credit,
    Debit,
}

/// An admin's manual change to a wallet.
#[derive(Debug, Clone)]
pub struct Adjustment {
    pub user_id: UserId,
    pub amount: Money,
    pub direction: Direction,
    pub reason: String,
    /// Makes a retried adjustment apply once; reusing it with other values is a conflict.
    pub request_id: Option<String>,
}

/// A created top-up: what the checkout page needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopUpIntent {
    pub topup: TopUp,
    pub key_id: String,
    /// Opens the checkout page of this top-up without a bearer token (see [`crate::checkout`]).
    pub checkout_token: String,
}

/// A top-up credited by a payment: the top-up as paid, the amount and the balance after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopUpCredit {
    pub topup: TopUp,
    pub credited: Money,
    pub balance: Money,
}

/// What confirming a payment did. Every variant is a final answer about that payment; an `Err`
/// beside it means nothing is known to have happened and the caller may try again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// The wallet was credited now.
    Credited(TopUpCredit),
    /// This payment had been credited before (a replay, or another path got there first);
    /// nothing moved now. Carries the top-up and the current balance.
    AlreadyCredited(TopUpCredit),
    /// The paid amount or currency differs from the intent: recorded and alerted, not credited.
    AmountMismatch { expected: Money, paid_paise: i64, currency: String },
    /// A captured payment on a top-up that another payment already paid: recorded (audit) and
    /// alerted so that an admin refunds it; not credited.
    HeldForRefund { payment_id: String },
    /// The payment is not captured yet: nothing was done.
    NotCaptured,
    /// No top-up has this gateway order (not ours, or another integration's).
    UnknownOrder,
}

impl PaymentOutcome {
    /// The credit, new or replayed; the outcomes that credited nothing as the error a caller
    /// that needs a credit answers with.
    pub fn into_credit(self) -> Result<TopUpCredit> {
        match self {
            PaymentOutcome::Credited(c) | PaymentOutcome::AlreadyCredited(c) => Ok(c),
            PaymentOutcome::AmountMismatch { .. } => Err(Error::PaymentAmountMismatch),
            PaymentOutcome::HeldForRefund { .. } => Err(Error::InvalidState(
                "this top-up was already paid by another payment; this one will be refunded".into(),
            )),
            PaymentOutcome::NotCaptured => Err(Error::PaymentNotCaptured),
            PaymentOutcome::UnknownOrder => Err(Error::NotFound { what: "top-up" }),
        }
    }
}

/// What one reconciliation pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    pub checked: u64,
    pub credited: u64,
    pub expired: u64,
    pub errors: u64,
    /// Captured payments that cannot be credited (mismatch, second payment): held for refund.
    pub held: u64,
    /// Top-ups kept open because a payment is still `authorized` (the gateway may capture it).
    pub pending: u64,
    /// Calls made to the gateway (order-payment fetches and captures).
    pub gateway_calls: u64,
}

/// A notification from the payment gateway (a webhook), already authenticated by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayEvent {
    /// A payment was captured (or its order reported paid).
    PaymentCaptured(GatewayPayment),
    /// A payment was authorized: captured and credited in manual capture mode, else ignored
    /// (the gateway captures it and reports that).
    PaymentAuthorized(GatewayPayment),
    /// The gateway refunded (part of) a payment.
    Refunded(GatewayReversal),
    /// The customer opened a dispute (chargeback) on a payment.
    Disputed(GatewayReversal),
    /// Any other event; acknowledged and ignored.
    Other(String),
}

/// A refund or a dispute the gateway reported on one of our payments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayReversal {
    /// The refund's or dispute's id at the gateway.
    pub id: String,
    pub payment_id: String,
    /// The payment's gateway order (how we find the top-up and the user).
    pub order_id: String,
    pub amount_paise: i64,
    pub currency: String,
}

/// What handling a gateway event did. Every outcome is a final answer for the gateway (2xx);
/// only an `Err` asks it to deliver the event again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventOutcome {
    Credited(TopUpCredit),
    /// The payment had already been credited (by checkout verification or an earlier event).
    AlreadyCredited,
    /// This event id was handled before.
    Duplicate,
    /// Not an event we act on, or a payment not captured yet.
    Ignored,
    /// The paid amount or currency differs from the intent: recorded and alerted, not credited.
    Mismatch,
    /// A second captured payment on a paid top-up: recorded and alerted for a refund.
    HeldForRefund,
    /// A refund or dispute: recorded (audit) and alerted; the wallet is not debited.
    Recorded,
    /// No top-up has this gateway order (not ours, or another integration's).
    UnknownOrder,
}

/// How a top-up was confirmed, for alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmedVia {
    Checkout,
    Webhook,
    Reconciliation,
}

impl ConfirmedVia {
    fn as_str(self) -> &'static str {
        match self {
            ConfirmedVia::Checkout => "gateway checkout",
            ConfirmedVia::Webhook => "gateway webhook",
            ConfirmedVia::Reconciliation => "gateway reconciliation",
        }
    }
}

impl Wallet<'_> {
    pub async fn balance(&self, actor: &Actor) -> Result<Money> {
        actor.require(Action::Wallet)?;
        let mut r = self.ctx.store.reader().await?;
        Ok(r.get_user(&actor.user_id).await?.ok_or(Error::NotFound { what: "user" })?.wallet_balance)
    }

    /// The caller's ledger, newest first.
    pub async fn transactions(&self, actor: &Actor, page: &PageRequest) -> Result<Page<LedgerEntry>> {
        actor.require(Action::Wallet)?;
        self.ledger(&actor.user_id, page).await
    }

    /// Any user's ledger (admins only: the matrix keeps wallets from support).
    pub async fn user_transactions(
        &self,
        actor: &Actor,
        user: &UserId,
        page: &PageRequest,
    ) -> Result<Page<LedgerEntry>> {
        actor.require(Action::WalletAdmin)?;
        self.ledger(user, page).await
    }

    async fn ledger(&self, user: &UserId, page: &PageRequest) -> Result<Page<LedgerEntry>> {
        let slice = Ctx::slice(page)?;
        let mut r = self.ctx.store.reader().await?;
        let items = r.list_ledger(user, &slice).await?;
        Ok(Ctx::page(items, &slice, |e| e.id.as_str().to_string()))
    }

    /// Credits or debits a wallet by hand, with the reason and the acting admin recorded. A
    /// debit never takes the balance below zero.
    pub async fn adjust(&self, actor: &Actor, adj: Adjustment) -> Result<LedgerEntry> {
        actor.require(Action::WalletAdmin)?;
        if adj.amount.is_zero() || adj.amount > self.ctx.config.wallet.adjustment_max {
            return Err(Error::validation(
                "amount_paise",
                format!("must be 1 to {} paise", self.ctx.config.wallet.adjustment_max.paise()),
            ));
        }
        let reason = &validate::text("reason", &adj.reason, 500)?;
        // A request id names one adjustment across all users: `req:<id>`. Entries written before
        // that carried the user (`req:<user>:<id>`) and are looked up too.
        let (reference, legacy) = match &adj.request_id {
            Some(r) => {
                let r = validate::key("request_id", r)?;
                (format!("req:{r}"), Some(format!("req:{}:{r}", adj.user_id)))
            }
            None => (format!("adj:{}", self.ctx.id::<crate::ids::LedgerEntryId>()), None),
        };
        let (reference, legacy) = (&reference, &legacy);
        let adj = &adj;
        self.ctx
            .unit(|tx| Box::pin(async move {
                let ctx = self.ctx;
                let now = ctx.now();
                let kind = match adj.direction {
                    Direction::Credit => EntryKind::Credit,
                    Direction::Debit => EntryKind::Debit,
                };
                // The same request id replays only with the same user, direction and amount;
                // anything else is a conflict, never a second adjustment.
                if adj.request_id.is_some() {
                    // The id is claimed in this unit, whatever the user or direction: of two racing
                    // units, one commits and the other (SQLite's next writer, or a MongoDB write
                    // conflict run again) finds the claim and the entry below. `false` means an
                    // earlier unit claimed it; the lookup below then replays or refuses.
                    tx.record_webhook_event(ADJUSTMENT_REQUESTS, reference, now).await?;
                    let refs = std::iter::once(reference).chain(legacy);
                    for r in refs {
                        for k in [EntryKind::Credit, EntryKind::Debit] {
                            let Some(prev) = tx.get_ledger_entry_by_reference(ReferenceType::Adjustment, r, k).await? else {
                                continue;
                            };
                            if k == kind && prev.amount == adj.amount && prev.user_id == adj.user_id {
                                return Ok(prev);
                            }
                            return Err(Error::IdempotencyKeyReused.into());
                        }
                    }
                }
                let user = tx.get_user(&adj.user_id).await?.ok_or(Error::NotFound { what: "user" })?;
                let balance = match adj.direction {
                    Direction::Credit => tx.credit_balance(&user.id, adj.amount, now).await?,
                    Direction::Debit => tx.debit_balance(&user.id, adj.amount, now).await?,
                }
                .ok_or(Error::InsufficientBalance)?;
                let entry = LedgerEntry {
                    id: ctx.id(),
                    user_id: user.id.clone(),
                    kind,
                    amount: adj.amount,
                    balance_after: balance,
                    reference_type: ReferenceType::Adjustment,
                    reference_id: reference.clone(),
                    description: reason.clone(),
                    actor_id: Some(actor.user_id.clone()),
                    created_at: now,
                };
                tx.insert_ledger_entry(&entry).await.map_err(|e| match e {
                    StoreError::Conflict { constraint: constraint::LEDGER_REFERENCE } => {
                        UnitError::RunAgain("concurrent adjustment with the same request id")
                    }
                    e => e.into(),
                })?;
                let (nk, title) = match kind {
                    EntryKind::Credit => (NotificationKind::WalletCredited, "Wallet credited"),
                    EntryKind::Debit => (NotificationKind::WalletDebited, "Wallet debited"),
                };
                ctx.notify(&mut *tx, &user.id, nk, title, format!("{}: {reason}. Balance {balance}.", adj.amount)).await?;
                if kind == EntryKind::Credit {
                    let alert = AdminAlert::WalletCredited {
                        user_phone: user.phone.masked(),
                        amount_paise: adj.amount.paise(),
                        balance_paise: balance.paise(),
                        via: "admin".into(),
                    };
                    ctx.alert(&mut *tx, &alert).await?;
                }
                let details = json!({ "direction": kind, "amount_paise": adj.amount, "reason": reason, "balance_after_paise": balance });
                ctx.audit(&mut *tx, actor, "wallet.adjust", ("user", user.id.as_str()), details).await?;
                Ok(entry)
            }))
            .await
    }

    pub(crate) fn gateway(&self) -> Result<&Arc<dyn PaymentGateway>> {
        self.ctx.gateway.as_ref().ok_or(Error::PaymentsNotConfigured)
    }

    /// Refuses a new top-up when the user holds `max_open_topups` open intents (created, not
    /// past the horizon) or started `topups_per_minute` in the last minute. 0 turns a limit off.
    async fn check_topup_limits(
        &self,
        r: &mut (dyn crate::store::StoreRead + '_),
        user: &UserId,
    ) -> Result<()> {
        let cfg = &self.ctx.config.wallet;
        let now = self.ctx.now();
        if cfg.max_open_topups > 0 {
            let since = now - TimeDelta::from_std(cfg.reconcile_horizon).unwrap_or(TimeDelta::days(3));
            let open = r.count_user_topups(user, Some(TopUpStatus::Created), since).await?;
            if open >= u64::from(cfg.max_open_topups) {
                return Err(Error::TooManyOpenTopUps { limit: cfg.max_open_topups });
            }
        }
        if cfg.topups_per_minute > 0 {
            let recent = r.count_user_topups(user, None, now - TimeDelta::minutes(1)).await?;
            if recent >= u64::from(cfg.topups_per_minute) {
                return Err(Error::TopUpRateLimited { retry_after: std::time::Duration::from_secs(60) });
            }
        }
        Ok(())
    }

    /// Starts a top-up: creates a gateway order for the amount and stores the intent. Refused
    /// with `too_many_open_topups` / `topup_rate_limited` past the per-user limits, before any
    /// gateway call, and checked again in the unit that stores the intent.
    pub async fn create_topup(&self, actor: &Actor, amount: Money) -> Result<TopUpIntent> {
        actor.require(Action::Wallet)?;
        let gateway = self.gateway()?;
        let cfg = &self.ctx.config.wallet;
        if amount < cfg.topup_min || amount > cfg.topup_max {
            return Err(Error::validation(
                "amount_paise",
                format!("must be {} to {} paise", cfg.topup_min.paise(), cfg.topup_max.paise()),
            ));
        }
        {
            let mut r = self.ctx.store.reader().await?;
            self.check_topup_limits(&mut *r, &actor.user_id).await?;
        }
        let id: TopUpId = self.ctx.id();
        let request = GatewayOrderRequest {
            amount,
            currency: cfg.currency.clone(),
            receipt: id.as_str().into(),
            notes: vec![
                ("user_id".into(), actor.user_id.as_str().into()),
                ("topup_id".into(), id.as_str().into()),
            ],
        };
        let order = gateway.create_order(&request).await.map_err(unavailable)?;
        if order.amount != amount {
            return Err(Error::PaymentGatewayUnavailable(
                "gateway created an order for another amount".into(),
            ));
        }
        let now = self.ctx.now();
        let topup = &TopUp {
            id,
            user_id: actor.user_id.clone(),
            amount,
            currency: order.currency,
            gateway_order_id: order.id,
            gateway_payment_id: None,
            status: TopUpStatus::Created,
            created_at: now,
            updated_at: now,
            paid_at: None,
        };
        self.ctx
            .unit(|tx| {
                Box::pin(async move {
                    // A write to the user's row first: units creating top-ups for one user then
                    // serialise on every backend (SQLite's one writer; a MongoDB write conflict
                    // runs the later unit again), so the check below sees every racing intent.
                    tx.credit_balance(&topup.user_id, Money::ZERO, self.ctx.now())
                        .await?
                        .ok_or(Error::NotFound { what: "user" })?;
                    self.check_topup_limits(&mut *tx, &topup.user_id).await?;
                    Ok(tx.insert_topup(topup).await?)
                })
            })
            .await?;
        Ok(TopUpIntent {
            topup: topup.clone(),
            key_id: gateway.key_id().into(),
            checkout_token: self.sign_checkout(topup),
        })
    }

    /// Confirms a top-up from the checkout callback. The order id must be one the caller created
    /// and the signature is checked against the stored order. The signature alone proves only an
    /// authorization, so the payment is then fetched from the gateway (and captured first in
    /// manual capture mode); only a captured payment in the intent's amount and currency is
    /// credited, once per payment. An authorized one answers [`PaymentOutcome::NotCaptured`]
    /// (the webhook or reconciliation credits it once captured). A replay answers
    /// [`PaymentOutcome::AlreadyCredited`] and credits nothing.
    pub async fn verify_payment(
        &self,
        actor: &Actor,
        order_id: &str,
        payment_id: &str,
        signature: &str,
    ) -> Result<PaymentOutcome> {
        actor.require(Action::Wallet)?;
        let gateway = self.gateway()?;
        let payment_id = validate::key("payment_id", payment_id)?;
        let topup = {
            let mut r = self.ctx.store.reader().await?;
            r.get_topup_by_gateway_order(order_id.trim()).await?
        };
        let topup = topup.filter(|t| t.user_id == actor.user_id).ok_or(Error::NotFound { what: "top-up" })?;
        if !gateway.verify_checkout_signature(&topup.gateway_order_id, &payment_id, signature) {
            return Err(Error::PaymentSignatureInvalid);
        }
        let payment = gateway.fetch_payment(&payment_id).await.map_err(unavailable)?;
        if payment.id != payment_id || payment.order_id != topup.gateway_order_id {
            return Err(Error::InvalidState("the gateway reports this payment on another order".into()));
        }
        self.confirm(topup, payment, ConfirmedVia::Checkout).await
    }

    /// Confirms a top-up from a payment the gateway reported (webhook or polling). Only a
    /// captured payment in the intent's exact amount and currency is credited (an authorized
    /// one is captured first in manual capture mode); a mismatch is recorded, alerted for a
    /// refund and refused ([`PaymentOutcome::AmountMismatch`]).
    pub async fn confirm_gateway_payment(
        &self,
        payment: &GatewayPayment,
        via: ConfirmedVia,
    ) -> Result<PaymentOutcome> {
        let topup = {
            let mut r = self.ctx.store.reader().await?;
            r.get_topup_by_gateway_order(&payment.order_id).await?
        };
        let Some(topup) = topup else {
            return Ok(PaymentOutcome::UnknownOrder);
        };
        self.confirm(topup, payment.clone(), via).await
    }

    fn matches(topup: &TopUp, payment: &GatewayPayment) -> bool {
        payment.amount_paise == topup.amount.paise() && payment.currency.eq_ignore_ascii_case(&topup.currency)
    }

    async fn confirm(
        &self,
        topup: TopUp,
        payment: GatewayPayment,
        via: ConfirmedVia,
    ) -> Result<PaymentOutcome> {
        let payment = self.capture_if_manual(&topup, payment).await?;
        if payment.status != PaymentStatus::Captured {
            return Ok(PaymentOutcome::NotCaptured);
        }
        if !Self::matches(&topup, &payment) {
            self.record_mismatch(&topup, &payment).await?;
            return Ok(PaymentOutcome::AmountMismatch {
                expected: topup.amount,
                paid_paise: payment.amount_paise,
                currency: payment.currency.clone(),
            });
        }
        self.credit_topup(&topup.id, &payment, via).await
    }

    /// In manual capture mode, captures an authorized payment that matches its intent, unless
    /// another payment already paid the intent (that one is left to the gateway's auto-refund).
    /// Anything else is returned as it is.
    async fn capture_if_manual(&self, topup: &TopUp, payment: GatewayPayment) -> Result<GatewayPayment> {
        if self.ctx.config.wallet.capture != CaptureMode::Manual
            || payment.status != PaymentStatus::Authorized
            || !Self::matches(topup, &payment)
            || topup.status == TopUpStatus::Paid
        {
            return Ok(payment);
        }
        let gateway = self.gateway()?;
        let captured =
            gateway.capture_payment(&payment.id, topup.amount, &topup.currency).await.map_err(unavailable)?;
        tracing::info!(topup = %topup.id, payment = %payment.id, status = ?captured.status, "payment captured");
        Ok(captured)
    }

    /// Handles an authenticated gateway event through the same idempotent credit path as
    /// checkout. Events are de-duplicated by `(source, event_id)` once handled; a failure (`Err`)
    /// records nothing, so the gateway's redelivery is handled afresh. Every captured payment
    /// ends credited or recorded for an admin (an `Ok`), so the gateway stops retrying.
    pub async fn handle_gateway_event(
        &self,
        source: &str,
        event_id: Option<&str>,
        event: GatewayEvent,
    ) -> Result<EventOutcome> {
        let event_id = event_id.map(|e| validate::key("event_id", e)).transpose()?;
        if let Some(id) = &event_id {
            let mut r = self.ctx.store.reader().await?;
            if r.webhook_event_seen(source, id).await? {
                return Ok(EventOutcome::Duplicate);
            }
        }
        let outcome = match event {
            GatewayEvent::Other(name) => {
                tracing::debug!(source, event = %name, "gateway event ignored");
                EventOutcome::Ignored
            }
            GatewayEvent::PaymentCaptured(payment) | GatewayEvent::PaymentAuthorized(payment) => {
                match self.confirm_gateway_payment(&payment, ConfirmedVia::Webhook).await? {
                    PaymentOutcome::Credited(c) => EventOutcome::Credited(c),
                    PaymentOutcome::AlreadyCredited(_) => EventOutcome::AlreadyCredited,
                    PaymentOutcome::AmountMismatch { .. } => EventOutcome::Mismatch,
                    PaymentOutcome::HeldForRefund { .. } => EventOutcome::HeldForRefund,
                    PaymentOutcome::NotCaptured => EventOutcome::Ignored,
                    PaymentOutcome::UnknownOrder => EventOutcome::UnknownOrder,
                }
            }
            GatewayEvent::Refunded(r) => self.record_reversal("refund", &r).await?,
            GatewayEvent::Disputed(r) => self.record_reversal("dispute", &r).await?,
        };
        if let Some(id) = &event_id {
            let id = id.as_str();
            self.ctx
                .unit(|tx| {
                    Box::pin(async move {
                        // A concurrent delivery of the same event may have recorded it first: fine.
                        tx.record_webhook_event(source, id, self.ctx.now()).await?;
                        Ok(())
                    })
                })
                .await?;
        }
        Ok(outcome)
    }

    /// Records a gateway refund or dispute (audit entry, admin alert naming the user and the
    /// amount), once per refund or dispute id. The wallet is never debited here: an admin
    /// decides, with a wallet adjustment (which never takes a balance below zero).
    async fn record_reversal(&self, kind: &'static str, rev: &GatewayReversal) -> Result<EventOutcome> {
        let topup = {
            let mut r = self.ctx.store.reader().await?;
            r.get_topup_by_gateway_order(&rev.order_id).await?
        };
        let Some(topup) = topup else {
            return Ok(EventOutcome::UnknownOrder);
        };
        tracing::warn!(topup = %topup.id, payment = %rev.payment_id, kind, amount = rev.amount_paise, "gateway reversal");
        let ctx = self.ctx;
        let topup = &topup;
        ctx.unit(|tx| {
            Box::pin(async move {
                if !tx.record_webhook_event(RECORDED_MARKER, &format!("{kind}:{}", rev.id), ctx.now()).await?
                {
                    return Ok(());
                }
                let user = tx.get_user(&topup.user_id).await?.ok_or(Error::NotFound { what: "user" })?;
                let credited = topup.gateway_payment_id.as_deref() == Some(rev.payment_id.as_str());
                let alert = AdminAlert::GatewayReversal {
                    kind: kind.into(),
                    reference_id: rev.id.clone(),
                    payment_id: rev.payment_id.clone(),
                    user_phone: user.phone.masked(),
                    amount_paise: rev.amount_paise,
                    currency: rev.currency.clone(),
                    balance_paise: user.wallet_balance.paise(),
                    credited,
                };
                ctx.alert(tx, &alert).await?;
                let details = json!({
                    "id": rev.id, "payment_id": rev.payment_id, "amount_paise": rev.amount_paise,
                    "currency": rev.currency, "user_id": user.id, "credited_wallet": credited,
                    "balance_paise": user.wallet_balance,
                });
                let system = Actor::system(ctx.now());
                let action = if kind == "refund" { "payment.refunded" } else { "payment.disputed" };
                ctx.audit(tx, &system, action, ("topup", topup.id.as_str()), details).await?;
                Ok(())
            })
        })
        .await?;
        Ok(EventOutcome::Recorded)
    }

    async fn record_mismatch(&self, topup: &TopUp, payment: &GatewayPayment) -> Result<()> {
        tracing::error!(topup = %topup.id, payment = %payment.id, expected = topup.amount.paise(), paid = payment.amount_paise, "payment amount mismatch");
        let ctx = self.ctx;
        ctx.unit(|tx| {
            Box::pin(async move {
                let user = tx.get_user(&topup.user_id).await?.ok_or(Error::NotFound { what: "user" })?;
                let reason = format!("amount or currency differs from the top-up of {}", topup.amount);
                hold_for_refund(ctx, tx, topup, &user, payment, &reason).await
            })
        })
        .await
    }

    /// The one credit path for top-ups, whatever confirmed them, for a captured payment that
    /// matches its intent: `Created` → `Paid` (or `Expired` → `Paid` for a late capture) is a
    /// guarded step and the ledger entry is unique per payment id, so a payment credits at most
    /// once. A second payment on a paid top-up is held for a refund in the same unit.
    async fn credit_topup(
        &self,
        id: &TopUpId,
        payment: &GatewayPayment,
        via: ConfirmedVia,
    ) -> Result<PaymentOutcome> {
        let ctx = self.ctx;
        let payment_id = payment.id.as_str();
        ctx.unit(|tx| {
            Box::pin(async move {
                let now = ctx.now();
                let topup = tx.get_topup(id).await?.ok_or(Error::NotFound { what: "top-up" })?;
                // Read before this unit writes the balance; it is never read back.
                let user = tx.get_user(&topup.user_id).await?.ok_or(Error::NotFound { what: "user" })?;
                let late = match topup.status {
                    TopUpStatus::Paid => {
                        if topup.gateway_payment_id.as_deref() != Some(payment_id) {
                            let reason = "its top-up was already paid by another payment";
                            hold_for_refund(ctx, tx, &topup, &user, payment, reason).await?;
                            return Ok(PaymentOutcome::HeldForRefund { payment_id: payment_id.into() });
                        }
                        let credit =
                            TopUpCredit { credited: topup.amount, balance: user.wallet_balance, topup };
                        return Ok(PaymentOutcome::AlreadyCredited(credit));
                    }
                    TopUpStatus::Failed => {
                        hold_for_refund(ctx, tx, &topup, &user, payment, "its top-up had failed").await?;
                        return Ok(PaymentOutcome::HeldForRefund { payment_id: payment_id.into() });
                    }
                    TopUpStatus::Expired => true,
                    TopUpStatus::Created => false,
                };
                let marked = if late {
                    tx.mark_expired_topup_paid(id, payment_id, now).await
                } else {
                    tx.mark_topup_paid(id, payment_id, now).await
                };
                let paid = marked.map_err(|e| match e {
                    StoreError::Conflict { constraint: constraint::TOPUP_GATEWAY_PAYMENT } => {
                        Error::InvalidState("payment already used for another top-up".into()).into()
                    }
                    e => UnitError::from(e),
                })?;
                if !paid {
                    return Err(UnitError::RunAgain("top-up confirmed concurrently"));
                }
                if late {
                    tracing::warn!(topup = %topup.id, payment = payment_id, "late capture credited after the top-up expired");
                }
                let balance = tx
                    .credit_balance(&topup.user_id, topup.amount, now)
                    .await?
                    .ok_or(Error::NotFound { what: "user" })?;
                tx.insert_ledger_entry(&LedgerEntry {
                    id: ctx.id(),
                    user_id: topup.user_id.clone(),
                    kind: EntryKind::Credit,
                    amount: topup.amount,
                    balance_after: balance,
                    reference_type: ReferenceType::TopUp,
                    reference_id: payment_id.into(),
                    description: format!("Wallet top-up ({})", topup.gateway_order_id),
                    actor_id: None,
                    created_at: now,
                })
                .await?;
                ctx.notify(
                    tx,
                    &topup.user_id,
                    NotificationKind::WalletCredited,
                    "Wallet topped up",
                    format!("{} was added to your wallet. Balance {balance}.", topup.amount),
                )
                .await?;
                let alert = AdminAlert::WalletCredited {
                    user_phone: user.phone.masked(),
                    amount_paise: topup.amount.paise(),
                    balance_paise: balance.paise(),
                    via: if late { format!("{} (late capture)", via.as_str()) } else { via.as_str().into() },
                };
                ctx.alert(tx, &alert).await?;
                // Exactly what the guarded step wrote; no need to read it back.
                let topup = TopUp {
                    status: TopUpStatus::Paid,
                    gateway_payment_id: Some(payment_id.into()),
                    paid_at: Some(now),
                    updated_at: now,
                    ..topup
                };
                Ok(PaymentOutcome::Credited(TopUpCredit { credited: topup.amount, balance, topup }))
            })
        })
        .await
    }

    /// The top-ups one pass visits (open ones made before `bound`, or expired ones made since
    /// it): newest first from where the last pass stopped, wrapping around to the newest, at
    /// most `limit`; and where the next pass starts.
    async fn reconcile_batch(&self, expired: bool, bound: Timestamp, limit: u32) -> Result<Vec<TopUp>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let cursors = if expired { &self.ctx.late_capture_cursor } else { &self.ctx.reconcile_cursor };
        let cursor = cursors.lock().expect("cursor lock").clone();
        let mut r = self.ctx.store.reader().await?;
        let mut batch =
            list_topups(&mut *r, expired, bound, Slice { before_id: cursor.clone(), limit }).await?;
        let mut next = if batch.len() == limit as usize {
            batch.last().map(|t| t.id.as_str().to_string())
        } else {
            None
        };
        if let Some(stop) = cursor.filter(|_| batch.len() < limit as usize) {
            // Wrapped: the newest ones, down to where this pass started.
            let room = limit - batch.len() as u32;
            let head = list_topups(&mut *r, expired, bound, Slice { before_id: None, limit: room }).await?;
            let listed = head.len();
            let head: Vec<TopUp> = head.into_iter().filter(|t| t.id.as_str() > stop.as_str()).collect();
            // Reached where this pass started: the next one starts from the newest again.
            let reached = head.len() < listed || listed < room as usize;
            next = if reached { None } else { head.last().map(|t| t.id.as_str().to_string()) };
            batch.splice(0..0, head);
        }
        *cursors.lock().expect("cursor lock") = next;
        Ok(batch)
    }

    /// One reconciliation pass: asks the gateway about top-ups still open after
    /// `reconcile_after` (all open ones when `check_all`) and, with what is left of the budget,
    /// about intents expired within `late_capture_window`; at most `limit` of them (one
    /// order-payments fetch each, plus a capture per authorized payment in manual mode). They
    /// are visited newest first with a cursor that rotates across passes, so a recent paid one
    /// is never starved by many abandoned ones. Captured payments are credited through the same
    /// path as checkout (or held for refund); an intent is expired past the horizon only when no
    /// payment of it is still `authorized` (the gateway may yet capture it). Razorpay auto-refunds
    /// authorized payments not captured within 3 days of creation (its Payment Capture Settings,
    /// https://razorpay.com/docs/payments/payments/capture-settings/), so such an intent ends
    /// either paid or, once the payment reads `refunded`, expired: see `WalletConfig::reconcile_horizon`.
    pub async fn reconcile(&self, check_all: bool, limit: u32) -> Result<ReconcileReport> {
        let gateway = self.gateway()?;
        let cfg = &self.ctx.config.wallet;
        let now = self.ctx.now();
        let cutoff =
            if check_all { now } else { now - TimeDelta::from_std(cfg.reconcile_after).unwrap_or_default() };
        let horizon = now - TimeDelta::from_std(cfg.reconcile_horizon).unwrap_or(TimeDelta::days(3));
        let mut batch = self.reconcile_batch(false, cutoff, limit).await?;
        // What the open ones leave of the budget looks for captures that arrived after expiry
        // (a webhook lost and the customer gone): credited late, or held for refund.
        let since = now - TimeDelta::from_std(cfg.late_capture_window).unwrap_or(TimeDelta::days(7));
        let room = limit.saturating_sub(u32::try_from(batch.len()).unwrap_or(u32::MAX));
        batch.extend(self.reconcile_batch(true, since, room).await?);
        let mut report = ReconcileReport::default();
        for topup in batch {
            report.checked += 1;
            report.gateway_calls += 1;
            let payments = match gateway.fetch_order_payments(&topup.gateway_order_id).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(topup = %topup.id, error = %e, "reconciliation could not reach the gateway");
                    report.errors += 1;
                    continue;
                }
            };
            let (mut paid, mut pending) = (false, false);
            for p in &payments {
                let captures = cfg.capture == CaptureMode::Manual && Self::matches(&topup, p);
                match p.status {
                    PaymentStatus::Captured => {}
                    PaymentStatus::Authorized if captures && !paid => report.gateway_calls += 1,
                    PaymentStatus::Authorized => {
                        pending = true;
                        continue;
                    }
                    _ => continue,
                }
                match self.confirm_gateway_payment(p, ConfirmedVia::Reconciliation).await {
                    Ok(PaymentOutcome::Credited(_)) => {
                        report.credited += 1;
                        paid = true;
                    }
                    Ok(PaymentOutcome::AlreadyCredited(_)) => paid = true,
                    Ok(PaymentOutcome::AmountMismatch { .. } | PaymentOutcome::HeldForRefund { .. }) => {
                        report.held += 1
                    }
                    Ok(PaymentOutcome::NotCaptured) => pending = true,
                    Ok(PaymentOutcome::UnknownOrder) => report.errors += 1,
                    Err(e) => {
                        tracing::warn!(topup = %topup.id, error = %e, "reconciliation could not credit");
                        report.errors += 1;
                        // Unknown: keep the intent open and ask again on a later pass.
                        pending = true;
                    }
                }
            }
            if pending && !paid {
                report.pending += 1;
            }
            if paid || pending || topup.status != TopUpStatus::Created || topup.created_at > horizon {
                continue;
            }
            let id = &topup.id;
            let closed = self
                .ctx
                .unit(|tx| {
                    Box::pin(
                        async move { Ok(tx.close_topup(id, TopUpStatus::Expired, self.ctx.now()).await?) },
                    )
                })
                .await?;
            if closed {
                report.expired += 1;
            }
        }
        Ok(report)
    }
}

/// Marks recorded once, in the webhook-event table (unique per source and id on every backend).
const RECORDED_MARKER: &str = "ottsonly:recorded";
/// The once-only marker source of admin adjustment request ids (the reference, `req:<id>`).
const ADJUSTMENT_REQUESTS: &str = "ottsonly:adjustment";

async fn list_topups(
    r: &mut dyn crate::store::StoreRead,
    expired: bool,
    bound: Timestamp,
    slice: Slice,
) -> Result<Vec<TopUp>> {
    Ok(if expired {
        r.list_expired_topups(bound, &slice).await?
    } else {
        r.list_open_topups(bound, &slice).await?
    })
}

fn unavailable(e: GatewayError) -> Error {
    match e {
        GatewayError::Unavailable(m) | GatewayError::Rejected(m) => Error::PaymentGatewayUnavailable(m),
    }
}

/// Records a captured payment that cannot be credited, once per payment, inside the caller's
/// unit: an audit entry (`payment.held_for_refund`, the durable record) and an admin alert
/// naming the payment, the amount and the user, so that an admin refunds it at the gateway.
async fn hold_for_refund(
    ctx: &Ctx,
    tx: &mut dyn Tx,
    topup: &TopUp,
    user: &User,
    payment: &GatewayPayment,
    reason: &str,
) -> crate::ctx::UnitResult<()> {
    if !tx.record_webhook_event(RECORDED_MARKER, &format!("held:{}", payment.id), ctx.now()).await? {
        return Ok(());
    }
    tracing::error!(topup = %topup.id, payment = %payment.id, amount = payment.amount_paise, reason, "captured payment held for refund");
    let alert = if Wallet::matches(topup, payment) {
        AdminAlert::PaymentToRefund {
            gateway_order_id: topup.gateway_order_id.clone(),
            payment_id: payment.id.clone(),
            user_phone: user.phone.masked(),
            amount_paise: payment.amount_paise,
            currency: payment.currency.clone(),
            reason: reason.into(),
        }
    } else {
        AdminAlert::PaymentMismatch {
            gateway_order_id: topup.gateway_order_id.clone(),
            payment_id: payment.id.clone(),
            expected_paise: topup.amount.paise(),
            paid_paise: payment.amount_paise,
            currency: payment.currency.clone(),
            user_phone: user.phone.masked(),
        }
    };
    ctx.alert(tx, &alert).await?;
    let details = json!({
        "payment_id": payment.id, "gateway_order_id": topup.gateway_order_id, "user_id": user.id,
        "expected_paise": topup.amount, "paid_paise": payment.amount_paise, "currency": payment.currency,
        "reason": reason,
    });
    let system = Actor::system(ctx.now());
    ctx.audit(tx, &system, "payment.held_for_refund", ("payment", payment.id.as_str()), details).await?;
    Ok(())
}
