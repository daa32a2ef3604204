//! MSG91's Flow API: `POST {base}/api/v5/flow/` with the `authkey` header and a DLT template
//! whose variable receives the code.

use super::http::{client, endpoint, failure, refused};
use crate::common::secret::Secret;
use async_trait::async_trait;
use ottsonly_core::PhoneNumber;
use ottsonly_core::auth::OtpSender;
use reqwest012 as reqwest;
use std::time::Duration;
use url::Url;

pub const API_URL: &str = "https://control.msg91.com";

/// MSG91 Flow API settings.
#[derive(Clone)]
pub struct Msg91Config {
    pub auth_key: Secret,
    /// The flow/template id of an approved (DLT-registered) OTP template.
    pub template_id: String,
    /// The template variable that receives the code (`##otp##` → `otp`).
    pub otp_var: String,
    /// Scheme, host and optional path prefix; `/api/v5/flow/` is appended.
    pub api_url: Url,
    pub timeout: Duration,
}

impl std::fmt::Debug for Msg91Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Msg91Config")
            .field("auth_key", &self.auth_key)
            .field("template_id", &self.template_id)
            .field("otp_var", &self.otp_var)
            .field("api_url", &self.api_url.as_str())
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Sends codes with MSG91's Flow API (an approved OTP template).
pub struct Msg91Sender {
    http: reqwest::Client,
    url: Url,
    config: Msg91Config,
}

impl Msg91Sender {
    pub fn new(config: Msg91Config) -> anyhow::Result<Self> {
        // The trailing slash is part of MSG91's documented path.
        let url = endpoint(&config.api_url, &["api", "v5", "flow", ""])?;
        Ok(Msg91Sender { http: client(config.timeout)?, url, config })
    }
}

#[async_trait]
impl OtpSender for Msg91Sender {
    async fn send(&self, phone: &PhoneNumber, code: &str) -> Result<(), String> {
        // MSG91 wants the number with its country code and no `+`.
        let mobile = phone.as_str().trim_start_matches('+');
        let mut recipient = serde_json::Map::new();
        recipient.insert("mobiles".into(), mobile.into());
        recipient.insert(self.config.otp_var.clone(), code.into());
        let body = serde_json::json!({
            "template_id": self.config.template_id,
            "short_url": "0",
            "recipients": [recipient],
        });
        let resp = self
            .http
            .post(self.url.clone())
            .header("authkey", self.config.auth_key.expose())
            .header("accept", "application/json")
            .json(&body)
            .send()
            .await
            .map_err(|e| failure("msg91", phone, code, e))?;
        let status = resp.status();
        // MSG91 can answer 200 with {"type": "error", "message": "..."}: only "success" counts.
        let v: serde_json::Value = resp.json().await.unwrap_or_default();
        if status.is_success() && v["type"] == "success" {
            tracing::info!(provider = "msg91", phone = %phone.masked(), "OTP SMS accepted");
            return Ok(());
        }
        let detail = format!("{} {}", v["type"].as_str().unwrap_or(""), v["message"].as_str().unwrap_or(""));
        let status = if status.is_success() { 400 } else { status.as_u16() };
        Err(refused("msg91", phone, code, status, &detail))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::sms::DEFAULT_TIMEOUT;

    #[test]
    fn debug_hides_keys() {
        let m = Msg91Config {
            auth_key: Secret::new("m-secret"),
            template_id: "t".into(),
            otp_var: "otp".into(),
            api_url: Url::parse(API_URL).unwrap(),
            timeout: DEFAULT_TIMEOUT,
        };
        assert!(!format!("{m:?}").contains("m-secret"));
    }
}
