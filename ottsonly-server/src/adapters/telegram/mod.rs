//! Admin alerts to Telegram: [`TelegramDispatcher`] drains core's outbox into the admin chats.
//! [`config`] says how to reach Telegram, [`render`] what an alert reads like, [`dispatch`] does the
//! sending.
//!
//! Core writes an alert in the same unit of work as its cause (a purchase that rolls back writes
//! none). The dispatcher claims due alerts with a lease, so two server instances never hold the
//! same alert at once; sends each to every configured admin chat with teloxide; marks it
//! delivered; and on failure hands it back to core, which retries it with exponential backoff and
//! parks it as failed after `outbox.max_attempts`. A 429 from the Bot API pauses all sending for
//! the `retry_after` it names, and the alert is retried after that long. Sending is paced under
//! Telegram's limits (one message per second per chat, one per three seconds per group, 30 per
//! second overall). An alert claimed by a process that died is claimed again when its lease ends,
//! so a restart loses nothing.
//!
//! [`bot_api`] holds what the shop bot front-end needs of the Bot API beyond alerts (a client,
//! pacing, 429 waits, the webhook secret check).
//!
//! Messages are plain text (no parse mode), so nothing in them needs escaping; core's
//! `AdminAlert::text` renders them with phones already masked.

pub mod bot_api;
pub mod config;
pub mod dispatch;
pub mod render;

pub use config::{ShopSetup, Switch, TELEGRAM_API_URL, TelegramConfig, TelegramSettings, TelegramSetup};
pub use dispatch::{DispatchReport, TelegramDispatcher, redact_bot_tokens};
pub use render::{MESSAGE_MAX_CHARS, render};
