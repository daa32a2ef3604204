//! `POST /webhooks/razorpay`: verifies the signature over the raw body, de-duplicates on
//! `x-razorpay-event-id`, and hands payments to core's one credit path and refunds/disputes to
//! core's record. Answers 200 for every event it has finished with (credited — late captures
//! included —, duplicate, ignored, mismatch and held for refund, refund or dispute recorded: the
//! gateway must stop retrying those), 400 for a bad signature or body, 503 when payments are off
//! or the store or gateway is unavailable (so the gateway retries later).

use super::error::envelope_response;
use crate::adapters::razorpay::events::{WebhookEvent, parse_webhook};
use crate::adapters::razorpay::signature::verify_webhook;
use crate::common::secret::Secret;
use crate::common::{error_chain, metrics};
use ottsonly_core::Ottsonly;
use ottsonly_core::wallet::{EventOutcome, GatewayEvent};
use poem::http::StatusCode;
use poem::{Body, Request, Response};

pub const SOURCE: &str = "razorpay";

/// The webhook secret, or `None` when payments are off.
#[derive(Clone)]
pub struct RazorpayWebhook {
    pub app: Ottsonly,
    pub secret: Option<Secret>,
}

impl RazorpayWebhook {
    pub async fn handle(&self, req: &Request, body: Body) -> Response {
        let Some(secret) = &self.secret else {
            return envelope_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "payments_not_configured",
                "payments are not configured",
                None,
            );
        };
        let raw = match body.into_bytes().await {
            Ok(b) => b,
            Err(_) => {
                return envelope_response(
                    StatusCode::BAD_REQUEST,
                    "invalid_body",
                    "unreadable request body",
                    None,
                );
            }
        };
        // Over the raw body as received (never a re-serialised one), in constant time.
        let signature = req.header("x-razorpay-signature").unwrap_or_default();
        if !verify_webhook(secret.expose().as_bytes(), &raw, signature) {
            tracing::warn!("razorpay webhook with a bad signature refused");
            return envelope_response(
                StatusCode::BAD_REQUEST,
                "invalid_signature",
                "webhook signature is invalid",
                None,
            );
        }
        let event = match parse_webhook(&raw) {
            Ok(WebhookEvent::Captured(p)) => GatewayEvent::PaymentCaptured(p),
            Ok(WebhookEvent::Authorized(p)) => GatewayEvent::PaymentAuthorized(p),
            Ok(WebhookEvent::Refunded(r)) => GatewayEvent::Refunded(r),
            Ok(WebhookEvent::Disputed(r)) => GatewayEvent::Disputed(r),
            Ok(WebhookEvent::Ignored(name)) => GatewayEvent::Other(name),
            Err(e) => return envelope_response(StatusCode::BAD_REQUEST, "invalid_body", &e, None),
        };
        let event_id = req.header("x-razorpay-event-id").filter(|s| !s.is_empty());
        match self.app.wallet().handle_gateway_event(SOURCE, event_id, event).await {
            Ok(outcome) => {
                let status = match &outcome {
                    EventOutcome::Credited(c) => {
                        metrics::record_topup(c.credited.paise());
                        "credited"
                    }
                    EventOutcome::AlreadyCredited => "already_credited",
                    EventOutcome::Duplicate => "duplicate",
                    EventOutcome::Ignored => "ignored",
                    EventOutcome::Mismatch => "amount_mismatch",
                    EventOutcome::HeldForRefund => "held_for_refund",
                    EventOutcome::Recorded => "recorded",
                    EventOutcome::UnknownOrder => "unknown_order",
                };
                tracing::info!(event_id, status, "razorpay webhook handled");
                Response::builder()
                    .status(StatusCode::OK)
                    .content_type("application/json")
                    .body(serde_json::json!({ "status": status }).to_string())
            }
            Err(e) => {
                let kind = e.kind();
                tracing::error!(event_id, error = %error_chain(&e), "razorpay webhook failed; the gateway will retry");
                match kind {
                    ottsonly_core::ErrorKind::InvalidInput => {
                        envelope_response(StatusCode::BAD_REQUEST, e.code(), &e.to_string(), None)
                    }
                    _ => envelope_response(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "unavailable",
                        "try again later",
                        None,
                    ),
                }
            }
        }
    }
}
