//! The checkout page: where a link from another front-end (the Telegram shop's message, the web
//! storefront's "Add money") pays one stored top-up through Razorpay Checkout.
//!
//! `GET /pay/{topup_id}?t=TOKEN` shows the top-up as stored (amount, gateway order and key come
//! from the store through core, never from the query) and opens Checkout; Checkout's result is
//! posted back to `POST /pay/{topup_id}`, which confirms it through core exactly like the REST
//! API's verify. `TOKEN` is core's checkout-link token, bound to the top-up and its user and
//! expiring, so the link needs no bearer header. The webhook and reconciliation stay the credit
//! paths of record: a payment confirmed nowhere else is still credited by them.

mod page;

use crate::common::http::html_page_headers;
use ottsonly_core::wallet::PaymentOutcome;
use ottsonly_core::{Error, ErrorKind, Ottsonly, TopUpId};
use poem::http::StatusCode;
use poem::web::{Data, Form, Path, Query};
use poem::{EndpointExt, IntoResponse, Response, Route, get, handler};
use serde::Deserialize;

/// What the host tells the checkout page.
#[derive(Debug, Clone)]
pub struct CheckoutOptions {
    /// Shown in the page's title and in Razorpay's form.
    pub shop_name: String,
    /// Razorpay Checkout's script. Only a test points it elsewhere.
    pub checkout_script: String,
}

impl Default for CheckoutOptions {
    fn default() -> Self {
        CheckoutOptions {
            shop_name: "OTTSONLY".into(),
            checkout_script: "https://checkout.razorpay.com/v1/checkout.js".into(),
        }
    }
}

/// The page's routes, to be mounted at [`crate::common::links::CHECKOUT_PREFIX`].
pub fn route(app: Ottsonly, options: CheckoutOptions) -> Route {
    Route::new()
        .at("/assets/checkout.js", get(asset_js))
        .at("/assets/checkout.css", get(asset_css))
        .at("/:topup_id", get(show).post(confirm).data(app).data(std::sync::Arc::new(options)))
}

type Options = std::sync::Arc<CheckoutOptions>;

#[derive(Deserialize)]
struct LinkQuery {
    #[serde(default)]
    t: String,
}

#[derive(Deserialize)]
struct CheckoutResult {
    #[serde(default)]
    t: String,
    #[serde(default)]
    razorpay_order_id: String,
    #[serde(default)]
    razorpay_payment_id: String,
    #[serde(default)]
    razorpay_signature: String,
}

#[handler]
async fn show(
    app: Data<&Ottsonly>,
    options: Data<&Options>,
    Path(topup_id): Path<String>,
    Query(q): Query<LinkQuery>,
) -> Response {
    let id = TopUpId::from_string(topup_id);
    let markup = match app.wallet().open_checkout(&id, &q.t).await {
        Ok(view) if view.is_open() => (StatusCode::OK, page::open(&options, &view, &q.t)),
        Ok(view) => (StatusCode::OK, page::closed(&options, &view)),
        Err(e) => (status_of(&e), page::refused(&options, &e)),
    };
    respond(markup.0, markup.1, &options)
}

#[handler]
async fn confirm(
    app: Data<&Ottsonly>,
    options: Data<&Options>,
    Path(topup_id): Path<String>,
    Form(r): Form<CheckoutResult>,
) -> Response {
    let id = TopUpId::from_string(topup_id);
    let outcome = app
        .wallet()
        .verify_checkout(&id, &r.t, &r.razorpay_order_id, &r.razorpay_payment_id, &r.razorpay_signature)
        .await;
    let (status, markup) = match outcome {
        Ok(PaymentOutcome::UnknownOrder) => {
            let e = Error::NotFound { what: "top-up" };
            (status_of(&e), page::refused(&options, &e))
        }
        Ok(outcome) => (StatusCode::OK, page::outcome(&options, &outcome)),
        Err(e) => (status_of(&e), page::refused(&options, &e)),
    };
    respond(status, markup, &options)
}

fn respond(status: StatusCode, markup: maud::Markup, options: &CheckoutOptions) -> Response {
    let resp = markup
        .into_string()
        .with_content_type("text/html; charset=utf-8")
        .with_status(status)
        .into_response();
    html_page_headers(resp, &content_security_policy(options))
}

/// Razorpay's script, its frames and its API; everything else only from here. No inline script.
fn content_security_policy(options: &CheckoutOptions) -> String {
    let script_origin = url::Url::parse(&options.checkout_script)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| "https://checkout.razorpay.com".into());
    format!(
        "default-src 'none'; script-src 'self' {script_origin}; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data: https:; frame-src https://api.razorpay.com https://checkout.razorpay.com; \
         connect-src https://api.razorpay.com https://lumberjack.razorpay.com; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    )
}

fn status_of(e: &Error) -> StatusCode {
    match (e, e.kind()) {
        (Error::TokenExpired, _) => StatusCode::GONE,
        (_, ErrorKind::InvalidInput) => StatusCode::BAD_REQUEST,
        (_, ErrorKind::Unauthenticated | ErrorKind::Forbidden) => StatusCode::FORBIDDEN,
        (_, ErrorKind::NotFound) => StatusCode::NOT_FOUND,
        (_, ErrorKind::Conflict) => StatusCode::CONFLICT,
        (_, ErrorKind::RateLimited) => StatusCode::TOO_MANY_REQUESTS,
        (_, ErrorKind::Unavailable) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

const ASSET_CACHE: &str = "public, max-age=86400";

#[handler]
fn asset_js() -> Response {
    include_str!("assets/checkout.js")
        .with_content_type("text/javascript; charset=utf-8")
        .with_header("cache-control", ASSET_CACHE)
        .into_response()
}

#[handler]
fn asset_css() -> Response {
    include_str!("assets/checkout.css")
        .with_content_type("text/css; charset=utf-8")
        .with_header("cache-control", ASSET_CACHE)
        .into_response()
}
