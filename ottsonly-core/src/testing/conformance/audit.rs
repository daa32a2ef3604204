//! The audit log: round trip, every filter (alone and combined) and pagination.

use super::*;

/// Audit entries round-trip (JSON details included) and list newest first by actor and target.
pub async fn audit_round_trip_and_filters(ts: TestStore) {
    let c = Ctx::new(ts);
    let a1 = c.seed_user("+919800000001", Role::Admin).await;
    let a2 = c.seed_user("+919800000002", Role::Support).await;
    let e1 = c.audit(&a1, "user.block", "u1", serde_json::json!({"reason": "spam", "n": 1}));
    let e2 = c.audit(&a2, "user.unblock", "u2", serde_json::json!(null));
    let e3 = c.audit(&a1, "wallet.adjust", "u2", serde_json::json!({"paise": -500, "note": "₹ fix"}));
    let e4 = AuditEntry {
        target_type: "product".into(),
        ..c.audit(
            &a1,
            "product.update",
            "p1",
            serde_json::json!({"changes": [{"field": "price", "to": 100}], "ok": true}),
        )
    };
    in_tx!(c, |tx| {
        for e in [&e2, &e4, &e1, &e3] {
            tx.insert_audit(e).await.unwrap();
        }
    });
    let f = |actor: Option<&User>, target: Option<&str>| AuditFilter {
        actor_id: actor.map(|u| u.id.clone()),
        target_id: target.map(str::to_string),
        ..AuditFilter::default()
    };
    let mut r = c.read().await;
    let page = first(50);
    assert_eq!(r.list_audit(&f(None, None), &page).await.unwrap(), cloned![e4, e3, e2, e1]);
    assert_eq!(r.list_audit(&f(Some(&a1), None), &page).await.unwrap(), cloned![e4, e3, e1]);
    assert_eq!(r.list_audit(&f(None, Some("u2")), &page).await.unwrap(), cloned![e3, e2]);
    assert_eq!(r.list_audit(&f(Some(&a1), Some("u2")), &page).await.unwrap(), cloned![e3]);
    assert_eq!(r.list_audit(&f(Some(&a2), Some("p1")), &page).await.unwrap(), vec![]);
    assert_eq!(r.list_audit(&f(Some(&a1), None), &first(2)).await.unwrap(), cloned![e4, e3]);
    assert_eq!(r.list_audit(&f(Some(&a1), None), &before(e3.id.as_str(), 2)).await.unwrap(), cloned![e1]);
}

/// list_audit filters by target type and by action too, alone or combined with actor and target
/// id (AND); matching is exact (no prefix, no case folding); pagination holds under a filter.
pub async fn audit_filters_by_target_type_and_action(ts: TestStore) {
    let c = Ctx::new(ts);
    let a1 = c.seed_user("+919800000001", Role::Admin).await;
    let a2 = c.seed_user("+919800000002", Role::Admin).await;
    let entry = |actor: &User, action: &str, target_type: &str, target_id: &str| AuditEntry {
        target_type: target_type.into(),
        ..c.audit(actor, action, target_id, serde_json::json!({}))
    };
    let e1 = entry(&a1, "order.refund", "order", "o1");
    let e2 = entry(&a1, "user.set_role", "user", "u1");
    let e3 = entry(&a2, "order.refund", "order", "o2");
    let e4 = entry(&a2, "wallet.adjust", "user", "u1");
    let e5 = entry(&a1, "order.refund", "order", "o3");
    // Same id, another type: the type filter tells them apart.
    let e6 = entry(&a2, "product.update", "product", "o1");
    in_tx!(c, |tx| {
        for e in [&e6, &e1, &e4, &e2, &e5, &e3] {
            tx.insert_audit(e).await.unwrap();
        }
    });
    let f =
        |actor: Option<&User>, target_type: Option<&str>, target_id: Option<&str>, action: Option<&str>| {
            AuditFilter {
                actor_id: actor.map(|u| u.id.clone()),
                target_type: target_type.map(str::to_string),
                target_id: target_id.map(str::to_string),
                action: action.map(str::to_string),
            }
        };
    let mut r = c.read().await;
    let page = first(50);
    macro_rules! list {
        ($filter:expr) => {
            r.list_audit(&$filter, &page).await.unwrap()
        };
    }
    assert_eq!(list!(f(None, Some("order"), None, None)), cloned![e5, e3, e1]);
    assert_eq!(list!(f(None, Some("user"), None, None)), cloned![e4, e2]);
    assert_eq!(list!(f(None, None, None, Some("order.refund"))), cloned![e5, e3, e1]);
    assert_eq!(list!(f(None, None, None, Some("wallet.adjust"))), cloned![e4]);
    assert_eq!(list!(f(Some(&a1), None, None, Some("order.refund"))), cloned![e5, e1]);
    assert_eq!(list!(f(None, Some("order"), Some("o1"), None)), cloned![e1]);
    assert_eq!(list!(f(None, Some("product"), Some("o1"), None)), cloned![e6]);
    assert_eq!(list!(f(None, None, Some("o1"), None)), cloned![e6, e1]);
    assert_eq!(list!(f(Some(&a2), Some("user"), Some("u1"), Some("wallet.adjust"))), cloned![e4]);
    assert_eq!(list!(f(Some(&a1), Some("user"), Some("u1"), Some("wallet.adjust"))), vec![]);
    // Exact matches only.
    assert_eq!(list!(f(None, None, None, Some("order"))), vec![]);
    assert_eq!(list!(f(None, Some("Order"), None, None)), vec![]);
    assert_eq!(list!(f(None, None, None, Some("%"))), vec![]);
    // Pages under a filter.
    let refunds = f(None, None, None, Some("order.refund"));
    assert_eq!(r.list_audit(&refunds, &first(2)).await.unwrap(), cloned![e5, e3]);
    assert_eq!(r.list_audit(&refunds, &before(e3.id.as_str(), 2)).await.unwrap(), cloned![e1]);
    assert_eq!(
        r.list_audit(&f(None, Some("order"), None, None), &before(e1.id.as_str(), 2)).await.unwrap(),
        vec![]
    );
}
