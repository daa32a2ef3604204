//! The Telegram shop bot: customers log in by sharing their own phone number, browse, buy from
//! the wallet, read their subscriptions and notifications; staff see what waits for a login. A
//! second front-end over the same core as the REST API: the same users, wallet, orders and
//! rules, with no rule of its own.
//!
//! * It receives the wired core handle and [`ShopBotOptions`] (filled by the host from the
//!   `OTTSONLY_TELEGRAM_*` settings) and returns a [`ShopBot`] whose [`ShopBot::run`] takes the
//!   stop signal.
//! * Who a Telegram account is, the purchase at a confirmed price and the polling lease are
//!   core's (`Ottsonly::telegram_shop`); the Bot API transport is `adapters::telegram::bot_api`.
//! * [`callback`] is the data behind buttons, [`render`] the texts and keyboards, [`bot`] the
//!   update loop and the handlers, [`webhook`] the endpoint of webhook mode.

pub mod bot;
pub mod callback;
pub mod render;
pub mod webhook;

pub use bot::{PollReport, ShopBot, ShopBotOptions};
