//! The audit log: round trip, filters and pagination.

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
