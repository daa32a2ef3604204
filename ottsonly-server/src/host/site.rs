//! The whole HTTP site: every front-end that answers HTTP, mounted side by side. `serve` and
//! the tests build the same thing here.

use crate::common::links::CHECKOUT_PREFIX;
use crate::frontends::checkout::{self, CheckoutOptions};
use crate::frontends::rest::{HttpOptions, build_app};
use crate::frontends::web::{self, WebOptions};
use ottsonly_core::Ottsonly;
use poem::{Endpoint, EndpointExt, IntoEndpoint, Response, Route};

/// What each HTTP front-end is told.
#[derive(Debug, Clone, Default)]
pub struct SiteOptions {
    pub rest: HttpOptions,
    pub checkout: CheckoutOptions,
    pub web: WebOptions,
}

/// The REST API at `/` (its own 404/405 envelope answers every path no other front-end owns),
/// the checkout page at `/pay`, and in front of both the web storefront and console, which
/// answer only their own paths (`/`, `/shop/...`, `/assets/...`, `/admin` and its pages; see
/// [`web::is_web_path`]).
pub fn build_site(app: Ottsonly, options: SiteOptions) -> impl Endpoint<Output = Response> + 'static {
    let checkout = checkout::route(app.clone(), options.checkout)
        .around(crate::common::http::detach)
        .with(poem::middleware::CatchPanic::new())
        .map_to_response();
    let others = Route::new()
        .nest(CHECKOUT_PREFIX, checkout)
        .nest("/", build_app(app.clone(), options.rest).into_endpoint());
    web::mount(web::build(app, options.web), others.boxed())
}
