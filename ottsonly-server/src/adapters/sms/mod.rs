//! One-time codes by SMS: core's [`OtpSender`] over a real provider's HTTP API, chosen with
//! `OTTSONLY_SMS_PROVIDER`.
//!
//! * `log` (the default, development only): core's [`LogOtpSender`] writes codes to the log.
//!   Production refuses to start with it ([`crate::config::Settings::problems`]).
//! * `twilio`: the Messages API, `POST {base}/2010-04-01/Accounts/{sid}/Messages.json` with basic
//!   auth and the form fields `To`, `From` (or `MessagingServiceSid`) and `Body`.
//! * `msg91`: the Flow API, `POST {base}/api/v5/flow/` with the `authkey` header and a DLT
//!   template whose variable receives the code.
//!
//! Every request has a connect and a total timeout. The code is never logged, and neither are the
//! provider's answers to a successful send (Twilio echoes the body). An error's text reaches the
//! user (core answers `otp_delivery_failed`, 503), so it says what happened and what to do, never
//! a code, a URL or a key; the details go to the log with the phone masked. Core has already
//! stored the code and started the resend cooldown, so a failing provider cannot be used to spam.

use crate::config::{Secret, Settings};
use anyhow::{Context, bail};
use async_trait::async_trait;
use ottsonly_core::PhoneNumber;
use ottsonly_core::auth::{LogOtpSender, OtpSender};
use reqwest012 as reqwest;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

pub const TWILIO_API_URL: &str = "https://api.twilio.com";
pub const MSG91_API_URL: &str = "https://control.msg91.com";
/// The SMS text when `OTTSONLY_SMS_TEMPLATE` is not set (Twilio; MSG91 uses its DLT template).
pub const DEFAULT_TEMPLATE: &str = "{code} is your OTTSONLY login code. Do not share it with anyone.";
/// The MSG91 template variable that receives the code when `OTTSONLY_MSG91_OTP_VAR` is not set.
pub const DEFAULT_MSG91_OTP_VAR: &str = "otp";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// What the user is told; core prefixes "the code could not be delivered: ".
const USER_TIMEOUT: &str =
    "the SMS provider did not answer in time; request a new code when the resend wait is over";
const USER_UNAVAILABLE: &str =
    "the SMS provider is unavailable; request a new code when the resend wait is over";
const USER_REFUSED: &str = "the SMS provider refused the message; check the number, then request a new code when the resend wait is over";

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

fn client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .timeout(timeout)
        // Credentials go to the configured host only.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("cannot build the SMS HTTP client")
}

/// `base` with `segments` appended to its path (a base with a path prefix keeps it).
fn endpoint(base: &Url, segments: &[&str]) -> anyhow::Result<Url> {
    let mut url = base.clone();
    url.path_segments_mut()
        .map_err(|()| anyhow::anyhow!("`{base}` cannot be a base URL"))?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

/// A provider's failure, mapped to what the user is told; the detail is logged, never returned.
fn failure(provider: &str, phone: &PhoneNumber, code: &str, e: reqwest::Error) -> String {
    let timeout = e.is_timeout();
    // Without the URL: it carries the account id (and could carry more with another provider).
    let detail = scrub(&crate::error::error_chain(&e.without_url()), code);
    tracing::warn!(provider, phone = %phone.masked(), timeout, error = %detail, "OTP SMS not sent");
    if timeout { USER_TIMEOUT } else { USER_UNAVAILABLE }.to_string()
}

fn refused(provider: &str, phone: &PhoneNumber, code: &str, status: u16, detail: &str) -> String {
    let detail = scrub(detail, code);
    tracing::warn!(provider, phone = %phone.masked(), status, error = %detail, "OTP SMS refused by the provider");
    if status == 429 || status >= 500 { USER_UNAVAILABLE } else { USER_REFUSED }.to_string()
}

/// Removes the code from provider text before it is logged, and bounds its length.
fn scrub(text: &str, code: &str) -> String {
    let text = if code.is_empty() { text.to_string() } else { text.replace(code, "<code>") };
    text.chars().take(300).collect()
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

/// Refuses every send. Used when production has no provider: only reachable from CLI commands
/// (which send no codes), since `serve` refuses to start without one.
pub struct NoSmsProvider;

#[async_trait]
impl OtpSender for NoSmsProvider {
    async fn send(&self, _phone: &PhoneNumber, _code: &str) -> Result<(), String> {
        Err("SMS delivery is not configured on this server".into())
    }
}

fn api_url(settings: &Settings, default: &str) -> anyhow::Result<Url> {
    let raw = settings.sms_api_url.as_deref().unwrap_or(default);
    let url = Url::parse(raw).with_context(|| format!("OTTSONLY_SMS_API_URL `{raw}` is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        bail!("OTTSONLY_SMS_API_URL `{raw}` is not an http(s) URL");
    }
    Ok(url)
}

fn required<'a, T>(value: &'a Option<T>, var: &str, provider: SmsProvider) -> anyhow::Result<&'a T> {
    value.as_ref().with_context(|| format!("OTTSONLY_SMS_PROVIDER={} needs {var}", provider.as_str()))
}

/// The Twilio settings, if the provider is Twilio.
pub fn twilio_config(settings: &Settings) -> anyhow::Result<TwilioConfig> {
    let p = SmsProvider::Twilio;
    Ok(TwilioConfig {
        account_sid: required(&settings.twilio_account_sid, "OTTSONLY_TWILIO_ACCOUNT_SID", p)?.clone(),
        auth_token: required(&settings.twilio_auth_token, "OTTSONLY_TWILIO_AUTH_TOKEN", p)?.clone(),
        from: required(&settings.twilio_from, "OTTSONLY_TWILIO_FROM", p)?.clone(),
        api_url: api_url(settings, TWILIO_API_URL)?,
        timeout: Duration::from_millis(settings.sms_timeout_ms.max(1)),
        template: settings.sms_template.clone().unwrap_or_else(|| DEFAULT_TEMPLATE.into()),
    })
}

pub fn msg91_config(settings: &Settings) -> anyhow::Result<Msg91Config> {
    let p = SmsProvider::Msg91;
    Ok(Msg91Config {
        auth_key: required(&settings.msg91_auth_key, "OTTSONLY_MSG91_AUTH_KEY", p)?.clone(),
        template_id: required(&settings.msg91_template_id, "OTTSONLY_MSG91_TEMPLATE_ID", p)?.clone(),
        otp_var: settings.msg91_otp_var.clone().unwrap_or_else(|| DEFAULT_MSG91_OTP_VAR.into()),
        api_url: api_url(settings, MSG91_API_URL)?,
        timeout: Duration::from_millis(settings.sms_timeout_ms.max(1)),
    })
}

/// Problems with the SMS settings (reported by [`Settings::problems`]).
pub fn problems(settings: &Settings) -> Vec<String> {
    let mut out = Vec::new();
    let production = settings.env == crate::config::Environment::Production;
    let checked = match settings.sms_provider {
        SmsProvider::Log => {
            if production {
                out.push(
                    "OTTSONLY_SMS_PROVIDER is `log` (codes are written to the log, not sent): set msg91 or twilio in production"
                        .into(),
                );
            }
            return out;
        }
        SmsProvider::Twilio => twilio_config(settings).map(|c| c.api_url),
        SmsProvider::Msg91 => msg91_config(settings).map(|c| c.api_url),
    };
    match checked {
        Err(e) => out.push(format!("{e:#}")),
        Ok(url) if production && url.scheme() != "https" => {
            out.push("OTTSONLY_SMS_API_URL must be https in production".into())
        }
        Ok(_) => {}
    }
    if let Some(t) = &settings.sms_template
        && !t.contains("{code}")
    {
        out.push("OTTSONLY_SMS_TEMPLATE must contain {code}".into());
    }
    out
}

/// The OTP sender the settings ask for. A provider that is chosen but cannot be built is an
/// error in every environment.
pub fn otp_sender(settings: &Settings) -> anyhow::Result<Arc<dyn OtpSender>> {
    Ok(match settings.sms_provider {
        SmsProvider::Log if settings.env == crate::config::Environment::Production => {
            tracing::warn!("no SMS provider is configured: only OTTSONLY_TEST_PHONES can log in");
            Arc::new(NoSmsProvider)
        }
        SmsProvider::Log => Arc::new(LogOtpSender),
        SmsProvider::Twilio => Arc::new(TwilioSender::new(twilio_config(settings)?)?),
        SmsProvider::Msg91 => Arc::new(Msg91Sender::new(msg91_config(settings)?)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_keep_a_path_prefix() {
        let base = Url::parse("http://127.0.0.1:9/prefix/").unwrap();
        let url = endpoint(&base, &["2010-04-01", "Accounts", "AC1", "Messages.json"]).unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:9/prefix/2010-04-01/Accounts/AC1/Messages.json");
        let base = Url::parse("https://control.msg91.com").unwrap();
        assert_eq!(
            endpoint(&base, &["api", "v5", "flow", ""]).unwrap().as_str(),
            "https://control.msg91.com/api/v5/flow/"
        );
    }

    #[test]
    fn scrub_removes_the_code() {
        assert_eq!(scrub("bad body 123456 here", "123456"), "bad body <code> here");
        assert_eq!(scrub(&"x".repeat(1000), "1").len(), 300);
    }

    #[test]
    fn debug_hides_keys() {
        let c = TwilioConfig {
            account_sid: "AC1".into(),
            auth_token: Secret::new("tw-secret"),
            from: "+15005550006".into(),
            api_url: Url::parse(TWILIO_API_URL).unwrap(),
            timeout: DEFAULT_TIMEOUT,
            template: DEFAULT_TEMPLATE.into(),
        };
        assert!(!format!("{c:?}").contains("tw-secret"));
        let m = Msg91Config {
            auth_key: Secret::new("m-secret"),
            template_id: "t".into(),
            otp_var: "otp".into(),
            api_url: Url::parse(MSG91_API_URL).unwrap(),
            timeout: DEFAULT_TIMEOUT,
        };
        assert!(!format!("{m:?}").contains("m-secret"));
    }
}
