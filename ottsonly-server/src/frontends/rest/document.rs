//! The OpenAPI document as served: poem-openapi's, plus what its derive macros cannot say.
//!
//! - Request bodies refuse unknown fields (`deny_unknown_fields`); the derive does not write
//!   `additionalProperties: false`, so every schema reachable from a request body gets it here.
//! - `ErrorDetail.code` is the `ErrorCode` enum: every code core and the server answer with.
//! - Each operation's error responses use its own schema (`<Operation>Error`, e.g.
//!   `CreateOrderError`) whose `error.code` is the enum of the codes that operation can answer
//!   with: the codes of [`OPERATION_CODES`] (what its handler and core's service return) plus
//!   those that follow from its shape (a bearer token, a body, parameters, path ids), see
//!   [`operation_codes`].
//! - Bounds that come from the configuration (top-up and adjustment amounts) are written from
//!   the running [`CoreConfig`], so the document states the limits this server enforces.
//! - `POST /webhooks/razorpay` is a plain poem route (its signature covers the raw body, which
//!   must reach it untouched); it is described here.
//! - 405 answers carry `Allow`; [`AllowedMethods`] derives it from the document's paths.

use super::error::all_codes;
use ottsonly_core::CoreConfig;
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

/// Finishes poem-openapi's document (see the module docs).
pub fn finish(spec: &str, config: &CoreConfig) -> String {
    let mut doc: Value = serde_json::from_str(spec).expect("poem-openapi writes valid JSON");
    close_request_schemas(&mut doc);
    optional_bodies_take_null(&mut doc);
    error_codes(&mut doc);
    config_bounds(&mut doc, config);
    webhook(&mut doc);
    per_operation_errors(&mut doc);
    serde_json::to_string(&doc).expect("a JSON value serializes")
}

fn schema_name(reference: &str) -> Option<&str> {
    reference.strip_prefix("#/components/schemas/")
}

/// Names of component schemas referenced anywhere inside `v`.
fn refs_in(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(name) = m.get("$ref").and_then(Value::as_str).and_then(schema_name) {
                out.push(name.to_string());
            }
            m.values().for_each(|v| refs_in(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| refs_in(v, out)),
        _ => {}
    }
}

fn close_request_schemas(doc: &mut Value) {
    let mut pending = Vec::new();
    if let Some(paths) = doc["paths"].as_object() {
        for op in paths.values().filter_map(Value::as_object).flat_map(|ops| ops.values()) {
            refs_in(&op["requestBody"], &mut pending);
        }
    }
    let mut closed = BTreeSet::new();
    while let Some(name) = pending.pop() {
        if !closed.insert(name.clone()) {
            continue;
        }
        let schema = &mut doc["components"]["schemas"][&name];
        refs_in(&schema["properties"], &mut pending);
        if schema["type"] == "object" {
            schema["additionalProperties"] = Value::Bool(false);
        }
    }
}

/// An optional JSON body (`{reason?}`) may also be `null`, which reads as no body.
fn optional_bodies_take_null(doc: &mut Value) {
    let Some(paths) = doc["paths"].as_object_mut() else { return };
    for op in paths.values_mut().filter_map(Value::as_object_mut).flat_map(|ops| ops.values_mut()) {
        let body = &mut op["requestBody"];
        if !body.is_object() || body["required"] == true {
            continue;
        }
        if let Some(content) = body["content"].as_object_mut() {
            for media in content.values_mut() {
                let schema = media["schema"].take();
                media["schema"] = json!({ "allOf": [schema], "nullable": true });
            }
        }
    }
}

fn error_codes(doc: &mut Value) {
    let schemas = &mut doc["components"]["schemas"];
    schemas["ErrorCode"] = json!({
        "type": "string",
        "description": "Stable machine-readable code of an error; new codes may be added.",
        "enum": all_codes(),
    });
    let code = &mut schemas["ErrorDetail"]["properties"]["code"];
    let description = code.get("description").cloned();
    *code = json!({ "allOf": [{ "$ref": "#/components/schemas/ErrorCode" }] });
    if let Some(d) = description {
        code["description"] = d;
    }
}

/// The codes each operation answers with beyond those its shape implies ([`operation_codes`]):
/// what its handler and core's service return. One row per operation id; a test checks that
/// every documented operation has a row and that every code is a real one.
pub const OPERATION_CODES: &[(&str, &[&str])] = &[
    // Operations
    ("health", &[]),
    ("ready", &["not_ready"]),
    ("metrics", &["unauthenticated"]),
    // Auth (the login endpoints are rate limited per client IP: `rate_limited`)
    (
        "request_otp",
        &[
            "phone_country_not_allowed",
            "otp_cooldown",
            "otp_daily_limit",
            "otp_guess_limit",
            "otp_delivery_failed",
            "rate_limited",
            "busy",
        ],
    ),
    (
        "verify_otp",
        &[
            "phone_country_not_allowed",
            "invalid_otp",
            "otp_expired",
            "otp_attempts_exceeded",
            "otp_guess_limit",
            "user_blocked",
            "rate_limited",
            "busy",
        ],
    ),
    ("refresh_session", &["invalid_refresh_token", "refresh_token_reused", "user_blocked", "busy"]),
    ("logout", &["busy"]),
    ("logout_all", &["not_found"]),
    // Catalog
    ("list_products", &[]),
    ("get_product", &[]),
    ("create_product", &[]),
    ("update_product", &["invalid_state"]),
    ("deactivate_product", &[]),
    ("adjust_product_stock", &["invalid_state"]),
    ("import_product_credentials", &["invalid_state"]),
    // Orders
    (
        "create_order",
        &["idempotency_key_reused", "product_inactive", "out_of_stock", "insufficient_balance", "not_found"],
    ),
    ("list_my_orders", &[]),
    ("list_orders", &[]),
    ("get_order", &[]),
    ("refund_order", &["already_refunded", "invalid_state"]),
    // Subscriptions
    ("list_my_subscriptions", &[]),
    ("list_subscriptions", &[]),
    ("get_subscription", &[]),
    ("assign_subscription_credentials", &["invalid_state"]),
    ("cancel_subscription", &["invalid_state"]),
    // Users
    ("get_me", &["not_found"]),
    ("update_me", &["not_found"]),
    ("list_users", &[]),
    ("get_user", &[]),
    ("set_user_role", &["invalid_state"]),
    ("block_user", &["invalid_state"]),
    ("unblock_user", &["invalid_state"]),
    ("list_user_transactions", &[]),
    // Wallet
    ("get_wallet", &["not_found"]),
    ("list_wallet_transactions", &[]),
    (
        "create_topup",
        &[
            "payments_not_configured",
            "payment_gateway_unavailable",
            "too_many_open_topups",
            "topup_rate_limited",
        ],
    ),
    (
        "verify_topup_payment",
        &[
            "payments_not_configured",
            "payment_gateway_unavailable",
            "invalid_payment_signature",
            "invalid_state",
            "payment_amount_mismatch",
            "payment_not_captured",
        ],
    ),
    ("adjust_wallet", &["idempotency_key_reused", "insufficient_balance", "not_found"]),
    (
        "razorpay_webhook",
        &["payments_not_configured", "invalid_body", "invalid_signature", "invalid_input", "unavailable"],
    ),
    // Notifications
    ("list_notifications", &[]),
    ("count_unread_notifications", &[]),
    ("mark_notification_read", &[]),
    ("mark_all_notifications_read", &[]),
    ("delete_notification", &[]),
    ("broadcast_notification", &[]),
    // Admin
    ("list_outbox", &[]),
    ("list_audit", &[]),
];

/// Every code `op` (an operation object of the document) can answer with, sorted: its row of
/// [`OPERATION_CODES`] plus what its shape implies. `None` when the operation has no row.
pub fn operation_codes(op: &Value) -> Option<Vec<&'static str>> {
    let id = op["operationId"].as_str()?;
    let (_, own) = OPERATION_CODES.iter().find(|(name, _)| *name == id)?;
    // Every request: an unreadable or oversized body (checked before routing) and our own failures.
    let mut codes: BTreeSet<&'static str> = ["invalid_request", "payload_too_large", "internal"].into();
    codes.extend(own.iter().copied());
    let params = op["parameters"].as_array().map(Vec::as_slice).unwrap_or_default();
    if op["security"].as_array().is_some_and(|s| !s.is_empty()) {
        // The bearer check loads the caller from the store; every service checks the role.
        codes.extend([
            "unauthenticated",
            "invalid_token",
            "token_expired",
            "user_blocked",
            "forbidden",
            "busy",
        ]);
    }
    if op["requestBody"].is_object() {
        codes.extend(["invalid_json", "invalid_body", "invalid_input", "unsupported_media_type", "busy"]);
    }
    if !params.is_empty() {
        // Out-of-range values (`limit`, validators) are `invalid_input`, like core's refusals.
        codes.extend(["invalid_parameter", "invalid_input"]);
    }
    if params.iter().any(|p| p["in"] == "path") {
        codes.insert("not_found");
    }
    if params.iter().any(|p| p["in"] == "query" && p["name"] == "cursor") {
        codes.insert("invalid_cursor");
    }
    Some(codes.into_iter().collect())
}

/// `create_order` → `CreateOrderError`.
fn error_schema_name(operation_id: &str) -> String {
    let mut name: String = operation_id
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect();
    name.push_str("Error");
    name
}

/// Points every error response of an operation at a schema of its own whose `error.code` lists
/// the codes of [`operation_codes`].
fn per_operation_errors(doc: &mut Value) {
    let message = doc["components"]["schemas"]["ErrorDetail"]["properties"]["message"].clone();
    let mut schemas = Map::new();
    let Some(paths) = doc["paths"].as_object_mut() else { return };
    for op in paths.values_mut().filter_map(Value::as_object_mut).flat_map(|ops| ops.values_mut()) {
        let (Some(id), Some(codes)) = (op["operationId"].as_str().map(str::to_string), operation_codes(op))
        else {
            continue;
        };
        let name = error_schema_name(&id);
        let Some(responses) = op["responses"].as_object_mut() else { continue };
        for (status, response) in responses.iter_mut() {
            if !status.starts_with(['4', '5']) {
                continue;
            }
            if let Some(content) = response["content"].as_object_mut() {
                for media in content.values_mut() {
                    media["schema"] = json!({ "$ref": format!("#/components/schemas/{name}") });
                }
            }
        }
        schemas.insert(
            name,
            json!({
                "type": "object",
                "description": format!("The body of an error of `{id}`."),
                "required": ["error"],
                "properties": { "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {
                            "type": "string",
                            "description": format!("Stable machine-readable code: one of those `{id}` answers with."),
                            "enum": codes,
                        },
                        "message": message,
                    },
                } },
            }),
        );
    }
    if let Some(components) = doc["components"]["schemas"].as_object_mut() {
        components.extend(schemas);
    }
}

/// Sets `minimum`/`maximum` (in paise) on a request schema's amount property.
fn bound(doc: &mut Value, schema: &str, property: &str, min: i64, max: i64) {
    let p = &mut doc["components"]["schemas"][schema]["properties"][property];
    if p.is_object() {
        p["minimum"] = json!(min);
        p["maximum"] = json!(max);
    }
}

fn config_bounds(doc: &mut Value, config: &CoreConfig) {
    let w = &config.wallet;
    bound(doc, "AddMoneyRequest", "amount_paise", w.topup_min.paise(), w.topup_max.paise());
    bound(doc, "AdjustRequest", "amount_paise", 1, w.adjustment_max.paise());
}

fn webhook(doc: &mut Value) {
    let error = json!({ "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } });
    doc["paths"]["/webhooks/razorpay"] = json!({
        "post": {
            "tags": ["Wallet"],
            "operationId": "razorpay_webhook",
            "summary": "Razorpay's payment events (called by Razorpay, not by clients).",
            "description": "The `X-Razorpay-Signature` header is the hex HMAC-SHA256 of the raw \
    body with the webhook secret; the body is checked byte for byte as received. A captured payment \
    credits its top-up once, through the same path as `/wallet/verify-payment`. 200 means the event \
    is finished with (credited, duplicate, ignored or refused as a mismatch): Razorpay stops retrying.",
            "parameters": [
                { "name": "X-Razorpay-Signature", "in": "header", "required": true,
                  "schema": { "type": "string" } },
                { "name": "X-Razorpay-Event-Id", "in": "header", "required": false,
                  "description": "De-duplicates redelivered events.", "schema": { "type": "string" } },
            ],
            "requestBody": {
                "required": true,
                "content": { "application/json": { "schema": { "type": "object" } } },
            },
            "responses": {
                "200": {
                    "description": "The event is handled.",
                    "content": { "application/json": { "schema": {
                        "type": "object",
                        "required": ["status"],
                        "properties": { "status": { "type": "string", "enum": [
                            "credited", "already_credited", "duplicate", "ignored",
                            "amount_mismatch", "unknown_order",
                        ] } },
                    } } },
                },
                "400": { "description": "Bad signature (`invalid_signature`) or body.", "content": error },
                "413": { "description": "The body is too large.", "content": error },
                "503": {
                    "description": "Payments are off (`payments_not_configured`) or the store is \
    unavailable; Razorpay retries later.",
                    "content": error,
                },
            },
        },
    });
}

/// The methods of every documented path, for the `Allow` header of a 405.
#[derive(Debug, Default)]
pub struct AllowedMethods {
    /// Path template split into segments (`None` for a `{parameter}`), and its methods.
    routes: Vec<(Vec<Option<String>>, Vec<String>)>,
}

impl AllowedMethods {
    pub fn from_document(doc: &str) -> AllowedMethods {
        let doc: Value = serde_json::from_str(doc).unwrap_or_default();
        let empty = Map::new();
        let routes = doc["paths"]
            .as_object()
            .unwrap_or(&empty)
            .iter()
            .map(|(path, ops)| {
                let segments = path
                    .split('/')
                    .map(|s| (!(s.starts_with('{') && s.ends_with('}'))).then(|| s.to_string()))
                    .collect();
                let mut methods: Vec<String> =
                    ops.as_object().unwrap_or(&empty).keys().map(|m| m.to_uppercase()).collect();
                if methods.iter().any(|m| m == "GET") {
                    methods.push("HEAD".into());
                }
                (segments, methods)
            })
            .collect();
        AllowedMethods { routes }
    }

    /// `GET, HEAD, POST`-style value for a request path, or `None` for an unknown path.
    /// A literal segment beats a parameter (`/orders/my` before `/orders/{id}`).
    pub fn allow(&self, path: &str) -> Option<String> {
        let segs: Vec<&str> = path.split('/').collect();
        let mut best: Option<(usize, &Vec<String>)> = None;
        for (template, methods) in &self.routes {
            if template.len() != segs.len() {
                continue;
            }
            let mut literal = 0;
            let matches = template.iter().zip(&segs).all(|(t, s)| match t {
                Some(t) => {
                    literal += 1;
                    t == s
                }
                None => !s.is_empty(),
            });
            if matches && best.is_none_or(|(l, _)| literal > l) {
                best = Some((literal, methods));
            }
        }
        best.map(|(_, m)| {
            let mut m = m.clone();
            m.sort();
            m.dedup();
            m.join(", ")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_prefers_literal_segments() {
        let doc = json!({ "paths": {
            "/orders/{id}": { "get": {} },
            "/orders/my": { "get": {} },
            "/orders": { "get": {}, "post": {} },
        }});
        let a = AllowedMethods::from_document(&doc.to_string());
        assert_eq!(a.allow("/orders").as_deref(), Some("GET, HEAD, POST"));
        assert_eq!(a.allow("/orders/x").as_deref(), Some("GET, HEAD"));
        assert_eq!(a.allow("/nope"), None);
    }
}
