//! Razorpay top-ups end to end through the HTTP API, with the real Razorpay client talking to a
//! loopback fake of Razorpay's REST API (orders create, order payments fetch, payment fetch and
//! capture, basic auth), and
//! webhooks signed here, independently of the code under test. Every case runs on SQLite and on
//! MongoDB (the latter when `OTTSONLY_TEST_MONGO_URI` is set; required under CI).

use crate::support::{ADMIN, CODE, OTHER, USER, into_resp};
use hmac::{Hmac, KeyInit, Mac};
use ottsonly_core::auth::LogOtpSender;
use ottsonly_core::payments::PaymentGateway;
use ottsonly_core::{CoreConfig, CredentialCipher, ManualClock, Ottsonly, Role, Store};
use ottsonly_server::adapters::razorpay::{RazorpayClient, RazorpayConfig};
use ottsonly_server::{HttpOptions, Secret, build_app};
use poem::endpoint::BoxEndpoint;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::test::TestClient;
use poem::{Response, Route};
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const KEY_ID: &str = "rzp_test_K3y";
const KEY_SECRET: &str = "razorpay-key-secret";
const WEBHOOK_SECRET: &str = "razorpay-webhook-secret";

fn hmac_hex(key: &str, data: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_bytes()).expect("any key");
    mac.update(data);
    hex::encode(mac.finalize().into_bytes())
}

/// Razorpay's checkout signature, computed the documented way.
fn checkout_signature(order_id: &str, payment_id: &str) -> String {
    hmac_hex(KEY_SECRET, format!("{order_id}|{payment_id}").as_bytes())
}

// ------------------------------------------------------------------ the fake Razorpay API

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    Normal,
    Fail500,
    /// Answers after longer than the client's timeout.
    Hang,
}

#[derive(Default)]
struct FakeState {
    orders: HashMap<String, Value>,
    payments: Vec<Value>,
    requests: Vec<(String, String)>,
    /// Bodies of `POST /v1/payments/{id}/capture`, with the payment id.
    captures: Vec<(String, Value)>,
    unauthorized: u64,
}

pub struct FakeRazorpay {
    pub base: String,
    state: Arc<Mutex<FakeState>>,
    mode: Arc<Mutex<Mode>>,
    seq: AtomicU64,
    _server: tokio::task::JoinHandle<()>,
}

impl FakeRazorpay {
    pub async fn start() -> FakeRazorpay {
        let state = Arc::new(Mutex::new(FakeState::default()));
        let mode = Arc::new(Mutex::new(Mode::Normal));
        let (st, md) = (state.clone(), mode.clone());
        let app = poem::endpoint::make(move |mut req: poem::Request| {
            let (st, md) = (st.clone(), md.clone());
            async move {
                let path = req.uri().path().to_string();
                let method = req.method().to_string();
                let auth_ok = req.header("authorization").is_some_and(|h| {
                    use base64::Engine;
                    let expected =
                        base64::engine::general_purpose::STANDARD.encode(format!("{KEY_ID}:{KEY_SECRET}"));
                    h == format!("Basic {expected}")
                });
                let body: Value =
                    serde_json::from_slice(&req.take_body().into_bytes().await.unwrap_or_default())
                        .unwrap_or(Value::Null);
                st.lock().unwrap().requests.push((method.clone(), path.clone()));
                let mode = *md.lock().unwrap();
                match mode {
                    Mode::Fail500 => return json_response(500, json!({"error": {"code": "SERVER_ERROR"}})),
                    Mode::Hang => {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        return json_response(500, json!({}));
                    }
                    Mode::Normal => {}
                }
                if !auth_ok {
                    st.lock().unwrap().unauthorized += 1;
                    return json_response(
                        401,
                        json!({"error": {"code": "BAD_REQUEST_ERROR", "description": "Authentication failed"}}),
                    );
                }
                let mut s = st.lock().unwrap();
                if method == "POST" && path == "/v1/orders" {
                    let id = format!("order_F{}", s.orders.len() + 1);
                    let order = json!({
                        "id": id, "entity": "order", "amount": body["amount"], "amount_paid": 0,
                        "amount_due": body["amount"], "currency": body["currency"], "receipt": body["receipt"],
                        "status": "created", "attempts": 0, "notes": body["notes"], "created_at": 1_900_000_000,
                    });
                    s.orders.insert(id, order.clone());
                    return json_response(200, order);
                }
                if let Some(order_id) =
                    path.strip_prefix("/v1/orders/").and_then(|p| p.strip_suffix("/payments"))
                {
                    if !s.orders.contains_key(order_id) {
                        return json_response(
                            400,
                            json!({"error": {"description": "The id provided does not exist"}}),
                        );
                    }
                    let items: Vec<Value> =
                        s.payments.iter().filter(|p| p["order_id"] == order_id).cloned().collect();
                    return json_response(
                        200,
                        json!({"entity": "collection", "count": items.len(), "items": items}),
                    );
                }
                if let Some(rest) = path.strip_prefix("/v1/payments/") {
                    let (pid, capture) = match rest.strip_suffix("/capture") {
                        Some(pid) => (pid.to_string(), true),
                        None => (rest.to_string(), false),
                    };
                    let Some(i) = s.payments.iter().position(|p| p["id"] == pid.as_str()) else {
                        return json_response(
                            400,
                            json!({"error": {"description": "The id provided does not exist"}}),
                        );
                    };
                    if !capture && method == "GET" {
                        return json_response(200, s.payments[i].clone());
                    }
                    if capture && method == "POST" {
                        s.captures.push((pid.clone(), body.clone()));
                        let p = &mut s.payments[i];
                        if p["status"] == "captured" {
                            return json_response(
                                400,
                                json!({"error": {"description": "This payment has already been captured"}}),
                            );
                        }
                        if p["status"] != "authorized"
                            || body["amount"] != p["amount"]
                            || body["currency"] != p["currency"]
                        {
                            return json_response(
                                400,
                                json!({"error": {"description": "Capture amount must be equal to the amount authorized"}}),
                            );
                        }
                        p["status"] = json!("captured");
                        p["captured"] = json!(true);
                        return json_response(200, p.clone());
                    }
                }
                json_response(404, json!({"error": {"description": "no such route"}}))
            }
        });
        let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await.expect("bind");
        let addr = acceptor.local_addr()[0].as_socket_addr().copied().expect("addr");
        let server = tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor).run(Route::new().at("/*", app)).await;
        });
        FakeRazorpay { base: format!("http://{addr}"), state, mode, seq: AtomicU64::new(1), _server: server }
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn order(&self, id: &str) -> Value {
        self.state.lock().unwrap().orders.get(id).cloned().unwrap_or(Value::Null)
    }

    pub fn order_count(&self) -> usize {
        self.state.lock().unwrap().orders.len()
    }

    pub fn unauthorized(&self) -> u64 {
        self.state.lock().unwrap().unauthorized
    }

    /// Razorpay moves a payment on (captures it, auto-refunds it).
    pub fn set_status(&self, payment_id: &str, status: &str) -> Value {
        let mut s = self.state.lock().unwrap();
        let p = s.payments.iter_mut().find(|p| p["id"] == payment_id).expect("payment");
        p["status"] = json!(status);
        p["captured"] = json!(status == "captured");
        p.clone()
    }

    pub fn captures(&self) -> Vec<(String, Value)> {
        self.state.lock().unwrap().captures.clone()
    }

    /// The customer pays: a payment entity on the order.
    pub fn pay(&self, order_id: &str, amount: i64, status: &str) -> Value {
        let id = format!("pay_F{}", self.seq.fetch_add(1, Ordering::SeqCst));
        let p = json!({
            "id": id, "entity": "payment", "amount": amount, "currency": "INR", "status": status,
            "order_id": order_id, "method": "upi", "captured": status == "captured", "created_at": 1_900_000_100,
        });
        self.state.lock().unwrap().payments.push(p.clone());
        p
    }
}

fn json_response(status: u16, body: Value) -> Response {
    Response::builder()
        .status(poem::http::StatusCode::from_u16(status).unwrap())
        .content_type("application/json")
        .body(body.to_string())
}

// ------------------------------------------------------------------ the app under test

pub enum Backend {
    Sqlite,
    Mongo,
}

pub struct Shop {
    pub cli: TestClient<BoxEndpoint<'static, Response>>,
    pub app: Ottsonly,
    pub fake: FakeRazorpay,
    pub clock: Arc<ManualClock>,
    _guard: Box<dyn std::any::Any + Send + Sync>,
}

async fn open(backend: Backend) -> Option<(Arc<dyn Store>, Box<dyn std::any::Any + Send + Sync>)> {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = format!("sqlite://{}", dir.path().join("pay.db").display());
            Some((ottsonly_server::open_store(&url).await.expect("sqlite"), Box::new(dir)))
        }
        Backend::Mongo => {
            let uri = crate::mongo::server_uri()?;
            let (store, guard) = crate::mongo::fresh_store(&uri).await;
            Some((store, Box::new(guard)))
        }
    }
}

impl Shop {
    pub async fn new(backend: Backend) -> Option<Shop> {
        Self::with_timeout(backend, Duration::from_secs(5)).await
    }

    pub async fn with_timeout(backend: Backend, timeout: Duration) -> Option<Shop> {
        Self::with_config(backend, timeout, |_| {}).await
    }

    pub async fn with_config(
        backend: Backend,
        timeout: Duration,
        adjust: impl FnOnce(&mut CoreConfig),
    ) -> Option<Shop> {
        let (store, guard) = open(backend).await?;
        let fake = FakeRazorpay::start().await;
        let client = RazorpayClient::new(RazorpayConfig {
            key_id: KEY_ID.into(),
            key_secret: KEY_SECRET.into(),
            api_base: fake.base.clone(),
            timeout,
        })
        .expect("client");
        let mut config =
            CoreConfig::new(b"razorpay-test-secret-razorpay-test-secret".to_vec()).expect("config");
        let phones = [USER, OTHER, ADMIN].map(|p| format!("{p}:{CODE}")).join(",");
        config.auth.test_phones = config.auth.parse_test_phones(&phones).expect("phones");
        adjust(&mut config);
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let app = Ottsonly::builder(store, config)
            .clock(clock.clone())
            .otp_sender(Arc::new(LogOtpSender))
            .payment_gateway(Arc::new(client) as Arc<dyn PaymentGateway>)
            .credential_cipher(CredentialCipher::new(&[3u8; 32]))
            .build()
            .expect("core");
        let http = HttpOptions {
            ip_rate_limit: 0,
            razorpay_webhook_secret: Some(Secret::new(WEBHOOK_SECRET)),
            ..HttpOptions::default()
        };
        let cli = TestClient::new(build_app(app.clone(), http));
        Some(Shop { cli, app, fake, clock, _guard: guard })
    }

    async fn call(&self, path: &str, token: Option<&str>, body: Value) -> crate::support::Resp {
        let mut req = self.cli.post(path).body_json(&body);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        into_resp(req.send().await).await
    }

    async fn get(&self, path: &str, token: &str) -> crate::support::Resp {
        into_resp(self.cli.get(path).header("authorization", format!("Bearer {token}")).send().await).await
    }

    pub async fn login(&self, phone: &str) -> String {
        self.call("/auth/login", None, json!({ "phone": phone })).await.expect(200);
        self.call("/auth/verify", None, json!({ "phone": phone, "otp": CODE }))
            .await
            .expect(200)
            .str("/access_token")
    }

    pub async fn balance(&self, token: &str) -> i64 {
        self.get("/wallet", token).await.expect(200).i64("/balance_paise")
    }

    /// `POST /wallet/add-money`; returns the Razorpay order id.
    pub async fn add_money(&self, token: &str, paise: i64) -> String {
        let r =
            self.call("/wallet/add-money", Some(token), json!({ "amount_paise": paise })).await.expect(200);
        assert_eq!(
            (r.i64("/amount_paise"), r.str("/currency"), r.str("/key_id")),
            (paise, "INR".into(), KEY_ID.into())
        );
        r.str("/order_id")
    }

    pub async fn verify(
        &self,
        token: &str,
        order: &str,
        payment: &str,
        signature: &str,
    ) -> crate::support::Resp {
        let body = json!({ "razorpay_order_id": order, "razorpay_payment_id": payment, "razorpay_signature": signature });
        self.call("/wallet/verify-payment", Some(token), body).await
    }

    /// Delivers a webhook; `sign` is applied to the exact bytes sent unless `signature` overrides.
    pub async fn webhook(&self, event_id: &str, body: &str, signature: Option<&str>) -> crate::support::Resp {
        let sig = signature.map_or_else(|| hmac_hex(WEBHOOK_SECRET, body.as_bytes()), str::to_string);
        let req = self
            .cli
            .post("/webhooks/razorpay")
            .header("content-type", "application/json")
            .header("x-razorpay-signature", sig)
            .header("x-razorpay-event-id", event_id)
            .body(body.to_string());
        into_resp(req.send().await).await
    }
}

/// A `payment.captured` webhook body as Razorpay sends it.
fn captured_event(payment: &Value) -> String {
    json!({
        "entity": "event", "account_id": "acc_test", "event": "payment.captured",
        "contains": ["payment"], "payload": { "payment": { "entity": payment } }, "created_at": 1_900_000_200,
    })
    .to_string()
}

/// An `order.paid` webhook body.
fn order_paid_event(payment: &Value, order: &Value) -> String {
    json!({
        "entity": "event", "account_id": "acc_test", "event": "order.paid", "contains": ["payment", "order"],
        "payload": { "payment": { "entity": payment }, "order": { "entity": order } }, "created_at": 1_900_000_200,
    })
    .to_string()
}

// ------------------------------------------------------------------ cases

async fn happy_path_and_replay(b: Backend) {
    let Some(s) = Shop::new(b).await else { return };
    let user = s.login(USER).await;
    let order = s.add_money(&user, 50_000).await;
    let o = s.fake.order(&order);
    assert_eq!((o["amount"].as_i64(), o["currency"].as_str()), (Some(50_000), Some("INR")));
    assert!(o["receipt"].as_str().is_some_and(|r| !r.is_empty()), "receipt is the top-up id");
    assert!(o["notes"]["user_id"].as_str().is_some(), "notes carry the user id");
    let pay = s.fake.pay(&order, 50_000, "captured");
    let pid = pay["id"].as_str().unwrap();
    let r = s.verify(&user, &order, pid, &checkout_signature(&order, pid)).await.expect(200);
    assert_eq!((r.i64("/credited_paise"), r.i64("/balance_paise")), (50_000, 50_000));
    let again = s.verify(&user, &order, pid, &checkout_signature(&order, pid)).await.expect(200);
    assert_eq!(again.i64("/balance_paise"), 50_000, "a replay credits nothing");
    assert_eq!(s.balance(&user).await, 50_000);
}

async fn bad_signatures_and_foreign_orders(b: Backend) {
    let Some(s) = Shop::new(b).await else { return };
    let user = s.login(USER).await;
    let other = s.login(OTHER).await;
    let order = s.add_money(&user, 10_000).await;
    let second = s.add_money(&user, 10_000).await;
    let pay = s.fake.pay(&order, 10_000, "captured");
    let pid = pay["id"].as_str().unwrap();
    s.verify(&user, &order, pid, "deadbeef").await.expect_error(400, "invalid_payment_signature");
    s.verify(&user, &order, pid, "not hex").await.expect_error(400, "invalid_payment_signature");
    // A valid signature, but for another order of the same user.
    s.verify(&user, &order, pid, &checkout_signature(&second, pid))
        .await
        .expect_error(400, "invalid_payment_signature");
    // Signed with the wrong secret.
    let forged = hmac_hex("guess", format!("{order}|{pid}").as_bytes());
    s.verify(&user, &order, pid, &forged).await.expect_error(400, "invalid_payment_signature");
    // Another user's order is not theirs to confirm, even with a right signature.
    s.verify(&other, &order, pid, &checkout_signature(&order, pid)).await.expect_error(404, "not_found");
    s.verify(&user, "order_unknown", pid, &checkout_signature("order_unknown", pid))
        .await
        .expect_error(404, "not_found");
    assert_eq!(s.balance(&user).await, 0);
    assert_eq!(s.balance(&other).await, 0);
    s.call("/wallet/add-money", Some(&user), json!({ "amount_paise": 99 }))
        .await
        .expect_error(400, "invalid_input");
    s.call("/wallet/add-money", Some(&user), json!({ "amount_paise": 1_000_001 }))
        .await
        .expect_error(400, "invalid_input");
}

async fn verify_then_webhook_and_webhook_then_verify(b: Backend) {
    let Some(s) = Shop::new(b).await else { return };
    let user = s.login(USER).await;
    // verify first
    let o1 = s.add_money(&user, 1_000).await;
    let p1 = s.fake.pay(&o1, 1_000, "captured");
    let id1 = p1["id"].as_str().unwrap();
    s.verify(&user, &o1, id1, &checkout_signature(&o1, id1)).await.expect(200);
    let r = s.webhook("evt_v1", &captured_event(&p1), None).await.expect(200);
    assert_eq!(r.str("/status"), "already_credited");
    // webhook first (order.paid, then payment.captured), then verify
    let o2 = s.add_money(&user, 2_000).await;
    let p2 = s.fake.pay(&o2, 2_000, "captured");
    let id2 = p2["id"].as_str().unwrap();
    let r = s.webhook("evt_w1", &order_paid_event(&p2, &s.fake.order(&o2)), None).await.expect(200);
    assert_eq!(r.str("/status"), "credited");
    assert_eq!(
        s.webhook("evt_w2", &captured_event(&p2), None).await.expect(200).str("/status"),
        "already_credited"
    );
    let v = s.verify(&user, &o2, id2, &checkout_signature(&o2, id2)).await.expect(200);
    assert_eq!(v.i64("/balance_paise"), 3_000);
    assert_eq!(s.balance(&user).await, 3_000);
}

async fn webhook_only_duplicates_and_tampering(b: Backend) {
    let Some(s) = Shop::new(b).await else { return };
    let user = s.login(USER).await;
    let order = s.add_money(&user, 7_500).await;
    let pay = s.fake.pay(&order, 7_500, "captured");
    let body = captured_event(&pay);
    // Bad signature, and a body altered after signing: refused, nothing credited.
    s.webhook("evt_1", &body, Some("00")).await.expect_error(400, "invalid_signature");
    let signed = hmac_hex(WEBHOOK_SECRET, body.as_bytes());
    let altered = body.replace("7500", "750000");
    assert_ne!(altered, body);
    s.webhook("evt_1", &altered, Some(&signed)).await.expect_error(400, "invalid_signature");
    // Re-serialised JSON (same content, other bytes) does not carry the signature either.
    let reserialised = serde_json::to_string_pretty(&serde_json::from_str::<Value>(&body).unwrap()).unwrap();
    s.webhook("evt_1", &reserialised, Some(&signed)).await.expect_error(400, "invalid_signature");
    assert_eq!(s.balance(&user).await, 0);
    // The user closed the browser: the webhook alone credits.
    assert_eq!(s.webhook("evt_1", &body, None).await.expect(200).str("/status"), "credited");
    assert_eq!(s.webhook("evt_1", &body, None).await.expect(200).str("/status"), "duplicate");
    assert_eq!(s.balance(&user).await, 7_500);
    // Events we do not act on are acknowledged.
    let other = json!({"entity": "event", "event": "refund.created", "payload": {}}).to_string();
    assert_eq!(s.webhook("evt_2", &other, None).await.expect(200).str("/status"), "ignored");
    let authorized = captured_event(&s.fake.pay(&s.add_money(&user, 100).await, 100, "authorized"))
        .replace("payment.captured", "payment.authorized");
    assert_eq!(s.webhook("evt_3", &authorized, None).await.expect(200).str("/status"), "ignored");
    s.webhook("evt_4", "{not json", None).await.expect_error(400, "invalid_body");
}

async fn amount_mismatch_is_alerted_not_credited(b: Backend) {
    let Some(s) = Shop::new(b).await else { return };
    let user = s.login(USER).await;
    let order = s.add_money(&user, 10_000).await;
    let pay = s.fake.pay(&order, 100, "captured");
    assert_eq!(
        s.webhook("evt_m", &captured_event(&pay), None).await.expect(200).str("/status"),
        "amount_mismatch"
    );
    assert_eq!(s.balance(&user).await, 0);
    let alerts = s.app.outbox().list(None, &Default::default()).await.unwrap();
    assert!(alerts.items.iter().any(|i| i.payload.contains("payment_mismatch")), "mismatch alerted");
    // Reconciliation finds the same payment and holds it too, without alerting it again.
    let r = s.app.wallet().reconcile(true, 100).await.unwrap();
    assert_eq!((r.credited, r.held, r.errors), (0, 1, 0), "{r:?}");
    assert_eq!(s.balance(&user).await, 0);
    assert_eq!(outbox_payloads(&s, "payment_mismatch").await.len(), 1, "alerted once");
}

async fn gateway_failures_surface_as_503(b: Backend) {
    let Some(s) = Shop::with_timeout(b, Duration::from_millis(300)).await else { return };
    let user = s.login(USER).await;
    s.fake.set_mode(Mode::Fail500);
    s.call("/wallet/add-money", Some(&user), json!({ "amount_paise": 1000 }))
        .await
        .expect_error(503, "payment_gateway_unavailable");
    s.fake.set_mode(Mode::Hang);
    s.call("/wallet/add-money", Some(&user), json!({ "amount_paise": 1000 }))
        .await
        .expect_error(503, "payment_gateway_unavailable");
    s.fake.set_mode(Mode::Normal);
    assert_eq!(s.fake.order_count(), 0, "nothing created while failing");
    let mut r = s.app.store().reader().await.unwrap();
    let all = ottsonly_core::model::Slice { before_id: None, limit: 10 };
    assert!(r.list_open_topups(s.app.now(), &all).await.unwrap().is_empty(), "no intent stored on error");
    drop(r);
    s.add_money(&user, 1000).await;
    assert_eq!(s.fake.unauthorized(), 0, "basic auth sent on every call");
}

async fn reconciliation_credits_and_expires(b: Backend) {
    let Some(s) = Shop::new(b).await else { return };
    let user = s.login(USER).await;
    let old = s.add_money(&user, 1_000).await;
    s.clock.advance(chrono::TimeDelta::days(3) + chrono::TimeDelta::hours(1));
    let user = s.login(USER).await; // access tokens last 15 minutes of the moved clock
    let paid = s.add_money(&user, 2_000).await;
    let open = s.add_money(&user, 3_000).await;
    s.fake.pay(&paid, 2_000, "captured");
    s.fake.pay(&open, 3_000, "failed");
    // The background pass waits `reconcile_after` (15 min) before asking.
    let first = s.app.wallet().reconcile(false, 100).await.unwrap();
    assert_eq!((first.checked, first.expired), (1, 1), "only the old one is due, and past the horizon");
    assert_eq!(s.balance(&user).await, 0);
    s.clock.advance(chrono::TimeDelta::minutes(16));
    let user = s.login(USER).await;
    let r = s.app.wallet().reconcile(false, 100).await.unwrap();
    assert_eq!((r.credited, r.expired), (1, 0), "{r:?}");
    assert_eq!(s.balance(&user).await, 2_000);
    // The operator's "check now" sees the rest (the open one, and the expired one for a late
    // capture); a second pass changes nothing.
    let r = s.app.wallet().reconcile(true, 100).await.unwrap();
    assert_eq!((r.checked, r.credited), (2, 0), "{r:?}");
    assert_eq!(s.balance(&user).await, 2_000);
    let mut reader = s.app.store().reader().await.unwrap();
    let t = reader.get_topup_by_gateway_order(&old).await.unwrap().unwrap();
    assert_eq!(t.status, ottsonly_core::TopUpStatus::Expired);
}

/// A webhook body for `event` carrying `entities` (e.g. `refund`, `payment`).
fn event(name: &str, entities: &[(&str, &Value)]) -> String {
    let payload: serde_json::Map<String, Value> =
        entities.iter().map(|(k, v)| (k.to_string(), json!({ "entity": v }))).collect();
    json!({ "entity": "event", "event": name, "payload": payload, "created_at": 1_900_000_300 }).to_string()
}

fn masked(phone: &str) -> String {
    ottsonly_core::PhoneNumber::parse(phone, Some("IN")).unwrap().masked()
}

async fn outbox_payloads(s: &Shop, kind: &str) -> Vec<Value> {
    let items =
        s.app.outbox().list(None, &ottsonly_core::model::PageRequest::first(200)).await.unwrap().items;
    items
        .iter()
        .map(|i| serde_json::from_str::<Value>(&i.payload).unwrap())
        .filter(|v| v["type"] == kind)
        .collect()
}

/// A capture after the intent expired (day 4) is credited by verify and by the webhook (200),
/// never refused with 409 or retried forever with 503.
async fn late_captures_are_credited(b: Backend) {
    let Some(s) = Shop::new(b).await else { return };
    let user = s.login(USER).await;
    let a = s.add_money(&user, 1_000).await;
    let w = s.add_money(&user, 2_000).await;
    s.clock.advance(chrono::TimeDelta::days(3) + chrono::TimeDelta::hours(1));
    assert_eq!(s.app.wallet().reconcile(false, 100).await.unwrap().expired, 2);
    s.clock.advance(chrono::TimeDelta::hours(20));
    let user = s.login(USER).await;
    let pa = s.fake.pay(&a, 1_000, "captured");
    let id = pa["id"].as_str().unwrap();
    let r = s.verify(&user, &a, id, &checkout_signature(&a, id)).await.expect(200);
    assert_eq!(r.i64("/balance_paise"), 1_000);
    let pw = s.fake.pay(&w, 2_000, "captured");
    assert_eq!(
        s.webhook("evt_late", &captured_event(&pw), None).await.expect(200).str("/status"),
        "credited"
    );
    assert_eq!(s.balance(&user).await, 3_000);
}

/// Uncreditable captured payments are answered 200 (no endless retries), recorded and alerted
/// for a refund with the payment, the amount and the user.
async fn uncreditable_payments_are_held_for_refund(b: Backend) {
    let Some(s) = Shop::new(b).await else { return };
    let user = s.login(USER).await;
    let order = s.add_money(&user, 5_000).await;
    let first = s.fake.pay(&order, 5_000, "captured");
    assert_eq!(
        s.webhook("evt_1", &captured_event(&first), None).await.expect(200).str("/status"),
        "credited"
    );
    let second = s.fake.pay(&order, 5_000, "captured");
    for evt in ["evt_2", "evt_3"] {
        let r = s.webhook(evt, &captured_event(&second), None).await.expect(200);
        assert_eq!(r.str("/status"), "held_for_refund");
    }
    let sid = second["id"].as_str().unwrap();
    s.verify(&user, &order, sid, &checkout_signature(&order, sid)).await.expect_error(409, "invalid_state");
    let alerts = outbox_payloads(&s, "payment_to_refund").await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(
        (alerts[0]["payment_id"].as_str(), alerts[0]["amount_paise"].as_i64()),
        (Some(sid), Some(5_000))
    );
    assert_eq!(alerts[0]["user_phone"], masked(USER));
    assert_eq!(s.balance(&user).await, 5_000);
}

/// Checkout verification fetches the payment: an authorized one is not credited (409
/// `payment_not_captured`); once Razorpay captured it, it is.
async fn verify_credits_only_captured(b: Backend) {
    let Some(s) = Shop::new(b).await else { return };
    let user = s.login(USER).await;
    let order = s.add_money(&user, 4_000).await;
    let pay = s.fake.pay(&order, 4_000, "authorized");
    let pid = pay["id"].as_str().unwrap();
    let sig = checkout_signature(&order, pid);
    s.verify(&user, &order, pid, &sig).await.expect_error(409, "payment_not_captured");
    assert_eq!(s.balance(&user).await, 0);
    assert!(s.fake.captures().is_empty(), "auto capture never captures");
    s.fake.set_status(pid, "captured");
    assert_eq!(s.verify(&user, &order, pid, &sig).await.expect(200).i64("/balance_paise"), 4_000);
    // Payments authorized but never captured keep their intent open past the horizon.
    let kept = s.add_money(&user, 1_000).await;
    s.fake.pay(&kept, 1_000, "authorized");
    s.clock.advance(chrono::TimeDelta::days(4));
    let r = s.app.wallet().reconcile(false, 100).await.unwrap();
    assert_eq!((r.expired, r.pending), (0, 1), "{r:?}");
}

/// With manual capture the server captures a matching authorized payment through
/// `POST /v1/payments/{id}/capture` (amount and currency) before crediting.
async fn manual_capture_through_the_api(b: Backend) {
    let Some(s) = Shop::with_config(b, Duration::from_secs(5), |c| {
        c.wallet.capture = ottsonly_core::payments::CaptureMode::Manual;
    })
    .await
    else {
        return;
    };
    let user = s.login(USER).await;
    let order = s.add_money(&user, 6_000).await;
    let pay = s.fake.pay(&order, 6_000, "authorized");
    let pid = pay["id"].as_str().unwrap();
    let r = s.verify(&user, &order, pid, &checkout_signature(&order, pid)).await.expect(200);
    assert_eq!(r.i64("/balance_paise"), 6_000);
    let captures = s.fake.captures();
    assert_eq!(captures.len(), 1);
    assert_eq!(captures[0].0, pid);
    assert_eq!(
        (captures[0].1["amount"].as_i64(), captures[0].1["currency"].as_str()),
        (Some(6_000), Some("INR"))
    );
    // The payment.authorized webhook captures too; a replayed capture ("already captured") is fine.
    let o2 = s.add_money(&user, 1_500).await;
    let p2 = s.fake.pay(&o2, 1_500, "authorized");
    let body = captured_event(&p2).replace("payment.captured", "payment.authorized");
    assert_eq!(s.webhook("evt_auth", &body, None).await.expect(200).str("/status"), "credited");
    assert_eq!(s.balance(&user).await, 7_500);
    let client = RazorpayClient::new(RazorpayConfig {
        key_id: KEY_ID.into(),
        key_secret: KEY_SECRET.into(),
        api_base: s.fake.base.clone(),
        timeout: Duration::from_secs(5),
    })
    .unwrap();
    let again = client
        .capture_payment(p2["id"].as_str().unwrap(), ottsonly_core::Money::from_paise(1_500).unwrap(), "INR")
        .await
        .expect("already captured is an answer");
    assert_eq!(again.status, ottsonly_core::payments::PaymentStatus::Captured);
}

/// `refund.processed` and `payment.dispute.created` are answered 200, recorded and alerted with
/// the user and the amount; the wallet is not debited.
async fn refunds_and_disputes_are_recorded(b: Backend) {
    let Some(s) = Shop::new(b).await else { return };
    let user = s.login(USER).await;
    let order = s.add_money(&user, 3_000).await;
    let pay = s.fake.pay(&order, 3_000, "captured");
    assert_eq!(s.webhook("evt_p", &captured_event(&pay), None).await.expect(200).str("/status"), "credited");
    let refund = json!({ "id": "rfnd_1", "entity": "refund", "amount": 3_000, "currency": "INR",
        "payment_id": pay["id"], "status": "processed" });
    let dispute = json!({ "id": "disp_1", "entity": "dispute", "amount": 3_000, "currency": "INR",
        "payment_id": pay["id"], "reason_code": "chargeback", "status": "open" });
    let r =
        s.webhook("evt_r", &event("refund.processed", &[("refund", &refund), ("payment", &pay)]), None).await;
    assert_eq!(r.expect(200).str("/status"), "recorded");
    let body = event("payment.dispute.created", &[("dispute", &dispute), ("payment", &pay)]);
    assert_eq!(s.webhook("evt_d", &body, None).await.expect(200).str("/status"), "recorded");
    let alerts = outbox_payloads(&s, "gateway_reversal").await;
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert!(
        alerts.iter().all(|a| a["amount_paise"] == 3_000 && a["user_phone"] == masked(USER)),
        "{alerts:?}"
    );
    assert_eq!(s.balance(&user).await, 3_000, "only an admin debits the wallet");
}

/// Top-up creation is limited per user: 429 `topup_rate_limited` (with Retry-After) after 5 in
/// a minute, 429 `too_many_open_topups` with 10 open.
async fn topup_limits_answer_429(b: Backend) {
    let Some(s) = Shop::new(b).await else { return };
    let user = s.login(USER).await;
    for _ in 0..5 {
        s.add_money(&user, 1_000).await;
    }
    let r = s.call("/wallet/add-money", Some(&user), json!({ "amount_paise": 1_000 })).await;
    assert!(r.header("retry-after").is_some_and(|v| v.parse::<u64>().is_ok_and(|s| s > 0)), "Retry-After");
    r.expect_error(429, "topup_rate_limited");
    s.clock.advance(chrono::TimeDelta::seconds(61));
    let user = s.login(USER).await;
    for _ in 0..5 {
        s.add_money(&user, 1_000).await;
    }
    s.clock.advance(chrono::TimeDelta::seconds(61));
    let user = s.login(USER).await;
    let r = s.call("/wallet/add-money", Some(&user), json!({ "amount_paise": 1_000 })).await;
    r.expect_error(429, "too_many_open_topups");
    assert_eq!(s.fake.order_count(), 10, "refused requests never reach Razorpay");
}

async fn concurrent_verify_and_webhooks_credit_once(b: Backend) {
    let Some(s) = Shop::new(b).await else { return };
    let s = Arc::new(s);
    let user = s.login(USER).await;
    let order = s.add_money(&user, 25_000).await;
    let pay = s.fake.pay(&order, 25_000, "captured");
    let pid = pay["id"].as_str().unwrap().to_string();
    let body = captured_event(&pay);
    let tasks = (0..50).map(|i| {
        let (s, user, order, pid, body) = (s.clone(), user.clone(), order.clone(), pid.clone(), body.clone());
        tokio::spawn(async move {
            if i % 2 == 0 {
                s.verify(&user, &order, &pid, &checkout_signature(&order, &pid)).await.status
            } else {
                // Razorpay redelivers with the same event id; a few distinct ids too.
                s.webhook(&format!("evt_c{}", i % 5), &body, None).await.status
            }
        })
    });
    let statuses: Vec<u16> =
        futures::future::join_all(tasks).await.into_iter().map(|r| r.expect("join")).collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(s.balance(&user).await, 25_000, "credited exactly once");
    let admin_token = {
        let system = ottsonly_core::Actor::system(s.app.now());
        s.app.users().set_role_by_phone(&system, ADMIN, Role::Admin).await.unwrap();
        s.login(ADMIN).await
    };
    let user_id = s.get("/users/me", &user).await.str("/id");
    let ledger = s.get(&format!("/users/{user_id}/transactions"), &admin_token).await.expect(200);
    assert_eq!(ledger.items().len(), 1, "one ledger entry");
}

async fn webhook_without_payments_configured(_b: Backend) {
    let t = crate::support::TestApp::new().await;
    let r = into_resp(
        t.cli.post("/webhooks/razorpay").header("x-razorpay-signature", "x").body("{}").send().await,
    )
    .await;
    r.expect_error(503, "payments_not_configured");
}

both_backends!(
    happy_path_and_replay,
    bad_signatures_and_foreign_orders,
    verify_then_webhook_and_webhook_then_verify,
    webhook_only_duplicates_and_tampering,
    amount_mismatch_is_alerted_not_credited,
    gateway_failures_surface_as_503,
    reconciliation_credits_and_expires,
    concurrent_verify_and_webhooks_credit_once,
    webhook_without_payments_configured,
    late_captures_are_credited,
    uncreditable_payments_are_held_for_refund,
    verify_credits_only_captured,
    manual_capture_through_the_api,
    refunds_and_disputes_are_recorded,
    topup_limits_answer_429,
);
