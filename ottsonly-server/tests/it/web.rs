//! The web storefront and admin console, in process and without a browser: every page handler on
//! both backends, through the same endpoint `serve` mounts (the pages in front of the REST API).

use crate::support::*;
use ottsonly_core::{Role, Store};
use ottsonly_server::frontends::web::WebOptions;
use ottsonly_server::{HttpOptions, SiteOptions};
use poem::endpoint::BoxEndpoint;
use poem::http::{HeaderMap, Method};
use poem::test::TestClient;
use poem::{EndpointExt, Response};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

#[derive(Clone, Copy)]
pub enum Backend {
    Sqlite,
    Mongo,
}

/// The whole HTTP surface (pages + API) over one core, and the REST helpers of `support`.
pub struct Site {
    pub t: TestApp,
    pub cli: TestClient<BoxEndpoint<'static, Response>>,
    _guard: Option<Guard>,
}

/// What keeps a test's database alive (the Mongo database is dropped with it).
type Guard = Box<dyn std::any::Any + Send + Sync>;

impl Site {
    pub async fn new(backend: Backend) -> Option<Site> {
        Self::with(backend, false).await
    }

    pub async fn with(backend: Backend, gateway: bool) -> Option<Site> {
        let (store, guard): (Option<Arc<dyn Store>>, Option<Guard>) = match backend {
            Backend::Sqlite => (None, None),
            Backend::Mongo => {
                let uri = crate::mongo::server_uri()?;
                let (store, guard) = crate::mongo::fresh_store(&uri).await;
                (Some(store), Some(Box::new(guard)))
            }
        };
        // One failed delivery parks an alert, so the console's "Retry" can be tested at once.
        let mut b = TestApp::builder().config(|c| c.outbox.max_attempts = 1);
        if let Some(s) = store {
            b = b.store(s);
        }
        if gateway {
            b = b.gateway();
        }
        let t = b.build().await;
        let cli = TestClient::new(site(
            &t,
            WebOptions { public_url: "http://shop.test".into(), ..WebOptions::default() },
        ));
        Some(Site { t, cli, _guard: guard })
    }

    pub fn browser(&self) -> Browser<'_> {
        Browser { site: self, jar: Mutex::new(BTreeMap::new()) }
    }

    /// A browser logged in as a test phone with that role.
    pub async fn logged_in(&self, phone: &str, role: Role) -> Browser<'_> {
        if role != Role::User {
            self.t.set_role(phone, role).await;
        }
        let b = self.browser();
        b.login(phone).await;
        b
    }
}

/// The site `serve` mounts (`build_site`), with these web options.
pub fn site(t: &TestApp, web: WebOptions) -> BoxEndpoint<'static, Response> {
    let rest = HttpOptions { ip_rate_limit: 0, public_url: web.public_url.clone(), ..HttpOptions::default() };
    let options = SiteOptions { rest, web, ..SiteOptions::default() };
    ottsonly_server::build_site(t.app.clone(), options).boxed()
}

#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

impl Page {
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text);
        self
    }

    pub fn location(&self) -> String {
        self.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
    }

    pub fn header(&self, name: &str) -> String {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
    }

    #[track_caller]
    pub fn has(&self, s: &str) -> &Self {
        assert!(self.text.contains(s), "page lacks {s:?}: {}", self.text);
        self
    }

    #[track_caller]
    pub fn lacks(&self, s: &str) -> &Self {
        assert!(!self.text.contains(s), "page has {s:?}: {}", self.text);
        self
    }

    /// The `value` of the first `name="…"` input.
    pub fn input(&self, name: &str) -> String {
        let at = self.text.find(&format!("name=\"{name}\"")).unwrap_or_else(|| panic!("no input {name}"));
        let rest = &self.text[at..];
        let v = rest.find("value=\"").expect("value") + 7;
        rest[v..v + rest[v..].find('"').expect("quote")].to_string()
    }
}

/// A cookie jar over the test client: what a browser keeps between requests.
pub struct Browser<'a> {
    site: &'a Site,
    jar: Mutex<BTreeMap<String, String>>,
}

impl Browser<'_> {
    fn cookie_header(&self) -> String {
        self.jar.lock().unwrap().iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    pub fn csrf(&self) -> String {
        self.jar.lock().unwrap().get("ottsonly_csrf").cloned().unwrap_or_default()
    }

    pub fn has_session(&self) -> bool {
        self.jar.lock().unwrap().contains_key("ottsonly_session")
    }

    async fn send(&self, req: poem::test::TestRequestBuilder<'_, BoxEndpoint<'static, Response>>) -> Page {
        let r = req.header("cookie", self.cookie_header()).send().await;
        let status = r.0.status().as_u16();
        let headers = r.0.headers().clone();
        for c in headers.get_all("set-cookie") {
            let c = c.to_str().unwrap();
            let (kv, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = kv.split_once('=').unwrap();
            let mut jar = self.jar.lock().unwrap();
            if v.is_empty() || attrs.contains("Max-Age=0") {
                jar.remove(k);
            } else {
                jar.insert(k.into(), v.into());
            }
        }
        let text = r.0.into_body().into_string().await.unwrap_or_default();
        Page { status, headers, text }
    }

    pub async fn get(&self, path: &str) -> Page {
        self.send(self.site.cli.get(path)).await
    }

    /// A same-origin form post with the page's CSRF token, as the browser sends it.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.csrf();
        let mut all: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all, &[("sec-fetch-site", "same-origin"), ("origin", "http://shop.test")]).await
    }

    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)], headers: &[(&str, &str)]) -> Page {
        let body = serde_urlencoded::to_string(fields).unwrap();
        let mut req = self.site.cli.post(path).content_type("application/x-www-form-urlencoded").body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send(req).await
    }

    /// A multipart upload (the credential import), CSRF token in the URL as the form sends it.
    pub async fn upload(&self, path: &str, lines: &str) -> Page {
        let boundary = "XBOUNDARYX";
        let body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"lines\"\r\n\r\n{lines}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\"\r\nContent-Type: application/octet-stream\r\n\r\n\r\n--{boundary}--\r\n"
        );
        let url = format!("{path}?csrf={}", self.csrf());
        let req = self
            .site
            .cli
            .post(url)
            .content_type(format!("multipart/form-data; boundary={boundary}"))
            .header("sec-fetch-site", "same-origin")
            .body(body);
        self.send(req).await
    }

    /// Phone → code → back to `next`.
    pub async fn login(&self, phone: &str) {
        self.get("/shop/login?next=/shop/wallet").await.expect(200).has("Phone number").has("Send code");
        let p = self.post("/shop/login", &[("phone", phone), ("next", "/shop/wallet")]).await.expect(200);
        p.has("Code").has("Log in");
        let p =
            self.post("/shop/verify", &[("phone", phone), ("code", CODE), ("next", "/shop/wallet")]).await;
        assert_eq!((p.status, p.location().as_str()), (303, "/shop/wallet"), "{}", p.text);
        assert!(self.has_session());
    }
}

/// An admin token, a product with a pool of 3 and a customer with ₹2,000 (REST, as elsewhere).
async fn stocked(s: &Site) -> (String, String) {
    let admin = s.t.token(ADMIN, Role::Admin).await;
    let product = s.t.product(&admin, 50_000, 0, 3).await;
    let user = s.t.token(USER, Role::User).await;
    let uid = s.t.user_id(&user).await;
    s.t.fund(&admin, &uid, 200_000).await;
    (admin, product)
}

async fn balance(s: &Site, phone: &str) -> i64 {
    let token = s.t.login(phone).await.str("/access_token");
    s.t.get("/wallet", Some(&token)).await.i64("/balance_paise")
}

async fn customer_buys_once_and_sees_the_login(backend: Backend) {
    let Some(s) = Site::new(backend).await else { return };
    let (_, product) = stocked(&s).await;
    let b = s.logged_in(USER, Role::User).await;
    b.get("/").await.expect(200).has("Netflix Premium").has("₹500.00").has("In stock");
    b.get(&format!("/shop/products/{product}")).await.expect(200).has(">Buy<").has("30 days");
    let confirm = b.get(&format!("/shop/products/{product}/confirm")).await.expect(200);
    confirm.has("Confirm").has("₹2000.00");
    let key = confirm.input("idempotency_key");
    let buy = format!("/shop/products/{product}/buy");
    // A double submit: the same form twice.
    let first = b.post(&buy, &[("idempotency_key", &key)]).await.expect(303);
    let second = b.post(&buy, &[("idempotency_key", &key)]).await.expect(303);
    assert_eq!(first.location(), second.location());
    assert!(first.location().starts_with("/shop/subscriptions/"), "{}", first.location());
    assert_eq!(balance(&s, USER).await, 150_000);

    let list = b.get("/shop/subscriptions").await.expect(200);
    list.has("Netflix Premium").has("Active").lacks("acct0@example.com").lacks("pw0");
    let sub = b.get(&first.location()).await.expect(200);
    sub.has("Thank you").has("Show login").lacks("pw0");
    let login =
        b.post(&format!("{}/login", first.location().split('?').next().unwrap()), &[]).await.expect(200);
    login.has("acct0@example.com").has("pw0").has("4321");
    assert_eq!(login.header("cache-control"), "no-store");

    let wallet = b.get("/shop/wallet").await.expect(200);
    wallet.has("₹1500.00").has("Balance after").has("−₹500.00");
    let notes = b.get("/shop/notifications").await.expect(200);
    notes.has("class=\"badge\"").has("Mark all read");
    b.post("/shop/notifications/read-all", &[]).await.expect(303);
    b.get("/shop/notifications").await.expect(200).lacks("class=\"badge\"");
}

async fn purchase_failures_are_explained(backend: Backend) {
    let Some(s) = Site::new(backend).await else { return };
    let (admin, _) = stocked(&s).await;
    let pricey = s.t.product(&admin, 900_000, 5, 0).await;
    let empty = s.t.product(&admin, 100, 0, 0).await;
    let gone = s.t.product(&admin, 100, 5, 0).await;
    s.t.call(Method::DELETE, &format!("/products/{gone}"), Some(&admin), None).await.expect(200);
    let b = s.logged_in(USER, Role::User).await;
    let buy = |p: &str| format!("/shop/products/{p}/buy");
    let p = b.post(&buy(&pricey), &[("idempotency_key", "k-1")]).await.expect(409);
    p.has("Not enough money").has("href=\"/shop/wallet\"");
    b.post(&buy(&empty), &[("idempotency_key", "k-2")]).await.expect(409).has("Sold out");
    b.post(&buy(&gone), &[("idempotency_key", "k-3")]).await.expect(409).has("Not on sale");
    assert_eq!(balance(&s, USER).await, 200_000);
    // Logged out: the confirmation sends the visitor to log in and back.
    let anon = s.browser();
    let p = anon.get(&format!("/shop/products/{pricey}/confirm")).await.expect(303);
    assert!(p.location().starts_with("/shop/login?next=%2Fshop%2Fproducts%2F"), "{}", p.location());
}

async fn product_names_are_escaped(backend: Backend) {
    let Some(s) = Site::new(backend).await else { return };
    let admin = s.t.token(ADMIN, Role::Admin).await;
    let p = s
        .t
        .post(
            "/products",
            Some(&admin),
            json!({ "platform_name": "<script>alert(1)</script>", "plan_name": "\"><img src=x onerror=alert(2)>",
                    "description": "<b>bold</b>", "price_paise": 100, "duration_days": 30, "stock": 5 }),
        )
        .await
        .expect(201)
        .str("/id");
    let b = s.browser();
    for path in ["/".to_string(), format!("/shop/products/{p}")] {
        let page = b.get(&path).await.expect(200);
        page.has("&lt;script&gt;alert(1)&lt;/script&gt;").lacks("<script>").lacks("<img").lacks("<b>bold");
    }
}

async fn forged_and_cross_site_posts_are_refused(backend: Backend) {
    let Some(s) = Site::new(backend).await else { return };
    let b = s.logged_in(USER, Role::User).await;
    let csrf = b.csrf();
    let same = [("sec-fetch-site", "same-origin")];
    // No token, a wrong token, and the right token from another site.
    b.post_raw("/shop/profile", &[("name", "Mallory")], &same).await.expect(403).has("Request refused");
    b.post_raw("/shop/profile", &[("csrf", "0000"), ("name", "Mallory")], &same).await.expect(403);
    let fields = [("csrf", csrf.as_str()), ("name", "Mallory")];
    b.post_raw("/shop/profile", &fields, &[("sec-fetch-site", "cross-site")]).await.expect(403);
    b.post_raw("/shop/profile", &fields, &[("origin", "https://evil.example")]).await.expect(403);
    b.get("/shop/profile").await.expect(200).lacks("Mallory");
    // The same form from this site goes through.
    b.post("/shop/profile", &[("name", "Alice"), ("email", "alice@example.com")]).await.expect(303);
    b.get("/shop/profile").await.expect(200).has("Alice").has("Profile");
    // The login form is protected too.
    let anon = s.browser();
    anon.post_raw("/shop/login", &[("phone", USER)], &same).await.expect(403);
}

async fn headers_assets_and_the_api_beside_the_pages(backend: Backend) {
    let Some(s) = Site::new(backend).await else { return };
    let b = s.browser();
    let home = b.get("/").await.expect(200);
    let csp = home.header("content-security-policy");
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(home.header("x-frame-options"), "DENY");
    assert_eq!(home.header("referrer-policy"), "same-origin");
    let cookie = home.header("set-cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "dev cookies work over plain http: {cookie}");
    home.lacks("<script");
    let at = home.text.find("/assets/app.").expect("stylesheet link");
    let href = &home.text[at..at + home.text[at..].find('"').unwrap()];
    let css = b.get(href).await.expect(200);
    assert!(css.header("cache-control").contains("immutable"));
    assert!(css.header("content-type").starts_with("text/css"));
    b.get("/assets/app.0000.css").await.expect(404);
    // The API still answers beside the pages.
    assert!(s.t.get("/health", None).await.expect(200).body["status"].is_string());
    s.t.get("/openapi.json", None).await.expect(200);
    let api = into_resp(s.cli.get("/products").send().await).await.expect(200);
    assert!(api.body["items"].is_array());
    into_resp(s.cli.get("/admin/audit").send().await).await.expect_error(401, "unauthenticated");
    into_resp(s.cli.get("/wallet").send().await).await.expect_error(401, "unauthenticated");
}

async fn production_cookies_are_secure(backend: Backend) {
    let Some(s) = Site::new(backend).await else { return };
    let options = WebOptions {
        environment: ottsonly_server::Environment::Production,
        public_url: "https://shop.example".into(),
    };
    let cli = TestClient::new(site(&s.t, options));
    let r = cli.get("/shop/login").send().await;
    let cookie = r.0.headers().get("set-cookie").unwrap().to_str().unwrap().to_string();
    assert!(cookie.contains("; Secure") && cookie.contains("HttpOnly"), "{cookie}");
}

async fn logout_everywhere_and_blocking_end_web_sessions(backend: Backend) {
    let Some(s) = Site::new(backend).await else { return };
    let admin = s.t.token(ADMIN, Role::Admin).await;
    // Log out everywhere from the API ends the web login at once.
    let b = s.logged_in(USER, Role::User).await;
    b.get("/shop/wallet").await.expect(200);
    let api = s.t.login(USER).await.str("/access_token");
    s.t.post_empty("/auth/logout-all", Some(&api)).await.expect(204);
    let p = b.get("/shop/wallet").await.expect(303);
    assert!(p.location().starts_with("/shop/login"));
    assert!(!b.has_session(), "the dead cookie is cleared");
    // Blocking does too.
    let b = s.logged_in(OTHER, Role::User).await;
    let other = s.t.login(OTHER).await.str("/access_token");
    let id = s.t.user_id(&other).await;
    s.t.post(&format!("/users/{id}/block"), Some(&admin), json!({ "reason": "fraud" })).await.expect(200);
    b.get("/shop/wallet").await.expect(303);
    // And the web's own buttons.
    let b = s.logged_in(VICTIM, Role::User).await;
    b.post("/shop/logout-all", &[]).await.expect(303);
    assert!(!b.has_session());
    let b = s.logged_in(VICTIM, Role::User).await;
    b.get("/shop/profile").await.expect(200).has("Log out everywhere");
    b.post("/shop/logout", &[]).await.expect(303);
    assert!(!b.has_session());
    b.get("/shop/profile").await.expect(303);
}

async fn add_money_goes_to_checkout(backend: Backend) {
    let Some(s) = Site::with(backend, true).await else { return };
    let b = s.logged_in(USER, Role::User).await;
    b.get("/shop/wallet").await.expect(200).has("Add money").has("₹1.00 to ₹10000.00");
    let p = b.post("/shop/wallet/add", &[("amount_rupees", "250")]).await.expect(303);
    assert!(p.location().starts_with("http://shop.test/pay/"), "{}", p.location());
    b.post("/shop/wallet/add", &[("amount_rupees", "0.5")]).await.expect(400);
    b.post("/shop/wallet/add", &[("amount_rupees", "abc")]).await.expect(400);
}

async fn admin_runs_the_shop(backend: Backend) {
    let Some(s) = Site::new(backend).await else { return };
    let (_, product) = stocked(&s).await;
    let user = s.logged_in(USER, Role::User).await;
    let key = user.get(&format!("/shop/products/{product}/confirm")).await.input("idempotency_key");
    user.post(&format!("/shop/products/{product}/buy"), &[("idempotency_key", &key)]).await.expect(303);
    let a = s.logged_in(ADMIN, Role::Admin).await;

    let dash = a.get("/admin").await.expect(200);
    dash.has("Dashboard").has("Top products").has("Netflix Premium").has("₹500.00");
    // Create, edit, stock, deactivate.
    let p = a
        .post(
            "/admin/products",
            &[
                ("platform_name", "Hotstar"),
                ("plan_name", "Super"),
                ("description", "HD"),
                ("price_rupees", "299.50"),
                ("duration_days", "90"),
                ("stock", "0"),
            ],
        )
        .await
        .expect(303);
    let page = p.location().split('?').next().unwrap().to_string();
    let id = page.rsplit('/').next().unwrap().to_string();
    a.get(&p.location()).await.expect(200).has("Hotstar Super").has("₹299.50").has("Created");
    a.get("/admin/products").await.expect(200).has("Hotstar Super");
    // Import: one bad line and nothing is imported.
    let bad = a.upload(&format!("{page}/import"), "u1,p1\nonlyuser\nu3,p3,Kids,1234").await.expect(400);
    bad.has("Nothing was imported").has("<td class=\"num\">2</td>").has("password is missing");
    a.get(&page).await.expect(200).has("Stock <strong>0</strong>");
    a.upload(&format!("{page}/import"), "username,password,profile,pin\nu1,p1\nu3,p3,Kids,1234")
        .await
        .expect(303);
    a.get(&page).await.expect(200).has("Stock <strong>2</strong>").has("2 logins in the pool");
    a.post(&format!("{page}/stock"), &[("delta", "3"), ("reason", "extra")]).await.expect(303);
    a.post(
        &page,
        &[
            ("platform_name", "Hotstar"),
            ("plan_name", "Premium"),
            ("description", "4K"),
            ("price_rupees", "399"),
            ("duration_days", "90"),
            ("is_active", "true"),
        ],
    )
    .await
    .expect(303);
    a.get(&page).await.expect(200).has("Hotstar Premium").has("Stock <strong>5</strong>");
    a.post(&format!("{page}/deactivate"), &[]).await.expect(303);
    a.get(&page).await.expect(200).has("Inactive");
    assert!(!id.is_empty());

    // Orders: filter and refund with restock.
    let list = a.get(&format!("/admin/orders?status=completed&phone={}", urlenc(USER))).await.expect(200);
    list.has("Netflix Premium");
    a.get("/admin/orders?status=refunded").await.expect(200).has("No orders match");
    // The date range is a store query: today's order is in today's range, not in one long past.
    let today = s.t.app.now().format("%Y-%m-%d").to_string();
    a.get(&format!("/admin/orders?from={today}&to={today}")).await.expect(200).has("Netflix Premium");
    a.get("/admin/orders?from=2001-01-01&to=2001-01-31").await.expect(200).has("No orders match");
    let at = list.text.find("/admin/orders/").unwrap();
    let order = list.text[at..at + list.text[at..].find('"').unwrap()].to_string();
    a.get(&order).await.expect(200).has("Refund");
    let done = a
        .post(&format!("{order}/refund"), &[("reason", "customer asked"), ("restock", "true")])
        .await
        .expect(303);
    a.get(&done.location()).await.expect(200).has("customer asked").has("Order refunded");
    a.get(&order).await.expect(200).lacks(">Refund<");
    assert_eq!(balance(&s, USER).await, 200_000);
    a.get("/admin/audit-log?action=order.refund").await.expect(200).has("order.refund").has("customer asked");
    a.get("/admin/audit-log?target_type=product").await.expect(200).has("product.import_credentials");

    // Users: search, ledger with balance, role, block, wallet adjust.
    let users = a.get(&format!("/admin/users?phone={}", urlenc(USER))).await.expect(200);
    let at = users.text.find("/admin/users/").unwrap();
    let u = users.text[at..at + users.text[at..].find('"').unwrap()].to_string();
    a.get(&u).await.expect(200).has("Balance").has("₹2000.00").has("Ledger");
    let req = a.get(&u).await.input("request_id");
    a.post(
        &format!("{u}/adjust"),
        &[("direction", "credit"), ("amount_rupees", "10"), ("reason", "goodwill"), ("request_id", &req)],
    )
    .await
    .expect(303);
    a.post(
        &format!("{u}/adjust"),
        &[("direction", "credit"), ("amount_rupees", "10"), ("reason", "goodwill"), ("request_id", &req)],
    )
    .await
    .expect(303);
    assert_eq!(balance(&s, USER).await, 201_000, "a resent adjustment applies once");
    a.post(&format!("{u}/role"), &[("role", "support")]).await.expect(303);
    a.get(&u).await.expect(200).has("<dd>support</dd>");
    a.post(&format!("{u}/block"), &[("reason", "test")]).await.expect(303);
    a.get(&u).await.expect(200).has("Unblock");
    a.post(&format!("{u}/unblock"), &[]).await.expect(303);

    // Bulk notification with a preview first.
    a.get("/admin/notify").await.expect(200).has("Preview");
    let pv = a
        .post(
            "/admin/notify",
            &[("audience", "all"), ("title", "Sale <today>"), ("message", "Half price"), ("step", "preview")],
        )
        .await
        .expect(200);
    pv.has("Sale &lt;today&gt;").has(">Send<");
    a.post(
        "/admin/notify",
        &[("audience", "all"), ("title", "Sale <today>"), ("message", "Half price"), ("step", "send")],
    )
    .await
    .expect(303);
    // Broadcasts reach users who existed when they were sent (USER is support by now).
    let reader = s.logged_in(USER, Role::Support).await;
    reader.get("/shop/notifications").await.expect(200).has("Sale &lt;today&gt;");

    // The alert outbox has the purchase's alerts; a parked one can be sent again.
    a.get("/admin/alerts").await.expect(200).has("pending");
    a.get("/admin/alerts?status=failed").await.expect(200).has("No alerts");
    // One failed delivery parks an alert here (`max_attempts` is 1 in these tests).
    let outbox = s.t.app.outbox();
    let claimed = outbox.claim("test-dispatcher", 1).await.unwrap();
    let parked = claimed[0].id.clone();
    let status = outbox.failed("test-dispatcher", &claimed[0], "chat not found", None).await.unwrap();
    assert_eq!(status, ottsonly_core::OutboxStatus::Failed);
    let failed = a.get("/admin/alerts?status=failed").await.expect(200);
    failed.has("chat not found").has(">Retry<");
    a.post(&format!("/admin/alerts/{parked}/retry"), &[]).await.expect(303);
    a.get("/admin/alerts?status=failed").await.expect(200).has("No alerts");
    a.get("/admin/alerts?status=pending&ok=retried").await.expect(200).has("Alert queued again");
    a.get("/admin/audit-log?action=outbox.retry").await.expect(200).has(parked.as_str());
    a.post(&format!("/admin/alerts/{parked}/retry"), &[]).await.expect(409);
}

async fn waiting_subscriptions_get_a_typed_login(backend: Backend) {
    let Some(s) = Site::new(backend).await else { return };
    let admin = s.t.token(ADMIN, Role::Admin).await;
    let product = s.t.product(&admin, 1_000, 2, 0).await;
    let user = s.t.token(USER, Role::User).await;
    let uid = s.t.user_id(&user).await;
    s.t.fund(&admin, &uid, 10_000).await;
    let u = s.logged_in(USER, Role::User).await;
    let done =
        u.post(&format!("/shop/products/{product}/buy"), &[("idempotency_key", "w-1")]).await.expect(303);
    u.get(&done.location()).await.expect(200).has("Waiting for login").lacks("Show login");
    let a = s.logged_in(ADMIN, Role::Admin).await;
    a.get("/admin").await.expect(200).has("Waiting for a login");
    let w = a.get("/admin/waiting").await.expect(200);
    w.has("Netflix Premium").has("Assign");
    let end = w.text.find("/assign\"").unwrap() + "/assign".len();
    let action = w.text[w.text[..end].rfind('"').unwrap() + 1..end].to_string();
    a.post(
        &action,
        &[("username", "typed@example.com"), ("password", "s3cret"), ("profile", ""), ("pin", "")],
    )
    .await
    .expect(303);
    a.get("/admin/waiting").await.expect(200).has("No subscription is waiting");
    let page = u.get(done.location().split('?').next().unwrap()).await.expect(200);
    page.has("Show login").lacks("s3cret");
    // The next one takes a pooled login: refused while the pool is empty, assigned once it is not.
    let done =
        u.post(&format!("/shop/products/{product}/buy"), &[("idempotency_key", "w-2")]).await.expect(303);
    let w = a.get("/admin/waiting").await.expect(200);
    let at = w.text.find("/assign-pooled").unwrap();
    let start = w.text[..at].rfind('"').unwrap() + 1;
    let pooled = w.text[start..at + "/assign-pooled".len()].to_string();
    let r = a.post(&pooled, &[]).await.expect(303);
    a.get(&r.location()).await.expect(200).has("No login of this product is in the pool");
    let creds =
        serde_json::json!({ "credentials": [{ "username": "pool@example.com", "password": "pw-pool" }] });
    s.t.post(&format!("/products/{product}/credentials"), Some(&admin), creds).await.expect(200);
    let r = a.post(&pooled, &[]).await.expect(303);
    a.get(&r.location()).await.expect(200).has("Login assigned").has("No subscription is waiting");
    a.post(&pooled, &[]).await.expect(409);
    u.get(done.location().split('?').next().unwrap()).await.expect(200).has("Show login");
}

async fn support_sees_only_what_the_matrix_allows(backend: Backend) {
    let Some(s) = Site::new(backend).await else { return };
    let (_, product) = stocked(&s).await;
    let u = s.logged_in(USER, Role::User).await;
    let done =
        u.post(&format!("/shop/products/{product}/buy"), &[("idempotency_key", "s-1")]).await.expect(303);
    let sub = done.location().split('?').next().unwrap().to_string();
    let sp = s.logged_in(SUPPORT, Role::Support).await;
    sp.get("/admin").await.expect(200).has("Dashboard");
    sp.get("/admin/orders").await.expect(200).has("Netflix Premium").lacks(">Refund<");
    sp.get("/admin/products").await.expect(403);
    sp.get(&format!("/admin/products/{product}")).await.expect(403);
    sp.post(
        "/admin/products",
        &[("platform_name", "X"), ("plan_name", "Y"), ("price_rupees", "1"), ("duration_days", "1")],
    )
    .await
    .expect(403);
    sp.post(&format!("/admin/products/{product}/deactivate"), &[]).await.expect(403);
    sp.get("/admin/audit-log").await.expect(403);
    sp.get("/admin/alerts").await.expect(403);
    sp.post("/admin/alerts/nope/retry", &[]).await.expect(403);
    sp.get("/admin/notify").await.expect(403);
    // A customer's subscription: no login, on the page or on demand.
    sp.get(&sub).await.expect(200).lacks("Show login").lacks("pw0");
    sp.post(&format!("{sub}/login"), &[]).await.lacks("pw0");
    // Users without balances or ledger.
    let users = sp.get("/admin/users").await.expect(200);
    let at = users.text.find("/admin/users/").unwrap();
    let uid = users.text[at..at + users.text[at..].find('"').unwrap()].to_string();
    sp.get(&uid).await.expect(200).lacks("Balance").lacks("Ledger").lacks("Change role");
    sp.post(&format!("{uid}/adjust"), &[("direction", "credit"), ("amount_rupees", "5"), ("reason", "x")])
        .await
        .expect(403);
    // A customer is not staff at all.
    u.get("/admin").await.expect(403);
    u.get("/admin/orders").await.expect(403);
    s.browser().get("/admin").await.expect(303);
}

/// The first load of the storefront home and of the admin dashboard (HTML + the stylesheet,
/// the only asset) stays under 100 KB with a catalog of 20 plans. Prints the weights.
async fn first_loads_stay_small(backend: Backend) {
    let Some(s) = Site::new(backend).await else { return };
    let admin = s.t.token(ADMIN, Role::Admin).await;
    for i in 0..20 {
        s.t.post(
            "/products",
            Some(&admin),
            json!({ "platform_name": format!("Platform {i}"), "plan_name": "Premium",
            "description": "4K, 4 screens", "price_paise": 49_900 + i, "duration_days": 30, "stock": i % 4 }),
        )
        .await
        .expect(201);
    }
    let css_of = |p: &Page| {
        let at = p.text.find("/assets/app.").expect("stylesheet");
        p.text[at..at + p.text[at..].find('"').unwrap()].to_string()
    };
    let anon = s.browser();
    let home = anon.get("/").await.expect(200);
    let css = anon.get(&css_of(&home)).await.expect(200).text.len();
    let a = s.logged_in(ADMIN, Role::Admin).await;
    let dash = a.get("/admin").await.expect(200);
    let (home_b, dash_b) = (home.text.len() + css, dash.text.len() + css);
    eprintln!(
        "first load: storefront home {home_b} B (HTML {} + CSS {css}), dashboard {dash_b} B",
        home.text.len()
    );
    assert!(home_b < 100_000 && dash_b < 100_000, "{home_b} / {dash_b}");
}

fn urlenc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

both_backends!(
    customer_buys_once_and_sees_the_login,
    purchase_failures_are_explained,
    product_names_are_escaped,
    forged_and_cross_site_posts_are_refused,
    headers_assets_and_the_api_beside_the_pages,
    production_cookies_are_secure,
    logout_everywhere_and_blocking_end_web_sessions,
    add_money_goes_to_checkout,
    admin_runs_the_shop,
    waiting_subscriptions_get_a_typed_login,
    support_sees_only_what_the_matrix_allows,
    first_loads_stay_small,
);
