//! An in-memory payment gateway for tests: records orders and payments, signs checkouts.

use crate::crypto::{hmac_hex, verify_hmac_hex};
use crate::money::Money;
use crate::payments::{
    GatewayError, GatewayOrder, GatewayOrderRequest, GatewayPayment, PaymentGateway, PaymentStatus,
};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// An in-memory gateway that signs checkouts with HMAC-SHA256 of `order_id|payment_id`.
/// Tests pay orders with [`FakeGateway::pay`] and sign with [`FakeGateway::sign`].
pub struct FakeGateway {
    key_id: String,
    secret: Vec<u8>,
    seq: AtomicU64,
    failing: AtomicBool,
    orders: Mutex<HashMap<String, GatewayOrder>>,
    payments: Mutex<Vec<GatewayPayment>>,
    calls: AtomicU64,
    captures: Mutex<Vec<String>>,
}

impl FakeGateway {
    pub fn new(key_id: &str, secret: &[u8]) -> Self {
        FakeGateway {
            key_id: key_id.into(),
            secret: secret.to_vec(),
            seq: AtomicU64::new(0),
            failing: AtomicBool::new(false),
            orders: Mutex::new(HashMap::new()),
            payments: Mutex::new(Vec::new()),
            calls: AtomicU64::new(0),
            captures: Mutex::new(Vec::new()),
        }
    }

    /// While set, every call fails as unavailable.
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    pub fn sign(&self, order_id: &str, payment_id: &str) -> String {
        hmac_hex(&self.secret, &[order_id.as_bytes(), b"|", payment_id.as_bytes()])
    }

    /// Records a payment against an order and returns its id.
    pub fn pay(&self, order_id: &str, amount_paise: i64, status: PaymentStatus) -> String {
        let id = format!("pay_fake{}", self.seq.fetch_add(1, Ordering::SeqCst));
        self.payments.lock().expect("lock").push(GatewayPayment {
            id: id.clone(),
            order_id: order_id.into(),
            amount_paise,
            currency: "INR".into(),
            status,
        });
        id
    }

    /// Records a payment with a chosen id (and currency), e.g. a second payment on one order.
    pub fn pay_as(&self, id: &str, order_id: &str, amount_paise: i64, currency: &str, status: PaymentStatus) {
        self.payments.lock().expect("lock").push(GatewayPayment {
            id: id.into(),
            order_id: order_id.into(),
            amount_paise,
            currency: currency.into(),
            status,
        });
    }

    /// Moves a recorded payment to another status (the gateway captured or refunded it).
    pub fn set_status(&self, payment_id: &str, status: PaymentStatus) {
        for p in self.payments.lock().expect("lock").iter_mut().filter(|p| p.id == payment_id) {
            p.status = status;
        }
    }

    /// The recorded payment.
    pub fn payment(&self, payment_id: &str) -> Option<GatewayPayment> {
        self.payments.lock().expect("lock").iter().find(|p| p.id == payment_id).cloned()
    }

    /// How many calls reached the gateway (orders, fetches, captures), for call budgets.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    /// The payments captured through [`PaymentGateway::capture_payment`], in order.
    pub fn captures(&self) -> Vec<String> {
        self.captures.lock().expect("lock").clone()
    }

    fn call(&self) -> Result<(), GatewayError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.failing.load(Ordering::SeqCst) {
            return Err(GatewayError::Unavailable("fake gateway told to fail".into()));
        }
        Ok(())
    }

    pub fn order(&self, id: &str) -> Option<GatewayOrder> {
        self.orders.lock().expect("lock").get(id).cloned()
    }
}

#[async_trait]
impl PaymentGateway for FakeGateway {
    fn key_id(&self) -> &str {
        &self.key_id
    }

    async fn create_order(&self, request: &GatewayOrderRequest) -> Result<GatewayOrder, GatewayError> {
        self.call()?;
        let id = format!("order_fake{}", self.seq.fetch_add(1, Ordering::SeqCst));
        let order =
            GatewayOrder { id: id.clone(), amount: request.amount, currency: request.currency.clone() };
        self.orders.lock().expect("lock").insert(id, order.clone());
        Ok(order)
    }

    fn verify_checkout_signature(&self, order_id: &str, payment_id: &str, signature: &str) -> bool {
        verify_hmac_hex(&self.secret, &[order_id.as_bytes(), b"|", payment_id.as_bytes()], signature)
    }

    async fn fetch_order_payments(&self, order_id: &str) -> Result<Vec<GatewayPayment>, GatewayError> {
        self.call()?;
        Ok(self.payments.lock().expect("lock").iter().filter(|p| p.order_id == order_id).cloned().collect())
    }

    async fn fetch_payment(&self, payment_id: &str) -> Result<GatewayPayment, GatewayError> {
        self.call()?;
        self.payment(payment_id)
            .ok_or_else(|| GatewayError::Rejected("the id provided does not exist".into()))
    }

    async fn capture_payment(
        &self,
        payment_id: &str,
        amount: Money,
        currency: &str,
    ) -> Result<GatewayPayment, GatewayError> {
        self.call()?;
        let mut payments = self.payments.lock().expect("lock");
        let p = payments
            .iter_mut()
            .find(|p| p.id == payment_id)
            .ok_or_else(|| GatewayError::Rejected("the id provided does not exist".into()))?;
        if p.amount_paise != amount.paise() || !p.currency.eq_ignore_ascii_case(currency) {
            return Err(GatewayError::Rejected("capture amount must equal the authorized amount".into()));
        }
        match p.status {
            PaymentStatus::Authorized => {
                p.status = PaymentStatus::Captured;
                self.captures.lock().expect("lock").push(payment_id.into());
            }
            PaymentStatus::Captured => {}
            _ => return Err(GatewayError::Rejected("only an authorized payment can be captured".into())),
        }
        Ok(p.clone())
    }
}
