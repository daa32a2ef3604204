//! The whole HTTP site: every front-end that answers HTTP, mounted side by side. `serve` and
//! the tests build the same thing here.

use crate::common::links::CHECKOUT_PREFIX;
use crate::frontends::checkout::{self, CheckoutOptions};
use crate::frontends::rest::{HttpOptions, build_app};
use ottsonly_core::Ottsonly;
use poem::{Endpoint, EndpointExt, IntoEndpoint, Response, Route};

/// What each HTTP front-end is told.
#[derive(Debug, Clone, Default)]
pub struct SiteOptions {
    pub rest: HttpOptions,
    pub checkout: CheckoutOptions,
}

/// The REST API at `/` (its own 404/405 envelope answers every path no other front-end owns),
/// the checkout page at `/pay`.
pub fn build_site(app: Ottsonly, options: SiteOptions) -> impl Endpoint<Output = Response> + 'static {
    let checkout = checkout::route(app.clone(), options.checkout)
        .around(crate::common::http::detach)
        .with(poem::middleware::CatchPanic::new())
        .map_to_response();
    Route::new().nest(CHECKOUT_PREFIX, checkout).nest("/", build_app(app, options.rest).into_endpoint())
}
