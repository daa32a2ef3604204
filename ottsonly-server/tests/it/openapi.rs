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

/// Issue 13: every operation's error responses name the codes it can answer with, as an enum of
/// real codes (core's `CODES` or the server's own), and every operation has a row in the table.
#[tokio::test]
async fn every_operation_lists_its_error_codes() {
    use ottsonly_server::frontends::rest::document::{OPERATION_CODES, operation_codes};
    use ottsonly_server::frontends::rest::error::SERVER_CODES;
    let t = TestApp::new().await;
    let spec: Value = serde_json::from_str(&ottsonly_server::spec_json(&t.app)).unwrap();
    let real = |c: &str| ottsonly_core::error::CODES.contains(&c) || SERVER_CODES.contains(&c);
    let mut documented = Vec::new();
    for (path, ops) in spec["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no id"));
            documented.push(id.to_string());
            let expected =
                operation_codes(op).unwrap_or_else(|| panic!("`{id}` has no row in OPERATION_CODES"));
            let mut errors = 0;
            for (status, response) in op["responses"].as_object().unwrap() {
                if !status.starts_with(['4', '5']) {
                    continue;
                }
                for (media, content) in response["content"].as_object().unwrap() {
                    let name = content["schema"]["$ref"]
                        .as_str()
                        .and_then(|r| r.strip_prefix("#/components/schemas/"))
                        .unwrap_or_else(|| panic!("`{id}` {status} {media}: no schema reference"));
                    let code =
                        &spec["components"]["schemas"][name]["properties"]["error"]["properties"]["code"];
                    let codes: Vec<&str> = code["enum"]
                        .as_array()
                        .unwrap_or_else(|| panic!("`{id}` {status}: `{name}` has no code enum"))
                        .iter()
                        .map(|c| c.as_str().unwrap())
                        .collect();
                    assert_eq!(codes, expected, "`{id}` {status}");
                    for c in &codes {
                        assert!(real(c), "`{id}` lists `{c}`, which is no code of core or the server");
                    }
                    errors += 1;
                }
            }
            assert!(errors > 0, "`{id}` documents no error response");
        }
    }
    for (id, codes) in OPERATION_CODES {
        assert!(documented.iter().any(|d| d == id), "OPERATION_CODES names `{id}`, which is not documented");
        for c in *codes {
            assert!(real(c), "OPERATION_CODES: `{id}` lists `{c}`, which is no code of core or the server");
        }
    }
    // The lists are the operations' own: a public read names no auth code, a purchase its conflicts.
    let ops = |path: &str, method: &str| operation_codes(&spec["paths"][path][method]).unwrap();
    assert!(!ops("/health", "get").contains(&"invalid_token"));
    assert!(ops("/orders", "post").contains(&"insufficient_balance"));
    assert!(!ops("/orders/my", "get").contains(&"insufficient_balance"));
}
