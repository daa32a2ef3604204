//! End to end: the real `ottsonly-server` binary (cargo builds it for this test) on a loopback
//! port over a temp SQLite file (or the MongoDB test server), driven over HTTP, with its CLI run
//! against the same database. Every wait is bounded and the server is stopped (SIGTERM, then
//! kill) whatever happens.

use crate::fakes;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

const USER_PHONE: &str = "+919999900101";
const ADMIN_PHONE: &str = "+919999900102";
const CODE: &str = "123456";
const BOT_TOKEN: &str = "424242:e2e-bot-token";
const ADMIN_CHAT: i64 = 777;
const START_TIMEOUT: Duration = Duration::from_secs(60);
const CLI_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Waits for a child with a deadline; kills it when the deadline passes.
fn wait_bounded(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// The server binary cargo built for this package's tests.
fn server_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ottsonly-server"))
}

/// A command for the binary with only our configuration: inherited `OTTSONLY_*` variables are
/// dropped, and the working directory is the test's own (no stray `ottsonly.toml`).
fn command(bin: &Path, dir: &Path, db_url: &str) -> Command {
    let mut cmd = Command::new(bin);
    for (k, _) in std::env::vars() {
        if k.starts_with("OTTSONLY_") {
            cmd.env_remove(k);
        }
    }
    cmd.current_dir(dir)
        .env("OTTSONLY_DATABASE_URL", db_url)
        .env("OTTSONLY_ENV", "dev")
        .env("OTTSONLY_TEST_PHONES", format!("{USER_PHONE}:{CODE},{ADMIN_PHONE}:{CODE}"))
        .env("OTTSONLY_LOG", "info")
        .env("OTTSONLY_LOG_FORMAT", "json")
        .stdin(Stdio::null());
    cmd
}

/// Runs a CLI command to completion and returns its stdout as JSON.
fn cli(bin: &Path, dir: &Path, db_url: &str, args: &[&str]) -> Value {
    let mut child = command(bin, dir, db_url)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn cli");
    let (mut out, mut err) = (child.stdout.take().expect("stdout"), child.stderr.take().expect("stderr"));
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status =
        wait_bounded(&mut child, CLI_TIMEOUT).unwrap_or_else(|| panic!("`{}` timed out", args.join(" ")));
    let (out, err) = (out_t.join().expect("stdout"), err_t.join().expect("stderr"));
    assert!(status.success(), "`{}` failed: {err}", args.join(" "));
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("`{}` printed no JSON ({e}): {out}", args.join(" ")))
}

/// The running server. Dropping it kills the process if the test did not stop it.
struct Server {
    child: Child,
    base: String,
    logs: Receiver<String>,
}

impl Server {
    fn start(bin: &Path, dir: &Path, db_url: &str, env: &[(&str, String)]) -> Server {
        let mut child = command(bin, dir, db_url)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .arg("serve")
            // Port 0: the kernel picks a free port and the server logs it, so nothing races.
            .env("OTTSONLY_BIND", "127.0.0.1:0")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn server");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, logs) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Server { child, base: String::new(), logs };
        let line = server.wait_for_log("listening", START_TIMEOUT).expect("server did not start listening");
        let addr = line["fields"]["addr"].as_str().expect("listening line has addr").to_string();
        assert!(addr.starts_with("127.0.0.1:"), "{addr}");
        server.base = format!("http://{addr}");
        server
    }

    /// The next JSON log line whose message is `message`.
    fn wait_for_log(&mut self, message: &str, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Ok(line) = self.logs.recv_timeout(left) else { return None };
            if let Ok(v) = serde_json::from_str::<Value>(&line)
                && v["fields"]["message"] == message
            {
                return Some(v);
            }
        }
        None
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGTERM, then a bounded wait for a clean exit.
    fn stop(&mut self) -> Option<ExitStatus> {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().is_ok_and(|s| s.success());
        if !sent {
            let _ = self.child.kill();
        }
        wait_bounded(&mut self.child, STOP_TIMEOUT)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

struct Api {
    http: reqwest::Client,
}

impl Api {
    async fn send(
        &self,
        method: reqwest::Method,
        url: String,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

#[track_caller]
fn ok(expected: u16, (status, body): (u16, Value)) -> Value {
    assert_eq!(status, expected, "{body}");
    body
}

#[test]
fn real_binary_serves_a_full_purchase_and_refund() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db_url = format!("sqlite://{}", dir.path().join("e2e.db").display());
    walk(dir.path(), &db_url);
}

/// The same walk with the server on MongoDB (`OTTSONLY_TEST_MONGO_URI`, from
/// `scripts/mongo-test-server.sh`; skipped without it outside CI, a failure under CI).
#[test]
fn real_binary_on_mongodb_serves_a_full_purchase_and_refund() {
    let Some(uri) = crate::mongo::server_uri() else { return };
    let db_url =
        ottsonly_store_mongo::uri_with_database(&uri, &format!("ottsonly_e2e_{}", std::process::id()));
    let dir = tempfile::tempdir().expect("tempdir");
    walk(dir.path(), &db_url);
}

/// Starts the real binary on `db_url` and walks the whole product as a user and an admin would.
fn walk(dir: &Path, db_url: &str) {
    let bin = server_binary();
    // Admin alerts go to a fake Bot API on loopback.
    let telegram = fakes::FakeTelegram::start(BOT_TOKEN);
    let alerts = [
        ("OTTSONLY_TELEGRAM_BOT_TOKEN", BOT_TOKEN.to_string()),
        ("OTTSONLY_TELEGRAM_ADMIN_CHAT_IDS", ADMIN_CHAT.to_string()),
        ("OTTSONLY_TELEGRAM_API_URL", telegram.api_url()),
        ("OTTSONLY_TELEGRAM_POLL_INTERVAL_MS", "100".to_string()),
    ];
    let mut server = Server::start(&bin, dir, db_url, &alerts);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let api = Api { http: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client") };
        let health = ok(200, api.send(reqwest::Method::GET, server.url("/health"), None, None).await);
        assert_eq!(health["integrations"]["telegram_alerts"], "on", "{health}");
        assert!(!health.to_string().contains(BOT_TOKEN));
        ok(200, api.send(reqwest::Method::GET, server.url("/ready"), None, None).await);

        // A user logs in with a test phone.
        ok(200, api.send(reqwest::Method::POST, server.url("/auth/login"), None, Some(json!({ "phone": USER_PHONE }))).await);
        let s = ok(200, api.send(reqwest::Method::POST, server.url("/auth/verify"), None, Some(json!({ "phone": USER_PHONE, "otp": CODE }))).await);
        let user = s["access_token"].as_str().expect("token").to_string();
        let user_id = s["user"]["id"].as_str().expect("id").to_string();

        // The operator makes an admin from the command line, on the same database file.
        let made = cli(&bin, dir, db_url, &["users", "set-role", "--phone", ADMIN_PHONE, "--role", "admin"]);
        assert_eq!(made["role"], "admin");
        let s = ok(200, api.send(reqwest::Method::POST, server.url("/auth/verify"), None, Some(json!({ "phone": ADMIN_PHONE, "otp": CODE }))).await);
        assert_eq!(s["user"]["role"], "admin");
        let admin = s["access_token"].as_str().expect("token").to_string();

        // The admin creates a product and imports one credential.
        let new_product = json!({ "platform_name": "Netflix", "plan_name": "Premium", "description": "4K", "price_paise": 49_900, "duration_days": 30 });
        let p = ok(201, api.send(reqwest::Method::POST, server.url("/products"), Some(&admin), Some(new_product)).await);
        let product = p["id"].as_str().expect("id").to_string();
        let creds = json!({ "credentials": [{ "username": "family@example.com", "password": "hunter2", "profile": "Kids", "pin": "1234" }] });
        let imported = ok(200, api.send(reqwest::Method::POST, server.url(&format!("/products/{product}/credentials")), Some(&admin), Some(creds)).await);
        assert_eq!(imported["product"]["stock"], 1);

        // The admin credits the user's wallet.
        let credit = json!({ "user_id": user_id, "amount_paise": 100_000, "direction": "credit", "reason": "welcome credit" });
        ok(200, api.send(reqwest::Method::POST, server.url("/wallet/adjust"), Some(&admin), Some(credit)).await);

        // The user buys and sees the subscription with its login.
        let purchase = ok(201, api.send(reqwest::Method::POST, server.url("/orders"), Some(&user), Some(json!({ "product_id": product }))).await);
        let order = purchase["order"]["id"].as_str().expect("order").to_string();
        let sub = purchase["subscription"]["id"].as_str().expect("subscription").to_string();
        assert_eq!(purchase["subscription"]["status"], "active");
        let seen = ok(200, api.send(reqwest::Method::GET, server.url(&format!("/subscriptions/{sub}")), Some(&user), None).await);
        assert_eq!(seen["credentials"]["username"], "family@example.com");
        assert_eq!(seen["credentials"]["password"], "hunter2");
        let w = ok(200, api.send(reqwest::Method::GET, server.url("/wallet"), Some(&user), None).await);
        assert_eq!(w["balance_paise"], 100_000 - 49_900);

        // The admins hear about the order on Telegram (the dispatcher polls the outbox).
        let sent = telegram
            .wait_for(Duration::from_secs(30), |m| m.iter().any(|s| s.text.contains(&format!("New order {order}"))))
            .await;
        let alert = sent.iter().find(|s| s.text.contains(&format!("New order {order}"))).unwrap_or_else(|| {
            panic!("no new-order alert reached the fake Bot API: {sent:#?}")
        });
        assert_eq!(alert.chat_id, ADMIN_CHAT);
        assert!(alert.text.contains("₹499.00") && alert.text.contains("Stock left: 0"), "{}", alert.text);
        assert!(!alert.text.contains(USER_PHONE), "the buyer's phone must be masked: {}", alert.text);

        // The user reads the delivery notification.
        let list = ok(200, api.send(reqwest::Method::GET, server.url("/notifications?unread_only=true"), Some(&user), None).await);
        let items = list["items"].as_array().expect("items");
        let delivered = items.iter().find(|n| n["kind"] == "credentials_delivered").expect("delivery notification");
        let before = ok(200, api.send(reqwest::Method::GET, server.url("/notifications/unread-count"), Some(&user), None).await)["unread"]
            .as_i64()
            .expect("count");
        let id = delivered["id"].as_str().expect("id");
        ok(204, api.send(reqwest::Method::POST, server.url(&format!("/notifications/{id}/read")), Some(&user), None).await);
        let after = ok(200, api.send(reqwest::Method::GET, server.url("/notifications/unread-count"), Some(&user), None).await)["unread"]
            .as_i64()
            .expect("count");
        assert_eq!(after, before - 1);

        // The admin refunds; the balance is restored and the order shows it.
        let refund = json!({ "reason": "customer changed their mind", "restock": true });
        let r = ok(200, api.send(reqwest::Method::POST, server.url(&format!("/orders/{order}/refund")), Some(&admin), Some(refund)).await);
        assert_eq!(r["balance_paise"], 100_000);
        let w = ok(200, api.send(reqwest::Method::GET, server.url("/wallet"), Some(&user), None).await);
        assert_eq!(w["balance_paise"], 100_000);
        let o = ok(200, api.send(reqwest::Method::GET, server.url(&format!("/orders/{order}")), Some(&user), None).await);
        assert_eq!(o["status"], "refunded");

        // Errors from the real server use the envelope too.
        let (status, body) = api.send(reqwest::Method::GET, server.url("/orders/my"), None, None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (401, Some("unauthenticated")));

        let (status, metrics) = {
            let resp = api.http.get(server.url("/metrics")).send().await.expect("metrics");
            (resp.status().as_u16(), resp.text().await.expect("text"))
        };
        assert_eq!(status, 200);
        assert!(metrics.contains("ottsonly_purchases_total 1"), "{metrics}");
        assert!(metrics.contains(r#"route="/orders/{id}/refund""#), "{metrics}");
        let delivered = metrics
            .lines()
            .find_map(|l| l.strip_prefix("ottsonly_alerts_delivered_total "))
            .and_then(|v| v.trim().parse::<f64>().ok());
        assert!(delivered.is_some_and(|n| n >= 1.0), "alerts delivered: {delivered:?}\n{metrics}");
    });

    // A maintenance pass from the CLI on the live database.
    let sweep = cli(&bin, dir, db_url, &["subscriptions", "sweep"]);
    assert!(sweep["expired"].is_u64());

    let status = server.stop().expect("server did not stop within the timeout");
    assert!(status.success(), "server exited with {status}");
    assert!(server.wait_for_log("stopped", Duration::from_secs(5)).is_some(), "no graceful shutdown log");
}
