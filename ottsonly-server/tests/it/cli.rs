//! The operator commands of the binary, against a temp database.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn run(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ottsonly-server"));
    for (k, _) in std::env::vars() {
        if k.starts_with("OTTSONLY_") {
            cmd.env_remove(k);
        }
    }
    cmd.current_dir(dir).stdin(Stdio::null()).env("OTTSONLY_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(args).output().expect("run the binary")
}

#[track_caller]
fn json_ok(out: Output) -> Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "failed: {stderr}");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn operator_commands_work_on_one_database() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // No configuration at all: ./ottsonly.db in the working directory.
    let out = run(d, &[], &["migrate"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(d.join("ottsonly.db").exists());

    let u = json_ok(run(d, &[], &["users", "set-role", "--phone", "98765 43210", "--role", "admin"]));
    assert_eq!(u["phone"], "+919876543210");
    assert_eq!(u["role"], "admin");
    let u = json_ok(run(d, &[], &["users", "set-role", "--phone", "+919876543210", "--role", "support"]));
    assert_eq!(u["role"], "support");

    std::fs::write(
        d.join("products.csv"),
        "platform_name,plan_name,description,price_paise,duration_days,stock,is_active\n\
         Netflix,Premium,\"4K, 4 screens\",64900,30,0,true\nHotstar,Super,,89900,365,2,yes\n",
    )
    .unwrap();
    let p = json_ok(run(d, &[], &["products", "import", "products.csv"]));
    let created = p["created"].as_array().unwrap();
    assert_eq!(created.len(), 2);
    let product = created[0]["id"].as_str().unwrap();

    std::fs::write(
        d.join("creds.json"),
        r#"[{"username":"a@x.com","password":"p1","profile":"Kids"},{"username":"b@x.com","password":"p2"}]"#,
    )
    .unwrap();
    let c = json_ok(run(d, &[], &["credentials", "import", "--product", product, "creds.json"]));
    assert_eq!(c["imported"], 2);
    assert_eq!(c["stock"], 2);

    // The imports are in the audit log, as the operator's (`system`), newest first.
    let out = run(d, &[], &["audit", "list", "--actor", "system", "--target-id", product]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let actions: Vec<&str> = lines.iter().map(|l| l["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["product.import_credentials", "product.create"]);
    assert!(lines.iter().all(|l| l["actor_id"] == "system" && l["target_type"] == "product"));
    let out =
        run(d, &[], &["audit", "list", "--action", "product.create", "--limit", "1", "--format", "table"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let table = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows.len(), 2, "{table}");
    assert!(rows[0].starts_with("CREATED_AT") && rows[1].contains("product.create"), "{table}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("next cursor:"), "two products: a next page");

    let s = json_ok(run(d, &[], &["subscriptions", "sweep"]));
    assert_eq!(s["expired"], 0);

    let spec = json_ok(run(d, &[], &["openapi"]));
    assert!(spec["paths"]["/orders"].is_object());
}

#[test]
fn bad_input_fails_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let stderr = |o: Output| {
        assert!(!o.status.success());
        String::from_utf8_lossy(&o.stderr).to_string()
    };
    let e = stderr(run(d, &[("OTTSONLY_ENV", "production")], &["serve"]));
    assert!(e.contains("OTTSONLY_JWT_SECRET") && e.contains("OTTSONLY_CREDENTIALS_KEY"), "{e}");
    let e = stderr(run(d, &[("OTTSONLY_DATABASE_URL", "mongodb://app:hunter2@db/x")], &["migrate"]));
    assert!(e.contains("MongoDB") && !e.contains("hunter2"), "{e}");
    let e = stderr(run(d, &[("OTTSONLY_DATABASE_URL", "postgres://db/x")], &["migrate"]));
    assert!(e.contains("unsupported"), "{e}");
    let e = stderr(run(d, &[], &["products", "import", "missing.csv"]));
    assert!(e.contains("missing.csv"), "{e}");
    let e = stderr(run(d, &[], &["credentials", "import", "--product", "nope", "missing.json"]));
    assert!(e.contains("missing.json"), "{e}");
    std::fs::write(d.join("c.csv"), "username,password\nu,p\n").unwrap();
    let e = stderr(run(d, &[], &["credentials", "import", "--product", "nope", "c.csv"]));
    assert!(e.contains("not found"), "{e}");
    let e = stderr(run(d, &[], &["users", "set-role", "--phone", "123", "--role", "admin"]));
    assert!(e.contains("phone"), "{e}");
    let e = stderr(run(
        d,
        &[
            ("OTTSONLY_ENV", "production"),
            ("OTTSONLY_JWT_SECRET", "x".repeat(40).as_str()),
            ("OTTSONLY_CREDENTIALS_KEY", "0".repeat(64).as_str()),
            ("OTTSONLY_TELEGRAM_BOT_TOKEN", "t"),
        ],
        &["serve"],
    ));
    assert!(e.contains("Telegram"), "{e}");
}
