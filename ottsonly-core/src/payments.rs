//! The payment gateway port: what core needs from the gateway that takes top-up payments. The
//! adapter for a real gateway lives outside core; tests use `testing::gateway::FakeGateway`.

use crate::money::Money;
use async_trait::async_trait;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayOrderRequest {
    pub amount: Money,
    pub currency: String,
    /// Our unique reference for the order (the top-up id).
    pub receipt: String,
    pub notes: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayOrder {
    pub id: String,
    pub amount: Money,
    pub currency: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    Created,
    Authorized,
    Captured,
    Refunded,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayPayment {
    pub id: String,
    pub order_id: String,
    /// As reported by the gateway; compared with the stored intent before any credit.
    pub amount_paise: i64,
    pub currency: String,
    pub status: PaymentStatus,
}

/// How an authorized payment becomes captured: by the gateway on its own (`Auto`, the gateway's
/// default), or by us through its API once we checked the payment (`Manual`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CaptureMode {
    #[default]
    Auto,
    Manual,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// Timeout, connection failure or 5xx: nothing is known to have happened.
    #[error("gateway unavailable: {0}")]
    Unavailable(String),
    /// The gateway answered and refused (4xx).
    #[error("gateway refused: {0}")]
    Rejected(String),
}

/// What core needs from a payment gateway.
#[async_trait]
pub trait PaymentGateway: Send + Sync + 'static {
    /// The public key the checkout page needs.
    fn key_id(&self) -> &str;
    async fn create_order(&self, request: &GatewayOrderRequest) -> Result<GatewayOrder, GatewayError>;
    /// Checks the checkout signature for (order, payment) in constant time.
    fn verify_checkout_signature(&self, order_id: &str, payment_id: &str, signature: &str) -> bool;
    async fn fetch_order_payments(&self, order_id: &str) -> Result<Vec<GatewayPayment>, GatewayError>;
    /// One payment as the gateway knows it now (its status, amount and order).
    async fn fetch_payment(&self, payment_id: &str) -> Result<GatewayPayment, GatewayError>;
    /// Captures an authorized payment for exactly `amount` in `currency`; answers the payment as
    /// it is afterwards. Capturing a payment that is already captured is not an error.
    async fn capture_payment(
        &self,
        payment_id: &str,
        amount: Money,
        currency: &str,
    ) -> Result<GatewayPayment, GatewayError>;
}
