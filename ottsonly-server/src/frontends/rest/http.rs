//! Cross-cutting HTTP concerns as plain `around` middleware: request ids, access logs and
//! metrics (outermost), the error envelope for everything the framework answers on its own,
//! and request body limits.

use crate::common::metrics;
use crate::frontends::rest::document::AllowedMethods;
use crate::frontends::rest::error::{envelope_response, framework_code};
use poem::PathPattern;
use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Body, Endpoint, IntoResponse, Request, Response, Result};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id of the request being served (also on its tracing span and response header).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Body limits: the general one, and a larger one for credential imports.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    pub default_bytes: usize,
    pub import_bytes: usize,
}

impl Default for BodyLimits {
    fn default() -> Self {
        BodyLimits { default_bytes: 256 * 1024, import_bytes: 2 * 1024 * 1024 }
    }
}

/// A client's id is reused when it is short, visible ASCII; otherwise we make one.
fn request_id(req: &Request) -> String {
    req.headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(new_request_id)
}

/// A random per-process prefix and a counter: unique across instances in practice, and no
/// random draw per request.
fn new_request_id() -> String {
    static PREFIX: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| uuid::Uuid::new_v4().as_u64_pair().0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{prefix:016x}-{n:08x}")
}

/// Turns the matched route pattern into the metrics label: the OpenAPI path template
/// (`/orders/{id}`), never the raw path, so labels stay few.
#[derive(Debug, Default)]
pub struct RouteLabels {
    /// Shape (parameters blanked) → the documented template.
    templates: HashMap<String, String>,
}

/// `/orders/:param0` and `/orders/{id}` both become `/orders/{}`.
fn shape(pattern: &str) -> String {
    pattern
        .split('/')
        .map(
            |seg| {
                if seg.starts_with(':') || (seg.starts_with('{') && seg.ends_with('}')) { "{}" } else { seg }
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

impl RouteLabels {
    pub fn new<'a>(documented: impl IntoIterator<Item = &'a str>) -> RouteLabels {
        RouteLabels { templates: documented.into_iter().map(|p| (shape(p), p.to_string())).collect() }
    }

    /// The label of a response: its template, or `unmatched` when no route matched.
    fn label(&self, resp: &Response) -> String {
        match resp.data::<PathPattern>() {
            Some(p) => {
                let shaped = shape(&p.0);
                match self.templates.get(&shaped) {
                    Some(t) => t.clone(),
                    None if shaped.is_empty() => "/".into(),
                    None => shaped,
                }
            }
            None => "unmatched".into(),
        }
    }
}

/// Outermost: gives the request an id, runs it inside a span carrying the id (so every log
/// line of the request, including internal errors, names it), then logs and counts it.
pub async fn observe<E: Endpoint<Output = Response>>(
    ep: Arc<E>,
    mut req: Request,
    labels: Arc<RouteLabels>,
) -> Result<Response> {
    let id = request_id(&req);
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    req.set_data(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id, method = %method, path = %path);
    let started = Instant::now();
    let mut resp = match ep.call(req).instrument(span.clone()).await {
        Ok(r) => r,
        // The envelope layer turns errors into responses; this is only a safety net.
        Err(e) => {
            let status = e.status();
            let (code, message) = framework_code(status, "");
            envelope_response(status, code, &message, None)
        }
    };
    let elapsed = started.elapsed();
    let status = resp.status().as_u16();
    let route = labels.label(&resp);
    metrics::record_request(&method, &route, status, elapsed);
    span.in_scope(|| {
        let ms = elapsed.as_secs_f64() * 1000.0;
        if status >= 500 {
            tracing::warn!(status, route = %route, elapsed_ms = ms, "request failed");
        } else {
            tracing::info!(status, route = %route, elapsed_ms = ms, "request");
        }
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    Ok(resp)
}

/// [`crate::common::http::detach`], answering a failed task in the JSON envelope.
pub async fn detach<E: Endpoint<Output = Response> + 'static>(ep: Arc<E>, req: Request) -> Result<Response> {
    crate::common::http::detach_or(ep, req, || {
        let (code, message) = framework_code(StatusCode::INTERNAL_SERVER_ERROR, "");
        envelope_response(StatusCode::INTERNAL_SERVER_ERROR, code, &message, None)
    })
    .await
}

/// Turns every error the framework produces on its own (no route, wrong method, CORS refusal,
/// a panic) into the JSON envelope, keeping the original headers (CORS) and route data.
///
/// A 405 names the path's methods in `Allow` (RFC 9110), from the document.
pub async fn envelope<E: Endpoint<Output = Response>>(
    ep: Arc<E>,
    req: Request,
    allowed: Arc<AllowedMethods>,
) -> Result<Response> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let mut resp = match ep.call(req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    let status = resp.status();
    if status == StatusCode::METHOD_NOT_ALLOWED
        && !resp.headers().contains_key(header::ALLOW)
        && let Some(v) = allowed.allow(&path).and_then(|a| HeaderValue::from_str(&a).ok())
    {
        resp.headers_mut().insert(header::ALLOW, v);
    }
    if status.as_u16() < 400 || is_json(&resp) {
        return Ok(add_www_authenticate(resp));
    }
    let pattern = resp.data::<PathPattern>().cloned();
    let (parts, body) = resp.into_parts();
    let detail = body.into_string().await.unwrap_or_default();
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("not_found", format!("no route matches {method} {path}")),
        _ => framework_code(status, &detail),
    };
    if status.is_server_error() {
        tracing::error!(status = status.as_u16(), detail = %detail, "framework error");
    }
    let retry_after = parts.headers.get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()?.parse().ok());
    let mut out = envelope_response(status, code, &message, retry_after);
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    // A framework 404 matched no operation, whatever prefix it passed through: counted as
    // `unmatched` so unknown paths cannot inflate the metrics' label set.
    if let Some(p) = pattern.filter(|_| status != StatusCode::NOT_FOUND) {
        out.set_data(p);
    }
    Ok(add_www_authenticate(out))
}

fn is_json(resp: &Response) -> bool {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"))
}

/// RFC 6750: a 401 names the scheme the client should use.
fn add_www_authenticate(mut resp: Response) -> Response {
    if resp.status() == StatusCode::UNAUTHORIZED && !resp.headers().contains_key(header::WWW_AUTHENTICATE) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    resp
}

/// Reads the body up to the route's limit (413 beyond it), so no handler ever buffers more.
///
/// Also: a body-carrying request with an empty body and no `Content-Type` is treated as
/// `application/json`, so operations whose body is optional (`{reason?}`) accept "no body"
/// instead of answering 415.
pub async fn body_limit<E: Endpoint<Output = Response>>(
    ep: Arc<E>,
    mut req: Request,
    limits: BodyLimits,
) -> Result<Response> {
    let path = req.uri().path();
    let limit = if path.starts_with("/products/") && path.ends_with("/credentials") {
        limits.import_bytes
    } else {
        limits.default_bytes
    };
    let too_large = || {
        let message = format!("the request body is larger than {limit} bytes");
        envelope_response(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", &message, None)
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Ok(too_large());
    }
    let bytes = match req.take_body().into_bytes_limit(limit).await {
        Ok(b) => b,
        Err(poem::error::ReadBodyError::PayloadTooLarge) => return Ok(too_large()),
        Err(e) => {
            let message = format!("cannot read the request body: {e}");
            return Ok(envelope_response(StatusCode::BAD_REQUEST, "invalid_request", &message, None));
        }
    };
    let carries_body = matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH | Method::DELETE);
    if carries_body && bytes.is_empty() && !req.headers().contains_key(header::CONTENT_TYPE) {
        req.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    req.set_body(Body::from(bytes));
    ep.call(req).await.map(IntoResponse::into_response)
}
