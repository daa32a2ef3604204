//! The one error envelope, `{"error": {"code": "...", "message": "..."}}`, and every way an error
//! becomes it: core errors, request-parsing and auth failures inside operations (through
//! [`Reply`]'s bad-request handler) and framework errors outside them (through
//! [`envelope_response`], used by the envelope middleware).
//!
//! Status rule: anything wrong with what the client sent (malformed JSON, wrong types, unknown
//! enum values, values core rejects) is 400; 422 is not used.

use crate::common::error_chain;
use ottsonly_core::{Error as CoreError, ErrorKind};
use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::error::{
    AuthorizationError, ContentTypeError, ParseParamError, ParsePathError, ParseRequestPayloadError,
};
use poem_openapi::payload::Json;
use poem_openapi::registry::{MetaResponses, Registry};
use poem_openapi::{ApiResponse, Object};

/// What went wrong, for programs (`code`, stable snake_case) and people (`message`).
#[derive(Debug, Clone, Object)]
#[oai(rename = "ErrorDetail")]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `insufficient_balance`.
    pub code: String,
    /// Human-readable explanation; may change between versions.
    pub message: String,
}

/// The body of every error response.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Error")]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

fn body(code: &str, message: impl Into<String>) -> Json<ErrorBody> {
    Json(ErrorBody { error: ErrorDetail { code: code.into(), message: message.into() } })
}

/// Every error an operation can answer with, one variant per status, all with the same body.
#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// The request is malformed or a value is invalid (`invalid_json`, `invalid_body`,
    /// `invalid_parameter`, `invalid_input`, `invalid_otp`, ...).
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// No valid access token (`unauthenticated`, `invalid_token`, `token_expired`).
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// The caller's role may not do this, or the account is blocked.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// No such resource, or it belongs to someone else.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// The request conflicts with the current state (`out_of_stock`, `insufficient_balance`,
    /// `already_refunded`, `idempotency_key_reused`, `product_inactive`, `invalid_state`, ...).
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// The body is larger than this operation accepts.
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorBody>),
    /// The body is not `application/json`.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorBody>),
    /// Slow down; retry after the given number of seconds.
    #[oai(status = 429)]
    TooManyRequests(Json<ErrorBody>, #[oai(header = "Retry-After")] u64),
    /// Something failed on our side; the `X-Request-Id` header identifies it in our logs.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// A dependency is unavailable or not configured (`payments_not_configured`, `busy`, ...).
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
}

pub type ApiResult<R> = Result<Reply<R>, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        Self::with_retry(status, code, message, None)
    }

    fn with_retry(
        status: StatusCode,
        code: &str,
        message: impl Into<String>,
        retry_after: Option<u64>,
    ) -> ApiError {
        let b = body(code, message);
        match status.as_u16() {
            401 => ApiError::Unauthorized(b),
            403 => ApiError::Forbidden(b),
            404 => ApiError::NotFound(b),
            409 => ApiError::Conflict(b),
            413 => ApiError::PayloadTooLarge(b),
            415 => ApiError::UnsupportedMediaType(b),
            429 => ApiError::TooManyRequests(b, retry_after.unwrap_or(1)),
            500..=599 if status == StatusCode::SERVICE_UNAVAILABLE => ApiError::Unavailable(b),
            500..=599 => ApiError::Internal(b),
            _ => ApiError::BadRequest(b),
        }
    }

    pub fn rate_limited(retry_after_s: u64, message: impl Into<String>) -> ApiError {
        ApiError::TooManyRequests(body("rate_limited", message), retry_after_s.max(1))
    }

    pub fn unauthenticated() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", "a bearer access token is required")
    }

    /// Maps an error raised while parsing a request into an operation's arguments (body, query,
    /// path, headers, the bearer token) onto the envelope.
    pub fn from_poem(err: poem::Error) -> ApiError {
        if let Some(e) = err.downcast_ref::<CoreError>() {
            return ApiError::from_core(e);
        }
        if err.is::<AuthorizationError>() {
            return ApiError::unauthenticated();
        }
        if let Some(e) = err.downcast_ref::<ParseRequestPayloadError>() {
            // Syntax errors come from serde_json, whose messages end in "at line L column C";
            // shape errors (types, missing fields, unknown enum values or fields) come from
            // poem-openapi's schema check and carry no position.
            let syntax = e.reason.contains(" at line ") && e.reason.contains(" column ");
            // A value outside the documented bounds is `invalid_input`, as when core refuses it.
            let code = if syntax {
                "invalid_json"
            } else if e.reason.contains("verification failed") {
                "invalid_input"
            } else {
                "invalid_body"
            };
            let message = format!("invalid request body: {}", in_words(&e.reason));
            return ApiError::new(StatusCode::BAD_REQUEST, code, message);
        }
        if let Some(e) = err.downcast_ref::<ParseParamError>() {
            if e.name == "cursor" {
                return ApiError::from_core(&CoreError::InvalidCursor);
            }
            let message = format!("invalid parameter `{}`: {}", e.name, in_words(&e.reason));
            let code =
                if e.reason.contains("verification failed") { "invalid_input" } else { "invalid_parameter" };
            return ApiError::new(StatusCode::BAD_REQUEST, code, message);
        }
        if let Some(e) = err.downcast_ref::<ParsePathError>() {
            let message = format!("invalid path parameter `{}`: {}", e.name, in_words(&e.reason));
            return ApiError::new(StatusCode::BAD_REQUEST, "invalid_parameter", message);
        }
        if err.is::<ContentTypeError>() {
            return ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                err.to_string(),
            );
        }
        let status = err.status();
        let (code, message) = framework_code(status, &err.to_string());
        ApiError::new(status, code, message)
    }

    /// The mapping from core's error kinds to statuses.
    pub fn from_core(e: &CoreError) -> ApiError {
        let code = e.code();
        let status = match e.kind() {
            ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
            ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let message = match (e.kind(), code) {
            // The real cause goes to the log (with the request id, from the request's span),
            // never to the client.
            (ErrorKind::Internal, _) => {
                tracing::error!(error = %error_chain(e), "internal error");
                "internal error; quote the X-Request-Id header when reporting it".to_string()
            }
            (_, "busy") => "the service is busy; retry shortly".to_string(),
            _ => e.to_string(),
        };
        // Round up so a client never retries a moment too early.
        let retry_after = e.retry_after().map(|d| d.as_secs() + u64::from(d.subsec_nanos() > 0));
        ApiError::with_retry(status, code, message, retry_after)
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyRequests(..) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        ApiError::from_core(&e)
    }
}

/// Codes the server itself answers with, besides core's (`ottsonly_core::error::CODES`).
pub const SERVER_CODES: &[&str] = &[
    "invalid_json",
    "invalid_body",
    "invalid_parameter",
    "invalid_request",
    "invalid_signature",
    "method_not_allowed",
    "request_timeout",
    "length_required",
    "payload_too_large",
    "unsupported_media_type",
    "rate_limited",
    "not_ready",
    "unavailable",
];

/// Every code of the envelope, core's then the server's: the `ErrorCode` enum of the document.
pub fn all_codes() -> Vec<&'static str> {
    let mut codes: Vec<&'static str> = ottsonly_core::error::CODES.to_vec();
    codes.extend(SERVER_CODES.iter().filter(|c| !codes.contains(c)).collect::<Vec<_>>());
    codes
}

/// Rewrites poem-openapi's parse errors for people: the deserializer's type names
/// (`"integer_int64"`, `"optional_ReasonRequest"`) become what the value must be, in words.
pub fn in_words(reason: &str) -> String {
    // `failed to parse "NewProduct": ...` says only which Rust type was being read.
    let mut reason = reason.to_string();
    while let Some(i) = reason.find("failed to parse \"") {
        let Some(end) = reason[i..].find("\": ") else { break };
        reason.replace_range(i..i + end + 3, "");
    }
    let mut out = String::with_capacity(reason.len());
    let mut rest = reason.as_str();
    // Drop the trail of enclosing types: it names Rust types, not fields.
    if let Some(i) = rest.find(" (occurred while parsing") {
        rest = &rest[..i];
    }
    while let Some(start) = rest.find('"') {
        let Some(len) = rest[start + 1..].find('"') else { break };
        let name = &rest[start + 1..start + 1 + len];
        out.push_str(&rest[..start]);
        match type_in_words(name) {
            Some(words) => out.push_str(&words),
            None => out.push_str(&rest[start..start + len + 2]),
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    let out = out
        .replace("Expected input type ", "expected ")
        .replace("Type ", "")
        .replace(" expects an input value.", " is required.");
    out.trim().to_string()
}

/// What a poem-openapi type name means, or `None` for a quoted string that is no type name.
fn type_in_words(name: &str) -> Option<String> {
    let name = name.strip_prefix("optional_").unwrap_or(name);
    let words = match name {
        "string" => "a string".into(),
        "boolean" => "true or false".into(),
        "integer_int64" | "integer_int32" => "an integer".into(),
        "integer_uint64" | "integer_uint32" | "integer_uint16" | "integer_uint8" => {
            "a whole number (0 or more)".into()
        }
        "number_double" | "number_float" => "a number".into(),
        "string_date-time" => "an RFC 3339 date-time string".into(),
        "object" | "any" => "a JSON value".into(),
        n if n.starts_with("[") || n.starts_with("array_") || n.starts_with("list_") => "a JSON array".into(),
        n if n.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && n.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            "a JSON object".into()
        }
        _ => return None,
    };
    Some(words)
}

/// The code and message for a status the framework produced on its own.
pub fn framework_code(status: StatusCode, detail: &str) -> (&'static str, String) {
    let detail = if detail.trim().is_empty() { status.canonical_reason().unwrap_or("error") } else { detail };
    match status.as_u16() {
        400 => ("invalid_request", detail.to_string()),
        401 => ("unauthenticated", "a bearer access token is required".into()),
        403 => ("forbidden", detail.to_string()),
        404 => ("not_found", detail.to_string()),
        405 => ("method_not_allowed", "this method is not allowed on this path".into()),
        408 => ("request_timeout", detail.to_string()),
        411 => ("length_required", detail.to_string()),
        413 => ("payload_too_large", "the request body is too large".into()),
        415 => ("unsupported_media_type", detail.to_string()),
        429 => ("rate_limited", detail.to_string()),
        503 => ("unavailable", "the service is unavailable".into()),
        s if s >= 500 => {
            ("internal", "internal error; quote the X-Request-Id header when reporting it".into())
        }
        _ => ("invalid_request", detail.to_string()),
    }
}

/// An envelope response built outside any operation (middleware, plain routes).
pub fn envelope_response(
    status: StatusCode,
    code: &str,
    message: &str,
    retry_after: Option<u64>,
) -> Response {
    let mut resp = ApiError::with_retry(status, code, message, retry_after).into_response();
    // Statuses no operation declares (405, 411, ...) keep their own status with the same body.
    resp.set_status(status);
    resp
}

/// An operation's success response, or an error produced while parsing its arguments.
///
/// poem-openapi routes argument-parsing failures (bad JSON, bad query values, missing or invalid
/// bearer token) to the *success* type's `bad_request_handler`; wrapping every success type in
/// `Reply` gives all operations the same handler, so those failures use the envelope too.
/// Handlers return [`ApiResult`], i.e. `Result<Reply<R>, ApiError>`, and use `?` on core calls.
pub enum Reply<R> {
    Ok(R),
    Err(ApiError),
}

impl<R> From<R> for Reply<R> {
    fn from(r: R) -> Self {
        Reply::Ok(r)
    }
}

impl<R: ApiResponse> ApiResponse for Reply<R> {
    const BAD_REQUEST_HANDLER: bool = true;

    fn meta() -> MetaResponses {
        R::meta()
    }

    fn register(registry: &mut Registry) {
        R::register(registry);
    }

    fn from_parse_request_error(err: poem::Error) -> Self {
        Reply::Err(ApiError::from_poem(err))
    }
}

impl<R: IntoResponse> IntoResponse for Reply<R> {
    fn into_response(self) -> Response {
        match self {
            Reply::Ok(r) => r.into_response(),
            Reply::Err(e) => e.into_response(),
        }
    }
}

/// `Ok(Json(value).into())`, the common success.
pub fn ok<T: poem_openapi::types::ToJSON + Send + Sync>(value: T) -> ApiResult<Json<T>> {
    Ok(Reply::Ok(Json(value)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn core_kinds_map_to_statuses() {
        let cases: Vec<(CoreError, u16, &str)> = vec![
            (CoreError::validation("x", "bad"), 400, "invalid_input"),
            (CoreError::InvalidToken, 401, "invalid_token"),
            (CoreError::Forbidden, 403, "forbidden"),
            (CoreError::UserBlocked, 403, "user_blocked"),
            (CoreError::NotFound { what: "order" }, 404, "not_found"),
            (CoreError::InsufficientBalance, 409, "insufficient_balance"),
            (CoreError::OtpCooldown { retry_after: Duration::from_millis(1500) }, 429, "otp_cooldown"),
            (
                CoreError::TopUpRateLimited { retry_after: Duration::from_millis(1500) },
                429,
                "topup_rate_limited",
            ),
            (CoreError::TooManyOpenTopUps { limit: 10 }, 429, "too_many_open_topups"),
            (CoreError::PaymentNotCaptured, 409, "payment_not_captured"),
            (CoreError::PaymentsNotConfigured, 503, "payments_not_configured"),
            (CoreError::Internal("db exploded".into()), 500, "internal"),
        ];
        for (e, status, code) in cases {
            let r = ApiError::from(e).into_response();
            assert_eq!(r.status().as_u16(), status, "{code}");
            if code == "too_many_open_topups" {
                // No wait is known (paying or the horizon frees a slot): the envelope's minimum.
                assert_eq!(r.headers().get("retry-after").unwrap(), "1");
            } else if status == 429 {
                assert_eq!(r.headers().get("retry-after").unwrap(), "2");
            }
        }
    }

    #[test]
    fn parse_errors_name_no_rust_types() {
        let cases = [
            (
                r#"Expected input type "integer_int64", found "abc". (occurred while parsing "NewProduct")"#,
                r#"expected an integer, found "abc"."#,
            ),
            (
                r#"failed to parse "ReasonRequest": unknown field `x`. (occurred while parsing "optional_ReasonRequest")"#,
                "unknown field `x`.",
            ),
            (r#"Type "string" expects an input value."#, "a string is required."),
            (
                r#"Expected input type "integer_uint32", found -1."#,
                "expected a whole number (0 or more), found -1.",
            ),
        ];
        for (raw, words) in cases {
            let w = in_words(raw);
            assert_eq!(w, words);
            for t in ["integer_", "optional_", "NewProduct", "ReasonRequest", "occurred while"] {
                assert!(!w.contains(t), "{w}");
            }
        }
    }

    #[tokio::test]
    async fn internal_details_stay_out_of_the_body() {
        let r = ApiError::from(CoreError::Internal("db exploded at /var/secret".into())).into_response();
        let text = r.into_body().into_string().await.unwrap();
        assert!(!text.contains("exploded"), "{text}");
        assert!(text.contains("\"code\":\"internal\""), "{text}");
    }
}
