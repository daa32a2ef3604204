use crate::support::*;
use ottsonly_core::Role;
use poem::http::Method;
use serde_json::json;

#[tokio::test]
async fn credentials_are_shown_to_owner_and_admin_but_not_support() {
    let shop = Shop::new().await;
    let t = &shop.t;
    let sub = shop.buy().await.str("/subscription/id");
    let own = t.get(&format!("/subscriptions/{sub}"), Some(&shop.user)).await.expect(200);
    assert_eq!(own.str("/credentials/username"), "acct0@example.com");
    assert_eq!(own.str("/credentials/password"), "pw0");
    assert_eq!(own.str("/credentials/pin"), "4321");
    let admin = t.get(&format!("/subscriptions/{sub}"), Some(&shop.admin)).await.expect(200);
    assert_eq!(admin.str("/credentials/username"), "acct0@example.com");
    let support = t.token(SUPPORT, Role::Support).await;
    let seen = t.get(&format!("/subscriptions/{sub}"), Some(&support)).await.expect(200);
    assert!(seen.body["credentials"].is_null(), "{}", seen.text);
    assert!(!seen.text.contains("pw0"));
    let other = t.token(OTHER, Role::User).await;
    t.get(&format!("/subscriptions/{sub}"), Some(&other)).await.expect_error(404, "not_found");
    t.get("/subscriptions/none", Some(&shop.user)).await.expect_error(404, "not_found");
    // Lists never carry credentials.
    let mine = t.get("/subscriptions/my", Some(&shop.user)).await.expect(200);
    assert!(mine.items()[0]["credentials"].is_null());
}

#[tokio::test]
async fn lists_filter_by_status_user_and_product() {
    let shop = Shop::new().await;
    let t = &shop.t;
    shop.buy().await;
    assert_eq!(t.get("/subscriptions/my?status=active", Some(&shop.user)).await.expect(200).items().len(), 1);
    assert_eq!(
        t.get("/subscriptions/my?status=expired", Some(&shop.user)).await.expect(200).items().len(),
        0
    );
    t.get("/subscriptions/my?status=paused", Some(&shop.user)).await.expect_error(400, "invalid_parameter");
    let support = t.token(SUPPORT, Role::Support).await;
    t.get("/subscriptions/my", Some(&support)).await.expect_error(403, "forbidden");
    let q = format!("/subscriptions?user_id={}&product_id={}&status=active", shop.user_id, shop.product);
    assert_eq!(t.get(&q, Some(&support)).await.expect(200).items().len(), 1);
    assert_eq!(t.get("/subscriptions?product_id=other", Some(&support)).await.expect(200).items().len(), 0);
    t.get("/subscriptions", Some(&shop.user)).await.expect_error(403, "forbidden");
}

#[tokio::test]
async fn admins_assign_credentials_to_waiting_subscriptions() {
    let shop = Shop::new().await;
    let t = &shop.t;
    // Stock without a pool: the subscription waits for an admin.
    let plain = t.product(&shop.admin, 1_000, 1, 0).await;
    let p = t.post("/orders", Some(&shop.user), json!({ "product_id": plain })).await.expect(201);
    assert_eq!(p.str("/subscription/status"), "pending_credentials");
    assert!(p.body["subscription"]["start_at"].is_null());
    let sub = p.str("/subscription/id");
    let creds = json!({ "username": "fam@example.com", "password": "s3cret", "profile": "Dad" });
    let r = t
        .call(
            Method::PUT,
            &format!("/subscriptions/{sub}/credentials"),
            Some(&shop.admin),
            Some(creds.clone()),
        )
        .await
        .expect(200);
    assert_eq!(r.str("/status"), "active");
    assert_eq!(r.str("/credentials/username"), "fam@example.com");
    assert!(r.body["end_at"].is_string());
    let own = t.get(&format!("/subscriptions/{sub}"), Some(&shop.user)).await.expect(200);
    assert_eq!(own.str("/credentials/password"), "s3cret");
    t.call(Method::PUT, &format!("/subscriptions/{sub}/credentials"), Some(&shop.user), Some(creds.clone()))
        .await
        .expect_error(403, "forbidden");
    t.call(
        Method::PUT,
        &format!("/subscriptions/{sub}/credentials"),
        Some(&shop.admin),
        Some(json!({ "username": "x" })),
    )
    .await
    .expect_error(400, "invalid_body");
    t.call(Method::PUT, "/subscriptions/none/credentials", Some(&shop.admin), Some(creds))
        .await
        .expect_error(404, "not_found");
}

#[tokio::test]
async fn admins_cancel_subscriptions_once() {
    let shop = Shop::new().await;
    let t = &shop.t;
    let sub = shop.buy().await.str("/subscription/id");
    t.post_empty(&format!("/subscriptions/{sub}/cancel"), Some(&shop.user))
        .await
        .expect_error(403, "forbidden");
    let c = t
        .post(&format!("/subscriptions/{sub}/cancel"), Some(&shop.admin), json!({ "reason": "abuse" }))
        .await
        .expect(200);
    assert_eq!(c.str("/status"), "cancelled");
    t.post_empty(&format!("/subscriptions/{sub}/cancel"), Some(&shop.admin))
        .await
        .expect_error(409, "invalid_state");
    t.post_empty("/subscriptions/none/cancel", Some(&shop.admin)).await.expect_error(404, "not_found");
}
