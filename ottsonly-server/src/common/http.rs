//! What every HTML front-end wraps its routes in.

use poem::http::StatusCode;
use poem::{Endpoint, Request, Response, Result};
use std::sync::Arc;

/// Runs the request in its own task, so a client that goes away cannot cancel a unit of work
/// halfway (a future dropped inside sqlx's `BEGIN` left a pooled SQLite connection "inside a
/// transaction", and every later unit on it failed; the fuzzer found it). Answers a plain 500
/// if the task fails.
pub async fn detach<E: Endpoint<Output = Response> + 'static>(ep: Arc<E>, req: Request) -> Result<Response> {
    detach_or(ep, req, || {
        Response::builder().status(StatusCode::INTERNAL_SERVER_ERROR).body("internal error")
    })
    .await
}

/// [`detach`], answering `on_failure()` (a front-end's own 500) if the task fails.
pub async fn detach_or<E: Endpoint<Output = Response> + 'static>(
    ep: Arc<E>,
    req: Request,
    on_failure: impl FnOnce() -> Response,
) -> Result<Response> {
    match tokio::spawn(async move { ep.call(req).await }).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "request task failed");
            Ok(on_failure())
        }
    }
}

/// Headers of every HTML page: a strict CSP (each front-end names what it must allow beyond
/// `'self'`), no framing, no referrer to other sites, no MIME sniffing.
pub fn html_page_headers(mut resp: Response, csp: &str) -> Response {
    let h = resp.headers_mut();
    let set = |h: &mut poem::http::HeaderMap, k: &'static str, v: &str| {
        if let Ok(v) = poem::http::HeaderValue::from_str(v) {
            h.insert(k, v);
        }
    };
    set(h, "content-security-policy", csp);
    set(h, "x-frame-options", "DENY");
    set(h, "referrer-policy", "same-origin");
    set(h, "x-content-type-options", "nosniff");
    set(h, "cache-control", "no-store");
    resp
}
