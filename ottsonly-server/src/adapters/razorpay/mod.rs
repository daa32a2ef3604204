//! Razorpay: [`client`] (core's `PaymentGateway` over the REST API), [`signature`] (webhook and
//! checkout HMACs) and [`events`] (webhook payloads). The webhook endpoint itself is the REST
//! front-end's (`frontends::rest::webhook`); it uses the last two.

pub mod client;
pub mod events;
pub mod signature;

pub use client::{DEFAULT_API_BASE, RazorpayClient, RazorpayConfig};

use crate::common::secret::{Environment, Secret};
use std::time::Duration;

/// What the operator configured for Razorpay: the API keys and the webhook secret go together
/// (all three or none).
#[derive(Debug, Clone, Default)]
pub struct RazorpaySettings {
    pub key_id: Option<String>,
    pub key_secret: Option<Secret>,
    /// Secret of the webhook at `/webhooks/razorpay`.
    pub webhook_secret: Option<Secret>,
    /// API base URL (default [`DEFAULT_API_BASE`]).
    pub api_base: Option<String>,
    /// Who captures authorized payments (`OTTSONLY_RAZORPAY_CAPTURE`).
    pub capture: RazorpayCapture,
}

/// Who captures an authorized payment: Razorpay on its own (`auto`, the account default) or
/// this server through `POST /v1/payments/{id}/capture` once it checked the payment (`manual`,
/// for accounts set to manual capture).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RazorpayCapture {
    #[default]
    Auto,
    Manual,
}

impl From<RazorpayCapture> for ottsonly_core::payments::CaptureMode {
    fn from(c: RazorpayCapture) -> Self {
        match c {
            RazorpayCapture::Auto => ottsonly_core::payments::CaptureMode::Auto,
            RazorpayCapture::Manual => ottsonly_core::payments::CaptureMode::Manual,
        }
    }
}

impl RazorpaySettings {
    /// Problems that refuse a start in production (and are warnings in dev).
    pub fn problems(&self, env: Environment) -> Vec<String> {
        let set = [self.key_id.is_some(), self.key_secret.is_some(), self.webhook_secret.is_some()];
        if set.contains(&true) && set.contains(&false) {
            vec!["Razorpay is half configured: set OTTSONLY_RAZORPAY_KEY_ID, OTTSONLY_RAZORPAY_KEY_SECRET and OTTSONLY_RAZORPAY_WEBHOOK_SECRET, or none".into()]
        } else if env == Environment::Production && !set.contains(&true) {
            vec!["Razorpay is required in production: set OTTSONLY_RAZORPAY_KEY_ID, OTTSONLY_RAZORPAY_KEY_SECRET and OTTSONLY_RAZORPAY_WEBHOOK_SECRET".into()]
        } else {
            Vec::new()
        }
    }

    /// The client's configuration when the API keys are set.
    pub fn client_config(&self) -> Option<RazorpayConfig> {
        let (Some(key_id), Some(key_secret)) = (&self.key_id, &self.key_secret) else { return None };
        Some(RazorpayConfig {
            key_id: key_id.clone(),
            key_secret: key_secret.expose().to_string(),
            api_base: self.api_base.clone().unwrap_or_else(|| DEFAULT_API_BASE.into()),
            timeout: Duration::from_secs(10),
        })
    }
}
