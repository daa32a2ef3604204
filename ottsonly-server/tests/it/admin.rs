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
