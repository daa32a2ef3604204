//! The Razorpay client: core's `PaymentGateway` over the REST API (orders, order payments, one
//! payment, capture, checkout signatures).
//!
//! Amounts are integers in paise both ways. Every call has a timeout; reads and order creation
//! are retried on timeouts, connection failures and 5xx (an order created twice is harmless: only
//! the one whose id we stored can ever be credited). Nothing here logs a secret.

use async_trait::async_trait;
use ottsonly_core::Money;
use ottsonly_core::payments::{
    GatewayError, GatewayOrder, GatewayOrderRequest, GatewayPayment, PaymentGateway, PaymentStatus,
};
use serde::Deserialize;
use serde_json::json;
use std::fmt;
use std::time::Duration;

/// The public API.
pub const DEFAULT_API_BASE: &str = "https://api.razorpay.com";
/// Tries of one call, the first included.
const ATTEMPTS: u32 = 3;

#[derive(Clone)]
pub struct RazorpayConfig {
    pub key_id: String,
    pub key_secret: String,
    /// `https://api.razorpay.com`; tests point it at a loopback fake.
    pub api_base: String,
    /// Whole-request timeout (default 10 s).
    pub timeout: Duration,
}

impl fmt::Debug for RazorpayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RazorpayConfig")
            .field("key_id", &self.key_id)
            .field("key_secret", &"<redacted>")
            .field("api_base", &self.api_base)
            .finish()
    }
}

pub struct RazorpayClient {
    http: reqwest012::Client,
    config: RazorpayConfig,
}

#[derive(Deserialize)]
struct OrderBody {
    id: String,
    amount: i64,
    currency: String,
}

/// A payment as Razorpay writes it (API answers and webhook payloads alike).
#[derive(Deserialize)]
pub(super) struct PaymentBody {
    id: String,
    #[serde(default)]
    order_id: Option<String>,
    amount: i64,
    currency: String,
    status: String,
}

#[derive(Deserialize)]
struct Collection<T> {
    items: Vec<T>,
}

fn payment_status(s: &str) -> PaymentStatus {
    match s {
        "authorized" => PaymentStatus::Authorized,
        "captured" => PaymentStatus::Captured,
        "refunded" => PaymentStatus::Refunded,
        "failed" => PaymentStatus::Failed,
        _ => PaymentStatus::Created,
    }
}

impl PaymentBody {
    pub(super) fn into_payment(self, fallback_order: &str) -> GatewayPayment {
        GatewayPayment {
            order_id: self.order_id.unwrap_or_else(|| fallback_order.to_string()),
            status: payment_status(&self.status),
            id: self.id,
            amount_paise: self.amount,
            currency: self.currency,
        }
    }
}

impl RazorpayClient {
    pub fn new(config: RazorpayConfig) -> Result<Self, GatewayError> {
        let http = reqwest012::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(config.timeout)
            .user_agent(concat!("ottsonly/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GatewayError::Unavailable(format!("http client: {e}")))?;
        Ok(RazorpayClient { http, config })
    }

    pub fn config(&self) -> &RazorpayConfig {
        &self.config
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.api_base.trim_end_matches('/'))
    }

    /// Sends a request built by `build`, retrying transport failures and 5xx with backoff.
    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        build: impl Fn() -> reqwest012::RequestBuilder,
    ) -> Result<T, GatewayError> {
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200 * (1 << attempt))).await;
            }
            let response =
                build().basic_auth(&self.config.key_id, Some(&self.config.key_secret)).send().await;
            let response = match response {
                Ok(r) => r,
                Err(e) => {
                    last = if e.is_timeout() { "timed out".into() } else { "connection failed".into() };
                    tracing::warn!(what, attempt, error = %e, "razorpay call failed");
                    continue;
                }
            };
            let status = response.status();
            if status.is_server_error() || status == reqwest012::StatusCode::TOO_MANY_REQUESTS {
                last = format!("HTTP {status}");
                tracing::warn!(what, attempt, %status, "razorpay answered with an error");
                continue;
            }
            if !status.is_success() {
                // 4xx: Razorpay's body says why ({"error":{"code","description"}}); no secrets in it.
                let body: serde_json::Value = response.json().await.unwrap_or_default();
                let description = body["error"]["description"].as_str().unwrap_or("no description");
                return Err(GatewayError::Rejected(format!("{what}: HTTP {status}: {description}")));
            }
            return response
                .json::<T>()
                .await
                .map_err(|e| GatewayError::Unavailable(format!("{what}: unreadable response: {e}")));
        }
        Err(GatewayError::Unavailable(format!("{what}: {last}")))
    }
}

#[async_trait]
impl PaymentGateway for RazorpayClient {
    fn key_id(&self) -> &str {
        &self.config.key_id
    }

    async fn create_order(&self, request: &GatewayOrderRequest) -> Result<GatewayOrder, GatewayError> {
        let notes: serde_json::Map<String, serde_json::Value> =
            request.notes.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        let body = json!({
            "amount": request.amount.paise(),
            "currency": request.currency,
            "receipt": request.receipt,
            "notes": notes,
        });
        let url = self.url("/v1/orders");
        let order: OrderBody = self.send("create order", || self.http.post(&url).json(&body)).await?;
        let amount = Money::from_paise(order.amount)
            .map_err(|_| GatewayError::Unavailable("create order: negative amount in response".into()))?;
        Ok(GatewayOrder { id: order.id, amount, currency: order.currency })
    }

    fn verify_checkout_signature(&self, order_id: &str, payment_id: &str, signature: &str) -> bool {
        super::signature::verify_checkout(self.config.key_secret.as_bytes(), order_id, payment_id, signature)
    }

    async fn fetch_order_payments(&self, order_id: &str) -> Result<Vec<GatewayPayment>, GatewayError> {
        if !order_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(GatewayError::Rejected("malformed order id".into()));
        }
        let url = self.url(&format!("/v1/orders/{order_id}/payments"));
        let list: Collection<PaymentBody> = self.send("fetch order payments", || self.http.get(&url)).await?;
        Ok(list.items.into_iter().map(|p| p.into_payment(order_id)).collect())
    }

    async fn fetch_payment(&self, payment_id: &str) -> Result<GatewayPayment, GatewayError> {
        check_id(payment_id)?;
        let url = self.url(&format!("/v1/payments/{payment_id}"));
        let p: PaymentBody = self.send("fetch payment", || self.http.get(&url)).await?;
        Ok(p.into_payment(""))
    }

    async fn capture_payment(
        &self,
        payment_id: &str,
        amount: Money,
        currency: &str,
    ) -> Result<GatewayPayment, GatewayError> {
        check_id(payment_id)?;
        let url = self.url(&format!("/v1/payments/{payment_id}/capture"));
        let body = json!({ "amount": amount.paise(), "currency": currency });
        // A retried capture that had gone through is refused ("already captured"): the payment
        // as it is now is the answer either way.
        match self.send::<PaymentBody>("capture payment", || self.http.post(&url).json(&body)).await {
            Ok(p) => Ok(p.into_payment("")),
            Err(GatewayError::Rejected(why)) => {
                let now = self.fetch_payment(payment_id).await?;
                if now.status == PaymentStatus::Captured { Ok(now) } else { Err(GatewayError::Rejected(why)) }
            }
            Err(e) => Err(e),
        }
    }
}

/// Razorpay ids are `prefix_alphanumerics`; anything else never reaches a URL.
fn check_id(id: &str) -> Result<(), GatewayError> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(GatewayError::Rejected("malformed id".into()));
    }
    Ok(())
}
