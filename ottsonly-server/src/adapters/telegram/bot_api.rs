//! What a front-end that talks with Telegram users needs of the Bot API beyond sending alerts:
//! a client with bounded timeouts, the pacing of outgoing messages (per chat and overall, as
//! for alerts), reading a 429's `retry_after`, error text without the token, and the webhook's
//! secret-token check.

use super::dispatch::redact_bot_tokens;
use crate::common::error_chain;
use crate::common::secret::Secret;
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use reqwest012 as reqwest;
use std::num::NonZeroU32;
use std::time::Duration;
use teloxide::{Bot, RequestError};
use url::Url;

/// The header Telegram sends with every webhook call when `setWebhook` was given a secret.
pub const WEBHOOK_SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// A teloxide bot on `api_url` whose every call ends within `timeout`.
pub fn client(token: &Secret, api_url: &Url, timeout: Duration) -> anyhow::Result<Bot> {
    let client = reqwest::Client::builder()
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .timeout(timeout)
        .tcp_nodelay(true)
        .build()
        .map_err(|e| anyhow::anyhow!("cannot build the Telegram HTTP client: {e}"))?;
    Ok(Bot::with_client(token.expose(), client).set_api_url(api_url.clone()))
}

/// How long a 429 asks to wait (at least a second).
pub fn retry_after(e: &RequestError) -> Option<Duration> {
    match e {
        RequestError::RetryAfter(s) => Some(Duration::from_secs(u64::from(s.seconds().max(1)))),
        _ => None,
    }
}

/// A Bot API error as text that can be logged: no token, bounded length.
pub fn describe(e: &RequestError) -> String {
    let text = match e {
        RequestError::Network(net) => format!("Telegram network error: {}", error_chain(net.as_ref())),
        RequestError::InvalidJson { .. } => {
            "Telegram answered with something that is not Bot API JSON".into()
        }
        other => format!("Telegram error: {other}"),
    };
    redact_bot_tokens(&text).chars().take(500).collect()
}

/// Whether a webhook call carries the configured secret (compared in constant time).
pub fn webhook_secret_ok(expected: &Secret, got: Option<&str>) -> bool {
    got.is_some_and(|g| ottsonly_core::crypto::ct_eq(expected.expose(), g))
}

/// Paces outgoing messages: one per `per_chat` to each chat, `overall_per_second` in all.
pub struct Pacer {
    overall: DefaultDirectRateLimiter,
    per_chat: DefaultKeyedRateLimiter<i64>,
}

impl Pacer {
    pub fn new(per_chat: Duration, overall_per_second: u32) -> Self {
        let overall = Quota::per_second(NonZeroU32::new(overall_per_second.max(1)).expect("≥ 1"));
        let per_chat = Quota::with_period(per_chat.max(Duration::from_micros(1))).expect("positive period");
        Pacer { overall: RateLimiter::direct(overall), per_chat: RateLimiter::keyed(per_chat) }
    }

    /// Waits until a message to `chat` may go.
    pub async fn wait(&self, chat: i64) {
        self.per_chat.until_key_ready(&chat).await;
        self.overall.until_ready().await;
        // Keyed limiters keep a state per chat ever seen; drop the idle ones now and then.
        if self.per_chat.len() > 10_000 {
            self.per_chat.retain_recent();
        }
    }
}
