//! A test server: the real site (`build_site`: the REST API and the other HTTP front-ends) over a fresh SQLite file, with core's fakes for the
//! outside world, and helpers to call it.

use ottsonly_core::auth::OtpSender;
use ottsonly_core::config::CoreConfig;
use ottsonly_core::payments::PaymentGateway;
use ottsonly_core::testing::gateway::FakeGateway;
use ottsonly_core::testing::harness::RecordingOtpSender;
use ottsonly_core::{Actor, CredentialCipher, Ottsonly, Role, Store};
use ottsonly_server::{CoreParts, HttpOptions, SiteOptions, build_core, build_site, open_store};
use poem::endpoint::BoxEndpoint;
use poem::http::{HeaderMap, Method};
use poem::test::TestClient;
use poem::{EndpointExt, Response};
use serde_json::{Value, json};
use std::sync::Arc;

pub const CODE: &str = "123456";
pub const USER: &str = "+919999900001";
pub const OTHER: &str = "+919999900002";
pub const SUPPORT: &str = "+919999900003";
pub const ADMIN: &str = "+919999900004";
pub const VICTIM: &str = "+919999900005";
pub const GATEWAY_KEY_ID: &str = "rzp_test_key";
pub const GATEWAY_SECRET: &[u8] = b"fake-gateway-secret";
const JWT_SECRET: &str = "server-test-secret-server-test-secret!";

pub struct TestApp {
    pub cli: TestClient<BoxEndpoint<'static, Response>>,
    pub app: Ottsonly,
    pub gateway: Arc<FakeGateway>,
    pub sms: Arc<RecordingOtpSender>,
    _dir: tempfile::TempDir,
}

/// What a response said, with the body parsed as JSON (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    /// The envelope's error code, or "" for a success.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text);
        self
    }

    #[track_caller]
    pub fn expect_error(self, status: u16, code: &str) -> Self {
        assert_eq!((self.status, self.code()), (status, code), "body: {}", self.text);
        assert!(
            self.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
            "no message: {}",
            self.text
        );
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn str(&self, pointer: &str) -> String {
        self.body
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no string at {pointer}: {}", self.text))
            .to_string()
    }

    pub fn i64(&self, pointer: &str) -> i64 {
        self.body
            .pointer(pointer)
            .and_then(Value::as_i64)
            .unwrap_or_else(|| panic!("no integer at {pointer}: {}", self.text))
    }

    pub fn items(&self) -> Vec<Value> {
        self.body["items"].as_array().cloned().unwrap_or_else(|| panic!("no items: {}", self.text))
    }
}

pub struct Builder {
    pub site: SiteOptions,
    pub gateway: bool,
    pub store: Option<Arc<dyn Store>>,
    pub config: Option<ConfigHook>,
}

/// A change to core's configuration made before the app is built.
pub type ConfigHook = Box<dyn FnOnce(&mut CoreConfig)>;

impl Default for Builder {
    fn default() -> Self {
        // IP limits off by default: every in-process request comes from the same "address".
        Builder {
            site: SiteOptions {
                rest: HttpOptions { ip_rate_limit: 0, ..HttpOptions::default() },
                ..SiteOptions::default()
            },
            gateway: false,
            store: None,
            config: None,
        }
    }
}

impl Builder {
    pub fn http(mut self, f: impl FnOnce(&mut HttpOptions)) -> Self {
        f(&mut self.site.rest);
        self
    }

    pub fn gateway(mut self) -> Self {
        self.gateway = true;
        self
    }

    /// Changes core's configuration before the app is built.
    pub fn config(mut self, f: impl FnOnce(&mut CoreConfig) + 'static) -> Self {
        self.config = Some(Box::new(f));
        self
    }

    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    pub async fn build(self) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = match self.store {
            Some(s) => s,
            None => open_store(&format!("sqlite://{}", dir.path().join("test.db").display()))
                .await
                .expect("store"),
        };
        let mut config = CoreConfig::new(JWT_SECRET).expect("config");
        let phones = [USER, OTHER, SUPPORT, ADMIN, VICTIM].map(|p| format!("{p}:{CODE}")).join(",");
        config.auth.test_phones = config.auth.parse_test_phones(&phones).expect("test phones");
        if let Some(adjust) = self.config {
            adjust(&mut config);
        }
        let gateway = Arc::new(FakeGateway::new(GATEWAY_KEY_ID, GATEWAY_SECRET));
        let sms = Arc::new(RecordingOtpSender::default());
        let app = build_core(
            store,
            CoreParts {
                config,
                cipher: CredentialCipher::new(&[7u8; 32]),
                gateway: self.gateway.then(|| gateway.clone() as Arc<dyn PaymentGateway>),
                otp_sender: sms.clone() as Arc<dyn OtpSender>,
            },
        )
        .expect("core");
        let cli = TestClient::new(build_site(app.clone(), self.site).boxed());
        TestApp { cli, app, gateway, sms, _dir: dir }
    }
}

impl TestApp {
    pub async fn new() -> TestApp {
        Builder::default().build().await
    }

    pub fn builder() -> Builder {
        Builder::default()
    }

    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Resp {
        let mut req = self.cli.request(method, path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(b) = body {
            req = req.body_json(&b);
        }
        into_resp(req.send().await).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.call(Method::POST, path, token, Some(body)).await
    }

    /// A POST without a body (and without a content type).
    pub async fn post_empty(&self, path: &str, token: Option<&str>) -> Resp {
        self.call(Method::POST, path, token, None).await
    }

    /// Logs a test phone in through the API; returns the session body.
    pub async fn login(&self, phone: &str) -> Resp {
        self.post("/auth/login", None, json!({ "phone": phone })).await.expect(200);
        self.post("/auth/verify", None, json!({ "phone": phone, "otp": CODE })).await.expect(200)
    }

    /// An access token of a test phone with the given role (set through core, as the CLI does).
    pub async fn token(&self, phone: &str, role: Role) -> String {
        if role != Role::User {
            self.set_role(phone, role).await;
        }
        self.login(phone).await.str("/access_token")
    }

    pub async fn set_role(&self, phone: &str, role: Role) -> String {
        let system = Actor::system(self.app.now());
        self.app.users().set_role_by_phone(&system, phone, role).await.expect("set role").id.to_string()
    }

    pub async fn user_id(&self, token: &str) -> String {
        self.get("/users/me", Some(token)).await.expect(200).str("/id")
    }

    /// An active product with `pool` credentials (and that much stock) and extra plain stock.
    pub async fn product(&self, admin: &str, price_paise: i64, stock: i64, pool: usize) -> String {
        let p = self
            .post(
                "/products",
                Some(admin),
                json!({
                    "platform_name": "Netflix", "plan_name": "Premium", "description": "4K",
                    "price_paise": price_paise, "duration_days": 30, "stock": stock,
                }),
            )
            .await
            .expect(201);
        let id = p.str("/id");
        if pool > 0 {
            let creds: Vec<Value> = (0..pool)
                .map(|i| json!({ "username": format!("acct{i}@example.com"), "password": format!("pw{i}"), "profile": "P1", "pin": "4321" }))
                .collect();
            self.post(&format!("/products/{id}/credentials"), Some(admin), json!({ "credentials": creds }))
                .await
                .expect(200);
        }
        id
    }

    /// Credits a wallet through the admin API.
    pub async fn fund(&self, admin: &str, user_id: &str, paise: i64) {
        self.post(
            "/wallet/adjust",
            Some(admin),
            json!({ "user_id": user_id, "amount_paise": paise, "direction": "credit", "reason": "test funding" }),
        )
        .await
        .expect(200);
    }
}

pub async fn into_resp(r: poem::test::TestResponse) -> Resp {
    let status = r.0.status().as_u16();
    let headers = r.0.headers().clone();
    let text = r.0.into_body().into_string().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp { status, headers, body, text }
}

/// A common scene: an admin, a funded user and a product with a pool.
pub struct Shop {
    pub t: TestApp,
    pub admin: String,
    pub user: String,
    pub user_id: String,
    pub product: String,
}

impl Shop {
    pub async fn new() -> Shop {
        Self::on(TestApp::new().await).await
    }

    pub async fn on(t: TestApp) -> Shop {
        let admin = t.token(ADMIN, Role::Admin).await;
        let user = t.token(USER, Role::User).await;
        let user_id = t.user_id(&user).await;
        let product = t.product(&admin, 50_000, 0, 3).await;
        t.fund(&admin, &user_id, 200_000).await;
        Shop { t, admin, user, user_id, product }
    }

    /// The user buys the product; returns the purchase body.
    pub async fn buy(&self) -> Resp {
        self.t.post("/orders", Some(&self.user), json!({ "product_id": self.product })).await.expect(201)
    }
}
