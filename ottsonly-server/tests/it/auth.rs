use crate::support::*;
use ottsonly_core::Role;
use serde_json::json;

#[tokio::test]
async fn test_phone_login_returns_a_session() {
    let t = TestApp::new().await;
    let c = t.post("/auth/login", None, json!({ "phone": USER })).await.expect(200);
    assert_eq!(c.i64("/expires_in_s"), 300);
    assert_eq!(c.i64("/resend_after_s"), 0);
    let s = t.post("/auth/verify", None, json!({ "phone": "99999 00001", "otp": CODE })).await.expect(200);
    assert_eq!(s.str("/token_type"), "Bearer");
    assert!(s.i64("/expires_in_s") > 0);
    assert!(!s.str("/refresh_token").is_empty());
    assert_eq!(s.str("/user/phone"), USER);
    assert_eq!(s.str("/user/role"), "user");
    assert_eq!(s.i64("/user/wallet_balance_paise"), 0);
}

#[tokio::test]
async fn sms_login_sends_a_code_and_enforces_the_cooldown() {
    let t = TestApp::new().await;
    let phone = "+919876543210";
    let c = t.post("/auth/login", None, json!({ "phone": phone })).await.expect(200);
    assert_eq!(c.i64("/resend_after_s"), 60);
    let again =
        t.post("/auth/login", None, json!({ "phone": phone })).await.expect_error(429, "otp_cooldown");
    let retry: u64 = again.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let code = t.sms.last_code(phone).expect("code sent");
    t.post("/auth/verify", None, json!({ "phone": phone, "otp": "000000" })).await;
    let s = t.post("/auth/verify", None, json!({ "phone": phone, "otp": code })).await;
    // The wrong guess used one attempt; the right code still works unless it happened to be 000000.
    assert!(s.status == 200 || code == "000000", "{}", s.text);
}

#[tokio::test]
async fn bad_codes_and_phones_are_400() {
    let t = TestApp::new().await;
    t.post("/auth/verify", None, json!({ "phone": USER, "otp": "654321" }))
        .await
        .expect_error(400, "invalid_otp");
    t.post("/auth/verify", None, json!({ "phone": USER, "otp": "12ab56" }))
        .await
        .expect_error(400, "invalid_input");
    t.post("/auth/verify", None, json!({ "phone": "+919876500000", "otp": "123456" }))
        .await
        .expect_error(400, "otp_expired");
    t.post("/auth/login", None, json!({ "phone": "12345" })).await.expect_error(400, "invalid_input");
    t.post("/auth/login", None, json!({ "phone": "+91 12345 67890" }))
        .await
        .expect_error(400, "invalid_input");
    t.post("/auth/login", None, json!({})).await.expect_error(400, "invalid_body");
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_login() {
    let t = TestApp::new().await;
    let s1 = t.login(USER).await;
    let r1 = s1.str("/refresh_token");
    let s2 = t.post("/auth/refresh", None, json!({ "refresh_token": r1 })).await.expect(200);
    let r2 = s2.str("/refresh_token");
    assert_ne!(r1, r2);
    t.get("/users/me", Some(&s2.str("/access_token"))).await.expect(200);
    t.post("/auth/refresh", None, json!({ "refresh_token": r1 }))
        .await
        .expect_error(401, "refresh_token_reused");
    // The whole family is gone, the new token included.
    t.post("/auth/refresh", None, json!({ "refresh_token": r2 }))
        .await
        .expect_error(400, "invalid_refresh_token");
    t.post("/auth/refresh", None, json!({ "refresh_token": "nonsense" }))
        .await
        .expect_error(400, "invalid_refresh_token");
}

#[tokio::test]
async fn logout_ends_one_session_and_logout_all_every_token() {
    let t = TestApp::new().await;
    let a = t.login(USER).await;
    let b = t.login(USER).await;
    let r =
        t.post("/auth/logout", None, json!({ "refresh_token": a.str("/refresh_token") })).await.expect(204);
    assert!(r.text.is_empty());
    t.post("/auth/refresh", None, json!({ "refresh_token": a.str("/refresh_token") }))
        .await
        .expect_error(400, "invalid_refresh_token");
    // Unknown tokens are ignored.
    t.post("/auth/logout", None, json!({ "refresh_token": "unknown" })).await.expect(204);

    let access = b.str("/access_token");
    t.post_empty("/auth/logout-all", Some(&access)).await.expect(204);
    t.get("/users/me", Some(&access)).await.expect_error(401, "invalid_token");
    t.post("/auth/refresh", None, json!({ "refresh_token": b.str("/refresh_token") }))
        .await
        .expect_error(400, "invalid_refresh_token");
    t.post_empty("/auth/logout-all", None).await.expect_error(401, "unauthenticated");
}

#[tokio::test]
async fn blocked_users_cannot_log_in() {
    let t = TestApp::new().await;
    let admin = t.token(ADMIN, Role::Admin).await;
    let victim = t.token(VICTIM, Role::User).await;
    let id = t.user_id(&victim).await;
    t.post_empty(&format!("/users/{id}/block"), Some(&admin)).await.expect(200);
    // Blocking revokes every token at once.
    t.get("/users/me", Some(&victim)).await.expect_error(401, "invalid_token");
    t.post("/auth/verify", None, json!({ "phone": VICTIM, "otp": CODE }))
        .await
        .expect_error(403, "user_blocked");
}

#[tokio::test]
async fn per_ip_rate_limit_applies_to_login_and_verify() {
    let t = TestApp::builder().http(|h| h.ip_rate_limit = 3).build().await;
    t.post("/auth/login", None, json!({ "phone": USER })).await.expect(200);
    t.post("/auth/verify", None, json!({ "phone": USER, "otp": CODE })).await.expect(200);
    t.post("/auth/login", None, json!({ "phone": OTHER })).await.expect(200);
    let r = t
        .post("/auth/verify", None, json!({ "phone": OTHER, "otp": CODE }))
        .await
        .expect_error(429, "rate_limited");
    let retry: u64 = r.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!(retry >= 1);
    // Other endpoints are not limited.
    t.get("/products", None).await.expect(200);
}

#[tokio::test]
async fn tokens_must_be_bearer_tokens() {
    let t = TestApp::new().await;
    let token = t.login(USER).await.str("/access_token");
    let r = t.cli.get("/users/me").header("authorization", format!("Basic {token}")).send().await;
    into_resp(r).await.expect_error(401, "unauthenticated");
    t.get("/users/me", Some("not.a.jwt")).await.expect_error(401, "invalid_token");
    let r = t.get("/users/me", None).await.expect_error(401, "unauthenticated");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
}

/// No account enumeration: `POST /auth/login` for a blocked number answers exactly as for any
/// number, and sends it nothing; the block bites at verify.
#[tokio::test]
async fn login_of_a_blocked_number_answers_like_any_other() {
    let t = TestApp::new().await;
    let admin = t.token(ADMIN, Role::Admin).await;
    let blocked = "+919876543210";
    let id = t.set_role(blocked, Role::User).await;
    t.post_empty(&format!("/users/{id}/block"), Some(&admin)).await.expect(200);
    let stranger = t.post("/auth/login", None, json!({ "phone": "+919822222222" })).await.expect(200);
    let answer = t.post("/auth/login", None, json!({ "phone": blocked })).await.expect(200);
    assert_eq!(answer.body, stranger.body);
    assert_eq!(t.sms.sent_count(), 1, "only the stranger got a code");
    t.post("/auth/verify", None, json!({ "phone": blocked, "otp": "000000" }))
        .await
        .expect_error(403, "user_blocked");
}

/// SMS pumping: only mobiles of the allowed countries (default India) get a code.
#[tokio::test]
async fn codes_go_only_to_mobiles_of_allowed_countries() {
    let t = TestApp::new().await;
    t.post("/auth/login", None, json!({ "phone": "+1 415 555 2671" }))
        .await
        .expect_error(400, "phone_country_not_allowed");
    t.post("/auth/login", None, json!({ "phone": "+91 11 2345 6789" }))
        .await
        .expect_error(400, "invalid_input");
    assert_eq!(t.sms.sent_count(), 0);
}
