use crate::support::*;
use ottsonly_core::Role;
use poem::http::Method;
use serde_json::{Map, Value, json};

/// Objects with their keys in sorted order, whatever map type serde_json was built with.
fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<_> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect::<Map<_, _>>())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        other => other,
    }
}

#[tokio::test]
async fn openapi_document_snapshot() {
    let t = TestApp::new().await;
    let spec: Value = serde_json::from_str(&ottsonly_server::spec_json(&t.app)).unwrap();
    insta::with_settings!({ sort_maps => true }, {
        insta::assert_json_snapshot!("openapi", sorted(spec));
    });
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let t = TestApp::new().await;
    let admin = t.token(ADMIN, Role::Admin).await;
    let spec: Value = serde_json::from_str(&ottsonly_server::spec_json(&t.app)).unwrap();
    let mut checked = 0;
    for (path, ops) in spec["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let concrete = path.replace("{id}", "no-such-id");
            let body = matches!(method, Method::POST | Method::PUT | Method::PATCH).then(|| json!({}));
            let r = t.call(method.clone(), &concrete, Some(&admin), body).await;
            let framework_404 = r.status == 404
                && r.body["error"]["message"].as_str().is_some_and(|m| m.starts_with("no route"));
            assert!(
                !framework_404 && r.status != 405,
                "{method} {path} is documented but not routed: {} {}",
                r.status,
                r.text
            );
            checked += 1;
        }
    }
    assert!(checked >= 45, "only {checked} operations documented");
    // The check can tell: an undocumented path and a wrong method are caught.
    let r = t.get("/not-documented", Some(&admin)).await;
    assert!(r.status == 404 && r.body["error"]["message"].as_str().unwrap().starts_with("no route"));
    assert_eq!(t.call(Method::PUT, "/health", None, None).await.status, 405);
}
