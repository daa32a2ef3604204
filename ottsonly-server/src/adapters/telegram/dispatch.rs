//! [`TelegramDispatcher`]: drains core's outbox into the admin chats (see [`super`] for
//! leases, retries and pacing).
//!
//! The bot token is a secret: it is part of every Bot API URL, and teloxide's network errors
//! quote the URL, so every error is passed through [`TelegramDispatcher::sanitize`] before it is
//! logged or stored as the alert's `last_error`.

use super::config::TelegramConfig;
use super::render::render;
use crate::common::{error_chain, metrics};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use ottsonly_core::Ottsonly;
use ottsonly_core::model::OutboxStatus;
use ottsonly_core::outbox::ClaimedAlert;
use reqwest012 as reqwest;
use std::collections::HashMap;
use std::future::Future;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use teloxide::requests::{Request, Requester};
use teloxide::types::ChatId;
use teloxide::{ApiError, Bot, RequestError};
use tokio::time::Instant;

/// Partially delivered alerts remembered per dispatcher (see [`TelegramDispatcher`]).
const MEMO_MAX: usize = 10_000;

/// What one [`TelegramDispatcher::run_once`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DispatchReport {
    /// Alerts leased to this dispatcher.
    pub claimed: usize,
    /// Sent to every admin chat and marked delivered.
    pub delivered: usize,
    /// Failed and left for a later attempt (backoff, or the 429's `retry_after`).
    pub retried: usize,
    /// Failed for the last allowed time (or undecodable): parked as failed.
    pub parked: usize,
    /// Claimed but not tried (pause, shutdown, lease running out): handed back, due again.
    pub released: usize,
    /// Sent, but the lease had passed to another owner before it could be marked delivered.
    pub lease_lost: usize,
    /// Set when Telegram asked to wait (429): no message is sent before it has passed.
    pub paused_for: Option<Duration>,
}

/// Why a message did not go out.
enum SendFailure {
    /// 429: wait this long before sending anything.
    RateLimited(Duration),
    /// Telegram unreachable, slow or failing: the rest of the batch would fail the same way.
    Transport(String),
    /// Telegram refused this message (a chat-specific error): other alerts may still go.
    Rejected(String),
}

/// Drains the outbox into the admin chats. See the module documentation.
///
/// An alert sent to some chats but not all is retried for the remaining chats only, as long as the
/// same dispatcher retries it; after a restart every chat gets it again.
pub struct TelegramDispatcher {
    app: Ottsonly,
    bot: Bot,
    config: TelegramConfig,
    overall: DefaultDirectRateLimiter,
    per_chat: HashMap<i64, DefaultDirectRateLimiter>,
    paused_until: Mutex<Option<Instant>>,
    /// Alert id → chats it already reached.
    sent_to: Mutex<HashMap<String, Vec<i64>>>,
    stopping: AtomicBool,
}

impl TelegramDispatcher {
    pub fn new(app: Ottsonly, config: TelegramConfig) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .connect_timeout(config.request_timeout.min(Duration::from_secs(5)))
            .timeout(config.request_timeout)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| anyhow::anyhow!("cannot build the Telegram HTTP client: {e}"))?;
        let bot = Bot::with_client(config.bot_token.expose(), client).set_api_url(config.api_url.clone());
        let overall = RateLimiter::direct(Quota::per_second(
            NonZeroU32::new(config.overall_per_second.max(1)).expect("≥ 1"),
        ));
        let per_chat = config
            .admin_chat_ids
            .iter()
            .map(|&chat| {
                let gap = Self::gap(&config, chat).max(Duration::from_micros(1));
                let quota = Quota::with_period(gap).expect("positive period");
                (chat, RateLimiter::direct(quota))
            })
            .collect();
        // Present in /metrics from the start, at 0.
        for name in [metrics::ALERTS_DELIVERED, metrics::ALERTS_RETRIED, metrics::ALERTS_PARKED] {
            metrics::record_alerts(name, 0);
        }
        Ok(TelegramDispatcher {
            app,
            bot,
            config,
            overall,
            per_chat,
            paused_until: Mutex::new(None),
            sent_to: Mutex::new(HashMap::new()),
            stopping: AtomicBool::new(false),
        })
    }

    pub fn config(&self) -> &TelegramConfig {
        &self.config
    }

    fn gap(config: &TelegramConfig, chat: i64) -> Duration {
        if chat < 0 { config.per_group_interval } else { config.per_chat_interval }
    }

    /// Asks a running [`TelegramDispatcher::run`] to stop after the message in flight.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    /// Time left in a 429 pause.
    pub fn paused_for(&self) -> Option<Duration> {
        let until = (*self.paused_until.lock().unwrap_or_else(|e| e.into_inner()))?;
        until.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())
    }

    fn pause(&self, d: Duration) {
        let until = Instant::now() + d;
        let mut p = self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        if p.is_none_or(|old| old < until) {
            *p = Some(until);
        }
    }

    /// How many alerts fit in one lease: sending paces at the slowest chat's gap per alert, and
    /// all of it must finish well before the lease ends or another instance could claim (and
    /// send) an alert a second time.
    fn batch_limit(&self, lease: Duration) -> u32 {
        let chats = self.config.admin_chat_ids.len().max(1) as u32;
        let slowest =
            self.config.admin_chat_ids.iter().map(|&c| Self::gap(&self.config, c)).max().unwrap_or_default();
        let overall = Duration::from_secs(1) * chats / self.config.overall_per_second.max(1);
        let per_alert = slowest.max(overall).max(Duration::from_millis(1));
        let usable = lease.saturating_sub(self.margin(lease));
        let fits = (usable.as_millis() / per_alert.as_millis().max(1)).min(u128::from(u32::MAX)) as u32;
        fits.clamp(1, self.config.batch_size.max(1))
    }

    /// Time kept free at the end of a lease for the last call to finish.
    fn margin(&self, lease: Duration) -> Duration {
        self.config.request_timeout.min(lease / 2)
    }

    /// Removes the bot token (and anything shaped like a Bot API path with a token) from text
    /// that is about to be logged or stored, and bounds its length.
    pub fn sanitize(&self, text: &str) -> String {
        let token = self.config.bot_token.expose();
        let text = if token.is_empty() { text.to_string() } else { text.replace(token, "<token>") };
        redact_bot_tokens(&text).chars().take(400).collect()
    }

    /// One pass: claims up to one batch of due alerts and sends them. Does nothing during a 429
    /// pause or after [`TelegramDispatcher::stop`]. Errors are the store's; sending failures are
    /// recorded on the alerts.
    pub async fn run_once(&self) -> ottsonly_core::Result<DispatchReport> {
        let mut report = DispatchReport::default();
        if self.stopping.load(Ordering::SeqCst) {
            return Ok(report);
        }
        if let Some(p) = self.paused_for() {
            report.paused_for = Some(p);
            return Ok(report);
        }
        let lease = self.app.config().outbox.lease;
        let started = Instant::now();
        let deadline = started + lease.saturating_sub(self.margin(lease));
        let owner = self.config.owner.as_str();
        let claimed = self.app.outbox().claim(owner, self.batch_limit(lease)).await?;
        report.claimed = claimed.len();
        let mut items = claimed.into_iter();
        while let Some(item) = items.next() {
            let why_not = if self.stopping.load(Ordering::SeqCst) {
                Some(("not sent: the dispatcher is stopping".to_string(), Some(Duration::ZERO)))
            } else if Instant::now() >= deadline {
                Some(("not sent: the lease ran out before its turn".to_string(), Some(Duration::ZERO)))
            } else {
                self.paused_for()
                    .map(|p| (format!("not sent: Telegram asked to wait {} s", p.as_secs()), Some(p)))
            };
            if let Some((why, after)) = why_not {
                self.release(std::iter::once(item).chain(items), &why, after, &mut report).await?;
                break;
            }
            let Some(alert) = &item.alert else {
                self.fail(&item, "the stored alert cannot be decoded", None, &mut report).await?;
                continue;
            };
            match self.send_to_all(&item, &render(alert)).await {
                Ok(()) => {
                    self.forget(&item);
                    if self.app.outbox().delivered(owner, &item.id).await? {
                        report.delivered += 1;
                        metrics::record_alerts(metrics::ALERTS_DELIVERED, 1);
                    } else {
                        report.lease_lost += 1;
                        tracing::warn!(alert = %item.id, "alert sent after its lease passed to another dispatcher");
                    }
                }
                Err(SendFailure::RateLimited(wait)) => {
                    self.pause(wait);
                    report.paused_for = Some(wait);
                    metrics::record_alerts(metrics::TELEGRAM_RATE_LIMITED, 1);
                    let why = format!("Telegram rate limit (429): retry after {} s", wait.as_secs());
                    tracing::warn!(alert = %item.id, wait_s = wait.as_secs(), "Telegram asked to slow down; pausing");
                    self.fail(&item, &why, Some(wait), &mut report).await?;
                    self.release(items, &format!("not sent: {why}"), Some(wait), &mut report).await?;
                    break;
                }
                Err(SendFailure::Transport(why)) => {
                    tracing::warn!(alert = %item.id, error = %why, "Telegram unreachable; alert will be retried");
                    self.fail(&item, &why, None, &mut report).await?;
                    // The rest would fail the same way: each takes its own backoff.
                    let why = format!("not sent: {why}");
                    self.release(items, &why, None, &mut report).await?;
                    break;
                }
                Err(SendFailure::Rejected(why)) => {
                    tracing::warn!(alert = %item.id, error = %why, "Telegram refused an alert; it will be retried");
                    self.fail(&item, &why, None, &mut report).await?;
                }
            }
        }
        Ok(report)
    }

    /// Sends to each admin chat the alert has not reached yet.
    async fn send_to_all(&self, item: &ClaimedAlert, text: &str) -> Result<(), SendFailure> {
        let key = item.id.as_str().to_string();
        let done =
            self.sent_to.lock().unwrap_or_else(|e| e.into_inner()).get(&key).cloned().unwrap_or_default();
        for &chat in &self.config.admin_chat_ids {
            if done.contains(&chat) {
                continue;
            }
            self.send_one(chat, text).await?;
            let mut memo = self.sent_to.lock().unwrap_or_else(|e| e.into_inner());
            if memo.len() >= MEMO_MAX {
                memo.clear();
            }
            memo.entry(key.clone()).or_default().push(chat);
        }
        Ok(())
    }

    fn forget(&self, item: &ClaimedAlert) {
        self.sent_to.lock().unwrap_or_else(|e| e.into_inner()).remove(item.id.as_str());
    }

    async fn send_one(&self, chat: i64, text: &str) -> Result<(), SendFailure> {
        self.overall.until_ready().await;
        if let Some(limiter) = self.per_chat.get(&chat) {
            limiter.until_ready().await;
        }
        let timeout = self.config.request_timeout;
        let call = self.bot.send_message(ChatId(chat), text.to_string()).send();
        match tokio::time::timeout(timeout, call).await {
            Ok(Ok(_message)) => Ok(()),
            Ok(Err(e)) => Err(self.classify(chat, &e)),
            Err(_) => Err(SendFailure::Transport(format!(
                "Telegram did not answer within {} ms",
                timeout.as_millis()
            ))),
        }
    }

    fn classify(&self, chat: i64, e: &RequestError) -> SendFailure {
        match e {
            RequestError::RetryAfter(s) => {
                SendFailure::RateLimited(Duration::from_secs(u64::from(s.seconds().max(1))))
            }
            RequestError::MigrateToChatId(to) => SendFailure::Rejected(format!(
                "chat {chat} became supergroup {}: update OTTSONLY_TELEGRAM_ADMIN_CHAT_IDS",
                to.0
            )),
            // A wrong token (or API URL) fails every chat alike: stop the batch, log it loudly.
            RequestError::Api(ApiError::InvalidToken) => SendFailure::Transport(
                "Telegram rejected the bot token (check OTTSONLY_TELEGRAM_BOT_TOKEN and OTTSONLY_TELEGRAM_API_URL)"
                    .into(),
            ),
            RequestError::Api(ApiError::Unknown(desc)) => {
                SendFailure::Transport(self.sanitize(&format!("Telegram error: {desc}")))
            }
            RequestError::Api(api) => {
                SendFailure::Rejected(self.sanitize(&format!("Telegram refused chat {chat}: {api}")))
            }
            RequestError::Network(net) if net.is_timeout() => SendFailure::Transport(format!(
                "Telegram did not answer within {} ms",
                self.config.request_timeout.as_millis()
            )),
            RequestError::Network(net) => {
                SendFailure::Transport(self.sanitize(&format!(
                    "Telegram network error: {}",
                    error_chain(net.as_ref())
                )))
            }
            // Not the Bot API's JSON (a proxy's error page, a 5xx): the raw body is not kept.
            RequestError::InvalidJson { .. } => {
                SendFailure::Transport("Telegram answered with something that is not Bot API JSON".into())
            }
            RequestError::Io(io) => SendFailure::Transport(self.sanitize(&format!("I/O error: {io}"))),
        }
    }

    /// Records a failed attempt with core (which retries or parks it).
    async fn fail(
        &self,
        item: &ClaimedAlert,
        why: &str,
        retry_after: Option<Duration>,
        report: &mut DispatchReport,
    ) -> ottsonly_core::Result<()> {
        let why = self.sanitize(why);
        match self.app.outbox().failed(&self.config.owner, item, &why, retry_after).await? {
            OutboxStatus::Failed => {
                self.forget(item);
                report.parked += 1;
                metrics::record_alerts(metrics::ALERTS_PARKED, 1);
                tracing::error!(alert = %item.id, attempts = item.attempts, error = %why, "alert parked as failed after its last attempt");
            }
            _ => {
                report.retried += 1;
                metrics::record_alerts(metrics::ALERTS_RETRIED, 1);
            }
        }
        Ok(())
    }

    /// Hands back claimed alerts that were not tried, due after `after` (or their backoff). An
    /// alert on its last attempt keeps its lease instead, so that handing it back does not park
    /// it untried; it is claimed again when the lease ends.
    async fn release(
        &self,
        items: impl Iterator<Item = ClaimedAlert>,
        why: &str,
        after: Option<Duration>,
        report: &mut DispatchReport,
    ) -> ottsonly_core::Result<()> {
        let max = self.app.config().outbox.max_attempts;
        for item in items {
            if item.attempts >= max || item.alert.is_none() {
                continue;
            }
            let why = self.sanitize(why);
            if self.app.outbox().failed(&self.config.owner, &item, &why, after).await? == OutboxStatus::Failed
            {
                report.parked += 1;
                metrics::record_alerts(metrics::ALERTS_PARKED, 1);
            } else {
                report.released += 1;
            }
        }
        Ok(())
    }

    /// Runs until `shutdown` resolves: a pass, then a pause (none while a full batch was just
    /// sent, the poll interval when the outbox was drained, the 429 wait when paused, a growing
    /// wait while the store fails). At shutdown the message in flight is finished and the alerts
    /// not tried are handed back.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        tokio::pin!(shutdown);
        tracing::info!(
            owner = %self.config.owner,
            chats = self.config.admin_chat_ids.len(),
            api = %self.config.api_url.host_str().unwrap_or(""),
            "telegram alert dispatcher started"
        );
        let mut store_failures = 0u32;
        loop {
            let pass = self.run_once();
            tokio::pin!(pass);
            let result = tokio::select! {
                r = &mut pass => Some(r),
                () = &mut shutdown => None,
            };
            let result = match result {
                Some(r) => r,
                None => {
                    self.stop();
                    if let Err(e) = pass.await {
                        tracing::warn!(error = %error_chain(&e), "alert dispatch pass failed at shutdown");
                    }
                    break;
                }
            };
            let wait = match result {
                Ok(r) => {
                    store_failures = 0;
                    if let Some(p) = r.paused_for {
                        p
                    } else if r.claimed > 0 && r.released == 0 && r.retried == 0 {
                        // More may be due right away.
                        Duration::ZERO
                    } else {
                        self.config.poll_interval
                    }
                }
                Err(e) => {
                    store_failures = store_failures.saturating_add(1);
                    tracing::warn!(error = %error_chain(&e), "alert dispatch pass failed");
                    (self.config.poll_interval * 2u32.saturating_pow(store_failures.min(5)))
                        .min(Duration::from_secs(60))
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = &mut shutdown => {
                    self.stop();
                    break;
                }
            }
        }
        tracing::info!(owner = %self.config.owner, "telegram alert dispatcher stopped");
    }
}

/// Replaces `bot<digits>:<token chars>` with `bot<token>`, whatever the token.
pub fn redact_bot_tokens(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i + 3 < b.len() {
        if &b[i..i + 3] == b"bot" {
            let mut j = i + 3;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            if j > i + 3 && j < b.len() && b[j] == b':' {
                let mut k = j + 1;
                while k < b.len() && (b[k].is_ascii_alphanumeric() || b[k] == b'_' || b[k] == b'-') {
                    k += 1;
                }
                if k > j + 1 {
                    out.push_str(&text[copied..i]);
                    out.push_str("bot<token>");
                    copied = k;
                    i = k;
                    continue;
                }
            }
        }
        i += 1;
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_redacted_from_error_text() {
        let s =
            "error sending request for url (http://127.0.0.1:9/tg/bot123456:AAF7-g0g_x/SendMessage): refused";
        assert_eq!(
            redact_bot_tokens(s),
            "error sending request for url (http://127.0.0.1:9/tg/bot<token>/SendMessage): refused"
        );
        assert_eq!(redact_bot_tokens("robot 12: bot: bot1 bot2:"), "robot 12: bot: bot1 bot2:");
        assert_eq!(redact_bot_tokens("bot1:a"), "bot<token>");
    }
}
