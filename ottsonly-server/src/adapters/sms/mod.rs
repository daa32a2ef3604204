//! One-time codes by SMS: core's [`OtpSender`] over a real provider's HTTP API, chosen with
//! `OTTSONLY_SMS_PROVIDER`.
//!
//! * `log` (the default, development only): core's [`LogOtpSender`] writes codes to the log.
//!   Production refuses to start with it ([`SmsSettings::problems`]).
//! * `twilio` ([`twilio`]): the Messages API, `POST {base}/2010-04-01/Accounts/{sid}/Messages.json` with basic
//!   auth and the form fields `To`, `From` (or `MessagingServiceSid`) and `Body`.
//! * `msg91` ([`msg91`]): the Flow API, `POST {base}/api/v5/flow/` with the `authkey` header and a DLT
//!   template whose variable receives the code.
//!
//! Every request has a connect and a total timeout. The code is never logged, and neither are the
//! provider's answers to a successful send (Twilio echoes the body). An error's text reaches the
//! user (core answers `otp_delivery_failed`, 503), so it says what happened and what to do, never
//! a code, a URL or a key; the details go to the log with the phone masked. Core has already
//! stored the code and started the resend cooldown, so a failing provider cannot be used to spam.

mod http;
pub mod msg91;
pub mod twilio;

pub use msg91::{Msg91Config, Msg91Sender};
pub use twilio::{TwilioConfig, TwilioSender};

use crate::common::secret::{Environment, Secret};
use anyhow::{Context, bail};
use async_trait::async_trait;
use ottsonly_core::PhoneNumber;
use ottsonly_core::auth::{LogOtpSender, OtpSender};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

pub use msg91::API_URL as MSG91_API_URL;
pub use twilio::API_URL as TWILIO_API_URL;
/// The SMS text when `OTTSONLY_SMS_TEMPLATE` is not set (Twilio; MSG91 uses its DLT template).
pub const DEFAULT_TEMPLATE: &str = "{code} is your OTTSONLY login code. Do not share it with anyone.";
/// The MSG91 template variable that receives the code when `OTTSONLY_MSG91_OTP_VAR` is not set.
pub const DEFAULT_MSG91_OTP_VAR: &str = "otp";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// `OTTSONLY_SMS_PROVIDER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SmsProvider {
    /// Development: codes are written to the log, nothing is sent.
    #[default]
    Log,
    Msg91,
    Twilio,
}

impl SmsProvider {
    pub fn as_str(self) -> &'static str {
        match self {
            SmsProvider::Log => "log",
            SmsProvider::Msg91 => "msg91",
            SmsProvider::Twilio => "twilio",
        }
    }
}

/// Refuses every send. Used when production has no provider: only reachable from CLI commands
/// (which send no codes), since `serve` refuses to start without one.
pub struct NoSmsProvider;

#[async_trait]
impl OtpSender for NoSmsProvider {
    async fn send(&self, _phone: &PhoneNumber, _code: &str) -> Result<(), String> {
        Err("SMS delivery is not configured on this server".into())
    }
}

/// What the operator configured for OTP delivery (`OTTSONLY_SMS_*`, `OTTSONLY_TWILIO_*`,
/// `OTTSONLY_MSG91_*`). Only the chosen provider's fields are read.
#[derive(Debug, Clone)]
pub struct SmsSettings {
    pub provider: SmsProvider,
    /// The provider's API base URL (default the provider's own).
    pub api_url: Option<String>,
    /// Total time allowed for one SMS request.
    pub timeout_ms: u64,
    /// The SMS text, with `{code}` where the code goes (Twilio only).
    pub template: Option<String>,
    pub twilio_account_sid: Option<String>,
    pub twilio_auth_token: Option<Secret>,
    /// A number or a Messaging Service SID.
    pub twilio_from: Option<String>,
    pub msg91_auth_key: Option<Secret>,
    pub msg91_template_id: Option<String>,
    /// The template variable for the code (default [`DEFAULT_MSG91_OTP_VAR`]).
    pub msg91_otp_var: Option<String>,
}

impl Default for SmsSettings {
    fn default() -> Self {
        SmsSettings {
            provider: SmsProvider::default(),
            api_url: None,
            timeout_ms: DEFAULT_TIMEOUT.as_millis() as u64,
            template: None,
            twilio_account_sid: None,
            twilio_auth_token: None,
            twilio_from: None,
            msg91_auth_key: None,
            msg91_template_id: None,
            msg91_otp_var: None,
        }
    }
}

fn required<'a, T>(value: &'a Option<T>, var: &str, provider: SmsProvider) -> anyhow::Result<&'a T> {
    value.as_ref().with_context(|| format!("OTTSONLY_SMS_PROVIDER={} needs {var}", provider.as_str()))
}

impl SmsSettings {
    fn api_url(&self, default: &str) -> anyhow::Result<Url> {
        let raw = self.api_url.as_deref().unwrap_or(default);
        let url = Url::parse(raw).with_context(|| format!("OTTSONLY_SMS_API_URL `{raw}` is not a URL"))?;
        if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
            bail!("OTTSONLY_SMS_API_URL `{raw}` is not an http(s) URL");
        }
        Ok(url)
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.max(1))
    }

    /// The Twilio configuration, or what is missing for it.
    pub fn twilio(&self) -> anyhow::Result<TwilioConfig> {
        let p = SmsProvider::Twilio;
        Ok(TwilioConfig {
            account_sid: required(&self.twilio_account_sid, "OTTSONLY_TWILIO_ACCOUNT_SID", p)?.clone(),
            auth_token: required(&self.twilio_auth_token, "OTTSONLY_TWILIO_AUTH_TOKEN", p)?.clone(),
            from: required(&self.twilio_from, "OTTSONLY_TWILIO_FROM", p)?.clone(),
            api_url: self.api_url(twilio::API_URL)?,
            timeout: self.timeout(),
            template: self.template.clone().unwrap_or_else(|| DEFAULT_TEMPLATE.into()),
        })
    }

    /// The MSG91 configuration, or what is missing for it.
    pub fn msg91(&self) -> anyhow::Result<Msg91Config> {
        let p = SmsProvider::Msg91;
        Ok(Msg91Config {
            auth_key: required(&self.msg91_auth_key, "OTTSONLY_MSG91_AUTH_KEY", p)?.clone(),
            template_id: required(&self.msg91_template_id, "OTTSONLY_MSG91_TEMPLATE_ID", p)?.clone(),
            otp_var: self.msg91_otp_var.clone().unwrap_or_else(|| DEFAULT_MSG91_OTP_VAR.into()),
            api_url: self.api_url(msg91::API_URL)?,
            timeout: self.timeout(),
        })
    }

    /// Problems that refuse a start in production (and are warnings in dev).
    pub fn problems(&self, env: Environment) -> Vec<String> {
        let mut out = Vec::new();
        let production = env == Environment::Production;
        let checked = match self.provider {
            SmsProvider::Log => {
                if production {
                    out.push(
                        "OTTSONLY_SMS_PROVIDER is `log` (codes are written to the log, not sent): set msg91 or twilio in production"
                            .into(),
                    );
                }
                return out;
            }
            SmsProvider::Twilio => self.twilio().map(|c| c.api_url),
            SmsProvider::Msg91 => self.msg91().map(|c| c.api_url),
        };
        match checked {
            Err(e) => out.push(format!("{e:#}")),
            Ok(url) if production && url.scheme() != "https" => {
                out.push("OTTSONLY_SMS_API_URL must be https in production".into())
            }
            Ok(_) => {}
        }
        if let Some(t) = &self.template
            && !t.contains("{code}")
        {
            out.push("OTTSONLY_SMS_TEMPLATE must contain {code}".into());
        }
        out
    }
}

/// The OTP sender the settings ask for. A provider that is chosen but cannot be built is an
/// error in every environment.
pub fn otp_sender(settings: &SmsSettings, env: Environment) -> anyhow::Result<Arc<dyn OtpSender>> {
    Ok(match settings.provider {
        SmsProvider::Log if env == Environment::Production => {
            tracing::warn!("no SMS provider is configured: only OTTSONLY_TEST_PHONES can log in");
            Arc::new(NoSmsProvider)
        }
        SmsProvider::Log => Arc::new(LogOtpSender),
        SmsProvider::Twilio => Arc::new(TwilioSender::new(settings.twilio()?)?),
        SmsProvider::Msg91 => Arc::new(Msg91Sender::new(settings.msg91()?)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twilio_needs_its_account_and_msg91_its_template() {
        let twilio = SmsSettings { provider: SmsProvider::Twilio, ..SmsSettings::default() };
        let p = twilio.problems(Environment::Dev);
        assert!(p.iter().any(|p| p.contains("OTTSONLY_TWILIO_ACCOUNT_SID")), "{p:?}");
        let msg91 = SmsSettings {
            provider: SmsProvider::Msg91,
            msg91_auth_key: Some(Secret::new("k")),
            ..SmsSettings::default()
        };
        assert!(msg91.msg91().unwrap_err().to_string().contains("OTTSONLY_MSG91_TEMPLATE_ID"));
        assert!(SmsSettings::default().problems(Environment::Production).iter().any(|p| p.contains("`log`")));
    }
}
