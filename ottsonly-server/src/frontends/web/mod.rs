//! The web storefront (`/`, `/shop/...`) and the admin console (`/admin`, `/admin/...`):
//! server-rendered HTML (maud) over core, with no JavaScript framework and every asset compiled
//! into the binary.
//!
//! [`build`] returns the pages as one endpoint and [`mount`] puts it in front of another (the REST
//! API): a request whose path is a page ([`is_web_path`]) goes to the web front-end, anything else
//! falls through untouched, so `/products`, `/wallet`, `/admin/audit` and the rest of the API keep
//! answering JSON.
//!
//! Sessions ([`session`]): an HttpOnly cookie holds the access and refresh tokens of a core login
//! (the same refresh-token family as the API), and every request is authenticated through core,
//! so logout-everywhere, blocking and role changes apply at once. Every POST form carries a CSRF
//! token (double-submit, compared in constant time) and cross-site POSTs are refused on
//! `Origin`/`Sec-Fetch-Site` before any handler runs.

mod admin;
mod assets;
mod dashboard;
mod layout;
mod session;
mod shop;

use crate::common::secret::Environment;
use ottsonly_core::Ottsonly;
use poem::endpoint::BoxEndpoint;
use poem::{Endpoint, EndpointExt, Request, Response, Route};
use std::sync::Arc;

/// What the host tells the web front-end.
#[derive(Debug, Clone)]
pub struct WebOptions {
    /// `production` makes the session cookie `Secure`.
    pub environment: Environment,
    /// Where the server is reached from outside (the checkout link is built from it).
    pub public_url: String,
}

impl Default for WebOptions {
    fn default() -> Self {
        WebOptions { environment: Environment::Dev, public_url: "http://127.0.0.1:8080".into() }
    }
}

/// What every handler reads: core and the options.
pub(crate) struct Web {
    pub app: Ottsonly,
    pub options: WebOptions,
}

/// Whether `path` is served by the web front-end.
pub fn is_web_path(path: &str) -> bool {
    const ADMIN: &[&str] =
        &["products", "orders", "waiting", "users", "notify", "alerts", "audit-log", "logout"];
    if path == "/" || path == "/shop" || path.starts_with("/shop/") || path.starts_with("/assets/") {
        return true;
    }
    if path == "/admin" || path == "/admin/" {
        return true;
    }
    // `/admin/audit`, `/admin/outbox` (and later `/admin/stats`) are the REST API's.
    path.strip_prefix("/admin/")
        .map(|rest| rest.split('/').next().unwrap_or(""))
        .is_some_and(|first| ADMIN.contains(&first))
}

/// The pages, ready to serve.
pub fn build(app: Ottsonly, options: WebOptions) -> BoxEndpoint<'static, Response> {
    let web = Arc::new(Web { app, options });
    let pages = Route::new().nest("/", shop::routes()).nest("/admin", admin::routes());
    let pages = pages.around(session::middleware).data(web);
    // A buyer who closes the tab cannot cancel a purchase halfway (see `detach`).
    Route::new()
        .nest("/assets", assets::routes())
        .nest("/", pages)
        .around(crate::common::http::detach)
        .with(poem::middleware::CatchPanic::new())
        .boxed()
}

/// `web` in front of `rest`: page paths go to `web`, everything else to `rest`.
pub fn mount(
    web: BoxEndpoint<'static, Response>,
    rest: BoxEndpoint<'static, Response>,
) -> BoxEndpoint<'static, Response> {
    let web = Arc::new(web);
    let rest = Arc::new(rest);
    poem::endpoint::make(move |req: Request| {
        let (web, rest) = (web.clone(), rest.clone());
        async move {
            let ep = if is_web_path(req.uri().path()) { web } else { rest };
            Ok::<_, poem::Error>(match ep.call(req).await {
                Ok(r) => r,
                Err(e) => e.into_response(),
            })
        }
    })
    .boxed()
}
