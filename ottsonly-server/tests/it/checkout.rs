//! The checkout page (`/pay/{topup_id}?t=TOKEN`): it shows the stored top-up whatever the link
//! says, confirms a payment once, and refuses forged, foreign, expired and blocked links.

use crate::support::*;
use ottsonly_core::Role;
use ottsonly_core::payments::PaymentStatus;
use poem::http::Method;
use serde_json::json;
use std::time::Duration;

/// A logged-in user's new top-up: (user token, checkout path with query, top-up id, gateway order).
async fn topup(t: &TestApp, phone: &str, paise: i64) -> (String, String, String, String) {
    let user = t.token(phone, Role::User).await;
    let intent = t.post("/wallet/add-money", Some(&user), json!({ "amount_paise": paise })).await.expect(200);
    let url = intent.str("/checkout_url");
    let path =
        url.strip_prefix("http://127.0.0.1:8000").unwrap_or_else(|| panic!("public url: {url}")).to_string();
    let id = intent.str("/topup_id");
    assert!(path.starts_with(&format!("/pay/{id}?t=")), "{path}");
    (user, path, id, intent.str("/order_id"))
}

fn token_of(path: &str) -> String {
    path.split_once("?t=").expect("token").1.to_string()
}

async fn page(t: &TestApp, path: &str) -> Resp {
    into_resp(t.cli.get(path).send().await).await
}

async fn post_result(t: &TestApp, id: &str, token: &str, order: &str, payment: &str, sig: &str) -> Resp {
    let form = [
        ("t", token),
        ("razorpay_order_id", order),
        ("razorpay_payment_id", payment),
        ("razorpay_signature", sig),
    ];
    into_resp(t.cli.post(format!("/pay/{id}")).form(&form).send().await).await
}

#[tokio::test]
async fn checkout_page_shows_the_stored_top_up_and_credits_once() {
    let t = TestApp::builder().gateway().build().await;
    let (user, path, id, order) = topup(&t, USER, 25_050).await;
    let p = page(&t, &path).await.expect(200);
    assert!(p.header("content-type").unwrap().starts_with("text/html"));
    for needle in [
        "₹250.50",
        &format!("data-order=\"{order}\""),
        "data-key=\"rzp_test_key\"",
        "data-amount=\"25050\"",
        "Pay ₹250.50",
    ] {
        assert!(p.text.contains(needle), "{needle} not in {}", p.text);
    }
    let csp = p.header("content-security-policy").expect("csp");
    assert!(
        csp.contains("script-src 'self' https://checkout.razorpay.com")
            && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(p.header("x-frame-options"), Some("DENY"));
    // The token is in the URL: it must not leak to Razorpay's script host as a referrer.
    assert_eq!(p.header("referrer-policy"), Some("same-origin"));
    assert!(!p.text.contains("<script>"), "no inline script");

    let payment = t.gateway.pay(&order, 25_050, PaymentStatus::Captured);
    let sig = t.gateway.sign(&order, &payment);
    let token = token_of(&path);
    let bad = post_result(&t, &id, &token, &order, &payment, "00ff").await.expect(400);
    assert!(
        bad.text.contains("Payment not verified") && bad.text.contains("invalid_payment_signature"),
        "{}",
        bad.text
    );
    assert_eq!(t.get("/wallet", Some(&user)).await.i64("/balance_paise"), 0);
    let ok = post_result(&t, &id, &token, &order, &payment, &sig).await.expect(200);
    assert!(
        ok.text.contains("Money added") && ok.text.contains("Balance: <strong>₹250.50</strong>"),
        "{}",
        ok.text
    );
    let again = post_result(&t, &id, &token, &order, &payment, &sig).await.expect(200);
    assert!(again.text.contains("₹250.50 was added"), "a replay answers as before: {}", again.text);
    assert_eq!(t.get("/wallet", Some(&user)).await.i64("/balance_paise"), 25_050, "credited once");
    let paid = page(&t, &path).await.expect(200);
    assert!(paid.text.contains("Already paid") && !paid.text.contains("id=\"pay\""), "{}", paid.text);
}

#[tokio::test]
async fn forged_foreign_and_blocked_links_are_refused() {
    let t = TestApp::builder().gateway().build().await;
    let (_, mine, my_id, my_order) = topup(&t, USER, 10_000).await;
    let (_, theirs, their_id, _) = topup(&t, OTHER, 20_000).await;
    let (exp, mac) = token_of(&mine).split_once('.').map(|(a, b)| (a.to_string(), b.to_string())).unwrap();
    let flipped = format!("{exp}.{}{}", if mac.starts_with('0') { '1' } else { '0' }, &mac[1..]);
    let longer = format!("{}.{mac}", exp.parse::<i64>().unwrap() + 86_400);
    for path in [
        format!("/pay/{my_id}?t={flipped}"),
        format!("/pay/{my_id}?t={longer}"),
        format!("/pay/{my_id}"),
        format!("/pay/{their_id}?t={}", token_of(&mine)),
        format!("/pay/no-such-topup?t={}", token_of(&mine)),
    ] {
        let r = page(&t, &path).await.expect(403);
        assert!(r.text.contains("Link not valid") && r.text.contains("invalid_token"), "{path}: {}", r.text);
        assert!(!r.text.contains("₹"), "a refused link shows no amount: {path}");
    }
    // A payment of this top-up's order posted through another top-up's link is refused too.
    let payment = t.gateway.pay(&my_order, 10_000, PaymentStatus::Captured);
    let sig = t.gateway.sign(&my_order, &payment);
    post_result(&t, &their_id, &token_of(&theirs), &my_order, &payment, &sig).await.expect(404);

    let admin = t.token(ADMIN, Role::Admin).await;
    let other_id = t.set_role(OTHER, Role::User).await;
    t.post(&format!("/users/{other_id}/block"), Some(&admin), json!({ "reason": "fraud" })).await.expect(200);
    let blocked = page(&t, &theirs).await.expect(403);
    assert!(blocked.text.contains("Account blocked"), "{}", blocked.text);
    page(&t, &mine).await.expect(200);
}

#[tokio::test]
async fn expired_links_and_user_text_render_safely() {
    let t =
        TestApp::builder().gateway().config(|c| c.wallet.checkout_link_ttl = Duration::ZERO).build().await;
    let (_, path, _, _) = topup(&t, USER, 10_000).await;
    let r = page(&t, &path).await.expect(410);
    assert!(r.text.contains("Link expired") && r.text.contains("token_expired"), "{}", r.text);

    let t = TestApp::builder().gateway().build().await;
    let user = t.token(USER, Role::User).await;
    let name = "<script>alert(1)</script>\"><b>";
    t.call(Method::PATCH, "/users/me", Some(&user), Some(json!({ "name": name }))).await.expect(200);
    let (_, path, _, _) = topup(&t, USER, 10_000).await;
    let p = page(&t, &path).await.expect(200);
    assert!(!p.text.contains(name) && !p.text.contains("<script>alert"), "{}", p.text);
    assert!(
        p.text.contains("data-name=\"&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;b&gt;\""),
        "{}",
        p.text
    );
}

#[tokio::test]
async fn checkout_assets_are_served_from_the_binary() {
    let t = TestApp::new().await;
    let js = page(&t, "/pay/assets/checkout.js").await.expect(200);
    assert!(
        js.header("content-type").unwrap().starts_with("text/javascript") && js.text.contains("Razorpay")
    );
    let css = page(&t, "/pay/assets/checkout.css").await.expect(200);
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
    // Without a gateway the page says payments are unavailable, and the REST API still answers.
    let r = page(&t, "/pay/x?t=1.00").await.expect(503);
    assert!(r.text.contains("Payments unavailable"), "{}", r.text);
    t.get("/products", None).await.expect(200);
    t.get("/no-such-route", None).await.expect_error(404, "not_found");
}
