use crate::support::*;
use ottsonly_core::Role;
use poem::http::Method;
use serde_json::json;

#[tokio::test]
async fn purchase_notifications_can_be_read_and_deleted() {
    let shop = Shop::new().await;
    let t = &shop.t;
    shop.buy().await;
    // Funding, order confirmed, credentials delivered.
    let list = t.get("/notifications", Some(&shop.user)).await.expect(200);
    let items = list.items();
    assert_eq!(items.len(), 3, "{}", list.text);
    assert!(items.iter().any(|n| n["kind"] == "order_confirmed"));
    assert_eq!(t.get("/notifications/unread-count", Some(&shop.user)).await.i64("/unread"), 3);
    let id = items[0]["id"].as_str().unwrap().to_string();
    t.post_empty(&format!("/notifications/{id}/read"), Some(&shop.user)).await.expect(204);
    assert_eq!(t.get("/notifications/unread-count", Some(&shop.user)).await.i64("/unread"), 2);
    assert_eq!(t.get("/notifications?unread_only=true", Some(&shop.user)).await.items().len(), 2);

    let other = t.token(OTHER, Role::User).await;
    t.post_empty(&format!("/notifications/{id}/read"), Some(&other)).await.expect_error(404, "not_found");
    t.call(Method::DELETE, &format!("/notifications/{id}"), Some(&other), None)
        .await
        .expect_error(404, "not_found");
    t.call(Method::DELETE, &format!("/notifications/{id}"), Some(&shop.admin), None)
        .await
        .expect_error(404, "not_found");

    let m = t.post_empty("/notifications/read-all", Some(&shop.user)).await.expect(200);
    assert_eq!(m.i64("/marked"), 2);
    assert_eq!(t.get("/notifications/unread-count", Some(&shop.user)).await.i64("/unread"), 0);
    t.call(Method::DELETE, &format!("/notifications/{id}"), Some(&shop.user), None).await.expect(204);
    assert_eq!(t.get("/notifications", Some(&shop.user)).await.items().len(), 2);
    t.post_empty("/notifications/none/read", Some(&shop.user)).await.expect_error(404, "not_found");
    t.get("/notifications?unread_only=perhaps", Some(&shop.user))
        .await
        .expect_error(400, "invalid_parameter");
}

#[tokio::test]
async fn broadcasts_reach_their_audience() {
    let t = TestApp::new().await;
    let admin = t.token(ADMIN, Role::Admin).await;
    let user = t.token(USER, Role::User).await;
    let support = t.token(SUPPORT, Role::Support).await;
    let b = t
        .post(
            "/notifications/bulk",
            Some(&admin),
            json!({ "title": "Maintenance", "message": "Tonight 2am", "audience": "support" }),
        )
        .await
        .expect(200);
    assert_eq!(b.str("/audience"), "support");
    assert_eq!(t.get("/notifications", Some(&support)).await.items().len(), 1);
    assert_eq!(t.get("/notifications", Some(&user)).await.items().len(), 0);
    t.post(
        "/notifications/bulk",
        Some(&admin),
        json!({ "title": "Hi", "message": "All", "audience": "all" }),
    )
    .await
    .expect(200);
    let n = t.get("/notifications", Some(&user)).await.items();
    assert_eq!(n.len(), 1);
    assert_eq!(n[0]["is_broadcast"], true);
    assert_eq!(n[0]["kind"], "broadcast");
    t.post(
        "/notifications/bulk",
        Some(&admin),
        json!({ "title": "x", "message": "y", "audience": "martians" }),
    )
    .await
    .expect_error(400, "invalid_body");
    t.post("/notifications/bulk", Some(&admin), json!({ "title": "", "message": "y", "audience": "all" }))
        .await
        .expect_error(400, "invalid_input");
    t.post("/notifications/bulk", Some(&support), json!({ "title": "x", "message": "y", "audience": "all" }))
        .await
        .expect_error(403, "forbidden");
}
