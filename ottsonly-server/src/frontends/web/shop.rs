//! The storefront: log in, catalog, product and purchase, wallet, subscriptions, notifications,
//! profile.

use super::Web;
use super::layout::{
    self, Area, csrf, day, error_page, money, notice, page, pager, redirect, urlencode, when,
};
use super::session::{self, Visitor};
use crate::common::links::checkout_url;
use maud::{Markup, html};
use ottsonly_core::users::ProfilePatch;
use ottsonly_core::{
    Actor, Error, Money, NotificationId, PageRequest, Product, ProductId, Subscription, SubscriptionId,
    SubscriptionStatus,
};
use poem::http::StatusCode;
use poem::web::{Data, Form, Path, Query};
use poem::{Request, Response, Route, get, handler, post};
use serde::Deserialize;
use std::sync::Arc;

type W<'a> = Data<&'a Arc<Web>>;
type V<'a> = Data<&'a Arc<Visitor>>;

const PAGE: u32 = 20;

pub(crate) fn routes() -> Route {
    Route::new()
        .at("/", get(catalog))
        .at("/shop", get(catalog))
        .at("/shop/login", get(login_form).post(send_code))
        .at("/shop/verify", post(verify))
        .at("/shop/products/:id", get(product))
        .at("/shop/products/:id/confirm", get(confirm))
        .at("/shop/products/:id/buy", post(buy))
        .at("/shop/wallet", get(wallet))
        .at("/shop/wallet/add", post(add_money))
        .at("/shop/subscriptions", get(subscriptions))
        .at("/shop/subscriptions/:id", get(subscription))
        .at("/shop/subscriptions/:id/login", post(show_login))
        .at("/shop/notifications", get(notifications))
        .at("/shop/notifications/read-all", post(read_all))
        .at("/shop/notifications/:id/read", post(read_one))
        .at("/shop/profile", get(profile).post(save_profile))
        .at("/shop/logout", post(logout))
        .at("/shop/logout-all", post(logout_all))
}

/// The logged-in actor, or a redirect to the login page that comes back to `req`'s page.
fn need<'a>(v: &'a Visitor, req: &Request) -> Result<&'a Actor, Box<Response>> {
    match &v.actor {
        Some(a) => Ok(a),
        None => {
            let here = req.uri().path_and_query().map_or("/", |p| p.as_str());
            let back = if req.method() == poem::http::Method::GET { here } else { "/" };
            Err(Box::new(redirect(&format!("/shop/login?next={}", urlencode(back)))))
        }
    }
}

macro_rules! need {
    ($v:expr, $req:expr) => {
        match need($v, $req) {
            Ok(a) => a,
            Err(r) => return *r,
        }
    };
}

macro_rules! tryp {
    ($v:expr, $e:expr) => {
        match $e {
            Ok(x) => x,
            Err(e) => return error_page($v, Area::Shop, &e),
        }
    };
}

#[derive(Deserialize, Default)]
struct Msg {
    ok: Option<String>,
    cursor: Option<String>,
}

/// Only a local path: never `//host` or `https://…` (no open redirect).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".into(),
    }
}

fn product_card(p: &Product) -> Markup {
    html! {
        article.card {
            h2 { a href=(format!("/shop/products/{}", p.id)) { (p.platform_name) " " (p.plan_name) } }
            p.muted { (p.duration_days) " days" }
            p.price { (money(p.price)) }
            @if p.stock <= 0 { span.tag.bad { "Sold out" } } @else { span.tag.ok { "In stock" } }
        }
    }
}

#[handler]
async fn catalog(web: W<'_>, v: V<'_>, Query(q): Query<Msg>) -> Response {
    let page_req = PageRequest { limit: Some(50), cursor: q.cursor.clone() };
    let list = tryp!(&v, web.app.catalog().list(v.actor.as_ref(), false, &page_req).await);
    let body = html! {
        h1 { "Plans" }
        @if list.items.is_empty() { p { "Nothing is on sale right now." } }
        div.grid { @for p in &list.items { (product_card(p)) } }
        (pager("/", list.next_cursor.as_deref()))
    };
    page(&v, Area::Shop, "Plans", body)
}

#[derive(Deserialize)]
struct Next {
    next: Option<String>,
}

#[handler]
fn login_form(v: V<'_>, Query(q): Query<Next>) -> Response {
    let next = safe_next(q.next.as_deref());
    page(&v, Area::Shop, "Log in", phone_form(&v, &next, None))
}

fn phone_form(v: &Visitor, next: &str, error: Option<&str>) -> Markup {
    html! {
        h1 { "Log in" }
        @if let Some(e) = error { p.msg.bad role="alert" { (e) } }
        form.stack method="post" action="/shop/login" {
            (csrf(v))
            input type="hidden" name="next" value=(next);
            div {
                label for="phone" { "Phone number" }
                input #phone type="tel" name="phone" autocomplete="tel" required inputmode="tel" placeholder="+91 98765 43210";
            }
            button type="submit" { "Send code" }
        }
    }
}

#[derive(Deserialize)]
struct PhoneIn {
    phone: String,
    next: Option<String>,
}

#[handler]
async fn send_code(web: W<'_>, v: V<'_>, Form(f): Form<PhoneIn>) -> Response {
    let next = safe_next(f.next.as_deref());
    match web.app.auth().request_otp(&f.phone).await {
        Ok(_) => page(&v, Area::Shop, "Log in", code_form(&v, &f.phone, &next, None)),
        Err(e) => layout::page_with_status(
            &v,
            Area::Shop,
            "Log in",
            layout::status_of(&e),
            phone_form(&v, &next, Some(&layout::error_text(&e))),
        ),
    }
}

fn code_form(v: &Visitor, phone: &str, next: &str, error: Option<&str>) -> Markup {
    html! {
        h1 { "Log in" }
        @if let Some(e) = error { p.msg.bad role="alert" { (e) } } @else { p.msg.ok role="status" { "We sent a code to " (phone) "." } }
        form.stack method="post" action="/shop/verify" {
            (csrf(v))
            input type="hidden" name="next" value=(next);
            input type="hidden" name="phone" value=(phone);
            div {
                label for="code" { "Code" }
                input #code type="text" name="code" autocomplete="one-time-code" inputmode="numeric" required;
            }
            button type="submit" { "Log in" }
        }
        p { a href=(format!("/shop/login?next={}", urlencode(next))) { "Use another number" } }
    }
}

#[derive(Deserialize)]
struct CodeIn {
    phone: String,
    code: String,
    next: Option<String>,
}

#[handler]
async fn verify(web: W<'_>, v: V<'_>, Form(f): Form<CodeIn>) -> Response {
    let next = safe_next(f.next.as_deref());
    match web.app.auth().verify_otp(&f.phone, f.code.trim()).await {
        Ok(s) => {
            let mut r = redirect(&next);
            if let Ok(c) = session::login_cookie(&web, &s).parse() {
                r.headers_mut().append("set-cookie", c);
            }
            r
        }
        Err(e) => layout::page_with_status(
            &v,
            Area::Shop,
            "Log in",
            layout::status_of(&e),
            code_form(&v, &f.phone, &next, Some(&layout::error_text(&e))),
        ),
    }
}

#[handler]
async fn product(web: W<'_>, v: V<'_>, Path(id): Path<String>) -> Response {
    let p = tryp!(&v, web.app.catalog().get(v.actor.as_ref(), &ProductId::from_string(id)).await);
    let body = html! {
        article.card {
            h1 { (p.platform_name) " " (p.plan_name) }
            p.price { (money(p.price)) }
            dl.kv {
                dt { "Platform" } dd { (p.platform_name) }
                dt { "Plan" } dd { (p.plan_name) }
                dt { "Duration" } dd { (p.duration_days) " days" }
                dt { "Availability" } dd { @if !p.is_active { "Not on sale" } @else if p.stock <= 0 { "Sold out" } @else { "In stock" } }
            }
            @if !p.description.is_empty() { p { (p.description) } }
            @if p.is_active && p.stock > 0 {
                form method="get" action=(format!("/shop/products/{}/confirm", p.id)) {
                    button type="submit" { "Buy" }
                }
            }
        }
    };
    page(&v, Area::Shop, &p.display_name(), body)
}

#[handler]
async fn confirm(web: W<'_>, v: V<'_>, req: &Request, Path(id): Path<String>) -> Response {
    let actor = need!(&v, req);
    let p = tryp!(&v, web.app.catalog().get(Some(actor), &ProductId::from_string(id)).await);
    let balance = v.user.as_ref().map_or(Money::ZERO, |u| u.wallet_balance);
    // A fresh key per confirmation page: a double submit or a resent form buys once.
    let key = uuid::Uuid::new_v4().to_string();
    let body = html! {
        h1 { "Confirm your order" }
        article.card {
            h2 { (p.platform_name) " " (p.plan_name) }
            dl.kv {
                dt { "Duration" } dd { (p.duration_days) " days" }
                dt { "Price" } dd { (money(p.price)) }
                dt { "Wallet balance" } dd { (money(balance)) }
            }
            @if balance < p.price {
                p.msg.bad { "Your balance is too low for this plan. " a href="/shop/wallet" { "Add money" } }
            }
            form method="post" action=(format!("/shop/products/{}/buy", p.id)) {
                (csrf(&v))
                input type="hidden" name="idempotency_key" value=(key);
                button type="submit" { "Confirm" }
            }
        }
    };
    page(&v, Area::Shop, "Confirm", body)
}

#[derive(Deserialize)]
struct BuyIn {
    idempotency_key: String,
}

#[handler]
async fn buy(web: W<'_>, v: V<'_>, req: &Request, Path(id): Path<String>, Form(f): Form<BuyIn>) -> Response {
    let actor = need!(&v, req);
    let id = ProductId::from_string(id);
    match web.app.orders().purchase(actor, &id, Some(&f.idempotency_key)).await {
        Ok(p) => redirect(&format!("/shop/subscriptions/{}?ok=bought", p.subscription.id)),
        Err(e) => {
            let (title, extra) = match &e {
                Error::InsufficientBalance => (
                    "Not enough money in your wallet",
                    html! { p { a href="/shop/wallet" { "Add money to your wallet" } " and try again." } },
                ),
                Error::OutOfStock => {
                    ("Sold out", html! { p { "This plan just sold out. " a href="/" { "See other plans" } } })
                }
                Error::ProductInactive => (
                    "Not on sale",
                    html! { p { "This plan is no longer on sale. " a href="/" { "See other plans" } } },
                ),
                _ => return error_page(&v, Area::Shop, &e),
            };
            let body = html! { h1 { (title) } p.msg.bad role="alert" { (layout::error_text(&e)) } (extra) };
            layout::page_with_status(&v, Area::Shop, title, layout::status_of(&e), body)
        }
    }
}

#[handler]
async fn wallet(web: W<'_>, v: V<'_>, req: &Request, Query(q): Query<Msg>) -> Response {
    let actor = need!(&v, req);
    let w = web.app.wallet();
    let balance = tryp!(&v, w.balance(actor).await);
    let ledger =
        tryp!(&v, w.transactions(actor, &PageRequest { limit: Some(PAGE), cursor: q.cursor.clone() }).await);
    let cfg = &web.app.config().wallet;
    let body = html! {
        h1 { "Wallet" }
        (notice(q.ok.as_deref()))
        p { "Balance: " strong.price { (money(balance)) } }
        form.row method="post" action="/shop/wallet/add" {
            (csrf(&v))
            div {
                label for="amount" { "Amount (₹) " span.hint { (money(cfg.topup_min)) " to " (money(cfg.topup_max)) } }
                input #amount type="number" name="amount_rupees" min=(cfg.topup_min.paise() / 100) max=(cfg.topup_max.paise() / 100) step="1" required;
            }
            button type="submit" { "Add money" }
        }
        h2 { "History" }
        @if ledger.items.is_empty() { p { "No transactions yet." } } @else {
            div.scroll { table {
                thead { tr { th { "When" } th { "What" } th.num { "Amount" } th.num { "Balance after" } } }
                tbody { @for e in &ledger.items { tr {
                    td { (when(e.created_at)) }
                    td { (e.description) }
                    td.num { @if e.signed_paise() < 0 { "−" } @else { "+" } (money(e.amount)) }
                    td.num { (money(e.balance_after)) }
                } } }
            } }
        }
        (pager("/shop/wallet", ledger.next_cursor.as_deref()))
    };
    page(&v, Area::Shop, "Wallet", body)
}

#[derive(Deserialize)]
struct AddIn {
    amount_rupees: String,
}

/// Rupees as typed ("250" or "250.50") to paise, without floats.
pub(crate) fn parse_rupees(s: &str) -> Option<Money> {
    let s = s.trim().trim_start_matches('₹');
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty()
        || whole.len() > 12
        || frac.len() > 2
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let frac = format!("{frac:0<2}");
    let paise = whole.parse::<i64>().ok()?.checked_mul(100)?.checked_add(frac.parse::<i64>().ok()?)?;
    Money::from_paise(paise).ok()
}

#[handler]
async fn add_money(web: W<'_>, v: V<'_>, req: &Request, Form(f): Form<AddIn>) -> Response {
    let actor = need!(&v, req);
    let Some(amount) = parse_rupees(&f.amount_rupees) else {
        return error_page(
            &v,
            Area::Shop,
            &Error::validation("amount", "type an amount in rupees, like 250"),
        );
    };
    let intent = tryp!(&v, web.app.wallet().create_topup(actor, amount).await);
    // The checkout page shows the credit when it lands and links back to the wallet.
    redirect(&checkout_url(&web.options.public_url, &intent.topup.id, &intent.checkout_token))
}

fn status_tag(s: SubscriptionStatus) -> Markup {
    let (class, text) = match s {
        SubscriptionStatus::Active => ("tag ok", "Active"),
        SubscriptionStatus::PendingCredentials => ("tag warn", "Waiting for login"),
        SubscriptionStatus::Expired => ("tag", "Expired"),
        SubscriptionStatus::Cancelled => ("tag bad", "Cancelled"),
        SubscriptionStatus::Refunded => ("tag bad", "Refunded"),
    };
    html! { span class=(class) { (text) } }
}

#[handler]
async fn subscriptions(web: W<'_>, v: V<'_>, req: &Request, Query(q): Query<Msg>) -> Response {
    let actor = need!(&v, req);
    let list = tryp!(
        &v,
        web.app
            .subscriptions()
            .mine(actor, None, &PageRequest { limit: Some(PAGE), cursor: q.cursor.clone() })
            .await
    );
    let body = html! {
        h1 { "My subscriptions" }
        @if list.items.is_empty() { p { "You have no subscriptions yet. " a href="/" { "See the plans" } } }
        div.grid { @for s in &list.items { (subscription_card(s)) } }
        (pager("/shop/subscriptions", list.next_cursor.as_deref()))
    };
    page(&v, Area::Shop, "My subscriptions", body)
}

/// A subscription without its login: the list never carries credentials.
fn subscription_card(s: &Subscription) -> Markup {
    html! {
        article.card {
            h2 { a href=(format!("/shop/subscriptions/{}", s.id)) { (s.platform_name) " " (s.plan_name) } }
            p { (status_tag(s.status)) }
            p.muted { "From " (day(s.start_at)) " to " (day(s.end_at)) }
            @if s.status == SubscriptionStatus::PendingCredentials { p.muted { "Your login is on its way; we will notify you." } }
        }
    }
}

#[handler]
async fn subscription(
    web: W<'_>,
    v: V<'_>,
    req: &Request,
    Path(id): Path<String>,
    Query(q): Query<Msg>,
) -> Response {
    let actor = need!(&v, req);
    let view = tryp!(&v, web.app.subscriptions().get(actor, &SubscriptionId::from_string(id)).await);
    let s = &view.subscription;
    let body = html! {
        (notice(q.ok.as_deref()))
        h1 { (s.platform_name) " " (s.plan_name) }
        article.card {
            dl.kv {
                dt { "Status" } dd { (status_tag(s.status)) }
                dt { "Starts" } dd { (day(s.start_at)) }
                dt { "Ends" } dd { (day(s.end_at)) }
                dt { "Duration" } dd { (s.duration_days) " days" }
            }
            @if view.credentials.is_some() {
                form method="post" action=(format!("/shop/subscriptions/{}/login", s.id)) {
                    (csrf(&v))
                    button type="submit" { "Show login" }
                }
            } @else if s.status == SubscriptionStatus::PendingCredentials {
                p.msg.ok { "Waiting for login: an admin will assign your account soon and you will get a notification." }
            }
        }
        p { a href="/shop/subscriptions" { "All subscriptions" } }
    };
    page(&v, Area::Shop, "Subscription", body)
}

#[handler]
async fn show_login(web: W<'_>, v: V<'_>, req: &Request, Path(id): Path<String>) -> Response {
    let actor = need!(&v, req);
    let view = tryp!(&v, web.app.subscriptions().get(actor, &SubscriptionId::from_string(id)).await);
    let s = &view.subscription;
    let Some(c) = &view.credentials else {
        return error_page(&v, Area::Shop, &Error::InvalidState("no login has been assigned yet".into()));
    };
    let body = html! {
        h1 { "Login for " (s.platform_name) " " (s.plan_name) }
        div.secret {
            dl.kv {
                dt { "Username" } dd { (c.username) }
                dt { "Password" } dd { (c.password) }
                @if let Some(p) = &c.profile { dt { "Profile" } dd { (p) } }
                @if let Some(p) = &c.pin { dt { "PIN" } dd { (p) } }
                @if let Some(n) = &c.notes { dt { "Notes" } dd { (n) } }
            }
        }
        p.muted { "Keep this private. This page is not stored by your browser." }
        p { a href=(format!("/shop/subscriptions/{}", s.id)) { "Back" } }
    };
    page(&v, Area::Shop, "Login", body)
}

#[handler]
async fn notifications(web: W<'_>, v: V<'_>, req: &Request, Query(q): Query<Msg>) -> Response {
    let actor = need!(&v, req);
    let list = tryp!(
        &v,
        web.app
            .notifications()
            .list(actor, false, &PageRequest { limit: Some(PAGE), cursor: q.cursor.clone() })
            .await
    );
    let body = html! {
        h1 { "Notifications" }
        (notice(q.ok.as_deref()))
        @if v.unread > 0 {
            form method="post" action="/shop/notifications/read-all" {
                (csrf(&v)) button.secondary type="submit" { "Mark all read" }
            }
        }
        @if list.items.is_empty() { p { "Nothing here yet." } }
        @for n in &list.items {
            article.card style="margin-top:.6rem" {
                h2 { @if !n.is_read { span.tag.warn { "New" } " " } (n.title) }
                p { (n.message) }
                p.muted { (when(n.created_at)) }
                @if !n.is_read {
                    form method="post" action=(format!("/shop/notifications/{}/read", n.id)) {
                        (csrf(&v)) button.link type="submit" { "Mark read" }
                    }
                }
            }
        }
        (pager("/shop/notifications", list.next_cursor.as_deref()))
    };
    page(&v, Area::Shop, "Notifications", body)
}

#[handler]
async fn read_one(web: W<'_>, v: V<'_>, req: &Request, Path(id): Path<String>) -> Response {
    let actor = need!(&v, req);
    tryp!(&v, web.app.notifications().mark_read(actor, &NotificationId::from_string(id)).await);
    redirect("/shop/notifications?ok=read")
}

#[handler]
async fn read_all(web: W<'_>, v: V<'_>, req: &Request) -> Response {
    let actor = need!(&v, req);
    tryp!(&v, web.app.notifications().mark_all_read(actor).await);
    redirect("/shop/notifications?ok=allread")
}

#[handler]
fn profile(v: V<'_>, req: &Request, Query(q): Query<Msg>) -> Response {
    need!(&v, req);
    let Some(u) = &v.user else { return redirect("/shop/login") };
    let body = html! {
        h1 { "Profile" }
        (notice(q.ok.as_deref()))
        p { "Phone number: " strong { (u.phone.as_str()) } }
        form.stack method="post" action="/shop/profile" {
            (csrf(&v))
            div { label for="name" { "Name" } input #name type="text" name="name" autocomplete="name" maxlength="100" value=(u.name.clone().unwrap_or_default()); }
            div { label for="email" { "Email" } input #email type="email" name="email" autocomplete="email" maxlength="254" value=(u.email.clone().unwrap_or_default()); }
            button type="submit" { "Save" }
        }
        h2 { "Sessions" }
        form method="post" action="/shop/logout-all" {
            (csrf(&v))
            p { "Logs this and every other device out, including apps using your account." }
            button.danger type="submit" { "Log out everywhere" }
        }
    };
    page(&v, Area::Shop, "Profile", body)
}

#[derive(Deserialize)]
struct ProfileIn {
    name: Option<String>,
    email: Option<String>,
}

#[handler]
async fn save_profile(web: W<'_>, v: V<'_>, req: &Request, Form(f): Form<ProfileIn>) -> Response {
    let actor = need!(&v, req);
    let patch = ProfilePatch { name: f.name, email: f.email };
    tryp!(&v, web.app.users().update_profile(actor, patch).await);
    redirect("/shop/profile?ok=profile")
}

#[handler]
async fn logout(web: W<'_>, req: &Request) -> Response {
    if let Some(rt) = session::refresh_token(req) {
        // Unknown or already revoked tokens are fine: the cookie goes either way.
        let _ = web.app.auth().logout(&rt).await;
    }
    let mut r = redirect("/");
    if let Ok(c) = session::logout_cookie(&web).parse() {
        r.headers_mut().append("set-cookie", c);
    }
    r
}

#[handler]
async fn logout_all(web: W<'_>, v: V<'_>, req: &Request) -> Response {
    let actor = need!(&v, req);
    tryp!(&v, web.app.auth().logout_all(actor).await);
    let mut r = redirect("/shop/login");
    if let Ok(c) = session::logout_cookie(&web).parse() {
        r.headers_mut().append("set-cookie", c);
    }
    let _ = StatusCode::OK;
    r
}
