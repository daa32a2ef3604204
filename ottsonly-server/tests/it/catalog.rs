use crate::support::*;
use ottsonly_core::Role;
use poem::http::Method;
use serde_json::json;

fn new_product() -> serde_json::Value {
    json!({ "platform_name": "Netflix", "plan_name": "Basic", "price_paise": 19_900, "duration_days": 30 })
}

#[tokio::test]
async fn admins_create_products_and_everyone_lists_active_ones() {
    let t = TestApp::new().await;
    let admin = t.token(ADMIN, Role::Admin).await;
    let p = t.post("/products", Some(&admin), new_product()).await.expect(201);
    assert_eq!(p.i64("/price_paise"), 19_900);
    assert_eq!(p.i64("/stock"), 0);
    assert_eq!(p.body["is_active"], true);
    assert_eq!(p.str("/description"), "");
    assert!(p.str("/created_at").ends_with('Z'));
    let id = p.str("/id");
    let mut hidden = new_product();
    hidden["is_active"] = json!(false);
    let hidden_id = t.post("/products", Some(&admin), hidden).await.expect(201).str("/id");

    let public = t.get("/products", None).await.expect(200);
    assert_eq!(public.items().len(), 1);
    t.get(&format!("/products/{id}"), None).await.expect(200);
    t.get(&format!("/products/{hidden_id}"), None).await.expect_error(404, "not_found");
    t.get(&format!("/products/{hidden_id}"), Some(&admin)).await.expect(200);
    let all = t.get("/products?include_inactive=true", Some(&admin)).await.expect(200);
    assert_eq!(all.items().len(), 2);
    let user = t.token(USER, Role::User).await;
    t.get("/products?include_inactive=true", Some(&user)).await.expect_error(403, "forbidden");
    t.get("/products?include_inactive=true", None).await.expect_error(401, "unauthenticated");
    t.get("/products?include_inactive=maybe", None).await.expect_error(400, "invalid_parameter");
    t.get("/products/nope", None).await.expect_error(404, "not_found");
}

#[tokio::test]
async fn an_invalid_token_on_a_public_route_is_401() {
    let t = TestApp::new().await;
    t.get("/products", Some("garbage")).await.expect_error(401, "invalid_token");
    t.get("/products/x", Some("garbage")).await.expect_error(401, "invalid_token");
}

#[tokio::test]
async fn product_validation() {
    let t = TestApp::new().await;
    let admin = t.token(ADMIN, Role::Admin).await;
    let cases = [
        (json!({ "price_paise": -1 }), "invalid_input"),
        (json!({ "price_paise": 0 }), "invalid_input"),
        (json!({ "duration_days": 0 }), "invalid_input"),
        (json!({ "platform_name": "  " }), "invalid_input"),
        (json!({ "stock": -3 }), "invalid_input"),
        (json!({ "price_paise": "cheap" }), "invalid_body"),
        (json!({ "duration_days": -5 }), "invalid_body"),
        (json!({ "colour": "red" }), "invalid_body"),
    ];
    for (patch, code) in cases {
        let mut body = new_product();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        t.post("/products", Some(&admin), body.clone()).await.expect_error(400, code);
    }
    let user = t.token(USER, Role::User).await;
    t.post("/products", Some(&user), new_product()).await.expect_error(403, "forbidden");
}

#[tokio::test]
async fn update_deactivate_and_stock() {
    let t = TestApp::new().await;
    let admin = t.token(ADMIN, Role::Admin).await;
    let id = t.product(&admin, 10_000, 2, 0).await;
    let p = t
        .call(
            Method::PATCH,
            &format!("/products/{id}"),
            Some(&admin),
            Some(json!({ "price_paise": 12_000, "plan_name": "Gold" })),
        )
        .await
        .expect(200);
    assert_eq!(p.i64("/price_paise"), 12_000);
    assert_eq!(p.str("/plan_name"), "Gold");
    assert_eq!(p.str("/platform_name"), "Netflix");
    t.call(Method::PATCH, &format!("/products/{id}"), Some(&admin), Some(json!({ "price_paise": -5 })))
        .await
        .expect_error(400, "invalid_input");
    t.call(Method::PATCH, "/products/none", Some(&admin), Some(json!({ "plan_name": "x" })))
        .await
        .expect_error(404, "not_found");

    let s = t
        .post(&format!("/products/{id}/stock"), Some(&admin), json!({ "delta": 5, "reason": "restock" }))
        .await
        .expect(200);
    assert_eq!(s.i64("/stock"), 7);
    t.post(&format!("/products/{id}/stock"), Some(&admin), json!({ "delta": -8 }))
        .await
        .expect_error(409, "invalid_state");
    let s = t.post(&format!("/products/{id}/stock"), Some(&admin), json!({ "delta": 0 })).await.expect(200);
    assert_eq!(s.i64("/stock"), 7, "zero changes nothing");

    let d = t.call(Method::DELETE, &format!("/products/{id}"), Some(&admin), None).await.expect(200);
    assert_eq!(d.body["is_active"], false);
    assert_eq!(t.get("/products", None).await.expect(200).items().len(), 0);
    t.call(Method::DELETE, "/products/none", Some(&admin), None).await.expect_error(404, "not_found");
    let user = t.token(USER, Role::User).await;
    t.call(Method::DELETE, &format!("/products/{id}"), Some(&user), None)
        .await
        .expect_error(403, "forbidden");
}

/// Stock, deltas and prices have bounds, in the document and in core; an out-of-range value is a
/// 400, never an overflow (i64::MAX used to be a 500); stock that would pass 10,000,000 is 409.
#[tokio::test]
async fn stock_and_price_bounds_are_400s() {
    let t = TestApp::new().await;
    let admin = t.token(ADMIN, Role::Admin).await;
    let new = |price: i64, stock: i64| json!({ "platform_name": "P", "plan_name": "x", "price_paise": price, "duration_days": 30, "stock": stock });
    for (price, stock) in [(100_000_001, 0), (i64::MAX, 0), (100, 10_000_001), (100, i64::MAX)] {
        let r = t.post("/products", Some(&admin), new(price, stock)).await;
        assert_eq!(r.status, 400, "{price} {stock}: {}", r.text);
    }
    let p = t.post("/products", Some(&admin), new(100_000_000, 9_999_990)).await.expect(201);
    let id = p.body["id"].as_str().unwrap().to_string();
    let stock = format!("/products/{id}/stock");
    for delta in [i64::MAX, i64::MIN, 1_000_001, -1_000_001] {
        let r = t.post(&stock, Some(&admin), json!({ "delta": delta })).await;
        assert_eq!(r.status, 400, "{delta}: {}", r.text);
        assert!(r.text.contains("-1000000") || r.text.contains("1000000"), "{}", r.text);
    }
    t.post(&stock, Some(&admin), json!({ "delta": 11 })).await.expect_error(409, "invalid_state");
    assert_eq!(
        t.post(&stock, Some(&admin), json!({ "delta": 10 })).await.expect(200).i64("/stock"),
        10_000_000
    );
    let patch = json!({ "price_paise": 100_000_001 });
    let r = t.call(Method::PATCH, &format!("/products/{id}"), Some(&admin), Some(patch)).await;
    assert_eq!(r.status, 400, "{}", r.text);
}

/// A cursor that is not an id is a 400 `invalid_cursor` on every list (it used to give page 1).
#[tokio::test]
async fn malformed_cursors_are_400_invalid_cursor() {
    let t = TestApp::new().await;
    let admin = t.token(ADMIN, Role::Admin).await;
    for path in [
        "/products",
        "/orders/my",
        "/orders",
        "/users",
        "/subscriptions",
        "/notifications",
        "/admin/audit",
        "/admin/outbox",
        "/wallet/transactions",
    ] {
        for bad in ["x", "0196A000-0000-7000-8000-000000000000"] {
            t.get(&format!("{path}?cursor={bad}"), Some(&admin)).await.expect_error(400, "invalid_cursor");
        }
    }
    // A well-formed cursor that matches nothing is an empty page.
    let r = t.get("/products?cursor=0196a000-0000-7000-8000-000000000000", None).await.expect(200);
    assert!(r.items().is_empty());
}

#[tokio::test]
async fn credential_import_adds_stock() {
    let t = TestApp::new().await;
    let admin = t.token(ADMIN, Role::Admin).await;
    let id = t.product(&admin, 10_000, 0, 0).await;
    let creds = json!({ "credentials": [
        { "username": "a@x.com", "password": "p1" },
        { "username": "b@x.com", "password": "p2", "profile": "Kids", "pin": "1111", "notes": "renews 5th" },
    ]});
    let r = t.post(&format!("/products/{id}/credentials"), Some(&admin), creds).await.expect(200);
    assert_eq!(r.i64("/imported"), 2);
    assert_eq!(r.i64("/product/stock"), 2);
    t.post(&format!("/products/{id}/credentials"), Some(&admin), json!({ "credentials": [] }))
        .await
        .expect_error(400, "invalid_input");
    t.post(
        &format!("/products/{id}/credentials"),
        Some(&admin),
        json!({ "credentials": [{ "username": "a" }] }),
    )
    .await
    .expect_error(400, "invalid_body");
    t.post(
        &format!("/products/{id}/credentials"),
        Some(&admin),
        json!({ "credentials": [{ "username": " ", "password": "x" }] }),
    )
    .await
    .expect_error(400, "invalid_input");
    t.post(
        "/products/none/credentials",
        Some(&admin),
        json!({ "credentials": [{ "username": "a", "password": "b" }] }),
    )
    .await
    .expect_error(404, "not_found");
}

#[tokio::test]
async fn body_limits_are_per_route() {
    let t = TestApp::new().await;
    let admin = t.token(ADMIN, Role::Admin).await;
    let id = t.product(&admin, 10_000, 0, 0).await;
    // ~600 KiB: over the general 256 KiB limit, under the 2 MiB import limit.
    let creds: Vec<_> = (0..1000).map(|i| json!({ "username": format!("user{i}@example.com"), "password": "p".repeat(200), "notes": "n".repeat(300) })).collect();
    let body = json!({ "credentials": creds });
    assert!(body.to_string().len() > 300 * 1024);
    let r = t.post(&format!("/products/{id}/credentials"), Some(&admin), body.clone()).await.expect(200);
    assert_eq!(r.i64("/imported"), 1000);
    let big_note = json!({ "platform_name": "N", "plan_name": "P", "price_paise": 1, "duration_days": 1, "description": "d".repeat(300 * 1024) });
    t.post("/products", Some(&admin), big_note).await.expect_error(413, "payload_too_large");
    let huge: Vec<_> =
        (0..4000).map(|i| json!({ "username": format!("u{i}"), "password": "p".repeat(600) })).collect();
    t.post(&format!("/products/{id}/credentials"), Some(&admin), json!({ "credentials": huge }))
        .await
        .expect_error(413, "payload_too_large");
}
