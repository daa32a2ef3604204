//! How the alert dispatcher reaches Telegram: [`TelegramSettings`] (what the operator set),
//! checked by [`TelegramSettings::problems`] and turned into a [`TelegramConfig`] by
//! [`TelegramSettings::setup`].

use crate::common::secret::{Environment, Secret};
use std::time::Duration;
use url::Url;

/// The public Bot API.
pub const TELEGRAM_API_URL: &str = "https://api.telegram.org";
/// How often the dispatcher looks for due alerts unless told otherwise.
pub const DEFAULT_POLL_INTERVAL_MS: u64 = 2_000;

/// How the dispatcher talks to Telegram. [`TelegramConfig::new`] has production defaults.
#[derive(Clone)]
pub struct TelegramConfig {
    pub bot_token: Secret,
    /// Every alert goes to each of these chats (private chats are positive, groups negative).
    pub admin_chat_ids: Vec<i64>,
    /// Bot API base; requests go to `{api_url}/bot{token}/SendMessage`.
    pub api_url: Url,
    /// Pause between two looks at the outbox when nothing was due.
    pub poll_interval: Duration,
    /// Most alerts claimed at once (fewer when the lease would not cover sending them).
    pub batch_size: u32,
    /// Longest one Bot API call may take (teloxide waits 10 s after a 5xx before reporting it,
    /// so keep this above that in production).
    pub request_timeout: Duration,
    /// Smallest gap between two messages to one private chat.
    pub per_chat_interval: Duration,
    /// Smallest gap between two messages to one group or channel (negative chat id).
    pub per_group_interval: Duration,
    /// Messages per second over all chats.
    pub overall_per_second: u32,
    /// The lease owner written on claimed alerts; unique per dispatcher.
    pub owner: String,
}

impl std::fmt::Debug for TelegramConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramConfig")
            .field("bot_token", &self.bot_token)
            .field("admin_chat_ids", &self.admin_chat_ids)
            .field("api_url", &self.api_url.as_str())
            .field("poll_interval", &self.poll_interval)
            .field("batch_size", &self.batch_size)
            .field("request_timeout", &self.request_timeout)
            .field("per_chat_interval", &self.per_chat_interval)
            .field("per_group_interval", &self.per_group_interval)
            .field("overall_per_second", &self.overall_per_second)
            .field("owner", &self.owner)
            .finish()
    }
}

impl TelegramConfig {
    /// The public Bot API, polled every 2 s, within Telegram's documented limits.
    pub fn new(bot_token: Secret, admin_chat_ids: Vec<i64>) -> Self {
        TelegramConfig {
            bot_token,
            admin_chat_ids,
            api_url: Url::parse(TELEGRAM_API_URL).expect("valid constant URL"),
            poll_interval: Duration::from_millis(DEFAULT_POLL_INTERVAL_MS),
            batch_size: 20,
            request_timeout: Duration::from_secs(20),
            per_chat_interval: Duration::from_secs(1),
            per_group_interval: Duration::from_secs(3),
            overall_per_second: 30,
            owner: format!("telegram:{}", uuid::Uuid::new_v4()),
        }
    }
}

/// What the operator configured: the bot token and the admin chats go together (both or neither).
/// Without them alerts stay queued in the outbox.
#[derive(Debug, Clone)]
pub struct TelegramSettings {
    pub bot_token: Option<Secret>,
    /// Chat ids, without duplicates (private chats positive, groups negative).
    pub admin_chat_ids: Vec<i64>,
    /// Bot API base URL (default [`TELEGRAM_API_URL`]).
    pub api_url: Option<String>,
    /// How often the dispatcher looks for due alerts.
    pub poll_interval_ms: u64,
    /// `OTTSONLY_TELEGRAM_SHOP=on`: the same bot also serves the shop to everybody else.
    pub shop: Switch,
    /// Webhook mode for the shop (`OTTSONLY_TELEGRAM_WEBHOOK_URL`): the public https URL Telegram
    /// posts updates to; long polling when unset.
    pub webhook_url: Option<String>,
    /// The secret Telegram echoes in `X-Telegram-Bot-Api-Secret-Token`
    /// (`OTTSONLY_TELEGRAM_WEBHOOK_SECRET`); required with a webhook URL.
    pub webhook_secret: Option<Secret>,
}

/// An `on`/`off` setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Switch {
    #[default]
    Off,
    On,
}

/// What the settings ask of the shop bot.
#[derive(Debug, Clone)]
pub enum ShopSetup {
    On {
        bot_token: Secret,
        api_url: Url,
        /// `None`: long polling.
        webhook: Option<(Url, Secret)>,
    },
    /// Why there is no shop bot (names the setting).
    Off(String),
}

impl Default for TelegramSettings {
    fn default() -> Self {
        TelegramSettings {
            bot_token: None,
            admin_chat_ids: Vec::new(),
            api_url: None,
            poll_interval_ms: DEFAULT_POLL_INTERVAL_MS,
            shop: Switch::Off,
            webhook_url: None,
            webhook_secret: None,
        }
    }
}

/// The dispatcher the settings ask for.
#[derive(Debug, Clone)]
pub enum TelegramSetup {
    On(Box<TelegramConfig>),
    /// Alerts stay in the outbox; the reason says why (and names the setting).
    Off(String),
}

impl TelegramSettings {
    /// What the settings ask for: a dispatcher, or why there is none.
    pub fn setup(&self) -> TelegramSetup {
        let Some(token) = &self.bot_token else {
            return TelegramSetup::Off(
                "OTTSONLY_TELEGRAM_BOT_TOKEN is not set: admin alerts stay queued in the outbox".into(),
            );
        };
        if self.admin_chat_ids.is_empty() {
            return TelegramSetup::Off(
                "OTTSONLY_TELEGRAM_ADMIN_CHAT_IDS is empty: admin alerts stay queued in the outbox".into(),
            );
        }
        let api_url = match self.api_url() {
            Ok(u) => u,
            Err(e) => return TelegramSetup::Off(format!("{e}: admin alerts stay queued in the outbox")),
        };
        let mut config = TelegramConfig::new(token.clone(), self.admin_chat_ids.clone());
        config.api_url = api_url;
        config.poll_interval = Duration::from_millis(self.poll_interval_ms.max(10));
        TelegramSetup::On(Box::new(config))
    }

    /// The shop bot the settings ask for (`OTTSONLY_TELEGRAM_SHOP=on` with a bot token).
    pub fn shop_setup(&self) -> ShopSetup {
        if self.shop == Switch::Off {
            return ShopSetup::Off("OTTSONLY_TELEGRAM_SHOP is off".into());
        }
        let Some(token) = &self.bot_token else {
            return ShopSetup::Off("OTTSONLY_TELEGRAM_SHOP=on needs OTTSONLY_TELEGRAM_BOT_TOKEN".into());
        };
        let api_url = match self.api_url() {
            Ok(u) => u,
            Err(e) => return ShopSetup::Off(e),
        };
        let webhook = match (&self.webhook_url, &self.webhook_secret) {
            (None, _) => None,
            (Some(raw), Some(secret)) => match Url::parse(raw) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => Some((u, secret.clone())),
                _ => {
                    return ShopSetup::Off(format!(
                        "OTTSONLY_TELEGRAM_WEBHOOK_URL `{raw}` is not an http(s) URL"
                    ));
                }
            },
            (Some(_), None) => {
                return ShopSetup::Off(
                    "OTTSONLY_TELEGRAM_WEBHOOK_URL needs OTTSONLY_TELEGRAM_WEBHOOK_SECRET".into(),
                );
            }
        };
        ShopSetup::On { bot_token: token.clone(), api_url, webhook }
    }

    fn api_url(&self) -> Result<Url, String> {
        let raw = self.api_url.as_deref().unwrap_or(TELEGRAM_API_URL);
        match Url::parse(raw) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && !u.cannot_be_a_base() => Ok(u),
            _ => Err(format!("OTTSONLY_TELEGRAM_API_URL `{raw}` is not an http(s) URL")),
        }
    }

    /// Problems that refuse a start in production (and are warnings in dev).
    pub fn problems(&self, env: Environment) -> Vec<String> {
        let mut out = Vec::new();
        let shop = self.shop == Switch::On;
        if shop {
            if let ShopSetup::Off(why) = self.shop_setup() {
                out.push(why);
            }
            if env == Environment::Production
                && self.webhook_url.as_deref().is_some_and(|u| !u.starts_with("https://"))
            {
                out.push("OTTSONLY_TELEGRAM_WEBHOOK_URL must be https in production".into());
            }
            if self.webhook_secret.as_ref().is_some_and(|s| {
                let s = s.expose();
                s.len() < 16 || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            }) {
                out.push(
                    "OTTSONLY_TELEGRAM_WEBHOOK_SECRET must be 16 to 256 characters of A-Z, a-z, 0-9, _ and -"
                        .into(),
                );
            }
        } else if self.webhook_url.is_some() {
            out.push("OTTSONLY_TELEGRAM_WEBHOOK_URL is set but OTTSONLY_TELEGRAM_SHOP is off".into());
        }
        // A token alone is fine when it serves the shop; admin chats always need a token.
        if (self.bot_token.is_some() && self.admin_chat_ids.is_empty() && !shop)
            || (self.bot_token.is_none() && !self.admin_chat_ids.is_empty())
        {
            out.push(
                "Telegram is half configured: set both OTTSONLY_TELEGRAM_BOT_TOKEN and OTTSONLY_TELEGRAM_ADMIN_CHAT_IDS, or neither"
                    .into(),
            );
        }
        match self.api_url() {
            Err(e) => out.push(e),
            Ok(u) if env == Environment::Production && u.scheme() != "https" => {
                out.push("OTTSONLY_TELEGRAM_API_URL must be https in production".into());
            }
            Ok(_) => {}
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(token: &str, chats: &[i64]) -> TelegramSettings {
        TelegramSettings {
            bot_token: Some(Secret::new(token)),
            admin_chat_ids: chats.to_vec(),
            ..TelegramSettings::default()
        }
    }

    #[test]
    fn setup_needs_a_token_and_chats() {
        let off = |s: TelegramSettings| match s.setup() {
            TelegramSetup::Off(why) => why,
            TelegramSetup::On(c) => panic!("expected off: {c:?}"),
        };
        assert!(off(TelegramSettings::default()).contains("OTTSONLY_TELEGRAM_BOT_TOKEN"));
        assert!(off(on("1:x", &[])).contains("OTTSONLY_TELEGRAM_ADMIN_CHAT_IDS"));
        let mut s = on("123:secret-token", &[7]);
        s.api_url = Some("http://127.0.0.1:9/tg".into());
        s.poll_interval_ms = 250;
        let TelegramSetup::On(c) = s.setup() else { panic!("expected on") };
        assert_eq!(c.admin_chat_ids, [7]);
        assert_eq!(c.api_url.as_str(), "http://127.0.0.1:9/tg");
        assert_eq!(c.poll_interval, Duration::from_millis(250));
        assert!(!format!("{c:?}").contains("secret-token"));
    }

    #[test]
    fn the_shop_needs_a_token_and_a_complete_webhook() {
        let shop = |token: Option<&str>| TelegramSettings {
            bot_token: token.map(Secret::new),
            shop: Switch::On,
            ..TelegramSettings::default()
        };
        assert!(matches!(TelegramSettings::default().shop_setup(), ShopSetup::Off(_)));
        let ShopSetup::Off(why) = shop(None).shop_setup() else { panic!("on without a token") };
        assert!(why.contains("OTTSONLY_TELEGRAM_BOT_TOKEN"), "{why}");
        assert!(matches!(shop(Some("1:x")).shop_setup(), ShopSetup::On { webhook: None, .. }));
        assert!(shop(Some("1:x")).problems(Environment::Dev).is_empty(), "a token alone serves the shop");
        let mut hook = shop(Some("1:x"));
        hook.webhook_url = Some("https://shop.example/telegram/hook".into());
        assert!(matches!(hook.shop_setup(), ShopSetup::Off(_)), "a webhook needs its secret");
        hook.webhook_secret = Some(Secret::new("short"));
        let p = hook.problems(Environment::Dev);
        assert!(p.iter().any(|p| p.contains("OTTSONLY_TELEGRAM_WEBHOOK_SECRET")), "{p:?}");
        hook.webhook_secret = Some(Secret::new("0123456789abcdef_-"));
        let ShopSetup::On { webhook: Some((url, _)), .. } = hook.shop_setup() else { panic!("webhook mode") };
        assert_eq!(url.path(), "/telegram/hook");
        assert!(hook.problems(Environment::Production).is_empty());
        hook.webhook_url = Some("http://shop.example/hook".into());
        assert!(hook.problems(Environment::Production).iter().any(|p| p.contains("https")));
        let off = TelegramSettings { webhook_url: Some("https://x".into()), ..TelegramSettings::default() };
        assert!(off.problems(Environment::Dev).iter().any(|p| p.contains("OTTSONLY_TELEGRAM_SHOP is off")));
    }

    #[test]
    fn half_set_or_insecure_settings_are_problems() {
        let dev = Environment::Dev;
        let p = on("1:x", &[]).problems(dev);
        assert!(p.iter().any(|p| p.contains("half configured")), "{p:?}");
        let p = TelegramSettings { admin_chat_ids: vec![1], ..TelegramSettings::default() }.problems(dev);
        assert!(p.iter().any(|p| p.contains("half configured")), "{p:?}");
        assert!(on("1:x", &[1]).problems(dev).is_empty());
        assert!(TelegramSettings::default().problems(dev).is_empty());
        let mut insecure = on("1:x", &[1]);
        insecure.api_url = Some("http://tg.example".into());
        let p = insecure.problems(Environment::Production);
        assert!(p.iter().any(|p| p.contains("https")), "{p:?}");
        let bad = TelegramSettings { api_url: Some("not a url".into()), ..TelegramSettings::default() };
        let p = bad.problems(dev);
        assert!(p.iter().any(|p| p.contains("OTTSONLY_TELEGRAM_API_URL")), "{p:?}");
    }
}
