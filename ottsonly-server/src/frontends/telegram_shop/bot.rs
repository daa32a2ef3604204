//! [`ShopBot`]: reads updates (long polling under core's lease, or a webhook), turns each into
//! calls on core as the linked user, and answers. It never stops on an update it does not
//! understand: every update gets a short answer or is ignored, and its offset is stored after it
//! was handled, so a restart neither loses nor replays updates (a purchase replayed after a crash
//! between the two is the same confirmation, which core answers with the first purchase).

use super::callback::Callback;
use super::render::{self, rupees};
use crate::adapters::telegram::bot_api::{self, Pacer};
use crate::common::metrics;
use ottsonly_core::model::{PageRequest, Product, SubscriptionFilter, SubscriptionStatus};
use ottsonly_core::telegram_shop::ShopPurchase;
use ottsonly_core::{Action, Actor, Error, Ottsonly};
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use teloxide::payloads::setters::*;
use teloxide::requests::{Request, Requester};
use teloxide::types::{
    AllowedUpdate, BotCommand, CallbackQuery, ChatId, InlineKeyboardMarkup, KeyboardRemove,
    MaybeInaccessibleMessage, Message, MessageId, ReplyMarkup, Update, UpdateKind,
};
use teloxide::{Bot, RequestError};
use tokio::time::Instant;
use url::Url;

use crate::common::secret::Secret;

/// How the host set the bot up.
#[derive(Clone)]
pub struct ShopBotOptions {
    pub bot_token: Secret,
    pub api_url: Url,
    /// The lease (and stored offset) name; instances of one bot share it.
    pub lease_name: String,
    /// This instance's lease owner; unique per process.
    pub owner: String,
    /// How long a lease lasts without renewal (a crashed holder's polling passes on after it).
    pub lease_ttl: Duration,
    /// `getUpdates` long-poll timeout (0 for short polling).
    pub poll_timeout: Duration,
    /// Longest one Bot API call may take (above `poll_timeout`).
    pub request_timeout: Duration,
    /// Pause between two looks at the lease while another instance holds it.
    pub standby_interval: Duration,
    /// Smallest gap between two messages to one chat, and messages per second overall.
    pub per_chat_interval: Duration,
    pub overall_per_second: u32,
    /// How many 429 answers one call waits out before giving up.
    pub max_rate_limited: u32,
    /// The server's public base URL, for checkout links (`OTTSONLY_PUBLIC_URL`).
    pub public_url: String,
    /// Whether new notifications of linked users are pushed to their chats.
    pub push_notifications: bool,
}

impl std::fmt::Debug for ShopBotOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopBotOptions")
            .field("bot_token", &self.bot_token)
            .field("api_url", &self.api_url.as_str())
            .field("lease_name", &self.lease_name)
            .field("owner", &self.owner)
            .field("lease_ttl", &self.lease_ttl)
            .field("poll_timeout", &self.poll_timeout)
            .finish_non_exhaustive()
    }
}

impl ShopBotOptions {
    /// Production defaults: 25 s long polls under a 60 s lease, Telegram's message limits.
    pub fn new(bot_token: Secret, api_url: Url) -> Self {
        ShopBotOptions {
            bot_token,
            api_url,
            lease_name: "shop".into(),
            owner: format!("shop-bot:{}", uuid::Uuid::new_v4()),
            lease_ttl: Duration::from_secs(60),
            poll_timeout: Duration::from_secs(25),
            request_timeout: Duration::from_secs(40),
            standby_interval: Duration::from_secs(5),
            per_chat_interval: Duration::from_secs(1),
            overall_per_second: 30,
            max_rate_limited: 3,
            public_url: "http://127.0.0.1:8000".into(),
            push_notifications: true,
        }
    }
}

/// What one [`ShopBot::poll_once`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollReport {
    /// Whether this instance held the lease (and polled).
    pub polled: bool,
    /// Updates handled (their offset stored).
    pub handled: usize,
    /// Set when `getUpdates` was answered 429.
    pub paused_for: Option<Duration>,
    /// Notifications pushed to linked chats.
    pub pushed: usize,
}

pub struct ShopBot {
    app: Ottsonly,
    bot: Bot,
    options: ShopBotOptions,
    pacer: Pacer,
    paused_until: Mutex<Option<Instant>>,
    stopping: AtomicBool,
}

/// Who sent an update, where.
struct From {
    user: i64,
    chat: i64,
    private: bool,
}

impl ShopBot {
    pub fn new(app: Ottsonly, options: ShopBotOptions) -> anyhow::Result<Self> {
        let bot = bot_api::client(&options.bot_token, &options.api_url, options.request_timeout)?;
        let pacer = Pacer::new(options.per_chat_interval, options.overall_per_second);
        for name in [metrics::SHOP_BOT_UPDATES, metrics::SHOP_BOT_PURCHASES, metrics::SHOP_BOT_ERRORS] {
            metrics::record_alerts(name, 0);
        }
        Ok(ShopBot {
            app,
            bot,
            options,
            pacer,
            paused_until: Mutex::new(None),
            stopping: AtomicBool::new(false),
        })
    }

    pub fn options(&self) -> &ShopBotOptions {
        &self.options
    }

    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    /// Webhook mode: tells Telegram where to post updates, with the secret it must echo.
    pub async fn set_webhook(&self, url: &Url, secret: &Secret) -> Result<(), String> {
        self.call(None, || self.bot.set_webhook(url.clone()).secret_token(secret.expose()).send())
            .await
            .map(drop)
    }

    /// Sets the command menu (`setMyCommands`).
    pub async fn set_commands(&self) -> Result<(), String> {
        let commands: Vec<BotCommand> =
            render::COMMANDS.iter().map(|(c, d)| BotCommand::new(*c, *d)).collect();
        self.call(None, || self.bot.set_my_commands(commands.clone()).send()).await.map(drop)
    }

    /// One look: takes or renews the lease, reads the updates after the stored offset, handles
    /// each and stores the offset after it.
    pub async fn poll_once(&self) -> anyhow::Result<PollReport> {
        let o = &self.options;
        let shop = self.app.telegram_shop();
        let mut report = PollReport::default();
        let Some(offset) = shop.acquire_poll_lease(&o.lease_name, &o.owner, o.lease_ttl).await? else {
            return Ok(report);
        };
        report.polled = true;
        if let Some(p) = self.paused_for() {
            report.paused_for = Some(p);
            return Ok(report);
        }
        let request = self
            .bot
            .get_updates()
            .offset(i32::try_from(offset).unwrap_or(i32::MAX))
            .timeout(u32::try_from(o.poll_timeout.as_secs()).unwrap_or(u32::MAX))
            .limit(100)
            .allowed_updates(vec![
                AllowedUpdate::Message,
                AllowedUpdate::EditedMessage,
                AllowedUpdate::CallbackQuery,
            ]);
        let updates = match request.send().await {
            Ok(u) => u,
            Err(e) => {
                if let Some(wait) = bot_api::retry_after(&e) {
                    self.pause(wait);
                    metrics::record_alerts(metrics::TELEGRAM_RATE_LIMITED, 1);
                    report.paused_for = Some(wait);
                    return Ok(report);
                }
                metrics::record_alerts(metrics::SHOP_BOT_ERRORS, 1);
                anyhow::bail!("getUpdates failed: {}", bot_api::describe(&e));
            }
        };
        for update in updates {
            if self.stopping.load(Ordering::SeqCst) {
                return Ok(report);
            }
            self.handle(&update).await;
            report.handled += 1;
            let next = i64::from(update.id.0) + 1;
            if !shop.save_offset(&o.lease_name, &o.owner, next).await? {
                tracing::warn!("the shop bot's polling lease passed to another instance mid-batch");
                return Ok(report);
            }
        }
        if o.push_notifications {
            report.pushed = self.push_once().await?;
        }
        Ok(report)
    }

    /// Pushes new notifications of linked users to their chats (the lease holder only): each is
    /// recorded for its chat before it is sent, so it goes at most once per chat even across a
    /// crash, and the cursor moves past it after.
    pub async fn push_once(&self) -> anyhow::Result<usize> {
        let o = &self.options;
        let shop = self.app.telegram_shop();
        let batch = shop.pushes(&o.lease_name, &o.owner, 100).await?;
        let mut pushed = 0;
        for (n, link) in &batch.items {
            if self.stopping.load(Ordering::SeqCst) {
                return Ok(pushed);
            }
            if shop.claim_push(&n.id, link.chat_id).await? {
                self.send(link.chat_id, format!("🔔 {}\n{}", n.title, n.message), None).await;
                pushed += 1;
            }
            shop.advance_push(&o.lease_name, &o.owner, &n.id).await?;
        }
        if let Some(to) = &batch.scanned_to {
            shop.advance_push(&o.lease_name, &o.owner, to).await?;
        }
        Ok(pushed)
    }

    /// Runs until `shutdown` resolves, then hands the lease back.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        tokio::pin!(shutdown);
        tracing::info!(owner = %self.options.owner, api = %self.options.api_url.host_str().unwrap_or(""), "telegram shop bot started");
        if let Err(e) = self.set_commands().await {
            tracing::warn!(error = %e, "could not set the bot's command menu");
        }
        // getUpdates is refused while a webhook is set (from an earlier webhook-mode run).
        if let Err(e) = self.call(None, || self.bot.delete_webhook().send()).await {
            tracing::warn!(error = %e, "could not remove the bot's webhook");
        }
        let mut failures = 0u32;
        loop {
            let pass = tokio::select! {
                r = self.poll_once() => r,
                () = &mut shutdown => break,
            };
            let wait = match pass {
                Ok(r) if !r.polled => self.options.standby_interval,
                Ok(r) => {
                    failures = 0;
                    r.paused_for.unwrap_or(Duration::ZERO)
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(error = %crate::common::error_chain(e.as_ref()), "shop bot poll failed");
                    (Duration::from_millis(500) * 2u32.saturating_pow(failures.min(6)))
                        .min(Duration::from_secs(60))
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = &mut shutdown => break,
            }
        }
        self.stop();
        let o = &self.options;
        if let Err(e) = self.app.telegram_shop().release_poll_lease(&o.lease_name, &o.owner).await {
            tracing::warn!(error = %e, "could not release the shop bot's polling lease");
        }
        tracing::info!(owner = %o.owner, "telegram shop bot stopped");
    }

    fn paused_for(&self) -> Option<Duration> {
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

    /// One Bot API call, paced for `chat` when it sends to one, waiting out 429s (bounded).
    async fn call<T, F, Fut>(&self, chat: Option<i64>, mut f: F) -> Result<T, String>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, RequestError>>,
    {
        let mut limited = 0;
        loop {
            if let Some(p) = self.paused_for() {
                tokio::time::sleep(p).await;
            }
            if let Some(chat) = chat {
                self.pacer.wait(chat).await;
            }
            match f().await {
                Ok(v) => return Ok(v),
                Err(e) => match bot_api::retry_after(&e) {
                    Some(wait) if limited < self.options.max_rate_limited => {
                        limited += 1;
                        metrics::record_alerts(metrics::TELEGRAM_RATE_LIMITED, 1);
                        tracing::warn!(wait_s = wait.as_secs(), "Telegram asked the shop bot to slow down");
                        self.pause(wait);
                    }
                    _ => {
                        metrics::record_alerts(metrics::SHOP_BOT_ERRORS, 1);
                        return Err(bot_api::describe(&e));
                    }
                },
            }
        }
    }

    async fn send(&self, chat: i64, text: impl Into<String>, markup: Option<ReplyMarkup>) {
        self.send_with(chat, text.into(), markup, false).await;
    }

    async fn send_with(&self, chat: i64, text: String, markup: Option<ReplyMarkup>, protect: bool) {
        let r = self
            .call(Some(chat), || {
                let mut req = self.bot.send_message(ChatId(chat), text.clone()).protect_content(protect);
                if let Some(m) = &markup {
                    req = req.reply_markup(m.clone());
                }
                req.send()
            })
            .await;
        if let Err(e) = r {
            tracing::warn!(chat, error = %e, "shop bot message not sent");
        }
    }

    async fn edit(&self, chat: i64, message: MessageId, text: String, markup: InlineKeyboardMarkup) {
        let r = self
            .call(Some(chat), || {
                self.bot
                    .edit_message_text(ChatId(chat), message, text.clone())
                    .reply_markup(markup.clone())
                    .send()
            })
            .await;
        if let Err(e) = r {
            tracing::warn!(chat, error = %e, "shop bot message not edited");
        }
    }

    async fn answer(&self, q: &CallbackQuery, text: Option<&str>) {
        let r = self
            .call(None, || {
                let mut req = self.bot.answer_callback_query(q.id.clone());
                if let Some(t) = text {
                    req = req.text(t);
                }
                req.send()
            })
            .await;
        if let Err(e) = r {
            tracing::debug!(error = %e, "callback query not answered");
        }
    }

    /// Handles one update (webhook or polling); never fails.
    pub async fn handle(&self, update: &Update) {
        metrics::record_alerts(metrics::SHOP_BOT_UPDATES, 1);
        match &update.kind {
            UpdateKind::Message(m) => self.on_message(m).await,
            UpdateKind::CallbackQuery(q) => self.on_callback(q).await,
            // Edited messages, and everything else, are ignored on purpose.
            _ => {}
        }
    }

    /// The linked user, or a message saying why there is none.
    async fn actor(&self, from: &From) -> Option<Actor> {
        match self.app.telegram_shop().actor(from.user).await {
            Ok(Some(a)) => Some(a),
            Ok(None) => {
                self.send(from.chat, "Please log in first: /start", None).await;
                None
            }
            Err(Error::UserBlocked) => {
                self.send(from.chat, "This account is blocked.", None).await;
                None
            }
            Err(e) => {
                self.failed(from.chat, &e).await;
                None
            }
        }
    }

    async fn failed(&self, chat: i64, e: &Error) {
        metrics::record_alerts(metrics::SHOP_BOT_ERRORS, 1);
        tracing::warn!(chat, error = %e, code = e.code(), "shop bot request failed");
        self.send(chat, "Something went wrong. Please try again in a moment.", None).await;
    }

    async fn on_message(&self, m: &Message) {
        let Some(user) = m.from.as_ref() else { return };
        let from = From { user: user.id.0 as i64, chat: m.chat.id.0, private: m.chat.is_private() };
        if let Some(contact) = m.contact() {
            if from.private {
                let owner = contact.user_id.map(|u| u.0 as i64);
                self.login(&from, owner, &contact.phone_number).await;
            }
            return;
        }
        let Some(text) = m.text() else {
            if from.private {
                self.send(from.chat, "I only understand commands. /help", None).await;
            }
            return;
        };
        let Some(command) = text.strip_prefix('/') else {
            if from.private {
                self.send(from.chat, "I only understand commands. /help", None).await;
            }
            return;
        };
        let command = command.split_whitespace().next().unwrap_or("");
        let command = command.split('@').next().unwrap_or("").to_ascii_lowercase();
        if !from.private {
            // Group chats (the admins' alert chats among them) get alerts, not the shop.
            return;
        }
        match command.as_str() {
            "start" => self.start(&from).await,
            "help" => self.send(from.chat, render::HELP, None).await,
            "logout" => match self.app.telegram_shop().logout(from.user).await {
                Ok(true) => self.send(from.chat, "Logged out. /start to log in again.", None).await,
                Ok(false) => self.send(from.chat, "You were not logged in. /start", None).await,
                Err(e) => self.failed(from.chat, &e).await,
            },
            "shop" => {
                if self.actor(&from).await.is_some() {
                    self.shop(&from, 0, None).await;
                }
            }
            "wallet" => {
                if let Some(a) = self.actor(&from).await {
                    self.wallet(&from, &a, None).await;
                }
            }
            "subscriptions" => {
                if let Some(a) = self.actor(&from).await {
                    self.subscriptions(&from, &a).await;
                }
            }
            "notifications" => {
                if let Some(a) = self.actor(&from).await {
                    self.notifications(&from, &a).await;
                }
            }
            "topup" => {
                if let Some(a) = self.actor(&from).await {
                    let arg = text.split_whitespace().nth(1).unwrap_or("");
                    match render::parse_rupees(arg) {
                        Some(amount) => self.topup(&from, &a, amount).await,
                        None => self.topup_help(&from).await,
                    }
                }
            }
            "pending" => {
                if let Some(a) = self.actor(&from).await {
                    self.pending(&from, &a).await;
                }
            }
            "stats" => {
                if let Some(a) = self.actor(&from).await {
                    self.stats(&from, &a).await;
                }
            }
            _ => self.send(from.chat, "Unknown command. /help lists what I can do.", None).await,
        }
    }

    async fn start(&self, from: &From) {
        match self.app.telegram_shop().actor(from.user).await {
            Ok(Some(_)) => self.send(from.chat, "Welcome back! /shop to browse, /help for more.", None).await,
            Err(Error::UserBlocked) => self.send(from.chat, "This account is blocked.", None).await,
            _ => {
                let text = "Welcome to OTTSONLY! Tap \"Share my phone number\" below to log in with your Telegram number.";
                self.send(from.chat, text, Some(ReplyMarkup::Keyboard(render::share_contact()))).await;
            }
        }
    }

    async fn login(&self, from: &From, contact_owner: Option<i64>, phone: &str) {
        let remove = Some(ReplyMarkup::KeyboardRemove(KeyboardRemove::default()));
        match self.app.telegram_shop().login_with_contact(from.user, from.chat, contact_owner, phone).await {
            Ok(user) => {
                let text = format!(
                    "You are logged in as {}. Your wallet and orders are the same as on the web.\n/shop to browse, /wallet for your balance.",
                    user.phone.masked()
                );
                self.send(from.chat, text, remove).await;
            }
            Err(Error::Validation { field: "contact", .. }) => {
                let text = "That is not your own number: please use the \"Share my phone number\" button. Nothing was linked.";
                self.send(from.chat, text, Some(ReplyMarkup::Keyboard(render::share_contact()))).await;
            }
            Err(Error::UserBlocked) => self.send(from.chat, "This account is blocked.", remove).await,
            Err(e @ (Error::Validation { .. } | Error::PhoneCountryNotAllowed)) => {
                self.send(from.chat, format!("This number cannot log in: {e}"), remove).await
            }
            Err(e) => self.failed(from.chat, &e).await,
        }
    }

    /// Active products, 10 per page: a new message, or the page edited in place.
    async fn shop(&self, from: &From, page: u32, edit: Option<MessageId>) {
        let want = (page as usize + 1) * render::PAGE_SIZE + 1;
        let mut products: Vec<Product> = Vec::new();
        let mut cursor = None;
        for _ in 0..50 {
            let req = PageRequest { limit: Some(200), cursor: cursor.take() };
            match self.app.catalog().list(None, false, &req).await {
                Ok(p) => {
                    products.extend(p.items);
                    cursor = p.next_cursor;
                }
                Err(e) => return self.failed(from.chat, &e).await,
            }
            if cursor.is_none() || products.len() >= want {
                break;
            }
        }
        let start = (page as usize * render::PAGE_SIZE).min(products.len());
        let end = (start + render::PAGE_SIZE).min(products.len());
        let has_next = products.len() > end;
        let (text, kb) = render::shop_page(&products[start..end], page, has_next);
        match edit {
            Some(id) => self.edit(from.chat, id, text, kb).await,
            None => self.send(from.chat, text, Some(ReplyMarkup::InlineKeyboard(kb))).await,
        }
    }

    async fn wallet(&self, from: &From, a: &Actor, edit: Option<MessageId>) {
        let w = self.app.wallet();
        let (balance, entries) = match (w.balance(a).await, w.transactions(a, &PageRequest::first(5)).await) {
            (Ok(b), Ok(e)) => (b, e.items),
            (Err(Error::Forbidden), _) | (_, Err(Error::Forbidden)) => {
                return self.send(from.chat, "Your role has no wallet.", None).await;
            }
            (Err(e), _) | (_, Err(e)) => return self.failed(from.chat, &e).await,
        };
        let text = render::wallet(balance, &entries);
        let kb = render::topup_buttons();
        match edit {
            Some(id) => self.edit(from.chat, id, text, kb).await,
            None => self.send(from.chat, text, Some(ReplyMarkup::InlineKeyboard(kb))).await,
        }
    }

    async fn topup_help(&self, from: &From) {
        let cfg = &self.app.config().wallet;
        let text = format!(
            "Send /topup AMOUNT in rupees, from {} to {}, e.g. /topup 250",
            rupees(cfg.topup_min),
            rupees(cfg.topup_max)
        );
        self.send(from.chat, text, None).await;
    }

    /// Creates the gateway order through core and sends the link to the checkout page.
    async fn topup(&self, from: &From, a: &Actor, amount: ottsonly_core::Money) {
        match self.app.wallet().create_topup(a, amount).await {
            Ok(intent) => {
                let link = crate::common::links::checkout_url(
                    &self.options.public_url,
                    &intent.topup.id,
                    &intent.checkout_token,
                );
                let text = format!(
                    "Top-up of {} ready. Pay on the checkout page; your wallet is credited when the payment is captured.",
                    rupees(amount)
                );
                let kb = match link.parse::<Url>() {
                    Ok(url) => render::keyboard(vec![vec![teloxide::types::InlineKeyboardButton::url(
                        format!("Pay {}", rupees(amount)),
                        url,
                    )]]),
                    Err(_) => render::keyboard(vec![]),
                };
                let text = format!("{text}\n{link}");
                self.send(from.chat, text, Some(ReplyMarkup::InlineKeyboard(kb))).await;
            }
            Err(Error::Validation { .. }) => self.topup_help(from).await,
            Err(Error::Forbidden) => self.send(from.chat, "Your role has no wallet.", None).await,
            Err(Error::PaymentsNotConfigured) => {
                self.send(from.chat, "Top-ups are not available right now.", None).await
            }
            Err(e @ (Error::TooManyOpenTopUps { .. } | Error::TopUpRateLimited { .. })) => {
                self.send(from.chat, format!("{e}."), None).await
            }
            Err(Error::PaymentGatewayUnavailable(_)) => {
                self.send(from.chat, "The payment gateway is not answering; please try again shortly.", None)
                    .await
            }
            Err(e) => self.failed(from.chat, &e).await,
        }
    }

    async fn subscriptions(&self, from: &From, a: &Actor) {
        match self.app.subscriptions().mine(a, None, &PageRequest::first(10)).await {
            Ok(page) => {
                let (text, kb) = render::subscriptions(&page.items);
                self.send(from.chat, text, Some(ReplyMarkup::InlineKeyboard(kb))).await;
            }
            Err(Error::Forbidden) => self.send(from.chat, "Your role has no subscriptions.", None).await,
            Err(e) => self.failed(from.chat, &e).await,
        }
    }

    async fn notifications(&self, from: &From, a: &Actor) {
        match self.app.notifications().list(a, true, &PageRequest::first(10)).await {
            Ok(page) => {
                let (text, kb) = render::notifications(&page.items);
                self.send(from.chat, text, Some(ReplyMarkup::InlineKeyboard(kb))).await;
            }
            Err(e) => self.failed(from.chat, &e).await,
        }
    }

    /// Staff: subscriptions waiting for a login (read-only; core refuses customers).
    async fn pending(&self, from: &From, a: &Actor) {
        let filter =
            SubscriptionFilter { status: Some(SubscriptionStatus::PendingCredentials), ..Default::default() };
        match self.app.subscriptions().list(a, &filter, &PageRequest::first(10)).await {
            Ok(page) if page.items.is_empty() => {
                self.send(from.chat, "No subscription is waiting for a login.", None).await
            }
            Ok(page) => {
                let mut text = String::from("Waiting for a login:");
                let mut rows = Vec::new();
                for s in &page.items {
                    text.push_str(&format!(
                        "\n• {} {} – ordered {} (subscription {})",
                        s.platform_name,
                        s.plan_name,
                        render::date(s.created_at),
                        s.id
                    ));
                    // Support reads; only admins may assign (core checks it again).
                    let pooled =
                        self.app.catalog().available_credentials(a, &s.product_id).await.is_ok_and(|n| n > 0);
                    if a.require(Action::AssignCredentials).is_ok() && pooled {
                        rows.push(vec![render::button(
                            format!("Assign next login: {} {}", s.platform_name, s.plan_name),
                            &Callback::Assign(s.id.clone()),
                        )]);
                    }
                }
                self.send(from.chat, text, Some(ReplyMarkup::InlineKeyboard(render::keyboard(rows)))).await;
            }
            Err(Error::Forbidden) => self.send(from.chat, "This command is for staff.", None).await,
            Err(e) => self.failed(from.chat, &e).await,
        }
    }

    /// Staff: today's figures (since midnight UTC) from the store's aggregation. Amounts are for
    /// admins, who handle money; support reads the counts.
    async fn stats(&self, from: &From, a: &Actor) {
        let now = self.app.now();
        let midnight = now.date_naive().and_hms_opt(0, 0, 0).map_or(now, |t| t.and_utc());
        match self.app.stats().shop(a, midnight, now + chrono::TimeDelta::seconds(1)).await {
            Ok(s) => {
                let amounts = a.require(Action::WalletAdmin).is_ok();
                self.send(from.chat, render::stats(&s, amounts), None).await
            }
            Err(Error::Forbidden) => self.send(from.chat, "This command is for staff.", None).await,
            Err(e) => self.failed(from.chat, &e).await,
        }
    }

    async fn on_callback(&self, q: &CallbackQuery) {
        let user = q.from.id.0 as i64;
        let Some(message) = q.message.as_ref() else {
            return self.answer(q, Some("This button has expired.")).await;
        };
        let (chat, message_id) = (message.chat().id.0, message.id());
        if matches!(message, MaybeInaccessibleMessage::Inaccessible(_)) {
            return self.answer(q, Some("This button has expired.")).await;
        }
        // In a private chat the chat is the user: a button of another chat is not theirs.
        if !message.chat().is_private() || chat != user {
            return self.answer(q, Some("This button is not for you.")).await;
        }
        let Some(cb) = q.data.as_deref().and_then(Callback::parse) else {
            return self.answer(q, Some("This button is no longer valid.")).await;
        };
        let from = From { user, chat, private: true };
        let Some(actor) = self.actor(&from).await else {
            return self.answer(q, None).await;
        };
        self.answer(q, None).await;
        match cb {
            Callback::Shop(page) => self.shop(&from, page, Some(message_id)).await,
            Callback::View(id) => match self.app.catalog().get(Some(&actor), &id).await {
                Ok(p) => {
                    let (text, kb) = render::product_details(&p);
                    self.edit(chat, message_id, text, kb).await;
                }
                Err(Error::NotFound { .. }) => {
                    self.send(chat, "This product is no longer on sale.", None).await
                }
                Err(e) => self.failed(chat, &e).await,
            },
            Callback::Buy(id, price) => self.ask_to_confirm(&from, &actor, &id, price).await,
            Callback::Confirm(id, price) => self.confirm(&from, &actor, message_id, &id, price).await,
            Callback::Cancel => {
                self.edit(
                    chat,
                    message_id,
                    "Cancelled. Nothing was charged.".into(),
                    render::keyboard(vec![]),
                )
                .await
            }
            Callback::Wallet => self.wallet(&from, &actor, None).await,
            Callback::ShowLogin(id) => self.show_login(&from, &actor, &id).await,
            Callback::ReadAll => match self.app.notifications().mark_all_read(&actor).await {
                Ok(n) => {
                    self.edit(
                        chat,
                        message_id,
                        format!("Marked {n} notification(s) read."),
                        render::keyboard(vec![]),
                    )
                    .await
                }
                Err(e) => self.failed(chat, &e).await,
            },
            Callback::Assign(id) => match self.app.subscriptions().assign_from_pool(&actor, &id).await {
                Ok(Some(sub)) => {
                    let text = format!(
                        "Assigned: {} {} is {}.",
                        sub.platform_name,
                        sub.plan_name,
                        render::status(&sub)
                    );
                    self.edit(chat, message_id, text, render::keyboard(vec![])).await
                }
                Ok(None) => self.send(chat, "No pooled login is left for this product.", None).await,
                Err(Error::InvalidState(why)) => self.send(chat, format!("Not assigned: {why}."), None).await,
                Err(Error::Forbidden) => self.send(chat, "Only admins assign logins.", None).await,
                Err(e) => self.failed(chat, &e).await,
            },
            Callback::TopUp(amount) => self.topup(&from, &actor, amount).await,
            Callback::TopUpOther => self.topup_help(&from).await,
        }
    }

    /// "Buy for ₹X": a new message with "Confirm", whose id keys the purchase.
    async fn ask_to_confirm(
        &self,
        from: &From,
        actor: &Actor,
        id: &ottsonly_core::ProductId,
        price: ottsonly_core::Money,
    ) {
        if actor.require(Action::CreateOrder).is_err() {
            return self.send(from.chat, "Your role may not buy.", None).await;
        }
        let product = match self.app.catalog().get(Some(actor), id).await {
            Ok(p) => p,
            Err(Error::NotFound { .. }) => {
                return self.send(from.chat, "This product is no longer on sale.", None).await;
            }
            Err(e) => return self.failed(from.chat, &e).await,
        };
        if product.price != price {
            let (text, kb) = render::product_details(&product);
            let text = format!("The price changed since this button was shown.\n\n{text}");
            return self.send(from.chat, text, Some(ReplyMarkup::InlineKeyboard(kb))).await;
        }
        let balance = match self.app.wallet().balance(actor).await {
            Ok(b) => b,
            Err(e) => return self.failed(from.chat, &e).await,
        };
        let (text, kb) = render::confirmation(&product, balance);
        self.send(from.chat, text, Some(ReplyMarkup::InlineKeyboard(kb))).await;
    }

    async fn confirm(
        &self,
        from: &From,
        actor: &Actor,
        message: MessageId,
        id: &ottsonly_core::ProductId,
        price: ottsonly_core::Money,
    ) {
        // The confirmation message is the purchase: tapping it twice, or the same update
        // delivered again, buys once.
        let key = format!("tg:{}:{}", from.chat, message.0);
        let none = render::keyboard(vec![]);
        let outcome = self.app.telegram_shop().purchase_at(actor, id, price, &key).await;
        let (text, kb) = match outcome {
            Ok(ShopPurchase::Bought(p)) => {
                if !p.replayed {
                    metrics::record_alerts(metrics::SHOP_BOT_PURCHASES, 1);
                    metrics::record_purchase(p.order.amount.paise());
                }
                let text = format!(
                    "Order {} confirmed: {} for {}.\nSubscription: {}.",
                    p.order.id,
                    p.order.product_name,
                    rupees(p.order.amount),
                    render::status(&p.subscription)
                );
                (text, none)
            }
            Ok(ShopPurchase::PriceChanged { product }) => {
                let text = format!(
                    "The price of {} changed to {} since this button was shown. Nothing was charged.",
                    product.display_name(),
                    rupees(product.price)
                );
                let kb = render::keyboard(vec![vec![render::button(
                    format!("Buy for {}", rupees(product.price)),
                    &Callback::Buy(product.id.clone(), product.price),
                )]]);
                (text, kb)
            }
            Err(Error::OutOfStock) => ("Sold out, sorry. Nothing was charged.".into(), none),
            Err(Error::InsufficientBalance) => {
                let balance = self.app.wallet().balance(actor).await.map(rupees).unwrap_or_default();
                let text =
                    format!("Your balance {balance} is too low for {}. Nothing was charged.", rupees(price));
                (text, render::keyboard(vec![vec![render::button("Top up", &Callback::Wallet)]]))
            }
            Err(Error::ProductInactive | Error::NotFound { .. }) => {
                ("This product is no longer on sale. Nothing was charged.".into(), none)
            }
            Err(Error::Forbidden) => ("Your role may not buy.".into(), none),
            Err(Error::UserBlocked) => ("This account is blocked.".into(), none),
            Err(e) => return self.failed(from.chat, &e).await,
        };
        self.edit(from.chat, message, text, kb).await;
    }

    /// The login of the user's own subscription, protected from forwarding and saving.
    async fn show_login(&self, from: &From, actor: &Actor, id: &ottsonly_core::SubscriptionId) {
        let view = match self.app.subscriptions().get(actor, id).await {
            Ok(v) if v.subscription.user_id == actor.user_id => v,
            Ok(_) | Err(Error::NotFound { .. }) => {
                return self.send(from.chat, "Subscription not found.", None).await;
            }
            Err(e) => return self.failed(from.chat, &e).await,
        };
        let Some(c) = view.credentials else {
            return self
                .send(from.chat, "The login is not ready yet; you will be told when it is.", None)
                .await;
        };
        let s = &view.subscription;
        let mut text = format!(
            "Login for {} {}\nUsername: {}\nPassword: {}",
            s.platform_name, s.plan_name, c.username, c.password
        );
        if let Some(p) = &c.profile {
            text.push_str(&format!("\nProfile: {p}"));
        }
        if let Some(p) = &c.pin {
            text.push_str(&format!("\nPIN: {p}"));
        }
        if let Some(n) = &c.notes {
            text.push_str(&format!("\nNotes: {n}"));
        }
        self.send_with(from.chat, text, None, true).await;
    }
}
