//! What the server's outside integrations are doing (Telegram alerts, OTP delivery by SMS), for
//! `GET /health`. `serve` attaches an [`Integrations`] to every request; an app built without it
//! (tests, embedders) reports none.

use crate::adapters::sms::SmsProvider;
use crate::adapters::telegram::{ShopSetup, TelegramSetup};
use poem_openapi::Object;

/// Set once at startup by `serve`.
#[derive(Debug, Clone)]
pub struct Integrations {
    pub telegram_alerts: bool,
    pub telegram_detail: String,
    pub otp_sms: SmsProvider,
    pub shop_bot: bool,
}

impl Integrations {
    pub fn new(telegram: &TelegramSetup, otp_sms: SmsProvider) -> Self {
        let (telegram_alerts, telegram_detail) = match telegram {
            TelegramSetup::On(c) => (true, format!("sending to {} admin chat(s)", c.admin_chat_ids.len())),
            TelegramSetup::Off(why) => (false, why.clone()),
        };
        Integrations { telegram_alerts, telegram_detail, otp_sms, shop_bot: false }
    }

    /// Reports the Telegram shop bot as on or off.
    pub fn with_shop_bot(mut self, shop: &ShopSetup) -> Self {
        self.shop_bot = matches!(shop, ShopSetup::On { .. });
        self
    }

    pub fn health(&self) -> IntegrationsHealth {
        IntegrationsHealth {
            telegram_alerts: if self.telegram_alerts { "on" } else { "off" }.into(),
            telegram_detail: self.telegram_detail.clone(),
            otp_sms: self.otp_sms.as_str().into(),
            shop_bot: if self.shop_bot { "on" } else { "off" }.into(),
        }
    }
}

/// Liveness, and what the integrations do.
#[derive(Debug, Clone, Object)]
#[oai(rename = "HealthDetail")]
pub struct HealthDetail {
    /// `ok`.
    pub status: String,
    /// `dev` or `production` (`OTTSONLY_ENV`; dev unless set).
    pub environment: String,
    /// Secrets that are development values generated and kept in the database
    /// (`jwt_secret`, `credentials_key`); empty when all are configured.
    pub dev_secrets: Vec<String>,
    /// Absent when the application runs without the server's integrations (embedded, tests).
    #[oai(skip_serializing_if_is_none)]
    pub integrations: Option<IntegrationsHealth>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "IntegrationsHealth")]
pub struct IntegrationsHealth {
    /// `on`: admin alerts are sent to Telegram. `off`: they stay queued in the outbox.
    pub telegram_alerts: String,
    /// The number of admin chats, or why alerts are off.
    pub telegram_detail: String,
    /// How one-time codes leave: `log` (development: written to the log), `msg91` or `twilio`.
    pub otp_sms: String,
    /// `on`: the Telegram shop bot serves customers (`OTTSONLY_TELEGRAM_SHOP=on`). `off`: it does not.
    pub shop_bot: String,
}
