use crate::support::*;
use ottsonly_core::{Store, StoreError, StoreRead, StoreResult, Tx};
use poem::http::Method;
use std::sync::Arc;

/// A database that is down: every call fails as a backend error.
pub struct DownStore;

fn down() -> StoreError {
    StoreError::backend(std::io::Error::other("disk on fire at /var/lib/secret"))
}

#[async_trait::async_trait]
impl Store for DownStore {
    async fn begin(&self) -> StoreResult<Box<dyn Tx>> {
        Err(down())
    }
    async fn reader(&self) -> StoreResult<Box<dyn StoreRead>> {
        Err(down())
    }
    async fn ping(&self) -> StoreResult<()> {
        Err(down())
    }
    fn backend_name(&self) -> &'static str {
        "down"
    }
}

#[tokio::test]
async fn health_and_readiness() {
    let t = TestApp::new().await;
    assert_eq!(t.get("/health", None).await.expect(200).str("/status"), "ok");
    assert_eq!(t.get("/ready", None).await.expect(200).str("/status"), "ready");
    let down = TestApp::builder().store(Arc::new(DownStore)).build().await;
    down.get("/health", None).await.expect(200);
    down.get("/ready", None).await.expect_error(503, "not_ready");
}

#[tokio::test]
async fn internal_errors_are_generic_500s() {
    let t = TestApp::builder().store(Arc::new(DownStore)).build().await;
    let r = t.get("/products", None).await.expect_error(500, "internal");
    assert!(!r.text.contains("disk") && !r.text.contains("secret"), "{}", r.text);
    assert!(r.header("x-request-id").is_some());
}

#[tokio::test]
async fn metrics_count_requests_by_route_template() {
    let shop = Shop::new().await;
    let t = &shop.t;
    shop.buy().await;
    t.get("/orders/some-raw-id", Some(&shop.user)).await.expect(404);
    t.get("/definitely/not/a/route", None).await.expect(404);
    let m = t.get("/metrics", None).await.expect(200);
    assert!(m.header("content-type").unwrap().starts_with("text/plain"));
    let text = m.text;
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/orders/{id}",status="404"}"#),
        "{text}"
    );
    assert!(text.contains(r#"route="/products/{id}/credentials""#), "{text}");
    assert!(text.contains(r#"route="unmatched""#), "{text}");
    assert!(!text.contains("some-raw-id") && !text.contains("definitely"), "raw paths leaked into labels");
    assert!(text.contains("http_request_duration_seconds_bucket"), "{text}");
    assert!(text.contains("ottsonly_purchases_total"), "{text}");
    assert!(text.contains("ottsonly_wallet_adjustments_total"), "{text}");
}

#[tokio::test]
async fn request_ids_are_returned_and_reused() {
    let t = TestApp::new().await;
    let r = t.get("/health", None).await;
    let generated = r.header("x-request-id").expect("generated id").to_string();
    let (prefix, n) = generated.split_once('-').expect("prefix-counter");
    assert!(prefix.len() == 16 && n.len() >= 8, "{generated}");
    let next = t.get("/health", None).await;
    let next = next.header("x-request-id").expect("generated id");
    assert!(next != generated && next.starts_with(prefix), "{generated} then {next}");
    let r = into_resp(t.cli.get("/health").header("x-request-id", "abc-123").send().await).await;
    assert_eq!(r.header("x-request-id"), Some("abc-123"));
    let long = "x".repeat(200);
    let r = into_resp(t.cli.get("/health").header("x-request-id", long.as_str()).send().await).await;
    assert_ne!(r.header("x-request-id"), Some(long.as_str()));
    // Errors carry it too.
    let r = into_resp(t.cli.get("/nope").header("x-request-id", "err-1").send().await).await;
    assert_eq!(r.header("x-request-id"), Some("err-1"));
}

#[tokio::test]
async fn cors_allows_configured_origins_only() {
    let t = TestApp::builder().http(|h| h.cors_origins = vec!["https://shop.example".into()]).build().await;
    let r = into_resp(t.cli.get("/products").header("origin", "https://shop.example").send().await)
        .await
        .expect(200);
    assert_eq!(r.header("access-control-allow-origin"), Some("https://shop.example"));
    let pre = t
        .cli
        .request(Method::OPTIONS, "/orders")
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization, content-type")
        .send()
        .await;
    let pre = into_resp(pre).await.expect(200);
    assert_eq!(pre.header("access-control-allow-origin"), Some("https://shop.example"));
    let evil = into_resp(t.cli.get("/products").header("origin", "https://evil.example").send().await).await;
    assert_eq!(evil.status, 403, "{}", evil.text);
    assert_eq!(evil.code(), "forbidden");
    assert!(evil.header("access-control-allow-origin").is_none());
    // Without configured origins no CORS headers are sent at all.
    let plain = TestApp::new().await;
    let r = into_resp(plain.cli.get("/products").header("origin", "https://shop.example").send().await)
        .await
        .expect(200);
    assert!(r.header("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn docs_and_spec_are_served() {
    let t = TestApp::new().await;
    let docs = t.get("/docs", None).await.expect(200);
    assert!(docs.header("content-type").unwrap().starts_with("text/html"));
    assert!(docs.text.contains("swagger"), "swagger UI expected");
    // Offline: the UI is inlined, not fetched from a CDN.
    assert!(!docs.text.contains("unpkg.com") && !docs.text.contains("cdn.jsdelivr"), "docs need a CDN");
    let spec = t.get("/openapi.json", None).await.expect(200);
    assert_eq!(spec.str("/info/title"), "OTTSONLY API");
    assert!(spec.body["paths"]["/orders"]["post"].is_object());
}

#[tokio::test]
async fn health_reports_the_environment_and_dev_secrets() {
    let t = TestApp::new().await;
    let h = t.get("/health", None).await.expect(200);
    assert_eq!(h.str("/environment"), "dev");
    assert_eq!(h.body["dev_secrets"], serde_json::json!([]));
    let t = TestApp::builder()
        .http(|h| h.dev_secrets = vec!["jwt_secret".into(), "credentials_key".into()])
        .build()
        .await;
    let h = t.get("/health", None).await.expect(200);
    assert_eq!(h.body["dev_secrets"], serde_json::json!(["jwt_secret", "credentials_key"]));
    let t =
        TestApp::builder().http(|h| h.environment = ottsonly_server::Environment::Production).build().await;
    assert_eq!(t.get("/health", None).await.expect(200).str("/environment"), "production");
}

/// Revenue counters are business data: left out of public metrics, shown with the token.
#[tokio::test]
async fn metrics_token_guards_the_metrics_and_revenue() {
    // Public metrics: counts, but no money.
    let shop = Shop::new().await;
    shop.buy().await;
    let text = shop.t.get("/metrics", None).await.expect(200).text;
    assert!(text.contains("ottsonly_purchases_total"), "{text}");
    assert!(!text.contains("ottsonly_purchase_amount_paise_total"), "{text}");
    assert!(!text.contains("ottsonly_topup_amount_paise_total"), "{text}");

    let t = TestApp::builder()
        .http(|h| h.metrics_token = Some(ottsonly_server::Secret::new("m3trics")))
        .build()
        .await;
    let shop = Shop::on(t).await;
    shop.buy().await;
    let t = &shop.t;
    t.get("/metrics", None).await.expect_error(401, "unauthenticated");
    t.get("/metrics", Some("wrong")).await.expect_error(401, "unauthenticated");
    let text = t.get("/metrics", Some("m3trics")).await.expect(200).text;
    assert!(text.contains("ottsonly_purchase_amount_paise_total"), "the recorder is process-wide: {text}");
}
