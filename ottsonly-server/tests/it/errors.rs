//! Whatever goes wrong, the client gets the JSON envelope with a 4xx (or a generic 5xx).

use crate::support::*;
use ottsonly_core::Role;
use poem::http::Method;

async fn raw(
    t: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    content_type: Option<&str>,
    body: &str,
) -> Resp {
    let mut req =
        t.cli.request(method, path).header("authorization", format!("Bearer {token}")).body(body.to_string());
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    into_resp(req.send().await).await
}

#[tokio::test]
async fn malformed_bodies_are_400_in_the_envelope() {
    let t = TestApp::new().await;
    let admin = t.token(ADMIN, Role::Admin).await;
    let json = Some("application/json");
    raw(&t, Method::POST, "/products", &admin, json, "{\"platform_name\": ")
        .await
        .expect_error(400, "invalid_json");
    raw(&t, Method::POST, "/products", &admin, json, "[1,2,3]").await.expect_error(400, "invalid_body");
    raw(&t, Method::POST, "/products", &admin, json, "").await.expect_error(400, "invalid_body");
    raw(&t, Method::POST, "/products", &admin, json, "\u{1}\u{2}").await.expect_error(400, "invalid_json");
    let wrong_type = r#"{"platform_name":"N","plan_name":"P","price_paise":"12","duration_days":30}"#;
    raw(&t, Method::POST, "/products", &admin, json, wrong_type).await.expect_error(400, "invalid_body");
    let float = r#"{"platform_name":"N","plan_name":"P","price_paise":12.5,"duration_days":30}"#;
    raw(&t, Method::POST, "/products", &admin, json, float).await.expect_error(400, "invalid_body");
    let huge =
        r#"{"platform_name":"N","plan_name":"P","price_paise":99999999999999999999999,"duration_days":30}"#;
    raw(&t, Method::POST, "/products", &admin, json, huge).await.expect_error(400, "invalid_body");
    raw(&t, Method::POST, "/products", &admin, Some("text/plain"), "{}")
        .await
        .expect_error(415, "unsupported_media_type");
    raw(&t, Method::POST, "/products", &admin, None, "{}").await.expect_error(415, "unsupported_media_type");
}

#[tokio::test]
async fn framework_errors_use_the_envelope() {
    let t = TestApp::new().await;
    let r = t.get("/no/such/route", None).await.expect_error(404, "not_found");
    assert!(r.header("content-type").unwrap().starts_with("application/json"));
    assert!(r.body["error"]["message"].as_str().unwrap().starts_with("no route"));
    t.call(Method::DELETE, "/health", None, None).await.expect_error(405, "method_not_allowed");
    t.call(Method::PUT, "/orders", None, None).await.expect_error(405, "method_not_allowed");
    let big = format!("{{\"phone\":\"{}\"}}", "9".repeat(300 * 1024));
    let r =
        into_resp(t.cli.post("/auth/login").content_type("application/json").body(big).send().await).await;
    r.expect_error(413, "payload_too_large");
}

#[tokio::test]
async fn every_error_response_is_json_with_code_and_message() {
    let t = TestApp::new().await;
    let user = t.token(USER, Role::User).await;
    let cases = [
        t.get("/users", Some(&user)).await,
        t.get("/users/me", None).await,
        t.get("/orders/x", Some(&user)).await,
        t.get("/orders/my?limit=-1", Some(&user)).await,
        t.get("/nothing-here", None).await,
        t.call(Method::PATCH, "/wallet", Some(&user), None).await,
    ];
    for r in cases {
        assert!(r.status >= 400, "{}", r.text);
        assert!(r.header("content-type").is_some_and(|c| c.starts_with("application/json")), "{r:?}");
        assert!(!r.code().is_empty(), "{}", r.text);
        assert!(r.code().bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{}", r.code());
    }
}
