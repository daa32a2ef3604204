use crate::support::*;
use ottsonly_core::Role;

#[tokio::test]
async fn outbox_lists_admin_alerts() {
    let shop = Shop::new().await;
    let t = &shop.t;
    shop.buy().await;
    let o = t.get("/admin/outbox", Some(&shop.admin)).await.expect(200);
    let items = o.items();
    // Funding alert and new-order alert at least.
    assert!(items.len() >= 2, "{}", o.text);
    assert!(items.iter().any(|i| i["alert"]["type"] == "new_order"), "{}", o.text);
    assert!(items.iter().all(|i| i["status"] == "pending" && i["text"].is_string()));
    assert_eq!(t.get("/admin/outbox?status=delivered", Some(&shop.admin)).await.expect(200).items().len(), 0);
    t.get("/admin/outbox?status=lost", Some(&shop.admin)).await.expect_error(400, "invalid_parameter");
    let support = t.token(SUPPORT, Role::Support).await;
    t.get("/admin/outbox", Some(&support)).await.expect_error(403, "forbidden");
    t.get("/admin/outbox", Some(&shop.user)).await.expect_error(403, "forbidden");
    t.get("/admin/outbox", None).await.expect_error(401, "unauthenticated");
}

#[tokio::test]
async fn audit_log_filters_and_pages() {
    let shop = Shop::new().await;
    let t = &shop.t;
    let admin_id = t.user_id(&shop.admin).await;
    let second = t.product(&shop.admin, 10_000, 1, 0).await;
    let order = shop.buy().await.str("/order/id");
    t.post(&format!("/orders/{order}/refund"), Some(&shop.admin), serde_json::json!({ "reason": "r" }))
        .await
        .expect(200);
    let admin = shop.admin.as_str();
    let list = |q: String| async move { t.get(&format!("/admin/audit{q}"), Some(admin)).await.expect(200) };

    // Everything the admin did, newest first: the refund, the second product, the funding, the
    // first product's credentials and creation.
    let all = list(String::new()).await;
    let actions: Vec<String> =
        all.items().iter().map(|e| e["action"].as_str().unwrap().to_string()).collect();
    assert_eq!(actions[0], "order.refund", "{}", all.text);
    for a in ["product.create", "product.import_credentials", "wallet.adjust"] {
        assert!(actions.iter().any(|x| x == a), "{a} missing: {actions:?}");
    }
    assert!(all.items().iter().all(|e| e["created_at"].is_string() && e["id"].is_string()));
    assert!(all.body["next_cursor"].is_null());
    let by_admin = list(format!("?actor={admin_id}")).await.items();
    assert!(by_admin.len() >= 5 && by_admin.iter().all(|e| e["actor_id"] == admin_id.as_str()));

    // Each filter, alone and together.
    let created = list("?action=product.create".into()).await.items();
    assert_eq!(created.len(), 2);
    assert!(created.iter().all(|e| e["action"] == "product.create" && e["target_type"] == "product"));
    let on_user = list("?target_type=user".into()).await.items();
    assert!(!on_user.is_empty() && on_user.iter().all(|e| e["target_type"] == "user"));
    assert!(
        on_user.iter().any(|e| e["action"] == "wallet.adjust" && e["target_id"] == shop.user_id.as_str())
    );
    let second_only = list(format!("?target_id={second}")).await.items();
    assert_eq!(second_only.len(), 1);
    assert!(second_only[0]["details"].is_object(), "{:?}", second_only[0]);
    let both = list(format!("?target_type=product&action=product.create&actor={admin_id}")).await.items();
    assert_eq!(both.len(), 2);
    assert_eq!(list("?actor=someone-else".into()).await.items().len(), 0);
    assert_eq!(list("?action=product.create&target_type=order".into()).await.items().len(), 0);

    // Pages of one, with and without an in-memory filter, see every entry once, in order.
    for filter in ["", "&action=product.create"] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let c = cursor.as_ref().map(|c| format!("&cursor={c}")).unwrap_or_default();
            let p = list(format!("?limit=1{filter}{c}")).await;
            assert!(p.items().len() <= 1, "{}", p.text);
            seen.extend(p.items().iter().map(|e| e["id"].as_str().unwrap().to_string()));
            match p.body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => break,
            }
        }
        let whole: Vec<String> = list(format!("?limit=200{filter}"))
            .await
            .items()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(seen, whole, "filter {filter:?}");
    }

    // Admins only; bad paging is a 400.
    let support = t.token(SUPPORT, Role::Support).await;
    t.get("/admin/audit", Some(&support)).await.expect_error(403, "forbidden");
    t.get("/admin/audit", Some(&shop.user)).await.expect_error(403, "forbidden");
    t.get("/admin/audit", None).await.expect_error(401, "unauthenticated");
    t.get("/admin/audit?limit=0", Some(&shop.admin)).await.expect_error(400, "invalid_input");
    t.get("/admin/audit?limit=201", Some(&shop.admin)).await.expect_error(400, "invalid_input");
}
