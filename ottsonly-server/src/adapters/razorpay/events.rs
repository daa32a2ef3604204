//! Razorpay webhook payloads: which events credit a top-up. The signature is checked before
//! (see [`super::signature`]).

use super::client::PaymentBody;
use ottsonly_core::payments::GatewayPayment;
use ottsonly_core::wallet::GatewayReversal;
use serde::Deserialize;

/// What a verified webhook asks us to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookEvent {
    /// `payment.captured` or `order.paid`: confirm the top-up with this payment.
    Captured(GatewayPayment),
    /// `payment.authorized`: captured by us in manual capture mode.
    Authorized(GatewayPayment),
    /// `refund.processed`: the refund entity, with the payment's order.
    Refunded(GatewayReversal),
    /// `payment.dispute.created`: the dispute entity, with the payment's order.
    Disputed(GatewayReversal),
    /// Any other event (answered 200 and ignored).
    Ignored(String),
}

/// A refund or dispute entity (the fields we use).
#[derive(Deserialize)]
struct ReversalBody {
    id: String,
    payment_id: String,
    amount: i64,
    currency: String,
}

/// `payload.<entity>.entity` as a reversal; the order comes from `payload.payment.entity`.
fn reversal(payload: &serde_json::Value, entity: &str) -> Result<GatewayReversal, String> {
    let r: ReversalBody = serde_json::from_value(payload[entity]["entity"].clone())
        .map_err(|e| format!("webhook without a {entity} entity: {e}"))?;
    let order_id = payload["payment"]["entity"]["order_id"].as_str().unwrap_or_default().to_string();
    if order_id.is_empty() {
        return Err(format!("{entity} webhook without the payment's order id"));
    }
    Ok(GatewayReversal {
        id: r.id,
        payment_id: r.payment_id,
        order_id,
        amount_paise: r.amount,
        currency: r.currency,
    })
}

#[derive(Deserialize)]
struct Envelope {
    event: String,
    #[serde(default)]
    payload: serde_json::Value,
}

/// Parses a webhook body (already signature-checked).
pub fn parse_webhook(raw_body: &[u8]) -> Result<WebhookEvent, String> {
    let env: Envelope =
        serde_json::from_slice(raw_body).map_err(|e| format!("malformed webhook body: {e}"))?;
    match env.event.as_str() {
        "payment.captured" | "order.paid" | "payment.authorized" => {
            let entity = env.payload["payment"]["entity"].clone();
            let order_fallback =
                env.payload["order"]["entity"]["id"].as_str().unwrap_or_default().to_string();
            let p: PaymentBody = serde_json::from_value(entity)
                .map_err(|e| format!("webhook without a payment entity: {e}"))?;
            let payment = p.into_payment(&order_fallback);
            if payment.order_id.is_empty() {
                return Err("webhook payment has no order id".into());
            }
            if env.event == "payment.authorized" {
                Ok(WebhookEvent::Authorized(payment))
            } else {
                Ok(WebhookEvent::Captured(payment))
            }
        }
        "refund.processed" => Ok(WebhookEvent::Refunded(reversal(&env.payload, "refund")?)),
        "payment.dispute.created" => Ok(WebhookEvent::Disputed(reversal(&env.payload, "dispute")?)),
        other => Ok(WebhookEvent::Ignored(other.to_string())),
    }
}
