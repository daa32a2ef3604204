//! Server configuration: defaults, then an optional TOML file, then `OTTSONLY_*` environment
//! variables, validated once at startup. Secrets are wrapped in [`Secret`] so that no `Debug` or
//! log line ever shows them.
//!
//! The variables are read flat (`OTTSONLY_TELEGRAM_BOT_TOKEN`), then grouped: what an adapter
//! needs becomes that adapter's own settings type ([`RazorpaySettings`], [`SmsSettings`],
//! [`TelegramSettings`]), which also says what is wrong with it. This module only imports those
//! types; the adapters never see [`Settings`].

use crate::adapters::razorpay::{RazorpayCapture, RazorpaySettings};
use crate::adapters::sms::{SmsProvider, SmsSettings};
use crate::adapters::telegram::TelegramSettings;
use crate::adapters::telegram::config::DEFAULT_POLL_INTERVAL_MS;
pub use crate::common::secret::{Environment, Secret};
use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// Prefix of every environment variable the server reads.
pub const ENV_PREFIX: &str = "OTTSONLY_";
/// The config file read from the working directory when `OTTSONLY_CONFIG` is not set.
pub const DEFAULT_CONFIG_FILE: &str = "ottsonly.toml";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Everything the binary can be told, grouped by who uses it.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Listen address (`OTTSONLY_BIND`).
    pub bind: String,
    /// The address users reach the server at, without a trailing slash, for links sent outside
    /// a page (a Telegram message's checkout link): `OTTSONLY_PUBLIC_URL`, default `http://{bind}`.
    pub public_url: String,
    /// `sqlite://PATH` or `mongodb://…` (`OTTSONLY_DATABASE_URL`).
    pub database_url: Secret,
    /// `dev` or `production` (`OTTSONLY_ENV`).
    pub env: Environment,
    /// Whether `OTTSONLY_ENV` (or `env` in the file) was given; dev is only the default.
    pub env_explicit: bool,
    /// HS256 key of access tokens, at least 32 bytes (`OTTSONLY_JWT_SECRET`).
    pub jwt_secret: Option<Secret>,
    /// 32-byte AES key for credentials at rest, base64 or hex (`OTTSONLY_CREDENTIALS_KEY`).
    pub credentials_key: Option<Secret>,
    /// `+91XXXXXXXXXX:123456,...`: phones that log in with a fixed code (`OTTSONLY_TEST_PHONES`).
    pub test_phones: Option<Secret>,
    /// Requests per minute per client IP on `/auth/login` and `/auth/verify`; 0 disables
    /// (`OTTSONLY_IP_RATE_LIMIT`).
    pub ip_rate_limit: u32,
    /// Reverse proxies whose `X-Forwarded-For` / `Forwarded` headers are believed, as CIDRs
    /// (`OTTSONLY_TRUSTED_PROXIES`); empty means the socket peer is the client.
    pub trusted_proxies: Vec<IpNet>,
    /// ISO countries whose mobiles may receive a code (`OTTSONLY_OTP_COUNTRIES`, default `IN`;
    /// `*` for any).
    pub otp_countries: BTreeSet<String>,
    /// Bearer token that `GET /metrics` requires (`OTTSONLY_METRICS_TOKEN`); without it the
    /// metrics are public and leave out the revenue counters.
    pub metrics_token: Option<Secret>,
    /// Variables given as an empty value in the config file: treated as unset, and refused in
    /// production.
    pub empty_in_file: Vec<String>,
    /// Allowed browser origins (`OTTSONLY_CORS_ORIGINS`).
    pub cors_origins: Vec<String>,
    /// Log filter, `tracing_subscriber::EnvFilter` syntax (`OTTSONLY_LOG`).
    pub log: String,
    /// `text` or `json` (`OTTSONLY_LOG_FORMAT`).
    pub log_format: LogFormat,
    /// How long shutdown waits for in-flight requests (`OTTSONLY_SHUTDOWN_TIMEOUT_S`).
    pub shutdown_timeout_s: u64,
    /// Seconds between reconciliation passes over open top-ups (`OTTSONLY_RAZORPAY_RECONCILE_EVERY_S`).
    pub razorpay_reconcile_every_s: u64,
    /// Most top-ups one reconciliation pass asks Razorpay about (`OTTSONLY_RAZORPAY_RECONCILE_BATCH`).
    pub razorpay_reconcile_batch: u32,
    /// `OTTSONLY_RAZORPAY_KEY_ID`, `_KEY_SECRET`, `_WEBHOOK_SECRET`, `_API_BASE`.
    pub razorpay: RazorpaySettings,
    /// `OTTSONLY_TELEGRAM_BOT_TOKEN`, `_ADMIN_CHAT_IDS` (comma-separated), `_API_URL`,
    /// `_POLL_INTERVAL_MS`.
    pub telegram: TelegramSettings,
    /// `OTTSONLY_SMS_PROVIDER` (`log`, `msg91` or `twilio`), `OTTSONLY_SMS_API_URL`,
    /// `_TIMEOUT_MS`, `_TEMPLATE`; `OTTSONLY_TWILIO_ACCOUNT_SID`, `_AUTH_TOKEN`, `_FROM`;
    /// `OTTSONLY_MSG91_AUTH_KEY`, `_TEMPLATE_ID`, `_OTP_VAR`.
    pub sms: SmsSettings,
}

impl From<Raw> for Settings {
    fn from(mut r: Raw) -> Self {
        let empty_in_file = r.take_empty_values();
        let public_url = match r.public_url.as_deref().map(|u| u.trim().trim_end_matches('/')) {
            Some(u) if !u.is_empty() => u.to_string(),
            _ => format!("http://{}", r.bind),
        };
        Settings {
            bind: r.bind,
            public_url,
            database_url: r.database_url,
            env: r.env.unwrap_or_default(),
            env_explicit: r.env.is_some(),
            jwt_secret: r.jwt_secret,
            credentials_key: r.credentials_key,
            test_phones: r.test_phones,
            ip_rate_limit: r.ip_rate_limit,
            trusted_proxies: r.trusted_proxies,
            otp_countries: r.otp_countries,
            metrics_token: r.metrics_token,
            empty_in_file,
            cors_origins: r.cors_origins,
            log: r.log,
            log_format: r.log_format,
            shutdown_timeout_s: r.shutdown_timeout_s,
            razorpay_reconcile_every_s: r.razorpay_reconcile_every_s,
            razorpay_reconcile_batch: r.razorpay_reconcile_batch,
            razorpay: RazorpaySettings {
                key_id: r.razorpay_key_id,
                key_secret: r.razorpay_key_secret,
                webhook_secret: r.razorpay_webhook_secret,
                api_base: r.razorpay_api_base,
                capture: r.razorpay_capture,
            },
            telegram: TelegramSettings {
                bot_token: r.telegram_bot_token,
                admin_chat_ids: r.telegram_admin_chat_ids,
                api_url: r.telegram_api_url,
                poll_interval_ms: r.telegram_poll_interval_ms,
            },
            sms: SmsSettings {
                provider: r.sms_provider,
                api_url: r.sms_api_url,
                timeout_ms: r.sms_timeout_ms,
                template: r.sms_template,
                twilio_account_sid: r.twilio_account_sid,
                twilio_auth_token: r.twilio_auth_token,
                twilio_from: r.twilio_from,
                msg91_auth_key: r.msg91_auth_key,
                msg91_template_id: r.msg91_template_id,
                msg91_otp_var: r.msg91_otp_var,
            },
        }
    }
}

/// Everything the binary can be told, as read. Field names are the environment variable names
/// without the `OTTSONLY_` prefix, lowercased (`OTTSONLY_DATABASE_URL` → `database_url`).
#[derive(Deserialize)]
struct Raw {
    /// Listen address (`OTTSONLY_BIND`).
    #[serde(default = "default_bind")]
    bind: String,
    /// Where users reach the server (`OTTSONLY_PUBLIC_URL`).
    #[serde(default)]
    public_url: Option<String>,
    /// `sqlite://PATH` (`OTTSONLY_DATABASE_URL`).
    #[serde(default = "default_database_url")]
    database_url: Secret,
    /// `dev` or `production` (`OTTSONLY_ENV`); dev when not given.
    #[serde(default)]
    env: Option<Environment>,
    /// HS256 key of access tokens, at least 32 bytes (`OTTSONLY_JWT_SECRET`).
    #[serde(default)]
    jwt_secret: Option<Secret>,
    /// 32-byte AES key for credentials at rest, base64 or hex (`OTTSONLY_CREDENTIALS_KEY`).
    #[serde(default)]
    credentials_key: Option<Secret>,
    /// `+91XXXXXXXXXX:123456,...`: phones that log in with a fixed code (`OTTSONLY_TEST_PHONES`).
    #[serde(default)]
    test_phones: Option<Secret>,
    /// Requests per minute per client IP on `/auth/login` and `/auth/verify`; 0 disables
    /// (`OTTSONLY_IP_RATE_LIMIT`).
    #[serde(default = "default_ip_rate_limit")]
    ip_rate_limit: u32,
    /// Trusted reverse proxies, CIDRs or addresses, comma-separated or a TOML list
    /// (`OTTSONLY_TRUSTED_PROXIES`).
    #[serde(default, deserialize_with = "cidrs")]
    trusted_proxies: Vec<IpNet>,
    /// ISO countries that may receive a code, comma-separated or a list; `*` for any
    /// (`OTTSONLY_OTP_COUNTRIES`).
    #[serde(default = "default_otp_countries", deserialize_with = "countries")]
    otp_countries: BTreeSet<String>,
    /// Bearer token of `GET /metrics` (`OTTSONLY_METRICS_TOKEN`).
    #[serde(default)]
    metrics_token: Option<Secret>,
    /// Allowed browser origins, comma-separated or a TOML list (`OTTSONLY_CORS_ORIGINS`).
    #[serde(default, deserialize_with = "string_or_list")]
    cors_origins: Vec<String>,
    /// Log filter, `tracing_subscriber::EnvFilter` syntax (`OTTSONLY_LOG`).
    #[serde(default = "default_log")]
    log: String,
    /// `text` or `json` (`OTTSONLY_LOG_FORMAT`).
    #[serde(default)]
    log_format: LogFormat,
    /// How long shutdown waits for in-flight requests (`OTTSONLY_SHUTDOWN_TIMEOUT_S`).
    #[serde(default = "default_shutdown_timeout_s")]
    shutdown_timeout_s: u64,
    /// Razorpay credentials; both or neither (`OTTSONLY_RAZORPAY_KEY_ID`, `..._KEY_SECRET`).
    #[serde(default)]
    razorpay_key_id: Option<String>,
    #[serde(default)]
    razorpay_key_secret: Option<Secret>,
    /// Secret of the webhook at `/webhooks/razorpay` (`OTTSONLY_RAZORPAY_WEBHOOK_SECRET`).
    #[serde(default)]
    razorpay_webhook_secret: Option<Secret>,
    /// API base URL (`OTTSONLY_RAZORPAY_API_BASE`; default `https://api.razorpay.com`).
    #[serde(default)]
    razorpay_api_base: Option<String>,
    /// Seconds between reconciliation passes over open top-ups (`OTTSONLY_RAZORPAY_RECONCILE_EVERY_S`).
    #[serde(default = "default_razorpay_reconcile_every_s")]
    razorpay_reconcile_every_s: u64,
    /// Most top-ups one reconciliation pass asks Razorpay about (`OTTSONLY_RAZORPAY_RECONCILE_BATCH`).
    #[serde(default = "default_razorpay_reconcile_batch")]
    razorpay_reconcile_batch: u32,
    /// `auto` (default: Razorpay captures) or `manual` (we capture after checking the payment)
    /// (`OTTSONLY_RAZORPAY_CAPTURE`); must match the account's capture setting.
    #[serde(default)]
    razorpay_capture: RazorpayCapture,
    /// Telegram admin alerts: the bot token and the admin chats, both or neither
    /// (`OTTSONLY_TELEGRAM_BOT_TOKEN`, `OTTSONLY_TELEGRAM_ADMIN_CHAT_IDS`, comma-separated ids).
    /// Without them alerts stay queued in the outbox.
    #[serde(default)]
    telegram_bot_token: Option<Secret>,
    #[serde(default, deserialize_with = "chat_ids")]
    telegram_admin_chat_ids: Vec<i64>,
    /// Bot API base URL (`OTTSONLY_TELEGRAM_API_URL`; default the public Bot API).
    #[serde(default)]
    telegram_api_url: Option<String>,
    /// How often the alert dispatcher looks for due alerts (`OTTSONLY_TELEGRAM_POLL_INTERVAL_MS`).
    #[serde(default = "default_telegram_poll_interval_ms")]
    telegram_poll_interval_ms: u64,
    /// `log` (development), `msg91` or `twilio` (`OTTSONLY_SMS_PROVIDER`).
    #[serde(default)]
    sms_provider: SmsProvider,
    /// The provider's API base URL (`OTTSONLY_SMS_API_URL`; default the provider's own).
    #[serde(default)]
    sms_api_url: Option<String>,
    /// Total time allowed for one SMS request (`OTTSONLY_SMS_TIMEOUT_MS`).
    #[serde(default = "default_sms_timeout_ms")]
    sms_timeout_ms: u64,
    /// The SMS text, with `{code}` where the code goes (`OTTSONLY_SMS_TEMPLATE`; Twilio only).
    #[serde(default)]
    sms_template: Option<String>,
    /// `OTTSONLY_TWILIO_ACCOUNT_SID`, `OTTSONLY_TWILIO_AUTH_TOKEN` and `OTTSONLY_TWILIO_FROM` (a
    /// number or a Messaging Service SID).
    #[serde(default)]
    twilio_account_sid: Option<String>,
    #[serde(default)]
    twilio_auth_token: Option<Secret>,
    #[serde(default)]
    twilio_from: Option<String>,
    /// `OTTSONLY_MSG91_AUTH_KEY`, `OTTSONLY_MSG91_TEMPLATE_ID` and `OTTSONLY_MSG91_OTP_VAR` (the
    /// template variable for the code, default `otp`).
    #[serde(default)]
    msg91_auth_key: Option<Secret>,
    #[serde(default)]
    msg91_template_id: Option<String>,
    #[serde(default)]
    msg91_otp_var: Option<String>,
}

impl Raw {
    /// Empty values can only come from the file (empty environment variables count as unset).
    /// They are taken out, so that an empty secret is never "set", and named for
    /// [`Settings::problems`].
    fn take_empty_values(&mut self) -> Vec<String> {
        fn blank<T: AsRef<str>>(v: &mut Option<T>, name: &str, out: &mut Vec<String>) {
            if v.as_ref().is_some_and(|x| x.as_ref().trim().is_empty()) {
                *v = None;
                out.push(format!("{ENV_PREFIX}{}", name.to_ascii_uppercase()));
            }
        }
        let mut out = Vec::new();
        let o = &mut out;
        blank(&mut self.jwt_secret, "jwt_secret", o);
        blank(&mut self.credentials_key, "credentials_key", o);
        blank(&mut self.test_phones, "test_phones", o);
        blank(&mut self.metrics_token, "metrics_token", o);
        blank(&mut self.razorpay_key_id, "razorpay_key_id", o);
        blank(&mut self.razorpay_key_secret, "razorpay_key_secret", o);
        blank(&mut self.razorpay_webhook_secret, "razorpay_webhook_secret", o);
        blank(&mut self.razorpay_api_base, "razorpay_api_base", o);
        blank(&mut self.telegram_bot_token, "telegram_bot_token", o);
        blank(&mut self.telegram_api_url, "telegram_api_url", o);
        blank(&mut self.sms_api_url, "sms_api_url", o);
        blank(&mut self.sms_template, "sms_template", o);
        blank(&mut self.twilio_account_sid, "twilio_account_sid", o);
        blank(&mut self.twilio_auth_token, "twilio_auth_token", o);
        blank(&mut self.twilio_from, "twilio_from", o);
        blank(&mut self.msg91_auth_key, "msg91_auth_key", o);
        blank(&mut self.msg91_template_id, "msg91_template_id", o);
        blank(&mut self.msg91_otp_var, "msg91_otp_var", o);
        if self.database_url.expose().trim().is_empty() {
            self.database_url = default_database_url();
            out.push(format!("{ENV_PREFIX}DATABASE_URL"));
        }
        out
    }
}

/// The variables the config file gives as an empty (or blank) string.
fn empty_file_values(path: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let values: BTreeMap<String, figment::value::Value> = Figment::from(Toml::file_exact(path))
        .extract()
        .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    Ok(values
        .into_iter()
        .filter(|(_, v)| v.as_str().is_some_and(|s| s.trim().is_empty()))
        .map(|(k, _)| format!("{ENV_PREFIX}{}", k.to_ascii_uppercase()))
        .collect())
}

/// Shortest accepted Razorpay webhook secret: a short one can be guessed, and with it any
/// "payment captured" event forged.
pub const WEBHOOK_SECRET_MIN_BYTES: usize = 16;

fn default_otp_countries() -> BTreeSet<String> {
    BTreeSet::from([ottsonly_core::phone::INDIA.to_string()])
}

/// `"IN,GB"` or `["IN", "GB"]`; `*` allows every country (an empty set for core).
fn countries<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeSet<String>, D::Error> {
    let items = string_or_list(d)?;
    if items.is_empty() {
        return Err(serde::de::Error::custom("name at least one country (e.g. IN), or * for any"));
    }
    if items.iter().any(|c| c == "*") {
        return Ok(BTreeSet::new());
    }
    items.iter().map(|c| ottsonly_core::phone::check_region(c).map_err(serde::de::Error::custom)).collect()
}

/// `"10.0.0.0/8, 192.168.1.1"` or a list: CIDRs, or addresses (one host each).
fn cidrs<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
    string_or_list(d)?
        .iter()
        .map(|c| {
            c.parse::<IpNet>().or_else(|_| c.parse::<IpAddr>().map(IpNet::from)).map(|n| n.trunc()).map_err(
                |_| serde::de::Error::custom(format!("`{c}` is not a CIDR like 10.0.0.0/8 or an address")),
            )
        })
        .collect()
}

fn default_telegram_poll_interval_ms() -> u64 {
    DEFAULT_POLL_INTERVAL_MS
}
fn default_sms_timeout_ms() -> u64 {
    SmsSettings::default().timeout_ms
}

/// Telegram chat ids: `"123,-100456"` (environment), or a TOML integer, string or list.
fn chat_ids<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Int(i64),
        Text(String),
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        One(Id),
        Many(Vec<Id>),
    }
    let ids = match Either::deserialize(d)? {
        Either::One(id) => vec![id],
        Either::Many(v) => v,
    };
    let mut out = Vec::new();
    for id in ids {
        match id {
            Id::Int(n) => out.push(n),
            Id::Text(s) => {
                for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    out.push(part.parse().map_err(|_| {
                        serde::de::Error::custom(format!("`{part}` is not a Telegram chat id (an integer)"))
                    })?);
                }
            }
        }
    }
    let mut unique = Vec::with_capacity(out.len());
    for id in out {
        if !unique.contains(&id) {
            unique.push(id);
        }
    }
    Ok(unique)
}

fn default_bind() -> String {
    "127.0.0.1:8000".into()
}
fn default_database_url() -> Secret {
    Secret::new("sqlite://ottsonly.db")
}
fn default_ip_rate_limit() -> u32 {
    60
}
fn default_log() -> String {
    "info".into()
}
fn default_shutdown_timeout_s() -> u64 {
    30
}
fn default_razorpay_reconcile_every_s() -> u64 {
    300
}
fn default_razorpay_reconcile_batch() -> u32 {
    200
}

/// Accepts `"a,b"` (environment) or `["a", "b"]` (TOML).
fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        One(String),
        Many(Vec<String>),
    }
    let items = match Either::deserialize(d)? {
        Either::One(s) => s.split(',').map(str::to_string).collect(),
        Either::Many(v) => v,
    };
    Ok(items.into_iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
}

/// Where the layered settings come from: the config file (if any) and the environment.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// An explicit file (`--config` / `OTTSONLY_CONFIG`); it must exist.
    pub config_file: Option<PathBuf>,
    /// The `OTTSONLY_*` variables (taken from the process by [`Sources::from_process`]).
    pub env: BTreeMap<String, String>,
    /// Directory searched for `ottsonly.toml` when no explicit file is given.
    pub working_dir: Option<PathBuf>,
}

impl Sources {
    /// The process environment and working directory.
    pub fn from_process(config_file: Option<PathBuf>) -> Self {
        Sources { config_file, env: std::env::vars().collect(), working_dir: std::env::current_dir().ok() }
    }
}

impl Settings {
    /// Layers defaults < config file < environment.
    ///
    /// Environment values are taken as raw strings (figment's own `Env` provider would parse
    /// `"123"` as a number or `[x]` as a list, which can mangle a secret); numbers and booleans are
    /// converted only where a field wants one (`extract_lossy`).
    pub fn load(sources: &Sources) -> anyhow::Result<Settings> {
        let mut figment = Figment::new();
        let file = match &sources.config_file {
            Some(path) => {
                if !path.is_file() {
                    bail!("config file {} does not exist", path.display());
                }
                Some(path.clone())
            }
            None => {
                sources.working_dir.as_deref().map(|d| d.join(DEFAULT_CONFIG_FILE)).filter(|p| p.is_file())
            }
        };
        if let Some(path) = &file {
            figment = figment.merge(Toml::file_exact(path));
        }
        let env: BTreeMap<String, String> = sources
            .env
            .iter()
            .filter_map(|(k, v)| {
                let key = k.strip_prefix(ENV_PREFIX)?.to_ascii_lowercase();
                // `OTTSONLY_CONFIG` names the file; empty values count as unset.
                (key != "config" && !v.trim().is_empty()).then(|| (key, v.clone()))
            })
            .collect();
        figment = figment.merge(Serialized::defaults(env));
        let raw: Raw = figment.extract_lossy().map_err(|e| {
            // figment's message names the key and its source; values are never included.
            anyhow::anyhow!("invalid configuration: {e}")
        })?;
        let mut settings = Settings::from(raw);
        if let Some(path) = &file {
            // Also the file's empty values that the environment overrode: refused in production.
            settings.empty_in_file.extend(empty_file_values(path)?);
            settings.empty_in_file.sort();
            settings.empty_in_file.dedup();
        }
        settings.bind_addr()?;
        settings.public_url_checked()?;
        Ok(settings)
    }

    pub fn bind_addr(&self) -> anyhow::Result<SocketAddr> {
        self.bind
            .parse()
            .with_context(|| format!("OTTSONLY_BIND `{}` is not an address like 127.0.0.1:8000", self.bind))
    }

    /// `public_url` must be an absolute http(s) URL with no query or fragment.
    fn public_url_checked(&self) -> anyhow::Result<()> {
        let url = url::Url::parse(&self.public_url)
            .with_context(|| format!("OTTSONLY_PUBLIC_URL `{}` is not an absolute URL", self.public_url))?;
        if !matches!(url.scheme(), "http" | "https") || url.query().is_some() || url.fragment().is_some() {
            bail!(
                "OTTSONLY_PUBLIC_URL `{}` must be an http(s) URL without query or fragment",
                self.public_url
            );
        }
        Ok(())
    }

    /// Problems that refuse a start in production and are only warned about in dev.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for var in &self.empty_in_file {
            out.push(format!("{var} is empty in the config file; an empty value is treated as unset"));
        }
        if self.env == Environment::Production {
            match &self.jwt_secret {
                None => out.push("OTTSONLY_JWT_SECRET is required in production".to_string()),
                Some(s) if s.expose().len() < ottsonly_core::config::JWT_SECRET_MIN_BYTES => {
                    out.push(format!(
                        "OTTSONLY_JWT_SECRET must be at least {} bytes",
                        ottsonly_core::config::JWT_SECRET_MIN_BYTES
                    ))
                }
                Some(_) => {}
            }
            if self.credentials_key.is_none() {
                out.push("OTTSONLY_CREDENTIALS_KEY is required in production".to_string());
            }
            if let Some(s) = &self.razorpay.webhook_secret
                && s.expose().len() < WEBHOOK_SECRET_MIN_BYTES
            {
                out.push(format!(
                    "OTTSONLY_RAZORPAY_WEBHOOK_SECRET must be at least {WEBHOOK_SECRET_MIN_BYTES} bytes"
                ));
            }
            if self.razorpay.key_secret.as_ref().is_some_and(|s| s.expose().trim().is_empty()) {
                out.push("OTTSONLY_RAZORPAY_KEY_SECRET must not be empty".to_string());
            }
            if self.test_phones.is_some() {
                out.push(
                    "OTTSONLY_TEST_PHONES must not be set in production: those numbers log in with a fixed code"
                        .to_string(),
                );
            }
        }
        out.extend(self.razorpay.problems(self.env));
        out.extend(self.telegram.problems(self.env));
        out.extend(self.sms.problems(self.env));
        out
    }

    /// Refuses to start in production with any of [`Settings::problems`]; in dev they are warnings.
    pub fn validate(&self) -> anyhow::Result<()> {
        let problems = self.problems();
        if problems.is_empty() {
            return Ok(());
        }
        if self.env == Environment::Production {
            bail!("refusing to start in production:\n  - {}", problems.join("\n  - "));
        }
        for p in problems {
            tracing::warn!("{p}");
        }
        Ok(())
    }

    /// What `serve` warns about at start without refusing: a dev server reachable from other
    /// machines because `OTTSONLY_ENV` was not given, and public metrics in production.
    pub fn startup_warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let loopback = self.bind_addr().map(|a| a.ip().is_loopback()).unwrap_or(false);
        if !loopback && !self.env_explicit {
            out.push(format!(
                "OTTSONLY_ENV is not set and the server listens on {} (not loopback): running as dev, \
                 with dev secrets, test phones and the log SMS sender allowed. Set OTTSONLY_ENV=production \
                 for a real deployment, or OTTSONLY_ENV=dev to silence this warning",
                self.bind
            ));
        }
        if self.env == Environment::Production && !self.public_url.starts_with("https://") {
            out.push(format!(
                "OTTSONLY_PUBLIC_URL is `{}`: links sent outside a page (checkout links, which carry a \
                 token) should be https:// in production",
                self.public_url
            ));
        }
        if self.env == Environment::Production && self.metrics_token.is_none() {
            out.push(
                "GET /metrics is public: set OTTSONLY_METRICS_TOKEN to require a bearer token (revenue \
                 counters are left out until then)"
                    .to_string(),
            );
        }
        out
    }

    /// The database URL with any password hidden, for logs.
    pub fn database_url_redacted(&self) -> String {
        ottsonly_store_mongo::redact_uri(self.database_url.expose())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(env: &[(&str, &str)]) -> Sources {
        Sources {
            config_file: None,
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            working_dir: None,
        }
    }

    #[test]
    fn defaults_need_no_configuration() {
        let s = Settings::load(&sources(&[])).unwrap();
        assert_eq!(s.bind, "127.0.0.1:8000");
        assert_eq!(s.database_url.expose(), "sqlite://ottsonly.db");
        assert_eq!(s.env, Environment::Dev);
        assert_eq!(s.ip_rate_limit, 60);
        assert!(s.validate().is_ok());
    }

    #[test]
    fn environment_values_stay_strings() {
        let s = Settings::load(&sources(&[
            ("OTTSONLY_JWT_SECRET", "12345678901234567890123456789012345"),
            ("OTTSONLY_IP_RATE_LIMIT", "0"),
            ("OTTSONLY_CORS_ORIGINS", "https://a.example, https://b.example"),
            ("OTTSONLY_ENV", "production"),
            ("OTTSONLY_CREDENTIALS_KEY", "[not-a-list]"),
            ("OTHER_VAR", "ignored"),
        ]))
        .unwrap();
        assert_eq!(s.jwt_secret.as_ref().unwrap().expose(), "12345678901234567890123456789012345");
        assert_eq!(s.credentials_key.as_ref().unwrap().expose(), "[not-a-list]");
        assert_eq!(s.ip_rate_limit, 0);
        assert_eq!(s.cors_origins, ["https://a.example", "https://b.example"]);
        assert_eq!(s.env, Environment::Production);
    }

    #[test]
    fn production_refuses_missing_secrets_and_half_settings() {
        let s =
            Settings::load(&sources(&[("OTTSONLY_ENV", "production"), ("OTTSONLY_RAZORPAY_KEY_ID", "rzp")]))
                .unwrap();
        let err = s.validate().unwrap_err().to_string();
        assert!(err.contains("OTTSONLY_JWT_SECRET"), "{err}");
        assert!(err.contains("OTTSONLY_CREDENTIALS_KEY"), "{err}");
        assert!(err.contains("Razorpay"), "{err}");
    }

    #[test]
    fn chat_ids_parse_from_the_environment() {
        let ids = |v: &str| Settings::load(&sources(&[("OTTSONLY_TELEGRAM_ADMIN_CHAT_IDS", v)]));
        assert_eq!(ids("42, -1001234567890,42").unwrap().telegram.admin_chat_ids, [42, -1001234567890]);
        assert_eq!(ids("42").unwrap().telegram.admin_chat_ids, [42]);
        let err = ids("42,@admins").unwrap_err().to_string();
        assert!(err.contains("@admins"), "{err}");
    }

    #[test]
    fn adapter_settings_are_grouped() {
        let s = Settings::load(&sources(&[
            ("OTTSONLY_TELEGRAM_BOT_TOKEN", "1:x"),
            ("OTTSONLY_TELEGRAM_POLL_INTERVAL_MS", "250"),
            ("OTTSONLY_SMS_PROVIDER", "twilio"),
            ("OTTSONLY_SMS_TIMEOUT_MS", "1500"),
            ("OTTSONLY_RAZORPAY_KEY_ID", "rzp_key"),
        ]))
        .unwrap();
        assert_eq!(s.telegram.poll_interval_ms, 250);
        assert_eq!(s.sms.provider, SmsProvider::Twilio);
        assert_eq!(s.sms.timeout_ms, 1500);
        assert_eq!(s.razorpay.key_id.as_deref(), Some("rzp_key"));
        let d = Settings::load(&sources(&[])).unwrap();
        assert_eq!(d.telegram.poll_interval_ms, 2_000);
        assert_eq!(d.sms.timeout_ms, 10_000);
    }

    #[test]
    fn razorpay_capture_mode_and_reconcile_batch() {
        let s = Settings::load(&sources(&[
            ("OTTSONLY_RAZORPAY_CAPTURE", "manual"),
            ("OTTSONLY_RAZORPAY_RECONCILE_BATCH", "50"),
        ]))
        .unwrap();
        assert_eq!((s.razorpay.capture, s.razorpay_reconcile_batch), (RazorpayCapture::Manual, 50));
        let d = Settings::load(&sources(&[])).unwrap();
        assert_eq!((d.razorpay.capture, d.razorpay_reconcile_batch), (RazorpayCapture::Auto, 200));
        let err = Settings::load(&sources(&[("OTTSONLY_RAZORPAY_CAPTURE", "sometimes")])).unwrap_err();
        assert!(err.to_string().contains("sometimes") || err.to_string().contains("capture"), "{err}");
    }

    #[test]
    fn bad_values_are_clear_errors() {
        let err = Settings::load(&sources(&[("OTTSONLY_ENV", "staging")])).unwrap_err().to_string();
        assert!(err.contains("env") || err.contains("staging"), "{err}");
        let err = Settings::load(&sources(&[("OTTSONLY_BIND", "nowhere")])).unwrap_err().to_string();
        assert!(err.contains("OTTSONLY_BIND"), "{err}");
        let err = Settings::load(&sources(&[("OTTSONLY_IP_RATE_LIMIT", "lots")])).unwrap_err().to_string();
        assert!(err.contains("ip_rate_limit"), "{err}");
    }

    #[test]
    fn debug_never_shows_secrets() {
        let s = Settings::load(&sources(&[
            ("OTTSONLY_JWT_SECRET", "super-secret-value-super-secret-value"),
            ("OTTSONLY_DATABASE_URL", "mongodb://u:hunter2@db/x"),
            ("OTTSONLY_TEST_PHONES", "+919999900001:123456"),
        ]))
        .unwrap();
        let dbg = format!("{s:?}");
        assert!(
            !dbg.contains("super-secret") && !dbg.contains("hunter2") && !dbg.contains("123456"),
            "{dbg}"
        );
        assert!(!s.database_url_redacted().contains("hunter2"));
    }

    #[test]
    fn file_is_layered_under_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(DEFAULT_CONFIG_FILE),
            "bind = \"127.0.0.1:9000\"\nip_rate_limit = 5\ncors_origins = [\"https://x.example\"]\n",
        )
        .unwrap();
        let mut src = sources(&[("OTTSONLY_IP_RATE_LIMIT", "7")]);
        src.working_dir = Some(dir.path().to_path_buf());
        let s = Settings::load(&src).unwrap();
        assert_eq!(s.bind, "127.0.0.1:9000");
        assert_eq!(s.ip_rate_limit, 7);
        assert_eq!(s.cors_origins, ["https://x.example"]);
        src.config_file = Some(dir.path().join("missing.toml"));
        assert!(Settings::load(&src).is_err());
    }

    const JWT: &str = "a-production-jwt-secret-of-32-bytes-or-more";
    const KEY: &str = "0000000000000000000000000000000000000000000000000000000000000000";

    fn production(extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = [
            ("OTTSONLY_ENV", "production"),
            ("OTTSONLY_JWT_SECRET", JWT),
            ("OTTSONLY_CREDENTIALS_KEY", KEY),
            ("OTTSONLY_RAZORPAY_KEY_ID", "rzp_live_x"),
            ("OTTSONLY_RAZORPAY_KEY_SECRET", "razorpay-key-secret"),
            ("OTTSONLY_RAZORPAY_WEBHOOK_SECRET", "a-webhook-secret-16+"),
            ("OTTSONLY_SMS_PROVIDER", "msg91"),
            ("OTTSONLY_MSG91_AUTH_KEY", "k"),
            ("OTTSONLY_MSG91_TEMPLATE_ID", "t"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in extra {
            env.retain(|(ek, _)| ek != k);
            env.push((k.to_string(), v.to_string()));
        }
        env
    }

    fn load(env: Vec<(String, String)>, file: Option<&str>) -> (Settings, Option<tempfile::TempDir>) {
        let mut src = Sources { config_file: None, env: env.into_iter().collect(), working_dir: None };
        let dir = file.map(|text| {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join(DEFAULT_CONFIG_FILE), text).unwrap();
            src.working_dir = Some(dir.path().to_path_buf());
            dir
        });
        (Settings::load(&src).unwrap(), dir)
    }

    #[test]
    fn a_complete_production_configuration_starts() {
        let (s, _) = load(production(&[]), None);
        assert!(s.problems().is_empty(), "{:?}", s.problems());
    }

    #[test]
    fn production_refuses_test_phones_and_short_secrets() {
        let refused = |extra: &[(&str, &str)], needle: &str| {
            let (s, _) = load(production(extra), None);
            let err = s.validate().expect_err("must refuse").to_string();
            assert!(err.contains(needle), "{needle}: {err}");
        };
        refused(&[("OTTSONLY_TEST_PHONES", "+919999900001:123456")], "OTTSONLY_TEST_PHONES");
        refused(&[("OTTSONLY_JWT_SECRET", "only-31-bytes-long-jwt-secret!!")], "OTTSONLY_JWT_SECRET");
        refused(
            &[("OTTSONLY_RAZORPAY_WEBHOOK_SECRET", "short-15-bytes!")],
            "OTTSONLY_RAZORPAY_WEBHOOK_SECRET",
        );
        refused(&[("OTTSONLY_RAZORPAY_KEY_SECRET", " ")], "OTTSONLY_RAZORPAY_KEY_SECRET");
        // In dev the same test phones are fine.
        let (dev, _) = load(vec![("OTTSONLY_TEST_PHONES".into(), "+919999900001:123456".into())], None);
        assert!(dev.validate().is_ok());
    }

    #[test]
    fn empty_values_in_the_file_are_unset_and_refused_in_production() {
        let file = "razorpay_webhook_secret = \"\"\njwt_secret = \"  \"\n";
        let (dev, _dir) = load(Vec::new(), Some(file));
        assert!(dev.razorpay.webhook_secret.is_none(), "an empty secret is never \"set\"");
        assert!(dev.jwt_secret.is_none());
        assert_eq!(dev.empty_in_file, ["OTTSONLY_JWT_SECRET", "OTTSONLY_RAZORPAY_WEBHOOK_SECRET"]);
        assert!(dev.validate().is_ok(), "dev warns");
        // Production: refused even when the environment supplies the value.
        let (prod, _dir) = load(production(&[]), Some("razorpay_webhook_secret = \"\"\n"));
        let err = prod.validate().expect_err("must refuse").to_string();
        assert!(err.contains("OTTSONLY_RAZORPAY_WEBHOOK_SECRET is empty in the config file"), "{err}");
    }

    #[test]
    fn serving_beyond_loopback_without_an_environment_warns() {
        let warns = |env: &[(&str, &str)]| {
            let s = Settings::load(&sources(env)).unwrap();
            assert_eq!(s.env == Environment::Dev, !env.iter().any(|(_, v)| *v == "production"));
            s.startup_warnings()
        };
        assert!(warns(&[]).is_empty(), "loopback");
        let w = warns(&[("OTTSONLY_BIND", "0.0.0.0:8000")]);
        assert!(w.len() == 1 && w[0].contains("OTTSONLY_ENV is not set"), "{w:?}");
        assert!(warns(&[("OTTSONLY_BIND", "0.0.0.0:8000"), ("OTTSONLY_ENV", "dev")]).is_empty());
        const PUBLIC: (&str, &str) = ("OTTSONLY_PUBLIC_URL", "https://shop.example/");
        let w = warns(&[("OTTSONLY_BIND", "[::]:8000"), ("OTTSONLY_ENV", "production"), PUBLIC]);
        assert!(w.len() == 1 && w[0].contains("OTTSONLY_METRICS_TOKEN"), "{w:?}");
        let w = warns(&[("OTTSONLY_ENV", "production"), ("OTTSONLY_METRICS_TOKEN", "t0ken"), PUBLIC]);
        assert!(w.is_empty(), "{w:?}");
        let w = warns(&[("OTTSONLY_ENV", "production"), ("OTTSONLY_METRICS_TOKEN", "t0ken")]);
        assert!(w.len() == 1 && w[0].contains("OTTSONLY_PUBLIC_URL is `http://127.0.0.1:8000`"), "{w:?}");
    }

    #[test]
    fn public_url_defaults_to_the_bind_address_and_must_be_absolute() {
        assert_eq!(Settings::load(&sources(&[])).unwrap().public_url, "http://127.0.0.1:8000");
        let s = Settings::load(&sources(&[("OTTSONLY_PUBLIC_URL", " https://shop.example/base/ ")])).unwrap();
        assert_eq!(s.public_url, "https://shop.example/base");
        for bad in ["shop.example", "ftp://shop.example", "https://shop.example/?a=1", "https://x/#f"] {
            let e = Settings::load(&sources(&[("OTTSONLY_PUBLIC_URL", bad)])).unwrap_err();
            assert!(e.to_string().contains("OTTSONLY_PUBLIC_URL"), "{bad}: {e}");
        }
    }

    #[test]
    fn proxies_and_otp_countries_parse() {
        let s = Settings::load(&sources(&[
            ("OTTSONLY_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.7, 2001:db8::/32"),
            ("OTTSONLY_OTP_COUNTRIES", "in, gb"),
        ]))
        .unwrap();
        let nets: Vec<String> = s.trusted_proxies.iter().map(ToString::to_string).collect();
        assert_eq!(nets, ["10.0.0.0/8", "192.168.1.7/32", "2001:db8::/32"]);
        assert_eq!(s.otp_countries, BTreeSet::from(["GB".to_string(), "IN".to_string()]));
        let d = Settings::load(&sources(&[])).unwrap();
        assert!(d.trusted_proxies.is_empty());
        assert_eq!(d.otp_countries, BTreeSet::from(["IN".to_string()]));
        let any = Settings::load(&sources(&[("OTTSONLY_OTP_COUNTRIES", "*")])).unwrap();
        assert!(any.otp_countries.is_empty(), "empty means any country to core");
        let err = Settings::load(&sources(&[("OTTSONLY_TRUSTED_PROXIES", "10.0.0.0/33")])).unwrap_err();
        assert!(err.to_string().contains("10.0.0.0/33"), "{err}");
        let err = Settings::load(&sources(&[("OTTSONLY_OTP_COUNTRIES", "IN,XX")])).unwrap_err();
        assert!(err.to_string().contains("XX"), "{err}");
    }
}
