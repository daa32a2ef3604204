//! Admin alerts: written to an outbox inside the unit of work that caused them, then delivered
//! (Telegram) by a dispatcher that leases items, so an alert is never lost, never sent for a
//! change that rolled back, and never held by two dispatchers at once.

use crate::access::{Action, Actor};
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::ids::OutboxId;
use crate::model::{OutboxItem, OutboxStatus, Page, PageRequest};
use crate::money::Money;
use crate::store::Tx;
use chrono::TimeDelta;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Something an admin should see. Amounts in paise; phones already masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AdminAlert {
    NewOrder {
        order_id: String,
        user_phone: String,
        product_name: String,
        amount_paise: i64,
        remaining_stock: i64,
    },
    AwaitingCredentials {
        order_id: String,
        subscription_id: String,
        user_phone: String,
        product_name: String,
    },
    LowStock {
        product_id: String,
        product_name: String,
        stock: i64,
    },
    Refund {
        order_id: String,
        user_phone: String,
        product_name: String,
        amount_paise: i64,
        admin_id: String,
        reason: String,
    },
    WalletCredited {
        user_phone: String,
        amount_paise: i64,
        balance_paise: i64,
        via: String,
    },
    PaymentMismatch {
        gateway_order_id: String,
        payment_id: String,
        expected_paise: i64,
        paid_paise: i64,
        currency: String,
        /// Who paid (masked); empty in alerts written before it was recorded.
        #[serde(default)]
        user_phone: String,
    },
    /// A captured payment that cannot be credited (a second payment on a paid top-up): the
    /// customer's money is held until an admin refunds it at the gateway.
    PaymentToRefund {
        gateway_order_id: String,
        payment_id: String,
        user_phone: String,
        amount_paise: i64,
        currency: String,
        reason: String,
    },
    /// The gateway refunded a payment (`refund`) or opened a dispute on it (`dispute`). The
    /// wallet is not debited: an admin decides, with a wallet adjustment.
    GatewayReversal {
        kind: String,
        reference_id: String,
        payment_id: String,
        user_phone: String,
        amount_paise: i64,
        currency: String,
        balance_paise: i64,
        /// Whether this payment had credited the wallet (a refund of a held payment did not).
        #[serde(default)]
        credited: bool,
    },
}

/// An amount in its currency: rupees for INR, otherwise the minor units and the code.
fn amount(paise: i64, currency: &str) -> String {
    if currency.eq_ignore_ascii_case("INR") {
        rupees(paise)
    } else {
        format!("{paise} {currency} minor units")
    }
}

fn rupees(paise: i64) -> String {
    Money::from_paise(paise).map(|m| m.to_string()).unwrap_or_else(|_| format!("{paise} paise"))
}

impl AdminAlert {
    /// A short plain-text rendering; transports escape it for their markup.
    pub fn text(&self) -> String {
        match self {
            AdminAlert::NewOrder { order_id, user_phone, product_name, amount_paise, remaining_stock } => {
                format!(
                    "🛒 New order {order_id}\n{product_name} for {}\nBuyer: {user_phone}\nStock left: {remaining_stock}",
                    rupees(*amount_paise)
                )
            }
            AdminAlert::AwaitingCredentials { order_id, subscription_id, user_phone, product_name } => {
                format!(
                    "⏳ Order {order_id} waits for credentials\n{product_name}, buyer {user_phone}\nAssign to subscription {subscription_id}"
                )
            }
            AdminAlert::LowStock { product_name, stock, product_id } => {
                format!("📉 Low stock: {product_name} has {stock} left ({product_id})")
            }
            AdminAlert::Refund { order_id, user_phone, product_name, amount_paise, admin_id, reason } => {
                format!(
                    "↩️ Refund of {} for order {order_id}\n{product_name}, buyer {user_phone}\nBy {admin_id}: {reason}",
                    rupees(*amount_paise)
                )
            }
            AdminAlert::WalletCredited { user_phone, amount_paise, balance_paise, via } => format!(
                "💰 Wallet of {user_phone} credited {} via {via}\nBalance: {}",
                rupees(*amount_paise),
                rupees(*balance_paise)
            ),
            AdminAlert::PaymentMismatch {
                gateway_order_id,
                payment_id,
                expected_paise,
                paid_paise,
                currency,
                user_phone,
            } => format!(
                "⚠️ Payment mismatch on {gateway_order_id} / {payment_id}: expected {}, paid {paid_paise} {currency}. Not credited: refund {} of payment {payment_id} to {}.",
                rupees(*expected_paise),
                amount(*paid_paise, currency),
                if user_phone.is_empty() { "the payer" } else { user_phone },
            ),
            AdminAlert::PaymentToRefund {
                gateway_order_id,
                payment_id,
                user_phone,
                amount_paise,
                currency,
                reason,
            } => format!(
                "⚠️ Payment {payment_id} on {gateway_order_id} not credited: {reason}.\nRefund {} to {user_phone} at the gateway.",
                amount(*amount_paise, currency)
            ),
            AdminAlert::GatewayReversal {
                kind,
                reference_id,
                payment_id,
                user_phone,
                amount_paise,
                currency,
                balance_paise,
                credited,
            } => {
                let wallet = if *credited {
                    format!(
                        "Wallet not debited (balance {}); debit it by hand if needed.",
                        rupees(*balance_paise)
                    )
                } else {
                    "This payment never credited the wallet.".to_string()
                };
                format!(
                    "🔁 Gateway {kind} {reference_id} of {} on payment {payment_id} by {user_phone}.\n{wallet}",
                    amount(*amount_paise, currency)
                )
            }
        }
    }
}

/// A leased alert ready to send.
#[derive(Debug, Clone)]
pub struct ClaimedAlert {
    pub id: OutboxId,
    pub attempts: u32,
    /// `None` when the stored payload cannot be decoded (it will be parked, not retried).
    pub alert: Option<AdminAlert>,
}

pub struct Outbox<'a> {
    pub(crate) ctx: &'a Ctx,
}

impl Outbox<'_> {
    /// Leases up to `limit` due alerts to `owner` for the configured lease time.
    pub async fn claim(&self, owner: &str, limit: u32) -> Result<Vec<ClaimedAlert>> {
        let lease = TimeDelta::from_std(self.ctx.config.outbox.lease).unwrap_or(TimeDelta::minutes(1));
        let items = self
            .ctx
            .unit(|tx| {
                Box::pin(async move {
                    let now = self.ctx.now();
                    Ok(tx.claim_outbox(owner, now, now + lease, limit).await?)
                })
            })
            .await?;
        Ok(items
            .into_iter()
            .map(|i| ClaimedAlert {
                alert: serde_json::from_str(&i.payload).ok(),
                id: i.id,
                attempts: i.attempts,
            })
            .collect())
    }

    /// Marks a leased alert delivered. False if the lease was lost (another owner has it now).
    pub async fn delivered(&self, owner: &str, id: &OutboxId) -> Result<bool> {
        self.ctx
            .unit(|tx| Box::pin(async move { Ok(tx.complete_outbox(id, owner, self.ctx.now()).await?) }))
            .await
    }

    /// Records a failed delivery. The alert is retried after `retry_after` if given (e.g. a
    /// rate limit's hint), else after exponential backoff with jitter; after the configured
    /// number of attempts it is parked as failed. Returns the status it is left in.
    pub async fn failed(
        &self,
        owner: &str,
        claimed: &ClaimedAlert,
        error: &str,
        retry_after: Option<Duration>,
    ) -> Result<OutboxStatus> {
        let cfg = &self.ctx.config.outbox;
        let park = claimed.alert.is_none() || claimed.attempts >= cfg.max_attempts;
        let delay = retry_after.unwrap_or_else(|| self.backoff(claimed.attempts));
        let error: String = error.chars().take(500).collect();
        let error = &error;
        self.ctx
            .unit(|tx| {
                Box::pin(async move {
                    let now = self.ctx.now();
                    let retry_at =
                        (!park).then(|| now + TimeDelta::from_std(delay).unwrap_or(TimeDelta::hours(1)));
                    tx.fail_outbox(&claimed.id, owner, error, retry_at).await?;
                    Ok(if park { OutboxStatus::Failed } else { OutboxStatus::Pending })
                })
            })
            .await
    }

    /// base × 2^(attempts-1), capped, with up to 25 % jitter so retries do not stampede.
    fn backoff(&self, attempts: u32) -> Duration {
        let cfg = &self.ctx.config.outbox;
        let exp = cfg.backoff_base.saturating_mul(1u32 << attempts.saturating_sub(1).min(20));
        let capped = exp.min(cfg.backoff_max);
        let mut b = [0u8; 2];
        self.ctx.entropy.fill(&mut b);
        let jitter = capped.mul_f64(f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX) * 0.25);
        capped + jitter
    }

    /// Sends a parked alert again: due now, with a fresh set of attempts. Admin only
    /// ([`Action::ManageAlerts`]), audited. An alert that is not parked is
    /// [`Error::InvalidState`].
    pub async fn retry(&self, actor: &Actor, id: &OutboxId) -> Result<()> {
        actor.require(Action::ManageAlerts)?;
        self.ctx
            .unit(|tx| {
                Box::pin(async move {
                    if !tx.requeue_outbox(id, self.ctx.now()).await? {
                        return Err(Error::InvalidState("only a parked alert can be retried".into()).into());
                    }
                    self.ctx
                        .audit(
                            &mut *tx,
                            actor,
                            "outbox.retry",
                            ("outbox", id.as_str()),
                            serde_json::json!({}),
                        )
                        .await?;
                    Ok(())
                })
            })
            .await
    }

    /// Items by status, newest first (operators, metrics, tests).
    pub async fn list(&self, status: Option<OutboxStatus>, page: &PageRequest) -> Result<Page<OutboxItem>> {
        let slice = Ctx::slice(page)?;
        let mut r = self.ctx.store.reader().await?;
        let items = r.list_outbox(status, &slice).await?;
        Ok(Ctx::page(items, &slice, |i| i.id.as_str().to_string()))
    }

    /// Decodes an item's alert.
    pub fn decode(item: &OutboxItem) -> Result<AdminAlert> {
        serde_json::from_str(&item.payload).map_err(|e| Error::Internal(format!("bad outbox payload: {e}")))
    }
}

// Lives here, not in `ctx`, so that `ctx` needs no alert type: the dependency runs outbox → ctx.
impl Ctx {
    /// Queues an admin alert in the same unit of work as its cause.
    pub async fn alert(&self, tx: &mut dyn Tx, alert: &AdminAlert) -> Result<()> {
        tx.insert_outbox(&self.alert_item(alert)?).await?;
        Ok(())
    }

    /// The outbox item that delivers `alert`, due now, for [`Tx::insert_outbox_items`].
    pub fn alert_item(&self, alert: &AdminAlert) -> Result<OutboxItem> {
        let now = self.now();
        Ok(OutboxItem {
            id: self.id(),
            payload: serde_json::to_string(alert).map_err(|e| Error::Internal(e.to_string()))?,
            status: OutboxStatus::Pending,
            attempts: 0,
            created_at: now,
            due_at: now,
            lease_owner: None,
            lease_until: None,
            last_error: None,
            delivered_at: None,
        })
    }
}
