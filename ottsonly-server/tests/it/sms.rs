//! One-time codes by SMS: the real senders (built from settings, as the binary does) against a
//! loopback fake provider, driven through `POST /auth/login` and `/auth/verify`.

use crate::fakes::{FakeSms, Recorded, Reply};
use crate::support::{Resp, into_resp};
use crate::telegram::capture_logs;
use base64::Engine;
use ottsonly_core::auth::OtpSender;
use ottsonly_core::config::CoreConfig;
use ottsonly_core::{CredentialCipher, Ottsonly};
use ottsonly_server::adapters::sms;
use ottsonly_server::host::settings::{Environment, Settings, Sources};
use ottsonly_server::{CoreParts, HttpOptions, build_app, build_core, open_store};
use poem::Response;
use poem::endpoint::BoxEndpoint;
use poem::test::TestClient;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PHONE: &str = "+919876543210";
const TEST_PHONE: &str = "+919999900001";
const SID: &str = "AC0123456789abcdef";
const AUTH_TOKEN: &str = "twilio-auth-token-secret";
const FROM: &str = "+15005550006";
const MSG91_KEY: &str = "msg91-auth-key-secret";

struct SmsApp {
    cli: TestClient<BoxEndpoint<'static, Response>>,
    _app: Ottsonly,
    _dir: tempfile::TempDir,
}

impl SmsApp {
    async fn new(sender: Arc<dyn OtpSender>) -> SmsApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let store =
            open_store(&format!("sqlite://{}", dir.path().join("sms.db").display())).await.expect("store");
        let mut config = CoreConfig::new("sms-test-secret-sms-test-secret-sms!!").expect("config");
        config.auth.test_phones =
            config.auth.parse_test_phones(&format!("{TEST_PHONE}:123456")).expect("phones");
        let app = build_core(
            store,
            CoreParts {
                config,
                cipher: CredentialCipher::new(&[7u8; 32]),
                gateway: None,
                otp_sender: sender,
            },
        )
        .expect("core");
        let cli = TestClient::new(build_app(
            app.clone(),
            HttpOptions { ip_rate_limit: 0, ..HttpOptions::default() },
        ));
        SmsApp { cli, _app: app, _dir: dir }
    }

    async fn post(&self, path: &str, body: Value) -> Resp {
        into_resp(self.cli.post(path).body_json(&body).send().await).await
    }

    async fn login(&self, phone: &str) -> Resp {
        self.post("/auth/login", json!({ "phone": phone })).await
    }

    async fn verify(&self, phone: &str, code: &str) -> Resp {
        self.post("/auth/verify", json!({ "phone": phone, "otp": code })).await
    }
}

fn settings(env: &[(&str, &str)]) -> Settings {
    let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Settings::load(&Sources { config_file: None, env, working_dir: None }).expect("settings")
}

fn twilio_settings(fake: &FakeSms, timeout_ms: &str) -> Settings {
    settings(&[
        ("OTTSONLY_SMS_PROVIDER", "twilio"),
        ("OTTSONLY_TWILIO_ACCOUNT_SID", SID),
        ("OTTSONLY_TWILIO_AUTH_TOKEN", AUTH_TOKEN),
        ("OTTSONLY_TWILIO_FROM", FROM),
        ("OTTSONLY_SMS_API_URL", &fake.base_url()),
        ("OTTSONLY_SMS_TIMEOUT_MS", timeout_ms),
    ])
}

async fn twilio_app(fake: &FakeSms, timeout_ms: &str) -> SmsApp {
    SmsApp::new(
        sms::otp_sender(&twilio_settings(fake, timeout_ms).sms, Environment::Dev).expect("twilio sender"),
    )
    .await
}

/// The six digits in a message body.
fn code_in(body: &str) -> String {
    let digits: String = body
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap_or_else(|| panic!("no code in {body:?}"))
        .to_string();
    digits
}

fn twilio_code(req: &Recorded) -> String {
    code_in(&req.form_field("Body").expect("Body field"))
}

#[tokio::test]
async fn twilio_delivers_the_code_to_that_number_only_and_never_logs_it() {
    let (logs, _guard) = capture_logs();
    let fake = FakeSms::start();
    let t = twilio_app(&fake, "5000").await;
    let c = t.login(PHONE).await.expect(200);
    assert_eq!(c.i64("/resend_after_s"), 60);
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1, "{reqs:#?}");
    let req = &reqs[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, format!("/2010-04-01/Accounts/{SID}/Messages.json"));
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{AUTH_TOKEN}"));
    assert_eq!(req.header("authorization"), Some(format!("Basic {basic}").as_str()));
    assert!(req.header("content-type").unwrap_or("").starts_with("application/x-www-form-urlencoded"));
    assert_eq!(req.form_field("To").as_deref(), Some(PHONE));
    assert_eq!(req.form_field("From").as_deref(), Some(FROM));
    let body = req.form_field("Body").expect("Body");
    assert!(body.contains("OTTSONLY"), "{body}");
    let code = twilio_code(req);
    // The code that reached the provider is the one that logs in.
    let s = t.verify(PHONE, &code).await.expect(200);
    assert_eq!(s.str("/user/phone"), PHONE);
    let text = logs.text();
    assert!(text.contains("OTP SMS accepted"), "{text}");
    assert!(!text.contains(&code), "the code was logged: {text}");
    assert!(!text.contains(AUTH_TOKEN), "the auth token was logged: {text}");
    assert!(!text.contains(PHONE), "the full number was logged: {text}");
    // Test phones never reach the provider.
    t.login(TEST_PHONE).await.expect(200);
    t.verify(TEST_PHONE, "123456").await.expect(200);
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn a_provider_failure_is_otp_delivery_failed_and_the_cooldown_still_applies() {
    let (logs, _guard) = capture_logs();
    let fake = FakeSms::start();
    let t = twilio_app(&fake, "5000").await;
    fake.http.script(
        "",
        Reply::Json(500, json!({ "code": 20500, "message": "Internal Server Error", "status": 500 })),
    );
    let r = t.login(PHONE).await.expect_error(503, "otp_delivery_failed");
    let message = r.body["error"]["message"].as_str().unwrap_or("").to_string();
    assert!(message.contains("unavailable"), "{message}");
    let code = twilio_code(&fake.requests()[0]);
    for secret in [code.as_str(), AUTH_TOKEN, SID, "127.0.0.1"] {
        assert!(!r.text.contains(secret), "`{secret}` reached the user: {}", r.text);
    }
    // A retry is held by the cooldown (a failing provider cannot be used to spam)...
    let again = t.login(PHONE).await.expect_error(429, "otp_cooldown");
    assert!(again.header("retry-after").is_some());
    assert_eq!(fake.requests().len(), 1);
    // ...and the stored code was not consumed by the failure.
    t.verify(PHONE, &code).await.expect(200);
    let text = logs.text();
    assert!(text.contains("OTP SMS refused") && text.contains("20500"), "{text}");
    assert!(!text.contains(&code), "the code was logged: {text}");
}

#[tokio::test]
async fn a_provider_that_does_not_answer_times_out_as_otp_delivery_failed() {
    let fake = FakeSms::start();
    let t = twilio_app(&fake, "300").await;
    fake.http.script("", Reply::Hang);
    let started = Instant::now();
    let r = t.login(PHONE).await.expect_error(503, "otp_delivery_failed");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert!(
        r.body["error"]["message"].as_str().unwrap_or("").contains("did not answer in time"),
        "{}",
        r.text
    );
    t.login(PHONE).await.expect_error(429, "otp_cooldown");
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn a_refused_number_is_a_clear_error() {
    let (logs, _guard) = capture_logs();
    let fake = FakeSms::start();
    let t = twilio_app(&fake, "5000").await;
    fake.http.script(
        "",
        Reply::Json(
            400,
            json!({ "code": 21211, "message": "The 'To' number is not a valid phone number.", "status": 400 }),
        ),
    );
    let r = t.login(PHONE).await.expect_error(503, "otp_delivery_failed");
    assert!(r.body["error"]["message"].as_str().unwrap_or("").contains("refused"), "{}", r.text);
    assert!(logs.text().contains("21211"), "the provider's reason is logged for operators");
}

#[tokio::test]
async fn a_messaging_service_sid_is_sent_as_such() {
    let fake = FakeSms::start();
    let mut s = twilio_settings(&fake, "5000");
    s.sms.twilio_from = Some("MG0123456789".into());
    let t = SmsApp::new(sms::otp_sender(&s.sms, Environment::Dev).expect("sender")).await;
    t.login(PHONE).await.expect(200);
    let req = &fake.requests()[0];
    assert_eq!(req.form_field("MessagingServiceSid").as_deref(), Some("MG0123456789"));
    assert_eq!(req.form_field("From"), None);
}

fn msg91_settings(fake: &FakeSms) -> Settings {
    settings(&[
        ("OTTSONLY_SMS_PROVIDER", "msg91"),
        ("OTTSONLY_MSG91_AUTH_KEY", MSG91_KEY),
        ("OTTSONLY_MSG91_TEMPLATE_ID", "tpl-otp-1"),
        ("OTTSONLY_MSG91_OTP_VAR", "OTP"),
        ("OTTSONLY_SMS_API_URL", &fake.base_url()),
    ])
}

#[tokio::test]
async fn msg91_sends_the_code_through_the_flow_api() {
    let (logs, _guard) = capture_logs();
    let fake = FakeSms::start();
    let t = SmsApp::new(sms::otp_sender(&msg91_settings(&fake).sms, Environment::Dev).expect("msg91 sender"))
        .await;
    t.login(PHONE).await.expect(200);
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    let req = &reqs[0];
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/api/v5/flow/"));
    assert_eq!(req.header("authkey"), Some(MSG91_KEY));
    let body = req.json();
    assert_eq!(body["template_id"], "tpl-otp-1");
    assert_eq!(body["recipients"][0]["mobiles"], "919876543210");
    let code = body["recipients"][0]["OTP"].as_str().expect("code variable").to_string();
    assert_eq!(code.len(), 6);
    t.verify(PHONE, &code).await.expect(200);
    assert!(!logs.text().contains(&code), "the code was logged");
    assert!(!logs.text().contains(MSG91_KEY), "the key was logged");
}

#[tokio::test]
async fn msg91_error_answers_are_failures_even_with_200() {
    let fake = FakeSms::start();
    let t = SmsApp::new(sms::otp_sender(&msg91_settings(&fake).sms, Environment::Dev).expect("msg91 sender"))
        .await;
    fake.http.script("", Reply::Json(200, json!({ "type": "error", "message": "Invalid template" })));
    let r = t.login(PHONE).await.expect_error(503, "otp_delivery_failed");
    assert!(!r.text.contains(MSG91_KEY));
    t.login(PHONE).await.expect_error(429, "otp_cooldown");
}

#[test]
fn provider_settings_are_checked() {
    // Production refuses the log sender.
    let p = settings(&[("OTTSONLY_ENV", "production")]).problems();
    assert!(p.iter().any(|p| p.contains("OTTSONLY_SMS_PROVIDER")), "{p:?}");
    // A chosen provider names what it is missing, in every environment.
    let s = settings(&[("OTTSONLY_SMS_PROVIDER", "twilio"), ("OTTSONLY_TWILIO_ACCOUNT_SID", SID)]);
    assert!(s.problems().iter().any(|p| p.contains("OTTSONLY_TWILIO_AUTH_TOKEN")), "{:?}", s.problems());
    let err = sms::otp_sender(&s.sms, Environment::Dev).err().expect("must refuse").to_string();
    assert!(err.contains("OTTSONLY_TWILIO_AUTH_TOKEN"), "{err}");
    let s = settings(&[("OTTSONLY_SMS_PROVIDER", "msg91"), ("OTTSONLY_MSG91_AUTH_KEY", "k")]);
    assert!(
        sms::otp_sender(&s.sms, Environment::Dev)
            .err()
            .expect("must refuse")
            .to_string()
            .contains("OTTSONLY_MSG91_TEMPLATE_ID")
    );
    // Production wants https and a template with the code.
    let s = settings(&[
        ("OTTSONLY_ENV", "production"),
        ("OTTSONLY_SMS_PROVIDER", "msg91"),
        ("OTTSONLY_MSG91_AUTH_KEY", "k"),
        ("OTTSONLY_MSG91_TEMPLATE_ID", "t"),
        ("OTTSONLY_SMS_API_URL", "http://sms.example"),
        ("OTTSONLY_SMS_TEMPLATE", "no placeholder"),
    ]);
    let p = s.problems();
    assert!(p.iter().any(|p| p.contains("https")) && p.iter().any(|p| p.contains("{code}")), "{p:?}");
    let ok = settings(&[
        ("OTTSONLY_ENV", "production"),
        ("OTTSONLY_SMS_PROVIDER", "twilio"),
        ("OTTSONLY_TWILIO_ACCOUNT_SID", SID),
        ("OTTSONLY_TWILIO_AUTH_TOKEN", AUTH_TOKEN),
        ("OTTSONLY_TWILIO_FROM", FROM),
    ]);
    assert!(!ok.problems().iter().any(|p| p.contains("SMS") || p.contains("TWILIO")), "{:?}", ok.problems());
    assert!(!format!("{ok:?}").contains(AUTH_TOKEN));
    let bad = Settings::load(&Sources {
        config_file: None,
        env: [("OTTSONLY_SMS_PROVIDER".to_string(), "carrier-pigeon".to_string())].into(),
        working_dir: None,
    });
    assert!(bad.is_err());
}
