//! Twilio's Messages API: `POST {base}/2010-04-01/Accounts/{sid}/Messages.json` with basic auth
//! and the form fields `To`, `From` (or `MessagingServiceSid`) and `Body`.

use super::http::{client, endpoint, failure, refused};
use crate::common::secret::Secret;
use anyhow::bail;
use async_trait::async_trait;
use ottsonly_core::PhoneNumber;
use ottsonly_core::auth::OtpSender;
use reqwest012 as reqwest;
use std::time::Duration;
use url::Url;

pub const API_URL: &str = "https://api.twilio.com";

/// Twilio Messages API settings.
#[derive(Clone)]
pub struct TwilioConfig {
    pub account_sid: String,
    pub auth_token: Secret,
    /// A sender number in E.164 form, or a Messaging Service SID (`MG…`).
    pub from: String,
    /// Scheme, host and optional path prefix; `/2010-04-01/…` is appended.
    pub api_url: Url,
    /// Total time of one request (connecting included).
    pub timeout: Duration,
    /// The message; `{code}` is replaced by the code.
    pub template: String,
}

impl std::fmt::Debug for TwilioConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioConfig")
            .field("account_sid", &self.account_sid)
            .field("auth_token", &self.auth_token)
            .field("from", &self.from)
            .field("api_url", &self.api_url.as_str())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Sends codes with Twilio's Messages API.
pub struct TwilioSender {
    http: reqwest::Client,
    url: Url,
    config: TwilioConfig,
}

impl TwilioSender {
    pub fn new(config: TwilioConfig) -> anyhow::Result<Self> {
        if !config.template.contains("{code}") {
            bail!("the SMS template must contain {{code}}");
        }
        let url =
            endpoint(&config.api_url, &["2010-04-01", "Accounts", &config.account_sid, "Messages.json"])?;
        Ok(TwilioSender { http: client(config.timeout)?, url, config })
    }
}

#[async_trait]
impl OtpSender for TwilioSender {
    async fn send(&self, phone: &PhoneNumber, code: &str) -> Result<(), String> {
        let body = self.config.template.replace("{code}", code);
        let from_field = if self.config.from.starts_with("MG") { "MessagingServiceSid" } else { "From" };
        let form = [("To", phone.as_str()), (from_field, self.config.from.as_str()), ("Body", body.as_str())];
        let resp = self
            .http
            .post(self.url.clone())
            .basic_auth(&self.config.account_sid, Some(self.config.auth_token.expose()))
            .form(&form)
            .send()
            .await
            .map_err(|e| failure("twilio", phone, code, e))?;
        let status = resp.status();
        if status.is_success() {
            // The answer echoes the body (the code): only its id is kept.
            let sid =
                resp.json::<serde_json::Value>().await.ok().and_then(|v| v["sid"].as_str().map(String::from));
            tracing::info!(provider = "twilio", phone = %phone.masked(), sid = sid.as_deref().unwrap_or(""), "OTP SMS accepted");
            return Ok(());
        }
        // Twilio's error body: {"code": 21211, "message": "...", "more_info": "...", "status": 400}.
        let v: serde_json::Value = resp.json().await.unwrap_or_default();
        let detail = format!("{} {}", v["code"], v["message"].as_str().unwrap_or(""));
        Err(refused("twilio", phone, code, status.as_u16(), &detail))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::sms::{DEFAULT_TEMPLATE, DEFAULT_TIMEOUT};

    #[test]
    fn debug_hides_keys() {
        let c = TwilioConfig {
            account_sid: "AC1".into(),
            auth_token: Secret::new("tw-secret"),
            from: "+15005550006".into(),
            api_url: Url::parse(API_URL).unwrap(),
            timeout: DEFAULT_TIMEOUT,
            template: DEFAULT_TEMPLATE.into(),
        };
        assert!(!format!("{c:?}").contains("tw-secret"));
    }
}
