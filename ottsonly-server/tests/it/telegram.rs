//! Admin alerts to Telegram: real core flows on a SQLite file, the real dispatcher and teloxide,
//! and a loopback fake of the Bot API. Core's harness gives a manual clock, so backoff and lease
//! expiry are moved forward instead of waited for; pacing and 429 pauses run in real time.

use crate::fakes::{FakeTelegram, Sent, wait_until};
use crate::support::into_resp;
use ottsonly_core::config::CoreConfig;
use ottsonly_core::model::{OutboxItem, OutboxStatus, PageRequest};
use ottsonly_core::payments::{GatewayPayment, PaymentStatus};
use ottsonly_core::testing::TestStore;
use ottsonly_core::testing::harness::Harness;
use ottsonly_core::wallet::{ConfirmedVia, PaymentOutcome};
use ottsonly_core::{Error, Money, Role};
use ottsonly_server::adapters::telegram::TelegramSetup;
use ottsonly_server::common::metrics;
use ottsonly_server::frontends::rest::Integrations;
use ottsonly_server::host::settings::{Settings, Sources};
use ottsonly_server::{
    DispatchReport, HttpOptions, Secret, TelegramConfig, TelegramDispatcher, build_app, open_store,
};
use poem::EndpointExt;
use poem::test::TestClient;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const TOKEN: &str = "123456:TEST-secret_token";
const ADMIN_CHAT: i64 = 4242;
const GROUP_CHAT: i64 = -1009876;
const BUYER: &str = "+919876500001";

/// Core's harness (manual clock, fake gateway) over a SQLite file, with a 1 s outbox lease.
async fn harness_at(
    db: &Path,
    guard: impl std::any::Any + Send + Sync,
    adjust: impl FnOnce(&mut CoreConfig),
) -> Harness {
    let store = open_store(&format!("sqlite://{}", db.display())).await.expect("store");
    Harness::with_config(TestStore::new(store, guard), |c| {
        c.outbox.lease = Duration::from_secs(1);
        adjust(c);
    })
}

async fn harness(adjust: impl FnOnce(&mut CoreConfig)) -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("alerts.db");
    harness_at(&db, dir, adjust).await
}

/// Test pacing: fast, but still through the limiters.
fn config(tg: &FakeTelegram, chats: &[i64]) -> TelegramConfig {
    let mut c = TelegramConfig::new(Secret::new(TOKEN), chats.to_vec());
    c.api_url = tg.api_url().parse().expect("url");
    c.poll_interval = Duration::from_millis(20);
    c.request_timeout = Duration::from_secs(5);
    c.per_chat_interval = Duration::from_millis(2);
    c.per_group_interval = Duration::from_millis(2);
    c
}

fn dispatcher(h: &Harness, c: TelegramConfig) -> TelegramDispatcher {
    TelegramDispatcher::new(h.app.clone(), c).expect("dispatcher")
}

/// Passes until nothing is claimed (bounded).
async fn drain(d: &TelegramDispatcher) -> DispatchReport {
    let mut total = DispatchReport::default();
    for _ in 0..50 {
        let r = d.run_once().await.expect("pass");
        total.claimed += r.claimed;
        total.delivered += r.delivered;
        total.retried += r.retried;
        total.parked += r.parked;
        total.released += r.released;
        total.lease_lost += r.lease_lost;
        if r.claimed == 0 {
            return total;
        }
    }
    panic!("outbox never drained: {total:?}");
}

async fn outbox(h: &Harness, status: Option<OutboxStatus>) -> Vec<OutboxItem> {
    h.app.outbox().list(status, &PageRequest { limit: Some(200), cursor: None }).await.expect("list").items
}

/// One admin credit (one `WalletCredited` alert) to a fresh user.
async fn credit(h: &Harness, phone: &str, paise: i64) {
    let admin = h.admin().await;
    let user = h.user_with_role(phone, Role::User).await;
    h.fund(&admin, &user.user_id, paise).await;
}

fn count(sent: &[Sent], chat: i64, needle: &str) -> usize {
    sent.iter().filter(|s| s.chat_id == chat && s.text.contains(needle)).count()
}

/// A counter's value in the Prometheus text (0 when absent).
pub fn counter(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn every_kind_of_alert_reaches_every_admin_chat_once() {
    let h = harness(|_| {}).await;
    let tg = FakeTelegram::start(TOKEN);
    let d = dispatcher(&h, config(&tg, &[ADMIN_CHAT, GROUP_CHAT]));
    let admin = h.admin().await;
    let buyer = h.user_with_role(BUYER, Role::User).await;
    h.fund(&admin, &buyer.user_id, 100_000).await; // wallet credited via admin
    let pooled = h.product(&admin, 49_900, 0, 1).await; // one login, stock 1
    let plain = h.product(&admin, 10_000, 5, 0).await; // no logins
    // New order + low stock (0 left); then new order + waiting for credentials.
    let bought = h.app.orders().purchase(&buyer, &pooled.id, None).await.expect("purchase");
    h.app.orders().purchase(&buyer, &plain.id, None).await.expect("purchase without a login");
    let reason = "customer <b>changed</b> their mind & *left* [x](y)";
    h.app.orders().refund(&admin, &bought.order.id, reason, true).await.expect("refund");
    // A payment for less than the intent: refused and alerted. Then a good one: credited.
    let short = h.app.wallet().create_topup(&buyer, Money::from_paise(50_000).unwrap()).await.expect("topup");
    let underpaid = GatewayPayment {
        id: "pay_short1".into(),
        order_id: short.topup.gateway_order_id.clone(),
        amount_paise: 40_000,
        currency: "INR".into(),
        status: PaymentStatus::Captured,
    };
    let r = h.app.wallet().confirm_gateway_payment(&underpaid, ConfirmedVia::Webhook).await;
    assert!(matches!(r, Ok(PaymentOutcome::AmountMismatch { .. })), "{r:?}");
    let good = h.app.wallet().create_topup(&buyer, Money::from_paise(20_000).unwrap()).await.expect("topup");
    let paid = GatewayPayment {
        id: "pay_good1".into(),
        order_id: good.topup.gateway_order_id.clone(),
        amount_paise: 20_000,
        currency: "INR".into(),
        status: PaymentStatus::Captured,
    };
    h.app.wallet().confirm_gateway_payment(&paid, ConfirmedVia::Webhook).await.expect("credited");

    let report = drain(&d).await;
    assert_eq!((report.claimed, report.delivered, report.retried), (8, 8, 0), "{report:?}");
    let sent = tg.messages();
    assert_eq!(sent.len(), 16, "{sent:#?}");
    let masked = h.app.auth().parse_phone(BUYER).unwrap().masked();
    for chat in [ADMIN_CHAT, GROUP_CHAT] {
        assert_eq!(count(&sent, chat, "New order"), 2, "{sent:#?}");
        assert_eq!(count(&sent, chat, "Stock left: 0"), 1);
        assert_eq!(count(&sent, chat, "₹499.00"), 2, "order and refund");
        assert_eq!(count(&sent, chat, "waits for credentials"), 1);
        assert_eq!(count(&sent, chat, "Low stock"), 1);
        assert_eq!(count(&sent, chat, "0 left"), 1);
        // Plain text: the reason arrives exactly as typed, markup characters and all.
        assert_eq!(count(&sent, chat, "Refund of ₹499.00"), 1);
        assert_eq!(count(&sent, chat, reason), 1);
        assert_eq!(count(&sent, chat, "credited ₹1000.00 via admin"), 1);
        assert_eq!(count(&sent, chat, "credited ₹200.00 via gateway webhook"), 1);
        assert_eq!(count(&sent, chat, "Payment mismatch"), 1);
        assert_eq!(count(&sent, chat, "expected ₹500.00, paid 40000 INR"), 1);
        assert_eq!(count(&sent, chat, &masked), 7, "every alert about the buyer names the masked phone");
        assert_eq!(count(&sent, chat, "refund ₹400.00 of payment pay_short1"), 1, "what to refund");
    }
    assert!(sent.iter().all(|s| !s.text.contains(BUYER)), "a full phone number reached Telegram");
    assert!(outbox(&h, Some(OutboxStatus::Pending)).await.is_empty());
    assert_eq!(outbox(&h, Some(OutboxStatus::Delivered)).await.len(), 8);
    // Requests went to {base}/bot{token}/SendMessage.
    let paths: Vec<String> = tg.http.requests().iter().map(|r| r.path.clone()).collect();
    assert!(paths.iter().all(|p| p == &format!("/tg/bot{TOKEN}/SendMessage")), "{paths:?}");
    // Nothing more to send.
    assert_eq!(drain(&d).await, DispatchReport::default());
    assert_eq!(tg.messages().len(), 16);
}

#[tokio::test]
async fn a_purchase_that_rolled_back_sends_nothing() {
    let h = harness(|_| {}).await;
    let tg = FakeTelegram::start(TOKEN);
    let d = dispatcher(&h, config(&tg, &[ADMIN_CHAT]));
    let admin = h.admin().await;
    let buyer = h.user_with_role(BUYER, Role::User).await;
    let product = h.product(&admin, 49_900, 0, 2).await;
    let r = h.app.orders().purchase(&buyer, &product.id, None).await;
    assert!(matches!(r, Err(Error::InsufficientBalance)), "{r:?}");
    assert!(outbox(&h, None).await.is_empty(), "an alert was queued for a rolled-back purchase");
    assert_eq!(drain(&d).await.claimed, 0);
    assert_eq!(tg.attempts(), 0);
    // The same purchase once funded is alerted (the pipeline works).
    h.fund(&admin, &buyer.user_id, 49_900).await;
    h.app.orders().purchase(&buyer, &product.id, None).await.expect("purchase");
    assert_eq!(drain(&d).await.delivered, 3, "credit, new order, low stock");
    assert_eq!(count(&tg.messages(), ADMIN_CHAT, "New order"), 1);
}

#[tokio::test]
async fn a_429_pauses_sending_then_delivers_after_retry_after() {
    let h = harness(|_| {}).await;
    let tg = FakeTelegram::start(TOKEN);
    let d = dispatcher(&h, config(&tg, &[ADMIN_CHAT]));
    credit(&h, "+919876500011", 1_000).await;
    credit(&h, "+919876500012", 2_000).await;
    tg.rate_limit_next("", 1);
    let r = d.run_once().await.expect("pass");
    assert_eq!((r.claimed, r.delivered, r.retried, r.released), (2, 0, 1, 1), "{r:?}");
    assert_eq!(r.paused_for, Some(Duration::from_secs(1)));
    assert_eq!(tg.attempts(), 1, "the second alert must not be tried during the pause");
    assert!(tg.messages().is_empty());
    // Both are due again exactly retry_after later, with the reason recorded.
    let now = h.app.now();
    for item in outbox(&h, Some(OutboxStatus::Pending)).await {
        assert_eq!(item.due_at - now, chrono::TimeDelta::seconds(1), "{item:?}");
        let err = item.last_error.unwrap_or_default();
        assert!(err.contains("429") && err.contains("retry after 1 s"), "{err}");
    }
    // While paused, a pass sends nothing (and claims nothing).
    let r = d.run_once().await.expect("pass");
    assert_eq!(r.claimed, 0);
    assert!(r.paused_for.is_some());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(d.run_once().await.expect("pass").claimed, 0, "not due before retry_after (app clock)");
    h.clock.advance(chrono::TimeDelta::seconds(1));
    let r = drain(&d).await;
    assert_eq!(r.delivered, 2, "{r:?}");
    let sent = tg.messages();
    assert_eq!(sent.len(), 2);
    assert_ne!(sent[0].text, sent[1].text);
    assert_eq!(tg.attempts(), 3);
}

#[tokio::test]
async fn an_alert_claimed_by_a_crashed_worker_is_delivered_once_after_the_lease() {
    let h = harness(|_| {}).await;
    let tg = FakeTelegram::start(TOKEN);
    let d = dispatcher(&h, config(&tg, &[ADMIN_CHAT]));
    credit(&h, "+919876500021", 5_000).await;
    // Another instance claims it and dies before sending.
    let taken = h.app.outbox().claim("crashed-instance", 10).await.expect("claim");
    assert_eq!(taken.len(), 1);
    assert_eq!(drain(&d).await.claimed, 0, "leased to the crashed instance");
    assert_eq!(tg.attempts(), 0);
    h.clock.advance(chrono::TimeDelta::milliseconds(1001));
    let r = drain(&d).await;
    assert_eq!((r.claimed, r.delivered), (1, 1), "{r:?}");
    // The crashed instance coming back cannot mark it (its lease is gone), and nothing repeats.
    assert!(!h.app.outbox().delivered("crashed-instance", &taken[0].id).await.expect("delivered"));
    h.clock.advance(chrono::TimeDelta::seconds(5));
    assert_eq!(drain(&d).await.claimed, 0);
    assert_eq!(tg.messages().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_dispatchers_on_one_database_send_each_alert_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("shared.db");
    // Two apps (two connection pools) on one SQLite file, like two server instances.
    let h1 = harness_at(&db, (), |c| c.outbox.lease = Duration::from_secs(60)).await;
    let h2 = harness_at(&db, (), |c| c.outbox.lease = Duration::from_secs(60)).await;
    let tg = FakeTelegram::start(TOKEN);
    let admin = h1.admin().await;
    let user = h1.user_with_role(BUYER, Role::User).await;
    const N: usize = 24;
    for _ in 0..N {
        // Each credit's text differs (the balance grows).
        h1.fund(&admin, &user.user_id, 100).await;
    }
    let mk = |h: &Harness| {
        let mut c = config(&tg, &[ADMIN_CHAT, GROUP_CHAT]);
        c.batch_size = 3;
        c.per_chat_interval = Duration::from_millis(15);
        c.per_group_interval = Duration::from_millis(15);
        Arc::new(dispatcher(h, c))
    };
    let (d1, d2) = (mk(&h1), mk(&h2));
    assert_ne!(d1.config().owner, d2.config().owner);
    let work = |d: Arc<TelegramDispatcher>| {
        tokio::spawn(async move {
            let mut delivered = 0;
            for _ in 0..200 {
                let r = d.run_once().await.expect("pass");
                delivered += r.delivered;
                if r.claimed == 0 {
                    break;
                }
            }
            delivered
        })
    };
    let (a, b) = (work(d1), work(d2));
    let (a, b) = (a.await.expect("task"), b.await.expect("task"));
    assert_eq!(a + b, N, "{a} + {b}");
    assert!(a > 0 && b > 0, "both dispatchers took part: {a} and {b}");
    let sent = tg.messages();
    let mut per: HashMap<(i64, String), usize> = HashMap::new();
    for s in &sent {
        *per.entry((s.chat_id, s.text.clone())).or_default() += 1;
    }
    assert_eq!(per.len(), 2 * N, "{sent:#?}");
    assert!(per.values().all(|&n| n == 1), "an alert was sent twice: {per:#?}");
    assert_eq!(outbox(&h2, Some(OutboxStatus::Delivered)).await.len(), N);
}

#[tokio::test]
async fn a_chat_that_refused_gets_the_retry_and_the_others_no_duplicate() {
    let h = harness(|_| {}).await;
    let tg = FakeTelegram::start(TOKEN);
    let d = dispatcher(&h, config(&tg, &[ADMIN_CHAT, GROUP_CHAT]));
    credit(&h, "+919876500031", 1_000).await;
    tg.reject_next(&format!("\"chat_id\":{GROUP_CHAT}"));
    let r = d.run_once().await.expect("pass");
    assert_eq!((r.delivered, r.retried), (0, 1), "{r:?}");
    let item = outbox(&h, Some(OutboxStatus::Pending)).await.pop().expect("pending");
    assert!(item.last_error.as_deref().unwrap_or("").contains("chat not found"), "{item:?}");
    assert!(item.due_at > h.app.now(), "backoff");
    h.clock.advance(chrono::TimeDelta::hours(2));
    assert_eq!(drain(&d).await.delivered, 1);
    let sent = tg.messages();
    assert_eq!(
        (count(&sent, ADMIN_CHAT, "credited"), count(&sent, GROUP_CHAT, "credited")),
        (1, 1),
        "{sent:#?}"
    );
}

#[tokio::test]
async fn failures_back_off_then_park_and_metrics_count_them() {
    let h = harness(|c| c.outbox.max_attempts = 2).await;
    let tg = FakeTelegram::start(TOKEN);
    let mut c = config(&tg, &[ADMIN_CHAT]);
    // teloxide waits 10 s after a 5xx before reporting it; the call timeout cuts that short.
    c.request_timeout = Duration::from_millis(800);
    let d = dispatcher(&h, c);
    let http = TestClient::new(build_app(h.app.clone(), HttpOptions::default()));
    let scrape = || async { into_resp(http.get("/metrics").send().await).await.text };
    let before = scrape().await;
    credit(&h, "+919876500041", 1_000).await;
    tg.fail_next("");
    tg.fail_next("");
    let r = d.run_once().await.expect("pass");
    assert_eq!((r.retried, r.parked), (1, 0), "{r:?}");
    let item = outbox(&h, Some(OutboxStatus::Pending)).await.pop().expect("pending");
    assert_eq!(item.attempts, 1);
    assert!(item.due_at > h.app.now(), "exponential backoff sets a later due time");
    assert_eq!(d.run_once().await.expect("pass").claimed, 0, "not due during the backoff");
    h.clock.advance(chrono::TimeDelta::hours(2));
    let r = d.run_once().await.expect("pass");
    assert_eq!((r.retried, r.parked), (0, 1), "{r:?}");
    let parked = outbox(&h, Some(OutboxStatus::Failed)).await;
    assert_eq!(parked.len(), 1);
    let err = parked[0].last_error.clone().unwrap_or_default();
    assert!(!err.is_empty() && !err.contains(TOKEN), "{err}");
    h.clock.advance(chrono::TimeDelta::days(1));
    assert_eq!(d.run_once().await.expect("pass").claimed, 0, "a parked alert is not retried");
    // A delivery too, then the counters.
    credit(&h, "+919876500042", 1_000).await;
    assert_eq!(drain(&d).await.delivered, 1);
    let after = scrape().await;
    for (name, at_least) in
        [(metrics::ALERTS_PARKED, 1.0), (metrics::ALERTS_RETRIED, 1.0), (metrics::ALERTS_DELIVERED, 1.0)]
    {
        assert!(
            counter(&after, name) >= counter(&before, name) + at_least,
            "{name}: {} -> {}\n{after}",
            counter(&before, name),
            counter(&after, name)
        );
    }
}

#[tokio::test]
async fn a_hanging_bot_api_times_out_and_the_alert_is_retried() {
    let h = harness(|_| {}).await;
    let tg = FakeTelegram::start(TOKEN);
    let mut c = config(&tg, &[ADMIN_CHAT]);
    c.request_timeout = Duration::from_millis(400);
    let d = dispatcher(&h, c);
    credit(&h, "+919876500051", 1_000).await;
    credit(&h, "+919876500052", 2_000).await;
    tg.hang_next("");
    let started = Instant::now();
    let r = d.run_once().await.expect("pass");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    // The first timed out; the second was not tried (Telegram looks down) and backs off too.
    assert_eq!((r.claimed, r.retried, r.released, r.delivered), (2, 1, 1, 0), "{r:?}");
    let errors: Vec<String> =
        outbox(&h, Some(OutboxStatus::Pending)).await.into_iter().filter_map(|i| i.last_error).collect();
    assert!(errors.iter().any(|e| e.contains("did not answer within 400 ms")), "{errors:?}");
    h.clock.advance(chrono::TimeDelta::hours(2));
    assert_eq!(drain(&d).await.delivered, 2);
    assert_eq!(tg.messages().len(), 2);
}

#[derive(Clone, Default)]
pub struct LogBuf(Arc<Mutex<Vec<u8>>>);

impl LogBuf {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("lock")).into_owned()
    }
}

impl std::io::Write for LogBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuf {
    type Writer = LogBuf;
    fn make_writer(&'a self) -> LogBuf {
        self.clone()
    }
}

/// Captures every log line of this thread (all levels) until the guard is dropped. Tests on the
/// default current-thread runtime run all their tasks on this thread.
pub fn capture_logs() -> (LogBuf, tracing::subscriber::DefaultGuard) {
    let buf = LogBuf::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(buf.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    (buf, tracing::subscriber::set_default(subscriber))
}

#[tokio::test]
async fn the_bot_token_never_reaches_logs_or_stored_errors() {
    let (logs, _guard) = capture_logs();
    let h = harness(|_| {}).await;
    // A port nothing listens on: teloxide's network error quotes the URL, token included.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let mut c = TelegramConfig::new(Secret::new(TOKEN), vec![ADMIN_CHAT]);
    c.api_url = format!("http://127.0.0.1:{port}/tg").parse().expect("url");
    c.request_timeout = Duration::from_secs(2);
    tracing::info!(config = ?c, "configured");
    let d = dispatcher(&h, c);
    credit(&h, "+919876500061", 1_000).await;
    let r = d.run_once().await.expect("pass");
    assert_eq!(r.retried, 1, "{r:?}");
    let err =
        outbox(&h, Some(OutboxStatus::Pending)).await.pop().and_then(|i| i.last_error).unwrap_or_default();
    assert!(err.contains("network error") || err.contains("Telegram"), "{err}");
    assert!(!err.contains(TOKEN) && !err.contains("TEST-secret"), "token stored: {err}");
    let text = logs.text();
    assert!(text.contains("Telegram unreachable"), "the failure was not logged: {text}");
    assert!(!text.contains(TOKEN) && !text.contains("TEST-secret"), "token logged: {text}");
}

#[tokio::test]
async fn sending_is_paced_per_chat() {
    let h = harness(|_| {}).await;
    let tg = FakeTelegram::start(TOKEN);
    let mut c = config(&tg, &[ADMIN_CHAT]);
    c.per_chat_interval = Duration::from_millis(250);
    let d = dispatcher(&h, c);
    for i in 0..3 {
        credit(&h, &format!("+91987650007{i}"), 1_000).await;
    }
    assert_eq!(drain(&d).await.delivered, 3);
    let at: Vec<Instant> = tg.http.requests().iter().map(|r| r.at).collect();
    assert_eq!(at.len(), 3);
    for w in at.windows(2) {
        let gap = w[1] - w[0];
        assert!(gap >= Duration::from_millis(200), "messages to one chat {gap:?} apart");
    }
}

#[tokio::test]
async fn run_stops_on_shutdown_and_a_new_dispatcher_sends_what_was_left() {
    let h = harness(|_| {}).await;
    let tg = FakeTelegram::start(TOKEN);
    credit(&h, "+919876500081", 1_000).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(dispatcher(&h, config(&tg, &[ADMIN_CHAT])).run(async move {
        let _ = stopped.await;
    }));
    let sent = tg.wait_for(Duration::from_secs(10), |m| !m.is_empty()).await;
    assert_eq!(sent.len(), 1);
    stop.send(()).expect("stop");
    tokio::time::timeout(Duration::from_secs(10), task).await.expect("stopped in time").expect("task");
    // Written while no dispatcher runs (the server is down): sent after the next start.
    credit(&h, "+919876500082", 2_000).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(tg.messages().len(), 1);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(dispatcher(&h, config(&tg, &[ADMIN_CHAT])).run(async move {
        let _ = stopped.await;
    }));
    let sent = tg.wait_for(Duration::from_secs(10), |m| m.len() >= 2).await;
    assert_eq!(sent.len(), 2, "{sent:#?}");
    stop.send(()).expect("stop");
    tokio::time::timeout(Duration::from_secs(10), task).await.expect("stopped in time").expect("task");
    let left = wait_until(Duration::from_secs(2), || tg.messages().len(), |_| false).await;
    assert_eq!(left, 2, "nothing sent twice");
}

fn settings(env: &[(&str, &str)]) -> Settings {
    let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Settings::load(&Sources { config_file: None, env, working_dir: None }).expect("settings")
}

#[tokio::test]
async fn health_says_whether_alerts_are_sent() {
    let h = harness(|_| {}).await;
    let health = |s: Settings| {
        let setup = s.telegram.setup();
        let ep =
            build_app(h.app.clone(), HttpOptions::default()).data(Integrations::new(&setup, s.sms.provider));
        async move { into_resp(TestClient::new(ep).get("/health").send().await).await }
    };
    let off = health(settings(&[])).await.expect(200);
    assert_eq!(off.str("/status"), "ok");
    assert_eq!(off.str("/integrations/telegram_alerts"), "off");
    assert!(off.str("/integrations/telegram_detail").contains("OTTSONLY_TELEGRAM_BOT_TOKEN"), "{}", off.text);
    assert_eq!(off.str("/integrations/otp_sms"), "log");
    let on =
        settings(&[("OTTSONLY_TELEGRAM_BOT_TOKEN", TOKEN), ("OTTSONLY_TELEGRAM_ADMIN_CHAT_IDS", "1,-2")]);
    assert!(matches!(on.telegram.setup(), TelegramSetup::On(_)));
    let on = health(on).await.expect(200);
    assert_eq!(on.str("/integrations/telegram_alerts"), "on");
    assert!(on.str("/integrations/telegram_detail").contains("2 admin chat"), "{}", on.text);
    assert!(!on.text.contains(TOKEN));
    // Built without the server's integrations (embedded, tests): the status and the environment.
    let plain = into_resp(
        TestClient::new(build_app(h.app.clone(), HttpOptions::default())).get("/health").send().await,
    )
    .await;
    assert_eq!(
        plain.expect(200).body,
        serde_json::json!({ "status": "ok", "environment": "dev", "dev_secrets": [] })
    );
}
