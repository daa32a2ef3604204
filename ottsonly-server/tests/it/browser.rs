//! The storefront and the console in a real headless Chromium through WebDriver (Debian's
//! `chromium` and `chromium-driver`, installed by `scripts/browser-deps.sh`), on SQLite. The site
//! is the same endpoint `serve` mounts, on a loopback port; screenshots of the main pages go to
//! `target/browser-screenshots/`.
//!
//! Without `/usr/bin/chromedriver` the tests are skipped, saying so, except under CI where they
//! fail.

use crate::support::*;
use fantoccini::{Client, ClientBuilder, Locator};
use ottsonly_core::Role;
use ottsonly_server::frontends::web::WebOptions;
use poem::listener::{Acceptor, Listener, TcpListener};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// A phone-sized viewport (the storefront's main audience) and a desktop one (the console).
const PHONE: (u32, u32) = (390, 844);
const DESKTOP: (u32, u32) = (1280, 900);

fn available() -> bool {
    if std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("chromium and chromedriver are missing: run scripts/browser-deps.sh");
    }
    eprintln!("skipped: no {CHROMEDRIVER} (run scripts/browser-deps.sh)");
    false
}

/// chromedriver on a free loopback port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
    /// Chromium's fresh `--user-data-dir`, removed with the driver.
    profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The site (pages + API) over a fresh SQLite store on a loopback port.
async fn serve(t: &TestApp) -> String {
    let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await.unwrap();
    let addr = acceptor.local_addr()[0].as_socket_addr().copied().unwrap();
    let base = format!("http://{addr}");
    let endpoint = crate::web::site(t, WebOptions { public_url: base.clone(), ..WebOptions::default() });
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(endpoint));
    base
}

async fn driver() -> Driver {
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let url = format!("http://127.0.0.1:{port}");
    let d = Driver { child, url, profile: tempfile::tempdir().unwrap() };
    // Bounded wait for the port to accept.
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start");
}

async fn browser(d: &Driver, (w, h): (u32, u32)) -> Client {
    let profile = d.profile.path();
    let args = vec![
        "--headless".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-quic".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--disable-dev-shm-usage".into(),
        format!("--user-data-dir={}", profile.display()),
        format!("--window-size={w},{h}"),
    ];
    let caps = json!({ "goog:chromeOptions": { "binary": CHROMIUM, "args": args } });
    let caps = match caps {
        Value::Object(m) => m,
        _ => unreachable!(),
    };
    let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&d.url)
        .await
        .expect("WebDriver session");
    // The window includes the browser's own bars: size it so the page's viewport is w × h.
    c.set_window_size(w, h).await.unwrap();
    let inner = c.execute("return [window.innerWidth, window.innerHeight];", vec![]).await.unwrap();
    let (iw, ih) = (inner[0].as_u64().unwrap_or(u64::from(w)), inner[1].as_u64().unwrap_or(u64::from(h)));
    let grow = |want: u32, got: u64| want + want.saturating_sub(u32::try_from(got).unwrap_or(want));
    c.set_window_size(grow(w, iw), grow(h, ih)).await.unwrap();
    c
}

async fn shot(c: &Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/browser-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

async fn body_text(c: &Client) -> String {
    c.find(Locator::Css("body")).await.unwrap().text().await.unwrap()
}

/// The log-in form, as a person fills it in: labels to inputs, the buttons by their text.
async fn log_in(c: &Client, base: &str, phone: &str, next: &str) {
    c.goto(&format!("{base}/shop/login?next={next}")).await.unwrap();
    c.find(Locator::Id("phone")).await.unwrap().send_keys(phone).await.unwrap();
    c.find(Locator::XPath("//button[normalize-space()='Send code']")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Id("code")).await.unwrap().send_keys(CODE).await.unwrap();
    c.find(Locator::XPath("//button[normalize-space()='Log in']")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Css("header.top")).await.unwrap();
}

async fn click_button(c: &Client, text: &str) {
    let b = c.find(Locator::XPath(&format!("//button[normalize-space()='{text}']"))).await;
    b.unwrap_or_else(|e| panic!("no button {text}: {e}")).click().await.unwrap();
}

async fn balance(t: &TestApp, phone: &str) -> i64 {
    let token = t.login(phone).await.str("/access_token");
    t.get("/wallet", Some(&token)).await.i64("/balance_paise")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn browser_customer_buys_sees_the_login_and_reads_a_notification() {
    if !available() {
        return;
    }
    let t = TestApp::new().await;
    let admin = t.token(ADMIN, Role::Admin).await;
    let product = t.product(&admin, 49_900, 0, 3).await;
    for (platform, plan, price, stock) in
        [("Hotstar", "Super", 29_900, 4), ("Prime Video", "Mobile", 14_900, 0)]
    {
        let p = json!({ "platform_name": platform, "plan_name": plan, "description": "HD",
                        "price_paise": price, "duration_days": 90, "stock": stock });
        t.post("/products", Some(&admin), p).await.expect(201);
    }
    let user = t.token(USER, Role::User).await;
    let uid = t.user_id(&user).await;
    t.fund(&admin, &uid, 200_000).await;
    let base = serve(&t).await;
    let d = driver().await;
    let c = browser(&d, PHONE).await;

    c.goto(&format!("{base}/")).await.unwrap();
    assert!(body_text(&c).await.contains("Netflix Premium"));
    shot(&c, "storefront-catalog").await;
    log_in(&c, &base, USER, &format!("/shop/products/{product}")).await;
    assert!(c.current_url().await.unwrap().path().ends_with(&product), "back to where the user was");
    shot(&c, "storefront-product").await;
    click_button(&c, "Buy").await;
    c.wait().for_element(Locator::XPath("//button[normalize-space()='Confirm']")).await.unwrap();
    shot(&c, "storefront-confirm").await;
    click_button(&c, "Confirm").await;
    c.wait().for_element(Locator::XPath("//button[normalize-space()='Show login']")).await.unwrap();
    let text = body_text(&c).await;
    assert!(text.contains("Thank you") && text.contains("Active"), "{text}");
    assert!(!text.contains("acct0@example.com"), "the login only on demand");
    shot(&c, "storefront-subscription").await;
    click_button(&c, "Show login").await;
    c.wait().for_element(Locator::Css(".secret")).await.unwrap();
    let text = body_text(&c).await;
    assert!(text.contains("acct0@example.com") && text.contains("pw0"), "{text}");

    c.goto(&format!("{base}/shop/subscriptions")).await.unwrap();
    let text = body_text(&c).await;
    assert!(text.contains("Netflix Premium") && !text.contains("pw0"), "{text}");
    shot(&c, "storefront-subscriptions").await;
    c.goto(&format!("{base}/shop/wallet")).await.unwrap();
    let text = body_text(&c).await;
    assert!(text.contains("₹1501.00") && text.contains("Balance after"), "{text}");
    shot(&c, "storefront-wallet").await;

    // The unread badge, then one notification read.
    let badge = c.find(Locator::Css(".badge")).await.unwrap().text().await.unwrap();
    let unread: u32 = badge.trim().parse().unwrap();
    assert!(unread >= 1);
    c.goto(&format!("{base}/shop/notifications")).await.unwrap();
    shot(&c, "storefront-notifications").await;
    c.find(Locator::XPath("//button[normalize-space()='Mark read']")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Css(".msg.ok")).await.unwrap();
    let after = match c.find(Locator::Css(".badge")).await {
        Ok(b) => b.text().await.unwrap().trim().parse::<u32>().unwrap(),
        Err(_) => 0,
    };
    assert_eq!(after, unread - 1);
    assert_eq!(balance(&t, USER).await, 150_100);
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn browser_double_confirm_buys_once_and_hostile_input_is_inert() {
    if !available() {
        return;
    }
    let t = TestApp::new().await;
    let admin = t.token(ADMIN, Role::Admin).await;
    let xss = t
        .post(
            "/products",
            Some(&admin),
            json!({ "platform_name": "<script>alert(1)</script>", "plan_name": "Plan", "description": "x",
                    "price_paise": 10_000, "duration_days": 30, "stock": 5 }),
        )
        .await
        .expect(201)
        .str("/id");
    let user = t.token(USER, Role::User).await;
    let uid = t.user_id(&user).await;
    t.fund(&admin, &uid, 100_000).await;
    let base = serve(&t).await;
    let d = driver().await;
    let c = browser(&d, PHONE).await;

    // The name is text, not a script: no alert, and the heading reads as typed.
    c.goto(&format!("{base}/shop/products/{xss}")).await.unwrap();
    assert!(c.get_alert_text().await.is_err(), "no alert opened");
    let h1 = c.find(Locator::Css("h1")).await.unwrap().text().await.unwrap();
    assert_eq!(h1, "<script>alert(1)</script> Plan");

    // The same confirmation form submitted twice: from this tab and from a second one holding
    // the same key (a double click, or a form resent after a lost answer). Page scripts cannot
    // send requests here (the CSP has no `connect-src`), so each submit is a real form post.
    log_in(&c, &base, USER, &format!("/shop/products/{xss}/confirm")).await;
    c.wait().for_element(Locator::XPath("//button[normalize-space()='Confirm']")).await.unwrap();
    let key = c
        .find(Locator::Css("input[name=idempotency_key]"))
        .await
        .unwrap()
        .attr("value")
        .await
        .unwrap()
        .unwrap();
    let first = c.window().await.unwrap();
    let second = c.new_window(true).await.unwrap().handle;
    c.switch_to_window(second).await.unwrap();
    c.goto(&format!("{base}/shop/products/{xss}/confirm")).await.unwrap();
    c.execute(
        "document.querySelector('input[name=idempotency_key]').value = arguments[0];",
        vec![json!(key)],
    )
    .await
    .unwrap();
    click_button(&c, "Confirm").await;
    c.wait().for_element(Locator::Css("h1")).await.unwrap();
    c.switch_to_window(first).await.unwrap();
    click_button(&c, "Confirm").await;
    c.wait().for_element(Locator::Css("h1")).await.unwrap();
    assert!(body_text(&c).await.contains("Thank you"));
    assert_eq!(balance(&t, USER).await, 90_000, "one purchase");
    let orders = t.get("/orders/my", Some(&t.login(USER).await.str("/access_token"))).await.items();
    assert_eq!(orders.len(), 1);

    // A form on another origin posting here (same site, other port): refused.
    let evil = serve_evil(&base).await;
    c.goto(&evil).await.unwrap();
    click_button(&c, "Win").await;
    c.wait().for_element(Locator::Css("h1")).await.unwrap();
    let text = body_text(&c).await;
    assert!(text.contains("Request refused"), "{text}");
    c.goto(&format!("{base}/shop/profile")).await.unwrap();
    assert!(!body_text(&c).await.contains("Mallory"));
    c.close().await.unwrap();
}

/// A page on another loopback port with a form that posts to the shop, as an attacker's would.
async fn serve_evil(base: &str) -> String {
    let page = format!(
        "<!doctype html><form method=post action=\"{base}/shop/profile\"><input name=name value=Mallory>\
         <input name=csrf value=guess><button>Win</button></form>"
    );
    let ep = poem::endpoint::make_sync(move |_| {
        poem::Response::builder().content_type("text/html").body(page.clone())
    });
    let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await.unwrap();
    let addr = acceptor.local_addr()[0].as_socket_addr().copied().unwrap();
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(ep));
    format!("http://localhost:{}/", addr.port())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn browser_admin_creates_imports_refunds_and_audits() {
    if !available() {
        return;
    }
    let t = TestApp::new().await;
    let admin = t.token(ADMIN, Role::Admin).await;
    let product = t.product(&admin, 50_000, 0, 2).await;
    let user = t.token(USER, Role::User).await;
    let uid = t.user_id(&user).await;
    t.fund(&admin, &uid, 200_000).await;
    t.post("/orders", Some(&user), json!({ "product_id": product })).await.expect(201);
    let base = serve(&t).await;
    let d = driver().await;
    let c = browser(&d, DESKTOP).await;
    log_in(&c, &base, ADMIN, "/admin").await;
    let text = body_text(&c).await;
    assert!(text.contains("Dashboard") && text.contains("Top products"), "{text}");
    shot(&c, "admin-dashboard").await;

    // A new product through the form.
    c.goto(&format!("{base}/admin/products")).await.unwrap();
    c.find(Locator::Id("platform")).await.unwrap().send_keys("Hotstar").await.unwrap();
    c.find(Locator::Id("plan")).await.unwrap().send_keys("Super").await.unwrap();
    c.find(Locator::Id("price")).await.unwrap().send_keys("299").await.unwrap();
    click_button(&c, "Create product").await;
    c.wait().for_element(Locator::Id("lines")).await.unwrap();
    assert!(body_text(&c).await.contains("Hotstar Super"));
    // Credentials pasted, one per line.
    c.find(Locator::Id("lines"))
        .await
        .unwrap()
        .send_keys("one@example.com,pw1\ntwo@example.com,pw2,Kids,1234")
        .await
        .unwrap();
    click_button(&c, "Import").await;
    c.wait().for_element(Locator::Css(".msg.ok")).await.unwrap();
    let text = body_text(&c).await;
    assert!(text.contains("Credentials imported") && text.contains("2 logins in the pool"), "{text}");
    shot(&c, "admin-product").await;

    // Refund the customer's order.
    c.goto(&format!("{base}/admin/orders")).await.unwrap();
    shot(&c, "admin-orders").await;
    c.find(Locator::Css("table a[href^='/admin/orders/']")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Id("reason")).await.unwrap().send_keys("changed mind").await.unwrap();
    click_button(&c, "Refund").await;
    c.wait().for_element(Locator::Css(".msg.ok")).await.unwrap();
    assert!(body_text(&c).await.contains("Order refunded"));
    assert_eq!(balance(&t, USER).await, 200_000);
    // And see it in the audit log.
    c.goto(&format!("{base}/admin/audit-log")).await.unwrap();
    c.find(Locator::Id("aa")).await.unwrap().send_keys("order.refund").await.unwrap();
    click_button(&c, "Filter").await;
    c.wait().for_element(Locator::Css("table")).await.unwrap();
    let text = body_text(&c).await;
    assert!(text.contains("order.refund") && text.contains("changed mind"), "{text}");
    shot(&c, "admin-audit").await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn browser_support_cannot_edit_products_or_see_a_login() {
    if !available() {
        return;
    }
    let t = TestApp::new().await;
    let admin = t.token(ADMIN, Role::Admin).await;
    let product = t.product(&admin, 50_000, 0, 2).await;
    let user = t.token(USER, Role::User).await;
    let uid = t.user_id(&user).await;
    t.fund(&admin, &uid, 200_000).await;
    let sub = t
        .post("/orders", Some(&user), json!({ "product_id": product }))
        .await
        .expect(201)
        .str("/subscription/id");
    t.set_role(SUPPORT, Role::Support).await;
    let base = serve(&t).await;
    let d = driver().await;
    let c = browser(&d, DESKTOP).await;
    log_in(&c, &base, SUPPORT, "/admin").await;
    assert!(body_text(&c).await.contains("Dashboard"));
    c.goto(&format!("{base}/admin/products/{product}")).await.unwrap();
    let text = body_text(&c).await;
    assert!(text.contains("Your role may not do this") && !text.contains("Import logins"), "{text}");
    c.goto(&format!("{base}/admin/orders")).await.unwrap();
    assert!(body_text(&c).await.contains("Netflix Premium"));
    c.goto(&format!("{base}/shop/subscriptions/{sub}")).await.unwrap();
    let text = body_text(&c).await;
    assert!(!text.contains("Show login") && !text.contains("pw0"), "{text}");
    c.close().await.unwrap();
}
