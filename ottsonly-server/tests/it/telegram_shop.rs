//! The Telegram shop bot against a loopback fake Bot API ([`FakeBotApi`]), over the real core
//! on both backends: the server's test app (REST for the admin's side), the real `ShopBot` and
//! teloxide. Each test drives the bot pass by pass (`poll_once`), so nothing waits on timing
//! except the 429 test, which must wait the `retry_after` it asserts.

use crate::fake_bot::FakeBotApi;
use crate::support::{ADMIN, OTHER, TestApp, USER, VICTIM};
use ottsonly_core::catalog::ProductPatch;
use ottsonly_core::model::PageRequest;
use ottsonly_core::{Actor, Money, ProductId, Role, UserId};
use ottsonly_server::Secret;
use ottsonly_server::frontends::telegram_shop::{PollReport, ShopBot, ShopBotOptions};
use serde_json::json;
use std::time::{Duration, Instant};

const TOKEN: &str = "777000:SHOP-secret_token";
/// Telegram user ids (and private chat ids) of the customers.
const ALICE: i64 = 5001;
const BOB: i64 = 5002;

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Mongo,
}

/// The server's test app on the backend, with a guard that keeps its database.
struct Scene {
    t: TestApp,
    tg: FakeBotApi,
    admin: String,
    _guard: Option<Box<dyn std::any::Any + Send + Sync>>,
}

async fn scene(backend: Backend) -> Option<Scene> {
    let (t, guard) = match backend {
        Backend::Sqlite => (TestApp::builder().gateway().build().await, None),
        Backend::Mongo => {
            let uri = crate::mongo::server_uri()?;
            let (store, guard) = crate::mongo::fresh_store(&uri).await;
            let g: Box<dyn std::any::Any + Send + Sync> = Box::new(guard);
            (TestApp::builder().gateway().store(store).build().await, Some(g))
        }
    };
    let admin = t.token(ADMIN, Role::Admin).await;
    Some(Scene { t, tg: FakeBotApi::start(TOKEN), admin, _guard: guard })
}

impl Scene {
    fn options(&self, owner: &str) -> ShopBotOptions {
        let mut o = ShopBotOptions::new(Secret::new(TOKEN), self.tg.api_url().parse().expect("url"));
        o.owner = owner.into();
        o.poll_timeout = Duration::ZERO;
        o.request_timeout = Duration::from_secs(5);
        o.per_chat_interval = Duration::from_millis(1);
        o.overall_per_second = 1_000;
        // Only the push test reads pushed notifications; the others read the answers.
        o.push_notifications = false;
        o
    }

    fn bot(&self, owner: &str) -> ShopBot {
        ShopBot::new(self.t.app.clone(), self.options(owner)).expect("bot")
    }

    async fn user_of(&self, tg: i64) -> Option<Actor> {
        self.t.app.telegram_shop().actor(tg).await.expect("actor")
    }

    /// Logs a Telegram user in with their own number.
    async fn login(&self, bot: &ShopBot, tg: i64, phone: &str) -> Actor {
        self.tg.text(tg, "/start");
        self.tg.contact(tg, Some(tg), phone.trim_start_matches('+'));
        pass(bot).await;
        self.user_of(tg).await.expect("linked")
    }

    async fn fund(&self, user: &UserId, paise: i64) {
        self.t.fund(&self.admin, user.as_str(), paise).await;
    }

    /// An active product with `pool` logins (that much stock) and `stock` more without.
    async fn product(&self, price: i64, stock: i64, pool: usize) -> ProductId {
        ProductId::from_string(self.t.product(&self.admin, price, stock, pool).await)
    }

    async fn balance(&self, a: &Actor) -> i64 {
        self.t.app.wallet().balance(a).await.expect("balance").paise()
    }

    async fn orders(&self, a: &Actor) -> usize {
        self.t.app.orders().mine(a, &PageRequest::first(50)).await.expect("orders").items.len()
    }

    async fn set_price(&self, id: &ProductId, paise: i64) {
        let system = Actor::system(self.t.app.now());
        let patch =
            ProductPatch { price: Some(Money::from_paise(paise).unwrap()), ..ProductPatch::default() };
        self.t.app.catalog().update(&system, id, patch).await.expect("price change");
    }

    /// /shop, then the product's button, then "Buy for …": the confirmation message.
    async fn to_confirmation(&self, bot: &ShopBot, tg: i64, label: &str) -> (i64, String) {
        self.tg.text(tg, "/shop");
        pass(bot).await;
        let (list, view) = self.tg.button(tg, label);
        self.tg.tap(tg, list, &view);
        pass(bot).await;
        let (details, buy) = self.tg.button(tg, "Buy for");
        self.tg.tap(tg, details, &buy);
        pass(bot).await;
        self.tg.button(tg, "Confirm")
    }
}

/// One pass that must have held the lease.
async fn pass(bot: &ShopBot) -> PollReport {
    let r = bot.poll_once().await.expect("poll");
    assert!(r.polled, "the bot did not hold the lease: {r:?}");
    r
}

/// The whole flow: /start → share own contact → /shop → product → buy → confirm → the
/// subscription is shown → "Show login" sends the credentials, protected. Saves the transcript.
async fn whole_flow(backend: Backend) {
    let Some(s) = scene(backend).await else { return };
    let bot = s.bot("instance-1");
    bot.set_commands().await.expect("setMyCommands");
    // The customer used the web first: Telegram finds the same user and wallet.
    let web = s.t.token(USER, Role::User).await;
    let web_id = s.t.user_id(&web).await;
    s.fund(&UserId::from_string(web_id.clone()), 100_000).await;
    let product = s.product(49_950, 0, 1).await;

    s.tg.text(ALICE, "/start");
    pass(&bot).await;
    let start = s.tg.last(ALICE);
    assert!(start.text().contains("Share my phone number"), "{}", start.text());
    assert_eq!(start.body["reply_markup"]["keyboard"][0][0]["request_contact"], json!(true));

    s.tg.contact(ALICE, Some(ALICE), USER.trim_start_matches('+'));
    pass(&bot).await;
    assert!(s.tg.last(ALICE).text().contains("logged in"), "{}", s.tg.last(ALICE).text());
    let alice = s.user_of(ALICE).await.expect("linked");
    assert_eq!(alice.user_id.as_str(), web_id, "web and Telegram are one user");

    s.tg.text(ALICE, "/shop");
    pass(&bot).await;
    let shop = s.tg.last(ALICE);
    assert!(
        shop.buttons().iter().any(|(l, _)| l.contains("Netflix Premium · ₹499.50")),
        "{:?}",
        shop.buttons()
    );
    let (list, view) = s.tg.button(ALICE, "Netflix Premium");
    assert_eq!(view, format!("v:{product}"));
    s.tg.tap(ALICE, list, &view);
    pass(&bot).await;
    let details = s.tg.last(ALICE);
    assert_eq!(details.method, "editmessagetext");
    assert!(details.text().contains("Price: ₹499.50"), "{}", details.text());
    let (msg, buy) = s.tg.button(ALICE, "Buy for ₹499.50");
    assert_eq!(buy, format!("b:{product}:49950"));
    s.tg.tap(ALICE, msg, &buy);
    pass(&bot).await;
    let (confirm_msg, confirm) = s.tg.button(ALICE, "Confirm");
    assert!(s.tg.last(ALICE).text().contains("balance ₹1000"), "{}", s.tg.last(ALICE).text());
    assert_eq!(s.orders(&alice).await, 0, "nothing bought before Confirm");
    s.tg.tap(ALICE, confirm_msg, &confirm);
    pass(&bot).await;
    let done = s.tg.last(ALICE);
    assert_eq!((done.method.as_str(), done.message_id), ("editmessagetext", Some(confirm_msg)));
    let order = s.t.app.orders().mine(&alice, &PageRequest::first(5)).await.unwrap().items;
    assert_eq!(order.len(), 1);
    assert!(done.text().contains(&format!("Order {} confirmed", order[0].id)), "{}", done.text());
    assert!(done.text().contains("active until"), "{}", done.text());
    assert_eq!(s.balance(&alice).await, 100_000 - 49_950);

    s.tg.text(ALICE, "/subscriptions");
    pass(&bot).await;
    let subs = s.tg.last(ALICE);
    assert!(subs.text().contains("Netflix Premium – active until"), "{}", subs.text());
    let (subs_msg, show) = s.tg.button(ALICE, "Show login");
    s.tg.tap(ALICE, subs_msg, &show);
    pass(&bot).await;
    let login = s.tg.last(ALICE);
    assert!(login.text().contains("Username: acct0@example.com") && login.text().contains("Password: pw0"));
    assert_eq!(login.body["protect_content"], json!(true), "credentials are sent protected");

    s.tg.text(ALICE, "/wallet");
    pass(&bot).await;
    let wallet = s.tg.last(ALICE).text();
    assert!(wallet.contains("Balance: ₹500.50") && wallet.contains("−₹499.50"), "{wallet}");

    s.tg.text(ALICE, "/notifications");
    pass(&bot).await;
    let (n_msg, read_all) = s.tg.button(ALICE, "Mark all read");
    s.tg.tap(ALICE, n_msg, &read_all);
    pass(&bot).await;
    assert!(s.tg.last(ALICE).text().starts_with("Marked"), "{}", s.tg.last(ALICE).text());
    assert_eq!(s.t.app.notifications().unread_count(&alice).await.unwrap(), 0);

    // Things the bot does not understand get a short answer or nothing; it keeps going.
    s.tg.text(ALICE, "/frobnicate");
    s.tg.text(ALICE, "hello");
    s.tg.raw(|id| json!({ "update_id": id, "edited_message": {
        "message_id": 1, "date": 1, "edit_date": 2, "chat": { "id": ALICE, "type": "private", "first_name": "T" },
        "from": { "id": ALICE, "is_bot": false, "first_name": "A" }, "text": "/shop" } }));
    s.tg.raw(|id| {
        json!({ "update_id": id, "message": {
        "message_id": 2, "date": 1, "chat": { "id": ALICE, "type": "private", "first_name": "T" },
        "from": { "id": ALICE, "is_bot": false, "first_name": "A" },
        "sticker": { "file_id": "f", "file_unique_id": "u", "type": "regular", "width": 1, "height": 1,
                     "is_animated": false, "is_video": false } } })
    });
    s.tg.raw(|id| json!({ "update_id": id, "something_new": { "x": 1 } }));
    s.tg.tap(ALICE, 1, "not-ours");
    s.tg.tap(ALICE, confirm_msg, &format!("k:{product}:49950"));
    let before = s.tg.messages(ALICE).len();
    let r = pass(&bot).await;
    assert_eq!(r.handled, 7);
    let texts: Vec<String> = s.tg.messages(ALICE)[before..].iter().map(|c| c.text()).collect();
    assert!(texts.iter().any(|t| t.contains("Unknown command")), "{texts:?}");
    assert!(texts.iter().filter(|t| t.contains("I only understand commands")).count() == 2, "{texts:?}");
    assert!(s.tg.answers().iter().any(|a| a.contains("no longer valid")), "{:?}", s.tg.answers());
    assert_eq!(s.orders(&alice).await, 1, "the old confirmation again buys nothing new");

    s.tg.text(ALICE, "/logout");
    pass(&bot).await;
    assert!(s.user_of(ALICE).await.is_none(), "unlinked");
    s.tg.text(ALICE, "/wallet");
    pass(&bot).await;
    assert!(s.tg.last(ALICE).text().contains("log in first"), "{}", s.tg.last(ALICE).text());

    let metrics = ottsonly_server::common::metrics::Metrics::global().render();
    assert!(crate::telegram::counter(&metrics, "ottsonly_shop_bot_updates_total") >= 20.0, "{metrics}");
    assert!(crate::telegram::counter(&metrics, "ottsonly_shop_bot_purchases_total") >= 1.0);
    let transcript = s.tg.transcript();
    assert!(!transcript.contains(TOKEN));
    if matches!(backend, Backend::Sqlite) {
        let _ = std::fs::write("/tmp/bot-transcript.txt", format!("{transcript}\n"));
    }
    println!("--- the conversation as the fake Bot API saw it ---\n{transcript}");
}

/// Tapping "Confirm" twice, and the same update delivered twice, buy once.
async fn double_tap_buys_once(backend: Backend) {
    let Some(s) = scene(backend).await else { return };
    let bot = s.bot("instance-1");
    let alice = s.login(&bot, ALICE, USER).await;
    s.fund(&alice.user_id, 100_000).await;
    s.product(30_000, 0, 2).await;
    let (msg, confirm) = s.to_confirmation(&bot, ALICE, "Netflix").await;
    s.tg.tap(ALICE, msg, &confirm);
    s.tg.tap(ALICE, msg, &confirm);
    pass(&bot).await;
    s.tg.tap(ALICE, msg, &confirm);
    pass(&bot).await;
    assert_eq!(s.orders(&alice).await, 1);
    assert_eq!(s.balance(&alice).await, 70_000);
    let results: Vec<String> =
        s.tg.messages(ALICE).iter().filter(|c| c.message_id == Some(msg)).map(|c| c.text()).collect();
    assert!(
        results.iter().filter(|t| t.contains("confirmed")).count() == 3,
        "every tap names the order: {results:?}"
    );
    // A new confirmation is a new purchase.
    let (msg2, confirm2) = s.to_confirmation(&bot, ALICE, "Netflix").await;
    assert_ne!(msg, msg2);
    s.tg.tap(ALICE, msg2, &confirm2);
    pass(&bot).await;
    assert_eq!(s.orders(&alice).await, 2);
    assert_eq!(s.balance(&alice).await, 40_000);
}

/// A forwarded contact, someone else's number or a contact without a user id links nothing;
/// a foreign button is refused.
async fn someone_elses_contact_is_refused(backend: Backend) {
    let Some(s) = scene(backend).await else { return };
    let bot = s.bot("instance-1");
    s.tg.contact(ALICE, Some(BOB), OTHER.trim_start_matches('+'));
    s.tg.contact(ALICE, None, OTHER.trim_start_matches('+'));
    pass(&bot).await;
    assert!(s.user_of(ALICE).await.is_none());
    assert!(s.user_of(BOB).await.is_none());
    let refusals = s.tg.messages(ALICE).iter().filter(|c| c.text().contains("not your own number")).count();
    assert_eq!(refusals, 2);
    let system = Actor::system(s.t.app.now());
    let others = s.t.app.users().list(&system, None, None, &PageRequest::first(50)).await.unwrap().items;
    assert!(others.iter().all(|u| u.phone.as_str() != OTHER), "no user was created for the shared number");
    // Bob logs in; Alice taps a button of Bob's chat: not hers.
    let bob = s.login(&bot, BOB, VICTIM).await;
    s.fund(&bob.user_id, 100_000).await;
    let product = s.product(10_000, 0, 1).await;
    s.tg.tap_in(ALICE, BOB, 900, &format!("k:{product}:10000"));
    pass(&bot).await;
    assert!(s.tg.answers().iter().any(|a| a.contains("not for you")), "{:?}", s.tg.answers());
    assert_eq!(s.orders(&bob).await, 0);
    // Relinking moves the link: Bob's number from Alice's account (her own contact this time).
    s.tg.contact(ALICE, Some(ALICE), VICTIM.trim_start_matches('+'));
    pass(&bot).await;
    assert_eq!(s.user_of(ALICE).await.map(|a| a.user_id), Some(bob.user_id.clone()));
    assert!(s.user_of(BOB).await.is_none(), "one Telegram account per user");
}

/// A blocked user cannot log in, and blocking a linked user stops them at once.
async fn blocked_user_is_refused(backend: Backend) {
    let Some(s) = scene(backend).await else { return };
    let bot = s.bot("instance-1");
    let system = Actor::system(s.t.app.now());
    let victim = s.t.set_role(VICTIM, Role::User).await;
    s.t.app.users().block(&system, &UserId::from_string(victim), Some("fraud")).await.expect("block");
    s.tg.contact(BOB, Some(BOB), VICTIM.trim_start_matches('+'));
    pass(&bot).await;
    assert!(s.tg.last(BOB).text().contains("blocked"), "{}", s.tg.last(BOB).text());
    assert!(s.t.app.telegram_shop().actor(BOB).await.unwrap_or_default().is_none());

    let alice = s.login(&bot, ALICE, USER).await;
    s.fund(&alice.user_id, 100_000).await;
    s.product(10_000, 0, 1).await;
    let (msg, confirm) = s.to_confirmation(&bot, ALICE, "Netflix").await;
    s.t.app.users().block(&system, &alice.user_id, None).await.expect("block");
    s.tg.tap(ALICE, msg, &confirm);
    s.tg.text(ALICE, "/shop");
    pass(&bot).await;
    let last: Vec<String> = s.tg.messages(ALICE).iter().rev().take(2).map(|c| c.text()).collect();
    assert!(last.iter().all(|t| t.contains("blocked")), "{last:?}");
    s.t.app.users().unblock(&system, &alice.user_id).await.expect("unblock");
    assert_eq!(s.orders(&alice).await, 0, "nothing bought while blocked");
}

/// A button drawn before a price change charges nothing: "Buy" shows the new price, and an old
/// "Confirm" is refused by core.
async fn stale_button_after_a_price_change_charges_nothing(backend: Backend) {
    let Some(s) = scene(backend).await else { return };
    let bot = s.bot("instance-1");
    let alice = s.login(&bot, ALICE, USER).await;
    s.fund(&alice.user_id, 100_000).await;
    let product = s.product(20_000, 0, 2).await;
    let (msg, confirm) = s.to_confirmation(&bot, ALICE, "Netflix").await;
    s.set_price(&product, 25_000).await;
    s.tg.tap(ALICE, msg, &confirm);
    pass(&bot).await;
    let refused = s.tg.last(ALICE);
    assert!(
        refused.text().contains("changed to ₹250") && refused.text().contains("Nothing was charged"),
        "{}",
        refused.text()
    );
    assert_eq!(s.orders(&alice).await, 0);
    assert_eq!(s.balance(&alice).await, 100_000);
    // An old "Buy for ₹200" shows the new price instead of a confirmation.
    s.tg.tap(ALICE, msg, &format!("b:{product}:20000"));
    pass(&bot).await;
    assert!(s.tg.last(ALICE).text().contains("The price changed"), "{}", s.tg.last(ALICE).text());
    // The new price's button buys at the new price.
    let (m, buy) = s.tg.button(ALICE, "Buy for ₹250");
    s.tg.tap(ALICE, m, &buy);
    pass(&bot).await;
    let (m, confirm) = s.tg.button(ALICE, "Confirm");
    s.tg.tap(ALICE, m, &confirm);
    pass(&bot).await;
    assert_eq!(s.orders(&alice).await, 1);
    assert_eq!(s.balance(&alice).await, 75_000);
    // Out of stock and too little money: clear answers, nothing charged.
    let poor = s.login(&bot, BOB, VICTIM).await;
    s.fund(&poor.user_id, 100).await;
    let (m, confirm) = s.to_confirmation(&bot, BOB, "Netflix").await;
    s.tg.tap(BOB, m, &confirm);
    pass(&bot).await;
    let low = s.tg.last(BOB);
    assert!(
        low.text().contains("too low") && low.buttons().iter().any(|(l, _)| l == "Top up"),
        "{:?}",
        low.body
    );
    assert_eq!(s.balance(&poor).await, 100);
    s.fund(&poor.user_id, 100_000).await;
    s.tg.tap(BOB, m, &confirm);
    pass(&bot).await;
    assert!(s.tg.last(BOB).text().contains("confirmed"));
    s.tg.text(BOB, "/shop");
    pass(&bot).await;
    assert!(
        s.tg.last(BOB).buttons().iter().any(|(l, _)| l == "Netflix Premium · sold out"),
        "{:?}",
        s.tg.last(BOB).buttons()
    );
    // A "Buy" drawn while it was in stock.
    s.tg.tap(BOB, m, &format!("b:{product}:25000"));
    pass(&bot).await;
    let (m, confirm) = s.tg.button(BOB, "Confirm");
    s.tg.tap(BOB, m, &confirm);
    pass(&bot).await;
    assert!(s.tg.last(BOB).text().contains("Sold out"), "{}", s.tg.last(BOB).text());
    assert_eq!(s.balance(&poor).await, 100_100 - 25_000);
}

/// A 429 from the Bot API is waited out (`retry_after`) and the message then goes.
async fn a_429_is_honoured(backend: Backend) {
    let Some(s) = scene(backend).await else { return };
    let bot = s.bot("instance-1");
    s.tg.http.script(
        "Welcome",
        crate::fakes::Reply::Json(
            429,
            json!({ "ok": false, "error_code": 429, "description": "Too Many Requests: retry after 1",
                    "parameters": { "retry_after": 1 } }),
        ),
    );
    s.tg.text(ALICE, "/start");
    pass(&bot).await;
    let tries: Vec<_> = s.tg.http.requests().into_iter().filter(|r| r.text().contains("Welcome")).collect();
    assert_eq!(tries.iter().map(|r| r.status).collect::<Vec<_>>(), [Some(429), Some(200)]);
    assert!(
        tries[1].at.duration_since(tries[0].at) >= Duration::from_secs(1),
        "sent again before retry_after"
    );
    assert_eq!(s.tg.messages(ALICE).len(), 1);
    // getUpdates answered 429: the pass reports the pause and handles nothing.
    s.tg.http.script(
        "offset",
        crate::fakes::Reply::Json(
            429,
            json!({ "ok": false, "error_code": 429, "description": "Too Many Requests: retry after 2",
                    "parameters": { "retry_after": 2 } }),
        ),
    );
    s.tg.text(ALICE, "/help");
    let r = pass(&bot).await;
    assert_eq!((r.handled, r.paused_for), (0, Some(Duration::from_secs(2))));
    let started = Instant::now();
    let r = pass(&bot).await;
    assert_eq!(r.handled, 0, "no poll during the pause");
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// A restart resumes from the stored offset: nothing is handled twice, no purchase replays. A
/// second instance stands by while the lease lives and takes over after it lapses (a crash).
async fn restart_resumes_from_the_stored_offset(backend: Backend) {
    let Some(s) = scene(backend).await else { return };
    let mut opts = s.options("instance-1");
    opts.lease_ttl = Duration::from_secs(3);
    let first = ShopBot::new(s.t.app.clone(), opts.clone()).expect("bot");
    let alice = s.login(&first, ALICE, USER).await;
    s.fund(&alice.user_id, 100_000).await;
    s.product(10_000, 0, 3).await;
    let (msg, confirm) = s.to_confirmation(&first, ALICE, "Netflix").await;
    let tap = s.tg.tap(ALICE, msg, &confirm);
    pass(&first).await;
    assert_eq!(s.orders(&alice).await, 1);
    let stored = s.t.app.telegram_shop().poll_lease("shop").await.unwrap().expect("lease");
    assert_eq!(stored.offset, tap + 1);
    // The first instance crashes (no release). Another one stands by while the lease lives.
    drop(first);
    let mut opts2 = s.options("instance-2");
    opts2.lease_ttl = Duration::from_secs(30);
    let second = ShopBot::new(s.t.app.clone(), opts2).expect("bot");
    let r = second.poll_once().await.expect("poll");
    assert!(!r.polled, "two instances polled at once");
    let calls_before = s.tg.calls().len();
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let r = pass(&second).await;
    assert_eq!(r.handled, 0, "an update was handled twice after the restart");
    assert_eq!(*s.tg.offsets().last().unwrap(), tap + 1, "resumed from the stored offset");
    assert_eq!(s.tg.calls().len(), calls_before + 1, "only getUpdates");
    assert_eq!(s.orders(&alice).await, 1);
    // New updates go to the new holder; a clean stop hands the lease back at once.
    s.tg.text(ALICE, "/wallet");
    assert_eq!(pass(&second).await.handled, 1);
    assert!(s.t.app.telegram_shop().release_poll_lease("shop", "instance-2").await.unwrap());
    let third = s.bot("instance-3");
    assert!(pass(&third).await.polled);
    assert_eq!(s.balance(&alice).await, 90_000);
}

/// Webhook mode: the secret header is required; the update is handled like a polled one.
async fn webhook_checks_the_secret(backend: Backend) {
    use poem::test::TestClient;
    let Some(s) = scene(backend).await else { return };
    let bot = std::sync::Arc::new(s.bot("instance-1"));
    let secret = Secret::new("0123456789abcdef-secret");
    let cli = TestClient::new(ottsonly_server::frontends::telegram_shop::webhook::endpoint(bot, secret));
    let update = json!({ "update_id": 1, "message": { "message_id": 3, "date": 1,
        "chat": { "id": ALICE, "type": "private", "first_name": "A" },
        "from": { "id": ALICE, "is_bot": false, "first_name": "A" }, "text": "/help" } });
    let r = cli.post("/").body_json(&update).send().await;
    r.assert_status(poem::http::StatusCode::UNAUTHORIZED);
    let r = cli.post("/").header("x-telegram-bot-api-secret-token", "wrong").body_json(&update).send().await;
    r.assert_status(poem::http::StatusCode::UNAUTHORIZED);
    assert!(s.tg.messages(ALICE).is_empty());
    let r = cli
        .post("/")
        .header("x-telegram-bot-api-secret-token", "0123456789abcdef-secret")
        .body_json(&update)
        .send()
        .await;
    r.assert_status_is_ok();
    assert!(s.tg.last(ALICE).text().contains("/shop"), "{}", s.tg.last(ALICE).text());
    let r = cli
        .post("/")
        .header("x-telegram-bot-api-secret-token", "0123456789abcdef-secret")
        .body("{nonsense")
        .send()
        .await;
    r.assert_status_is_ok();
}

/// Support staff see what waits for a login, read-only; customers are refused; an admin assigns
/// the next pooled login with the button.
async fn staff_see_pending_read_only(backend: Backend) {
    let Some(s) = scene(backend).await else { return };
    let bot = s.bot("instance-1");
    let alice = s.login(&bot, ALICE, USER).await;
    s.fund(&alice.user_id, 100_000).await;
    let product = s.product(10_000, 1, 0).await;
    let (m, confirm) = s.to_confirmation(&bot, ALICE, "Netflix").await;
    s.tg.tap(ALICE, m, &confirm);
    pass(&bot).await;
    assert!(s.tg.last(ALICE).text().contains("waiting for the login"), "{}", s.tg.last(ALICE).text());
    s.tg.text(ALICE, "/pending");
    pass(&bot).await;
    assert!(s.tg.last(ALICE).text().contains("for staff"));
    s.t.set_role(crate::support::SUPPORT, Role::Support).await;
    let support = s.login(&bot, BOB, crate::support::SUPPORT).await;
    assert_eq!(support.role, Role::Support);
    s.tg.text(BOB, "/pending");
    s.tg.text(BOB, "/wallet");
    pass(&bot).await;
    let texts: Vec<String> = s.tg.messages(BOB).iter().rev().take(2).map(|c| c.text()).collect();
    assert!(texts[1].contains("Waiting for a login") && texts[1].contains("Netflix Premium"), "{texts:?}");
    assert!(texts[0].contains("no wallet"), "{texts:?}");
    assert!(s.tg.messages(BOB).iter().all(|c| c.buttons().is_empty() || !c.text().contains("Waiting")));
    // An admin linked to the bot, with a login now in the pool: one tap assigns it.
    let creds = json!({ "credentials": [{ "username": "late@example.com", "password": "pw-late" }] });
    s.t.post(&format!("/products/{product}/credentials"), Some(&s.admin), creds).await.expect(200);
    const CAROL: i64 = 5003;
    s.login(&bot, CAROL, ADMIN).await;
    s.tg.text(CAROL, "/pending");
    pass(&bot).await;
    let (m, assign) = s.tg.button(CAROL, "Assign next login");
    s.tg.tap(CAROL, m, &assign);
    s.tg.tap(CAROL, m, &assign);
    pass(&bot).await;
    assert!(
        s.tg.messages(CAROL)
            .iter()
            .any(|c| c.text().starts_with("Assigned: Netflix Premium is active until"))
    );
    assert!(s.tg.last(CAROL).text().contains("not waiting for a login"), "{}", s.tg.last(CAROL).text());
    s.tg.text(ALICE, "/subscriptions");
    pass(&bot).await;
    let (m, show) = s.tg.button(ALICE, "Show login");
    s.tg.tap(ALICE, m, &show);
    pass(&bot).await;
    assert!(s.tg.last(ALICE).text().contains("late@example.com"));
    // /stats: today's figures from the store; amounts for the admin, counts for support,
    // nothing for a customer.
    for who in [ALICE, BOB, CAROL] {
        s.tg.text(who, "/stats");
    }
    pass(&bot).await;
    assert!(s.tg.last(ALICE).text().contains("for staff"), "{}", s.tg.last(ALICE).text());
    let admin = s.tg.last(CAROL).text();
    assert!(admin.contains("Orders: 1 · ₹100") && admin.contains("Waiting for a login: 0"), "{admin}");
    let support = s.tg.last(BOB).text();
    assert!(support.contains("Orders: 1\n") && !support.contains('₹'), "{support}");
}

/// "Top up" creates the gateway order through core and links to the checkout page, which shows
/// the stored amount; a forged token is refused there.
async fn topup_links_to_the_checkout_page(backend: Backend) {
    let Some(s) = scene(backend).await else { return };
    let bot = s.bot("instance-1");
    let alice = s.login(&bot, ALICE, USER).await;
    s.tg.text(ALICE, "/wallet");
    pass(&bot).await;
    let labels: Vec<String> = s.tg.last(ALICE).buttons().into_iter().map(|(l, _)| l).collect();
    assert_eq!(labels, ["Top up ₹100", "Top up ₹500", "Top up ₹1000", "Other amount"]);
    let (m, five_hundred) = s.tg.button(ALICE, "Top up ₹500");
    s.tg.tap(ALICE, m, &five_hundred);
    s.tg.text(ALICE, "/topup 250.50");
    s.tg.text(ALICE, "/topup lots");
    pass(&bot).await;
    let msgs = s.tg.messages(ALICE);
    let n = msgs.len();
    let link = |c: &crate::fake_bot::Call| {
        let text = c.text();
        let url = text.lines().last().unwrap_or_default().to_string();
        assert_eq!(c.body["reply_markup"]["inline_keyboard"][0][0]["url"].as_str(), Some(url.as_str()));
        url.strip_prefix("http://127.0.0.1:8000").unwrap_or_else(|| panic!("{url}")).to_string()
    };
    let (five, two) = (link(&msgs[n - 3]), link(&msgs[n - 2]));
    assert!(msgs[n - 1].text().contains("Send /topup AMOUNT"), "{}", msgs[n - 1].text());
    let page = crate::support::into_resp(s.t.cli.get(&five).send().await).await.expect(200);
    assert!(page.text.contains("₹500.00") || page.text.contains("₹500"), "{}", page.text);
    assert!(page.text.contains("data-amount=\"50000\""), "{}", page.text);
    let page = crate::support::into_resp(s.t.cli.get(&two).send().await).await.expect(200);
    assert!(page.text.contains("data-amount=\"25050\""), "{}", page.text);
    let forged = format!("{}0", five.trim_end_matches(|c: char| c.is_ascii_hexdigit()));
    crate::support::into_resp(s.t.cli.get(&forged).send().await).await.expect(403);
    let topups = s.t.app.wallet().transactions(&alice, &PageRequest::first(5)).await.unwrap();
    assert!(topups.items.is_empty(), "nothing is credited before payment");
}

/// New notifications of linked users reach their chat once, paced and resumable: a wallet
/// credit (whatever path) and an order; unlinked users' notifications are passed over; a second
/// instance taking over after a crash does not send them again.
async fn notifications_are_pushed_once_per_chat(backend: Backend) {
    let Some(s) = scene(backend).await else { return };
    let mut opts = s.options("instance-1");
    opts.push_notifications = true;
    let bot = ShopBot::new(s.t.app.clone(), opts).expect("bot");
    let alice = s.login(&bot, ALICE, USER).await;
    // Someone without Telegram gets a notification too.
    let other = s.t.token(OTHER, Role::User).await;
    let other_id = s.t.user_id(&other).await;
    s.fund(&UserId::from_string(other_id), 5_000).await;
    s.fund(&alice.user_id, 100_000).await;
    s.product(10_000, 0, 1).await;
    let r = pass(&bot).await;
    assert_eq!(r.pushed, 1, "{r:?}");
    assert!(s.tg.last(ALICE).text().contains("Wallet credited"), "{}", s.tg.last(ALICE).text());
    let (m, confirm) = s.to_confirmation(&bot, ALICE, "Netflix").await;
    s.tg.tap(ALICE, m, &confirm);
    let r = pass(&bot).await;
    assert_eq!(r.pushed, 2, "order confirmed and account ready: {r:?}");
    assert_eq!(pass(&bot).await.pushed, 0, "nothing twice");
    let pushed: Vec<String> =
        s.tg.messages(ALICE).iter().map(|c| c.text()).filter(|t| t.starts_with('🔔')).collect();
    assert_eq!(pushed.len(), 3, "{pushed:?}");
    assert!(pushed.iter().any(|t| t.contains("Order confirmed")), "{pushed:?}");
    assert!(s.tg.messages(5_999).is_empty());
    // Another instance after the lease: the cursor and the delivery records hold.
    assert!(s.t.app.telegram_shop().release_poll_lease("shop", "instance-1").await.unwrap());
    let mut opts = s.options("instance-2");
    opts.push_notifications = true;
    let second = ShopBot::new(s.t.app.clone(), opts).expect("bot");
    assert_eq!(pass(&second).await.pushed, 0);
    assert_eq!(s.tg.messages(ALICE).iter().filter(|c| c.text().starts_with('🔔')).count(), 3);
}

both_backends!(
    whole_flow,
    double_tap_buys_once,
    someone_elses_contact_is_refused,
    blocked_user_is_refused,
    stale_button_after_a_price_change_charges_nothing,
    a_429_is_honoured,
    restart_resumes_from_the_stored_offset,
    webhook_checks_the_secret,
    staff_see_pending_read_only,
    topup_links_to_the_checkout_page,
    notifications_are_pushed_once_per_chat,
);
