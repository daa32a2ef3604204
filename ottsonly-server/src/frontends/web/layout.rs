//! The page frame (header, navigation, messages) and small rendering helpers.

use super::assets::css_url;
use super::session::{CSRF_FIELD, Visitor};
use maud::{DOCTYPE, Markup, html};
use ottsonly_core::{Error, ErrorKind, Money, Timestamp};
use poem::Response;
use poem::http::StatusCode;

/// Which navigation the frame shows.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Area {
    Shop,
    Admin,
}

/// A whole page.
pub(crate) fn page(v: &Visitor, area: Area, title: &str, body: Markup) -> Response {
    page_with_status(v, area, title, StatusCode::OK, body)
}

pub(crate) fn page_with_status(
    v: &Visitor,
    area: Area,
    title: &str,
    status: StatusCode,
    body: Markup,
) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · OTTSONLY" }
                link rel="stylesheet" href=(css_url());
            }
            body {
                a.skip href="#main" { "Skip to content" }
                (header(v, area))
                main #main .wide[area == Area::Admin] { (body) }
            }
        }
    };
    html_response(status, markup)
}

pub(crate) fn html_response(status: StatusCode, markup: Markup) -> Response {
    Response::builder().status(status).content_type("text/html; charset=utf-8").body(markup.into_string())
}

fn header(v: &Visitor, area: Area) -> Markup {
    html! {
        header.top {
            @match area {
                Area::Shop => a.brand href="/" { "OTTSONLY" },
                Area::Admin => a.brand href="/admin" { "OTTSONLY admin" },
            }
            nav aria-label="Main" {
                @if area == Area::Admin {
                    a href="/admin" { "Dashboard" }
                    a href="/admin/products" { "Products" }
                    a href="/admin/orders" { "Orders" }
                    a href="/admin/waiting" { "Waiting" }
                    a href="/admin/users" { "Users" }
                    a href="/admin/notify" { "Notify" }
                    a href="/admin/alerts" { "Alerts" }
                    a href="/admin/audit-log" { "Audit" }
                    a href="/" { "Shop" }
                } @else {
                    a href="/" { "Catalog" }
                    @if v.actor.is_some() {
                        a href="/shop/wallet" { "Wallet" }
                        a href="/shop/subscriptions" { "Subscriptions" }
                        a href="/shop/notifications" {
                            "Notifications"
                            @if v.unread > 0 { " " span.badge aria-label=(format!("{} unread", v.unread)) { (v.unread) } }
                        }
                        a href="/shop/profile" { "Profile" }
                        @if v.is_staff() { a href="/admin" { "Admin" } }
                    }
                }
                @if v.actor.is_some() {
                    form.inline method="post" action="/shop/logout" {
                        (csrf(v))
                        button.link type="submit" { "Log out" }
                    }
                } @else {
                    a href="/shop/login" { "Log in" }
                }
            }
        }
    }
}

/// The hidden CSRF field of a POST form.
pub(crate) fn csrf(v: &Visitor) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(v.csrf); }
}

/// A page with one message and no visitor (refusals before the visitor is known).
pub(crate) fn message_page(status: StatusCode, title: &str, message: &str) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · OTTSONLY" }
                link rel="stylesheet" href=(css_url());
            }
            body {
                header.top { a.brand href="/" { "OTTSONLY" } }
                main { h1 { (title) } p.msg.bad role="alert" { (message) } p { a href="/" { "Back to the shop" } } }
            }
        }
    };
    html_response(status, markup)
}

/// A 303 to `to`.
pub(crate) fn redirect(to: &str) -> Response {
    Response::builder().status(StatusCode::SEE_OTHER).header("location", to).finish()
}

pub(crate) fn status_of(e: &Error) -> StatusCode {
    match e.kind() {
        ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// What the visitor reads about an error: core's message, except for internal ones.
pub(crate) fn error_text(e: &Error) -> String {
    match e.kind() {
        ErrorKind::Internal => "Something went wrong on our side. Try again in a moment.".into(),
        ErrorKind::Forbidden => "Your role may not do this.".into(),
        _ => {
            let s = e.to_string();
            let mut c = s.chars();
            c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or(s)
        }
    }
}

/// A page that reports a failed action.
pub(crate) fn error_page(v: &Visitor, area: Area, e: &Error) -> Response {
    if matches!(e, Error::Unauthenticated) {
        return redirect("/shop/login");
    }
    let body = html! {
        h1 { "That did not work" }
        p.msg.bad role="alert" { (error_text(e)) }
        p { a href=(if area == Area::Admin { "/admin" } else { "/" }) { "Back" } }
    };
    page_with_status(v, area, "Error", status_of(e), body)
}

pub(crate) fn money(m: Money) -> String {
    // ₹1,234.50 with Indian digit grouping is nicer, but plain is unambiguous.
    m.to_string()
}

pub(crate) fn when(t: Timestamp) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

pub(crate) fn day(t: Option<Timestamp>) -> String {
    t.map_or_else(|| "—".into(), |t| t.format("%Y-%m-%d").to_string())
}

/// A message line after an action, from a fixed list (no text from the URL is shown).
pub(crate) fn notice(key: Option<&str>) -> Markup {
    let text = match key.unwrap_or("") {
        "bought" => "Thank you! Your order is complete.",
        "profile" => "Profile saved.",
        "read" => "Marked as read.",
        "allread" => "All notifications marked as read.",
        "saved" => "Saved.",
        "created" => "Created.",
        "imported" => "Credentials imported.",
        "refunded" => "Order refunded.",
        "assigned" => "Login assigned.",
        "pool_empty" => "No login of this product is in the pool: import some, or type one in.",
        "sent" => "Notification sent.",
        "retried" => "Alert queued again.",
        "loggedout" => "You are logged out everywhere.",
        _ => return html! {},
    };
    html! { p.msg.ok role="status" { (text) } }
}

/// "Next page" link for a cursor-paginated list.
pub(crate) fn pager(base: &str, next: Option<&str>) -> Markup {
    html! {
        @if let Some(c) = next {
            p.pager { a href=(format!("{base}{}cursor={}", if base.contains('?') { "&" } else { "?" }, urlencode(c))) { "Older →" } }
        }
    }
}

pub(crate) fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
