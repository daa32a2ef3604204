use crate::support::*;
use ottsonly_core::Role;
use poem::http::Method;
use serde_json::json;

#[tokio::test]
async fn profile_can_be_read_and_changed() {
    let t = TestApp::new().await;
    let token = t.token(USER, Role::User).await;
    let me = t.get("/users/me", Some(&token)).await.expect(200);
    assert_eq!(me.body["name"], serde_json::Value::Null);
    let me = t
        .call(
            Method::PATCH,
            "/users/me",
            Some(&token),
            Some(json!({ "name": " Asha ", "email": "A@Example.COM" })),
        )
        .await
        .expect(200);
    assert_eq!(me.str("/name"), "Asha");
    assert_eq!(me.str("/email"), "A@example.com");
    // Absent fields stay; an empty string clears.
    let me = t.call(Method::PATCH, "/users/me", Some(&token), Some(json!({ "email": "" }))).await.expect(200);
    assert_eq!(me.str("/name"), "Asha");
    assert!(me.body["email"].is_null());
    t.call(Method::PATCH, "/users/me", Some(&token), Some(json!({ "email": "nope" })))
        .await
        .expect_error(400, "invalid_input");
    t.call(Method::PATCH, "/users/me", Some(&token), Some(json!({ "nickname": "x" })))
        .await
        .expect_error(400, "invalid_body");
    t.call(Method::PATCH, "/users/me", None, Some(json!({ "name": "x" })))
        .await
        .expect_error(401, "unauthenticated");
}

#[tokio::test]
async fn staff_search_users_by_phone_and_role() {
    let t = TestApp::new().await;
    let support = t.token(SUPPORT, Role::Support).await;
    let user = t.token(USER, Role::User).await;
    t.token(OTHER, Role::User).await;
    let all = t.get("/users", Some(&support)).await.expect(200);
    assert_eq!(all.items().len(), 3);
    assert!(all.body["next_cursor"].is_null());
    let found = t.get("/users?phone=9999900001", Some(&support)).await.expect(200);
    assert_eq!(found.items().len(), 1);
    assert_eq!(found.items()[0]["phone"], USER);
    let staff = t.get("/users?role=support", Some(&support)).await.expect(200);
    assert_eq!(staff.items().len(), 1);
    t.get("/users?role=boss", Some(&support)).await.expect_error(400, "invalid_parameter");
    t.get("/users?phone=abc", Some(&support)).await.expect_error(400, "invalid_input");
    t.get("/users", Some(&user)).await.expect_error(403, "forbidden");
    // Paging: two per page, following the cursor.
    let p1 = t.get("/users?limit=2", Some(&support)).await.expect(200);
    let cursor = p1.str("/next_cursor");
    let p2 = t.get(&format!("/users?limit=2&cursor={cursor}"), Some(&support)).await.expect(200);
    assert_eq!(p1.items().len() + p2.items().len(), 3);
    assert!(p2.body["next_cursor"].is_null());
    t.get("/users?limit=201", Some(&support)).await.expect_error(400, "invalid_input");
}

#[tokio::test]
async fn staff_read_one_user() {
    let t = TestApp::new().await;
    let support = t.token(SUPPORT, Role::Support).await;
    let user = t.token(USER, Role::User).await;
    let id = t.user_id(&user).await;
    let u = t.get(&format!("/users/{id}"), Some(&support)).await.expect(200);
    assert_eq!(u.str("/phone"), USER);
    t.get("/users/nobody", Some(&support)).await.expect_error(404, "not_found");
    t.get(&format!("/users/{id}"), Some(&user)).await.expect_error(403, "forbidden");
}

#[tokio::test]
async fn admins_change_roles_but_not_their_own() {
    let t = TestApp::new().await;
    let admin = t.token(ADMIN, Role::Admin).await;
    let user = t.token(USER, Role::User).await;
    let id = t.user_id(&user).await;
    let u = t
        .call(Method::PUT, &format!("/users/{id}/role"), Some(&admin), Some(json!({ "role": "support" })))
        .await
        .expect(200);
    assert_eq!(u.str("/role"), "support");
    // The stored role applies to the existing token at once.
    t.get("/users", Some(&user)).await.expect(200);
    let admin_id = t.user_id(&admin).await;
    t.call(Method::PUT, &format!("/users/{admin_id}/role"), Some(&admin), Some(json!({ "role": "user" })))
        .await
        .expect_error(409, "invalid_state");
    t.call(Method::PUT, &format!("/users/{id}/role"), Some(&admin), Some(json!({ "role": "root" })))
        .await
        .expect_error(400, "invalid_body");
    t.call(Method::PUT, "/users/nobody/role", Some(&admin), Some(json!({ "role": "user" })))
        .await
        .expect_error(404, "not_found");
}

#[tokio::test]
async fn block_and_unblock() {
    let t = TestApp::new().await;
    let admin = t.token(ADMIN, Role::Admin).await;
    let user = t.token(USER, Role::User).await;
    let id = t.user_id(&user).await;
    let u = t
        .post(&format!("/users/{id}/block"), Some(&admin), json!({ "reason": "chargeback" }))
        .await
        .expect(200);
    assert_eq!(u.body["is_blocked"], true);
    // Blocking revokes the user's tokens and refuses new logins.
    t.get("/users/me", Some(&user)).await.expect_error(401, "invalid_token");
    t.post("/auth/verify", None, json!({ "phone": USER, "otp": CODE }))
        .await
        .expect_error(403, "user_blocked");
    let u = t.post_empty(&format!("/users/{id}/unblock"), Some(&admin)).await.expect(200);
    assert_eq!(u.body["is_blocked"], false);
    t.login(USER).await;
    // The body is optional.
    t.post_empty(&format!("/users/{id}/block"), Some(&admin)).await.expect(200);
    let admin_id = t.user_id(&admin).await;
    t.post_empty(&format!("/users/{admin_id}/block"), Some(&admin)).await.expect_error(409, "invalid_state");
    t.post_empty("/users/nobody/unblock", Some(&admin)).await.expect_error(404, "not_found");
}

#[tokio::test]
async fn admins_read_any_users_ledger() {
    let shop = Shop::new().await;
    let t = &shop.t;
    let l = t.get(&format!("/users/{}/transactions", shop.user_id), Some(&shop.admin)).await.expect(200);
    let items = l.items();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["kind"], "credit");
    assert_eq!(items[0]["reference_type"], "adjustment");
    assert_eq!(items[0]["amount_paise"], 200_000);
    t.get(&format!("/users/{}/transactions", shop.user_id), Some(&shop.user))
        .await
        .expect_error(403, "forbidden");
    let support = t.token(SUPPORT, Role::Support).await;
    t.get(&format!("/users/{}/transactions", shop.user_id), Some(&support))
        .await
        .expect_error(403, "forbidden");
}
