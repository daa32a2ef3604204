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
use crate::payments::{GatewayError, GatewayOrderRequest, GatewayPayment, PaymentGateway, PaymentStatus};
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
}

/// A notification from the payment gateway (a webhook), already authenticated by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayEvent {
    /// A payment was captured (or its order reported paid).
    PaymentCaptured(GatewayPayment),
    /// Any other event; acknowledged and ignored.
    Other(String),
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

    fn gateway(&self) -> Result<&Arc<dyn PaymentGateway>> {
        self.ctx.gateway.as_ref().ok_or(Error::PaymentsNotConfigured)
    }

    /// Starts a top-up: creates a gateway order for the amount and stores the intent.
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
        let order = gateway.create_order(&request).await.map_err(|e| match e {
            GatewayError::Unavailable(m) | GatewayError::Rejected(m) => Error::PaymentGatewayUnavailable(m),
        })?;
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
        self.ctx.unit(|tx| Box::pin(async move { Ok(tx.insert_topup(topup).await?) })).await?;
        Ok(TopUpIntent { topup: topup.clone(), key_id: gateway.key_id().into() })
    }

    /// Confirms a top-up from the checkout callback. The order id must be one the caller created;
    /// the signature is checked against the stored order; the stored amount is credited, once per
    /// payment. A replay answers [`PaymentOutcome::AlreadyCredited`] and credits nothing.
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
        self.credit_topup(&topup.id, &payment_id, ConfirmedVia::Checkout).await
    }

    /// Confirms a top-up from a payment the gateway reported (webhook or polling). Only a
    /// captured payment in the intent's exact amount and currency is credited; a mismatch is
    /// alerted and refused ([`PaymentOutcome::AmountMismatch`]).
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
        if payment.status != PaymentStatus::Captured {
            return Ok(PaymentOutcome::NotCaptured);
        }
        if payment.amount_paise != topup.amount.paise()
            || !payment.currency.eq_ignore_ascii_case(&topup.currency)
        {
            self.record_mismatch(&topup, payment).await?;
            return Ok(PaymentOutcome::AmountMismatch {
                expected: topup.amount,
                paid_paise: payment.amount_paise,
                currency: payment.currency.clone(),
            });
        }
        self.credit_topup(&topup.id, &payment.id, via).await
    }

    /// Handles an authenticated gateway event through the same idempotent credit path as
    /// checkout. Events are de-duplicated by `(source, event_id)` once handled; a failure (`Err`)
    /// records nothing, so the gateway's redelivery is handled afresh.
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
            GatewayEvent::PaymentCaptured(payment) => {
                match self.confirm_gateway_payment(&payment, ConfirmedVia::Webhook).await? {
                    PaymentOutcome::Credited(c) => EventOutcome::Credited(c),
                    PaymentOutcome::AlreadyCredited(_) => EventOutcome::AlreadyCredited,
                    PaymentOutcome::AmountMismatch { .. } => EventOutcome::Mismatch,
                    PaymentOutcome::NotCaptured => EventOutcome::Ignored,
                    PaymentOutcome::UnknownOrder => EventOutcome::UnknownOrder,
                }
            }
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

    async fn record_mismatch(&self, topup: &TopUp, payment: &GatewayPayment) -> Result<()> {
        tracing::error!(topup = %topup.id, payment = %payment.id, expected = topup.amount.paise(), paid = payment.amount_paise, "payment amount mismatch");
        let ctx = self.ctx;
        ctx.unit(|tx| {
            Box::pin(async move {
                let alert = AdminAlert::PaymentMismatch {
                    gateway_order_id: topup.gateway_order_id.clone(),
                    payment_id: payment.id.clone(),
                    expected_paise: topup.amount.paise(),
                    paid_paise: payment.amount_paise,
                    currency: payment.currency.clone(),
                };
                ctx.alert(tx, &alert).await?;
                let details = json!({ "payment_id": payment.id, "expected_paise": topup.amount, "paid_paise": payment.amount_paise, "currency": payment.currency });
                let system = Actor::system(ctx.now());
                ctx.audit(tx, &system, "payment.mismatch", ("topup", topup.id.as_str()), details).await?;
                Ok(())
            })
        })
        .await
    }

    /// The one credit path for top-ups, whatever confirmed them: `Created` → `Paid` is a guarded
    /// step and the ledger entry is unique per payment id, so a payment credits at most once.
    /// Answers [`PaymentOutcome::Credited`] or [`PaymentOutcome::AlreadyCredited`].
    async fn credit_topup(
        &self,
        id: &TopUpId,
        payment_id: &str,
        via: ConfirmedVia,
    ) -> Result<PaymentOutcome> {
        let ctx = self.ctx;
        ctx.unit(|tx| {
            Box::pin(async move {
                let now = ctx.now();
                let topup = tx.get_topup(id).await?.ok_or(Error::NotFound { what: "top-up" })?;
                // Read before this unit writes the balance; it is never read back.
                let user = tx.get_user(&topup.user_id).await?.ok_or(Error::NotFound { what: "user" })?;
                match topup.status {
                    TopUpStatus::Paid => {
                        if topup.gateway_payment_id.as_deref() != Some(payment_id) {
                            return Err(Error::InvalidState(
                                "this top-up was already paid by another payment".into(),
                            )
                            .into());
                        }
                        let credit =
                            TopUpCredit { credited: topup.amount, balance: user.wallet_balance, topup };
                        return Ok(PaymentOutcome::AlreadyCredited(credit));
                    }
                    TopUpStatus::Expired | TopUpStatus::Failed => {
                        return Err(Error::InvalidState(format!("top-up is {}", topup.status)).into());
                    }
                    TopUpStatus::Created => {}
                }
                let paid = tx.mark_topup_paid(id, payment_id, now).await.map_err(|e| match e {
                    StoreError::Conflict { constraint: constraint::TOPUP_GATEWAY_PAYMENT } => {
                        Error::InvalidState("payment already used for another top-up".into()).into()
                    }
                    e => UnitError::from(e),
                })?;
                if !paid {
                    return Err(UnitError::RunAgain("top-up confirmed concurrently"));
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
                    via: via.as_str().into(),
                };
                ctx.alert(tx, &alert).await?;
                // Exactly what `mark_topup_paid` wrote; no need to read it back.
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

    /// One reconciliation pass: asks the gateway about top-ups still open after
    /// `reconcile_after` (all open ones when `check_all`), credits captured payments through the
    /// same path as checkout, and expires intents older than the horizon. Bounded to `limit`.
    pub async fn reconcile(&self, check_all: bool, limit: u32) -> Result<ReconcileReport> {
        let gateway = self.gateway()?;
        let cfg = &self.ctx.config.wallet;
        let now = self.ctx.now();
        let cutoff =
            if check_all { now } else { now - TimeDelta::from_std(cfg.reconcile_after).unwrap_or_default() };
        let horizon = now - TimeDelta::from_std(cfg.reconcile_horizon).unwrap_or(TimeDelta::days(3));
        let open = {
            let mut r = self.ctx.store.reader().await?;
            r.list_open_topups(cutoff, limit).await?
        };
        let mut report = ReconcileReport::default();
        for topup in open {
            report.checked += 1;
            let payments = match gateway.fetch_order_payments(&topup.gateway_order_id).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(topup = %topup.id, error = %e, "reconciliation could not reach the gateway");
                    report.errors += 1;
                    continue;
                }
            };
            let captured = payments.iter().find(|p| p.status == PaymentStatus::Captured);
            if let Some(p) = captured {
                match self.confirm_gateway_payment(p, ConfirmedVia::Reconciliation).await {
                    Ok(PaymentOutcome::Credited(_)) => report.credited += 1,
                    Ok(PaymentOutcome::AlreadyCredited(_)) => {}
                    Ok(other) => {
                        tracing::warn!(topup = %topup.id, outcome = ?other, "reconciliation could not credit");
                        report.errors += 1;
                    }
                    Err(e) => {
                        tracing::warn!(topup = %topup.id, error = %e, "reconciliation could not credit");
                        report.errors += 1;
                    }
                }
            } else if topup.created_at <= horizon {
                let id = &topup.id;
                let closed = self
                    .ctx
                    .unit(|tx| {
                        Box::pin(async move {
                            Ok(tx.close_topup(id, TopUpStatus::Expired, self.ctx.now()).await?)
                        })
                    })
                    .await?;
                if closed {
                    report.expired += 1;
                }
            }
        }
        Ok(report)
    }
}
