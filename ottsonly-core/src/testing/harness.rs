//! A wired-up [`Ottsonly`] on a test store, with a movable clock, a fake gateway and an OTP
//! sender that records codes, plus an invariant checker; and a sleeper that records waits.

use super::TestStore;
use super::gateway::FakeGateway;
use crate::Ottsonly;
use crate::access::Actor;
use crate::auth::{OtpSender, Session};
use crate::catalog::NewProduct;
use crate::clock::{ManualClock, Sleeper};
use crate::config::CoreConfig;
use crate::crypto::{CredentialCipher, Credentials};
use crate::ids::UserId;
use crate::model::*;
use crate::money::Money;
use crate::phone::PhoneNumber;
use crate::wallet::{Adjustment, Direction};
use async_trait::async_trait;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Records every wait core asks for and returns at once (after yielding to the scheduler), so a
/// test that drives retries takes no wall-clock time and can check the backoff.
#[derive(Debug, Default)]
pub struct RecordingSleeper {
    slept: Mutex<Vec<Duration>>,
}

impl RecordingSleeper {
    /// Every wait asked for so far, in order.
    pub fn slept(&self) -> Vec<Duration> {
        self.slept.lock().expect("lock").clone()
    }
}

#[async_trait]
impl Sleeper for RecordingSleeper {
    async fn sleep(&self, duration: Duration) {
        self.slept.lock().expect("lock").push(duration);
        tokio::task::yield_now().await;
    }
}

/// Records every code "sent", and can be told to fail.
#[derive(Default)]
pub struct RecordingOtpSender {
    sent: Mutex<Vec<(PhoneNumber, String)>>,
    failing: AtomicBool,
}

impl RecordingOtpSender {
    pub fn last_code(&self, phone: &str) -> Option<String> {
        let sent = self.sent.lock().expect("lock");
        sent.iter().rev().find(|(p, _)| p.as_str() == phone).map(|(_, c)| c.clone())
    }
    pub fn sent_count(&self) -> usize {
        self.sent.lock().expect("lock").len()
    }
    pub fn set_failing(&self, f: bool) {
        self.failing.store(f, Ordering::SeqCst);
    }
}

#[async_trait]
impl OtpSender for RecordingOtpSender {
    async fn send(&self, phone: &PhoneNumber, code: &str) -> Result<(), String> {
        if self.failing.load(Ordering::SeqCst) {
            return Err("provider unavailable".into());
        }
        self.sent.lock().expect("lock").push((phone.clone(), code.into()));
        Ok(())
    }
}

pub const GATEWAY_KEY_ID: &str = "rzp_test_key";
pub const GATEWAY_SECRET: &[u8] = b"fake-gateway-secret";
pub const TEST_PHONE: &str = "+919999900001";
pub const TEST_PHONE_CODE: &str = "123456";

pub struct Harness {
    pub app: Ottsonly,
    pub clock: Arc<ManualClock>,
    pub gateway: Arc<FakeGateway>,
    pub sms: Arc<RecordingOtpSender>,
    pub ts: TestStore,
}

/// 32 bytes of test JWT secret.
pub const JWT_SECRET: &[u8] = b"test-secret-test-secret-test-secret!";

impl Harness {
    pub fn new(ts: TestStore) -> Self {
        Self::with_config(ts, |_| {})
    }

    pub fn with_config(ts: TestStore, adjust: impl FnOnce(&mut CoreConfig)) -> Self {
        Self::build(ts, adjust, None)
    }

    /// With another [`Sleeper`] (e.g. a [`RecordingSleeper`]) instead of tokio's timer. The
    /// default harness sleeps for real, which the concurrency scenarios rely on for backoff.
    pub fn with_sleeper(ts: TestStore, sleeper: Arc<dyn Sleeper>) -> Self {
        Self::build(ts, |_| {}, Some(sleeper))
    }

    fn build(ts: TestStore, adjust: impl FnOnce(&mut CoreConfig), sleeper: Option<Arc<dyn Sleeper>>) -> Self {
        let mut config = CoreConfig::new(JWT_SECRET).expect("config");
        config.auth.test_phones =
            config.auth.parse_test_phones(&format!("{TEST_PHONE}:{TEST_PHONE_CODE}")).expect("test phones");
        adjust(&mut config);
        let clock = Arc::new(ManualClock::at_epoch_2030());
        let gateway = Arc::new(FakeGateway::new(GATEWAY_KEY_ID, GATEWAY_SECRET));
        let sms = Arc::new(RecordingOtpSender::default());
        let mut builder = Ottsonly::builder(ts.store.clone(), config)
            .clock(clock.clone())
            .otp_sender(sms.clone())
            .payment_gateway(gateway.clone())
            .credential_cipher(CredentialCipher::new(&[42u8; 32]));
        if let Some(sleeper) = sleeper {
            builder = builder.sleeper(sleeper);
        }
        let app = builder.build().expect("build");
        Harness { app, clock, gateway, sms, ts }
    }

    /// Full OTP login of a phone; returns the session and the authenticated actor.
    pub async fn login(&self, phone: &str) -> (Session, Actor) {
        self.app.auth().request_otp(phone).await.expect("request otp");
        let normalised = self.app.auth().parse_phone(phone).expect("phone");
        let code = self.sms.last_code(normalised.as_str()).expect("code sent");
        let s = self.app.auth().verify_otp(phone, &code).await.expect("verify");
        let actor = self.app.auth().authenticate(&s.access_token).await.expect("authenticate");
        (s, actor)
    }

    /// A user with the given role, created directly (no OTP round trip).
    pub async fn user_with_role(&self, phone: &str, role: Role) -> Actor {
        let system = Actor::system(self.app.now());
        let u = self.app.users().set_role_by_phone(&system, phone, role).await.expect("set role");
        Actor::of(&u)
    }

    pub async fn admin(&self) -> Actor {
        self.user_with_role("+919000000001", Role::Admin).await
    }

    pub async fn product(&self, admin: &Actor, price_paise: i64, stock: i64, pool: usize) -> Product {
        let p = self
            .app
            .catalog()
            .create(
                admin,
                NewProduct {
                    platform_name: "Netflix".into(),
                    plan_name: "Premium".into(),
                    description: "4K, 4 screens".into(),
                    price: Money::from_paise(price_paise).expect("price"),
                    duration_days: 30,
                    stock,
                    is_active: true,
                },
            )
            .await
            .expect("create product");
        if pool == 0 {
            return p;
        }
        let creds = (0..pool).map(|i| creds(&format!("acct{i}@example.com"))).collect();
        self.app.catalog().import_credentials(admin, &p.id, creds).await.expect("import")
    }

    pub async fn fund(&self, admin: &Actor, user: &UserId, paise: i64) {
        if paise == 0 {
            return;
        }
        self.app
            .wallet()
            .adjust(
                admin,
                Adjustment {
                    user_id: user.clone(),
                    amount: Money::from_paise(paise).expect("amount"),
                    direction: Direction::Credit,
                    reason: "test funding".into(),
                    request_id: None,
                },
            )
            .await
            .expect("fund");
    }

    pub async fn balance(&self, user: &UserId) -> i64 {
        let mut r = self.ts.store.reader().await.expect("reader");
        r.get_user(user).await.expect("get").expect("user").wallet_balance.paise()
    }

    /// Every item of every page of a list.
    pub async fn all_users(&self) -> Vec<User> {
        let mut out = Vec::new();
        let mut r = self.ts.store.reader().await.expect("reader");
        let mut before = None;
        for _ in 0..10_000 {
            let page = r
                .list_users(&UserFilter::default(), &Slice { before_id: before, limit: 200 })
                .await
                .expect("list");
            let done = page.len() < 200;
            before = page.last().map(|u| u.id.as_str().to_string());
            out.extend(page);
            if done {
                break;
            }
        }
        out
    }

    pub async fn all_orders(&self) -> Vec<Order> {
        let mut out = Vec::new();
        let mut r = self.ts.store.reader().await.expect("reader");
        let mut before = None;
        for _ in 0..10_000 {
            let page = r
                .list_orders(&OrderFilter::default(), &Slice { before_id: before, limit: 200 })
                .await
                .expect("list");
            let done = page.len() < 200;
            before = page.last().map(|o| o.id.as_str().to_string());
            out.extend(page);
            if done {
                break;
            }
        }
        out
    }

    pub async fn all_ledger(&self, user: &UserId) -> Vec<LedgerEntry> {
        let mut out = Vec::new();
        let mut r = self.ts.store.reader().await.expect("reader");
        let mut before = None;
        for _ in 0..10_000 {
            let page = r.list_ledger(user, &Slice { before_id: before, limit: 200 }).await.expect("list");
            let done = page.len() < 200;
            before = page.last().map(|e| e.id.as_str().to_string());
            out.extend(page);
            if done {
                break;
            }
        }
        out
    }

    /// Checks the money and stock invariants over the whole store:
    /// every balance equals the sum of its ledger and each entry's `balance_after` replays;
    /// an order exists iff its debit and subscription exist; a refund is credited once;
    /// stock is never negative; no credential is assigned twice.
    pub async fn check_invariants(&self) {
        let mut r = self.ts.store.reader().await.expect("reader");
        let orders = self.all_orders().await;
        let order_ids: HashSet<String> = orders.iter().map(|o| o.id.as_str().to_string()).collect();
        let mut debits_for_orders = 0usize;
        let mut refunds: HashMap<String, usize> = HashMap::new();
        for u in self.all_users().await {
            let ledger = self.all_ledger(&u.id).await;
            let sum: i64 = ledger.iter().map(LedgerEntry::signed_paise).sum();
            assert_eq!(sum, u.wallet_balance.paise(), "balance of {} != ledger sum", u.id);
            if let Some(ext) = &self.ts.ext {
                assert_eq!(ext.ledger_sum(&u.id).await.expect("sum"), sum, "ledger_sum of {}", u.id);
            }
            // Replay oldest first: each balance_after follows from the one before.
            let mut running = 0i64;
            for e in ledger.iter().rev() {
                running += e.signed_paise();
                assert!(running >= 0, "balance of {} went negative", u.id);
                assert_eq!(e.balance_after.paise(), running, "balance_after of entry {}", e.id);
            }
            for e in &ledger {
                match (e.reference_type, e.kind) {
                    (ReferenceType::Order, EntryKind::Debit) => {
                        debits_for_orders += 1;
                        assert!(order_ids.contains(&e.reference_id), "debit {} without an order", e.id);
                    }
                    (ReferenceType::Refund, EntryKind::Credit) => {
                        *refunds.entry(e.reference_id.clone()).or_default() += 1;
                    }
                    _ => {}
                }
            }
        }
        assert_eq!(debits_for_orders, orders.len(), "orders and order debits differ");
        let mut credentials = HashSet::new();
        for o in &orders {
            let debit = r
                .get_ledger_entry_by_reference(ReferenceType::Order, o.id.as_str(), EntryKind::Debit)
                .await
                .expect("get");
            let debit = debit.unwrap_or_else(|| panic!("order {} has no debit", o.id));
            assert_eq!(debit.amount, o.amount);
            let sub = r.get_subscription_by_order(&o.id).await.expect("get");
            let sub = sub.unwrap_or_else(|| panic!("order {} has no subscription", o.id));
            if let Some(c) = sub.credential_id {
                assert!(credentials.insert(c.clone()), "credential {c} assigned twice");
            }
            let refunded = refunds.get(o.id.as_str()).copied().unwrap_or(0);
            match o.status {
                OrderStatus::Refunded => assert_eq!(refunded, 1, "order {} refunded {refunded} times", o.id),
                OrderStatus::Completed => assert_eq!(refunded, 0, "completed order {} has a refund", o.id),
            }
        }
        let products =
            r.list_products(true, &Slice { before_id: None, limit: 10_000 }).await.expect("products");
        for p in products {
            assert!(p.stock >= 0, "stock of {} is negative", p.id);
        }
    }
}

pub fn creds(username: &str) -> Credentials {
    Credentials {
        username: username.into(),
        password: format!("pw-{username}"),
        profile: Some("Profile 1".into()),
        pin: Some("4321".into()),
        notes: None,
    }
}
