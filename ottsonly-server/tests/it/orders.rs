use crate::support::*;
use ottsonly_core::Role;
use poem::http::Method;
use serde_json::json;

#[tokio::test]
async fn buying_creates_an_order_and_an_active_subscription() {
    let shop = Shop::new().await;
    let p = shop.buy().await;
    assert_eq!(p.str("/order/status"), "completed");
    assert_eq!(p.i64("/order/amount_paise"), 50_000);
    assert_eq!(p.str("/order/product_name"), "Netflix Premium");
    assert_eq!(p.str("/subscription/status"), "active");
    assert_eq!(p.str("/subscription/order_id"), p.str("/order/id"));
    assert!(p.body["subscription"]["end_at"].is_string());
    let w = shop.t.get("/wallet", Some(&shop.user)).await.expect(200);
    assert_eq!(w.i64("/balance_paise"), 150_000);
    let product = shop.t.get(&format!("/products/{}", shop.product), None).await.expect(200);
    assert_eq!(product.i64("/stock"), 2);
}

#[tokio::test]
async fn idempotency_key_replays_the_first_purchase() {
    let shop = Shop::new().await;
    let t = &shop.t;
    let send = |product: String| {
        t.cli
            .post("/orders")
            .header("authorization", format!("Bearer {}", shop.user))
            .header("idempotency-key", "checkout-42")
            .body_json(&json!({ "product_id": product }))
            .send()
    };
    let first = into_resp(send(shop.product.clone()).await).await.expect(201);
    let again = into_resp(send(shop.product.clone()).await).await.expect(200);
    assert_eq!(first.str("/order/id"), again.str("/order/id"));
    assert_eq!(again.str("/order/idempotency_key"), "checkout-42");
    assert_eq!(t.get("/wallet", Some(&shop.user)).await.i64("/balance_paise"), 150_000);
    let other = t.product(&shop.admin, 1_000, 5, 0).await;
    into_resp(send(other).await).await.expect_error(409, "idempotency_key_reused");
    let bad = t
        .cli
        .post("/orders")
        .header("authorization", format!("Bearer {}", shop.user))
        .header("idempotency-key", "has space")
        .body_json(&json!({ "product_id": shop.product }))
        .send()
        .await;
    into_resp(bad).await.expect_error(400, "invalid_input");
}

#[tokio::test]
async fn purchase_failures_are_conflicts() {
    let shop = Shop::new().await;
    let t = &shop.t;
    let pricey = t.product(&shop.admin, 10_000_000, 5, 0).await;
    t.post("/orders", Some(&shop.user), json!({ "product_id": pricey }))
        .await
        .expect_error(409, "insufficient_balance");
    let empty = t.product(&shop.admin, 100, 0, 0).await;
    t.post("/orders", Some(&shop.user), json!({ "product_id": empty }))
        .await
        .expect_error(409, "out_of_stock");
    let inactive = t.product(&shop.admin, 100, 5, 0).await;
    t.call(Method::DELETE, &format!("/products/{inactive}"), Some(&shop.admin), None).await.expect(200);
    t.post("/orders", Some(&shop.user), json!({ "product_id": inactive }))
        .await
        .expect_error(409, "product_inactive");
    t.post("/orders", Some(&shop.user), json!({ "product_id": "nope" })).await.expect_error(404, "not_found");
    t.post("/orders", Some(&shop.user), json!({})).await.expect_error(400, "invalid_body");
    let support = t.token(SUPPORT, Role::Support).await;
    t.post("/orders", Some(&support), json!({ "product_id": shop.product }))
        .await
        .expect_error(403, "forbidden");
    // Nothing moved.
    assert_eq!(t.get("/wallet", Some(&shop.user)).await.i64("/balance_paise"), 200_000);
}

#[tokio::test]
async fn orders_are_listed_for_owners_and_staff() {
    let shop = Shop::new().await;
    let t = &shop.t;
    let order = shop.buy().await.str("/order/id");
    shop.buy().await;
    let mine = t.get("/orders/my", Some(&shop.user)).await.expect(200);
    assert_eq!(mine.items().len(), 2);
    let page = t.get("/orders/my?limit=1", Some(&shop.user)).await.expect(200);
    assert_eq!(page.items().len(), 1);
    assert!(page.body["next_cursor"].is_string());

    let support = t.token(SUPPORT, Role::Support).await;
    t.get("/orders/my", Some(&support)).await.expect_error(403, "forbidden");
    let all = t.get(&format!("/orders?user_id={}", shop.user_id), Some(&support)).await.expect(200);
    assert_eq!(all.items().len(), 2);
    assert_eq!(t.get("/orders?status=refunded", Some(&support)).await.expect(200).items().len(), 0);
    t.get("/orders?status=lost", Some(&support)).await.expect_error(400, "invalid_parameter");
    t.get("/orders", Some(&shop.user)).await.expect_error(403, "forbidden");

    t.get(&format!("/orders/{order}"), Some(&shop.user)).await.expect(200);
    t.get(&format!("/orders/{order}"), Some(&support)).await.expect(200);
    let other = t.token(OTHER, Role::User).await;
    t.get(&format!("/orders/{order}"), Some(&other)).await.expect_error(404, "not_found");
    t.get("/orders/none", Some(&shop.user)).await.expect_error(404, "not_found");
}

#[tokio::test]
async fn refunds_credit_the_wallet_once() {
    let shop = Shop::new().await;
    let t = &shop.t;
    let p = shop.buy().await;
    let order = p.str("/order/id");
    let r = t
        .post(
            &format!("/orders/{order}/refund"),
            Some(&shop.admin),
            json!({ "reason": "account did not work", "restock": true }),
        )
        .await
        .expect(200);
    assert_eq!(r.str("/order/status"), "refunded");
    assert_eq!(r.str("/order/refund_reason"), "account did not work");
    assert_eq!(r.str("/subscription/status"), "refunded");
    assert_eq!(r.i64("/balance_paise"), 200_000);
    t.post(&format!("/orders/{order}/refund"), Some(&shop.admin), json!({ "reason": "again" }))
        .await
        .expect_error(409, "already_refunded");
    t.post(&format!("/orders/{order}/refund"), Some(&shop.admin), json!({ "reason": "" }))
        .await
        .expect_error(400, "invalid_input");
    t.post("/orders/none/refund", Some(&shop.admin), json!({ "reason": "x" }))
        .await
        .expect_error(404, "not_found");
    t.post(&format!("/orders/{order}/refund"), Some(&shop.user), json!({ "reason": "x" }))
        .await
        .expect_error(403, "forbidden");
    // restock put the unit back (3 - 1 + 1).
    assert_eq!(t.get(&format!("/products/{}", shop.product), None).await.i64("/stock"), 3);
    assert_eq!(t.get("/wallet", Some(&shop.user)).await.i64("/balance_paise"), 200_000);
}
