//! The OpenAPI document as served: poem-openapi's, plus what its derive macros cannot say.
//!
//! - Request bodies refuse unknown fields (`deny_unknown_fields`); the derive does not write
//!   `additionalProperties: false`, so every schema reachable from a request body gets it here.
//! - `ErrorDetail.code` is the `ErrorCode` enum: every code core and the server answer with.
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
