//! Razorpay webhook payloads: which events credit a top-up. The signature is checked before
//! (see [`super::signature`]).

use super::client::PaymentBody;
use ottsonly_core::payments::GatewayPayment;
use serde::Deserialize;

/// What a verified webhook asks us to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookEvent {
    /// `payment.captured` or `order.paid`: confirm the top-up with this payment.
    Captured(GatewayPayment),
    /// Any other event (answered 200 and ignored).
    Ignored(String),
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
        "payment.captured" | "order.paid" => {
            let entity = env.payload["payment"]["entity"].clone();
            let order_fallback =
                env.payload["order"]["entity"]["id"].as_str().unwrap_or_default().to_string();
            let p: PaymentBody = serde_json::from_value(entity)
                .map_err(|e| format!("webhook without a payment entity: {e}"))?;
            let payment = p.into_payment(&order_fallback);
            if payment.order_id.is_empty() {
                return Err("webhook payment has no order id".into());
            }
            Ok(WebhookEvent::Captured(payment))
        }
        other => Ok(WebhookEvent::Ignored(other.to_string())),
    }
}
