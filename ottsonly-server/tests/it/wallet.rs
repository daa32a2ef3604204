use crate::support::*;
use ottsonly_core::Role;
use ottsonly_core::payments::PaymentStatus;
use serde_json::json;

#[tokio::test]
async fn balance_and_ledger() {
    let shop = Shop::new().await;
    let t = &shop.t;
    shop.buy().await;
    assert_eq!(t.get("/wallet", Some(&shop.user)).await.expect(200).i64("/balance_paise"), 150_000);
    let l = t.get("/wallet/transactions", Some(&shop.user)).await.expect(200);
    let items = l.items();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["kind"], "debit");
    assert_eq!(items[0]["reference_type"], "order");
    assert_eq!(items[0]["balance_after_paise"], 150_000);
    assert_eq!(items[1]["kind"], "credit");
    let support = t.token(SUPPORT, Role::Support).await;
    t.get("/wallet", Some(&support)).await.expect_error(403, "forbidden");
    t.get("/wallet/transactions", Some(&support)).await.expect_error(403, "forbidden");
}

#[tokio::test]
async fn top_ups_answer_503_without_a_gateway() {
    let t = TestApp::new().await;
    let user = t.token(USER, Role::User).await;
    t.post("/wallet/add-money", Some(&user), json!({ "amount_paise": 10_000 }))
        .await
        .expect_error(503, "payments_not_configured");
    let verify = json!({ "razorpay_order_id": "o", "razorpay_payment_id": "p", "razorpay_signature": "s" });
    t.post("/wallet/verify-payment", Some(&user), verify).await.expect_error(503, "payments_not_configured");
}

#[tokio::test]
async fn top_up_through_the_gateway_credits_once() {
    let t = TestApp::builder().gateway().build().await;
    let user = t.token(USER, Role::User).await;
    let intent =
        t.post("/wallet/add-money", Some(&user), json!({ "amount_paise": 25_000 })).await.expect(200);
    assert_eq!(intent.str("/currency"), "INR");
    assert_eq!(intent.str("/key_id"), GATEWAY_KEY_ID);
    assert_eq!(intent.i64("/amount_paise"), 25_000);
    let order_id = intent.str("/order_id");
    let payment = t.gateway.pay(&order_id, 25_000, PaymentStatus::Captured);
    let sig = t.gateway.sign(&order_id, &payment);
    let body =
        json!({ "razorpay_order_id": order_id, "razorpay_payment_id": payment, "razorpay_signature": sig });
    let c = t.post("/wallet/verify-payment", Some(&user), body.clone()).await.expect(200);
    assert_eq!(c.i64("/credited_paise"), 25_000);
    assert_eq!(c.i64("/balance_paise"), 25_000);
    // A replay credits nothing more.
    let again = t.post("/wallet/verify-payment", Some(&user), body).await.expect(200);
    assert_eq!(again.i64("/balance_paise"), 25_000);
    assert_eq!(t.get("/wallet", Some(&user)).await.i64("/balance_paise"), 25_000);

    let bad =
        json!({ "razorpay_order_id": order_id, "razorpay_payment_id": "pay_x", "razorpay_signature": "00" });
    t.post("/wallet/verify-payment", Some(&user), bad).await.expect_error(400, "invalid_payment_signature");
    let unknown = json!({ "razorpay_order_id": "order_none", "razorpay_payment_id": "pay_x", "razorpay_signature": "00" });
    t.post("/wallet/verify-payment", Some(&user), unknown).await.expect_error(404, "not_found");
    t.post("/wallet/add-money", Some(&user), json!({ "amount_paise": 1 }))
        .await
        .expect_error(400, "invalid_input");
    t.post("/wallet/add-money", Some(&user), json!({ "amount_paise": -100 }))
        .await
        .expect_error(400, "invalid_input");
    t.gateway.set_failing(true);
    t.post("/wallet/add-money", Some(&user), json!({ "amount_paise": 10_000 }))
        .await
        .expect_error(503, "payment_gateway_unavailable");
}

#[tokio::test]
async fn admins_adjust_wallets() {
    let t = TestApp::new().await;
    let admin = t.token(ADMIN, Role::Admin).await;
    let user = t.token(USER, Role::User).await;
    let id = t.user_id(&user).await;
    let adjust = |amount: i64, direction: &str, request_id: Option<&str>| json!({ "user_id": id, "amount_paise": amount, "direction": direction, "reason": "goodwill", "request_id": request_id });
    let e = t.post("/wallet/adjust", Some(&admin), adjust(5_000, "credit", Some("r-1"))).await.expect(200);
    assert_eq!(e.str("/kind"), "credit");
    assert_eq!(e.i64("/balance_after_paise"), 5_000);
    assert_eq!(e.str("/actor_id"), t.user_id(&admin).await);
    // Same request id: applied once.
    t.post("/wallet/adjust", Some(&admin), adjust(5_000, "credit", Some("r-1"))).await.expect(200);
    t.post("/wallet/adjust", Some(&admin), adjust(7_000, "credit", Some("r-1")))
        .await
        .expect_error(409, "idempotency_key_reused");
    let d = t.post("/wallet/adjust", Some(&admin), adjust(2_000, "debit", None)).await.expect(200);
    assert_eq!(d.i64("/balance_after_paise"), 3_000);
    t.post("/wallet/adjust", Some(&admin), adjust(9_000, "debit", None))
        .await
        .expect_error(409, "insufficient_balance");
    t.post("/wallet/adjust", Some(&admin), adjust(-5, "credit", None))
        .await
        .expect_error(400, "invalid_input");
    t.post("/wallet/adjust", Some(&admin), adjust(5, "sideways", None))
        .await
        .expect_error(400, "invalid_body");
    let mut ghost = adjust(5, "credit", None);
    ghost["user_id"] = json!("nobody");
    t.post("/wallet/adjust", Some(&admin), ghost).await.expect_error(404, "not_found");
    t.post("/wallet/adjust", Some(&user), adjust(5, "credit", None)).await.expect_error(403, "forbidden");
    assert_eq!(t.get("/wallet", Some(&user)).await.i64("/balance_paise"), 3_000);
}

/// A request id names one adjustment: the same values replay it, other values are 409.
#[tokio::test]
async fn adjustment_request_ids_replay_or_conflict() {
    let t = TestApp::new().await;
    let admin = t.token(ADMIN, Role::Admin).await;
    let user = t.token(USER, Role::User).await;
    let other = t.token(OTHER, Role::User).await;
    let (uid, oid) = (t.user_id(&user).await, t.user_id(&other).await);
    let adj = |user_id: &str, direction: &str, amount: i64| json!({ "user_id": user_id, "amount_paise": amount, "direction": direction, "reason": "r", "request_id": "req-1" });
    let first = t.post("/wallet/adjust", Some(&admin), adj(&uid, "credit", 500)).await.expect(200);
    let again = t.post("/wallet/adjust", Some(&admin), adj(&uid, "credit", 500)).await.expect(200);
    assert_eq!(first.body, again.body, "a replay");
    for body in [adj(&uid, "debit", 500), adj(&uid, "credit", 501), adj(&oid, "credit", 500)] {
        t.post("/wallet/adjust", Some(&admin), body).await.expect_error(409, "idempotency_key_reused");
    }
    assert_eq!(t.get("/wallet", Some(&user)).await.expect(200).i64("/balance_paise"), 500);
    assert_eq!(t.get("/wallet", Some(&other)).await.expect(200).i64("/balance_paise"), 0);
}
