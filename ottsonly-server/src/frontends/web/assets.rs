//! Assets compiled into the binary, served under a content-hashed name with a year-long cache.

use poem::http::{StatusCode, header};
use poem::web::Path;
use poem::{Response, Route, handler};
use std::sync::LazyLock;

const CSS: &str = include_str!("app.css");

/// `app.<hash>.css`: the name changes whenever the file does, so it can be cached forever.
static CSS_NAME: LazyLock<String> =
    LazyLock::new(|| format!("app.{}.css", &ottsonly_core::crypto::sha256_hex(CSS.as_bytes())[..16]));

/// The stylesheet's URL, for the page layout.
pub(crate) fn css_url() -> String {
    format!("/assets/{}", CSS_NAME.as_str())
}

#[handler]
fn asset(Path(name): Path<String>) -> Response {
    if name != *CSS_NAME {
        return Response::builder().status(StatusCode::NOT_FOUND).body("not found");
    }
    Response::builder()
        .content_type("text/css; charset=utf-8")
        .header(header::CACHE_CONTROL, "public, max-age=31536000, immutable")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .body(CSS)
}

pub(crate) fn routes() -> Route {
    Route::new().at("/:name", poem::get(asset))
}
