//! Tuning values and secrets, passed in by the embedding application (core reads no environment).

use crate::error::Error;
use crate::money::Money;
pub use crate::payments::CaptureMode;
use crate::phone::{INDIA, PhoneNumber};
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::time::Duration;

/// Everything core needs to know. Build with [`CoreConfig::new`] and adjust the public fields.
#[derive(Clone, Debug)]
pub struct CoreConfig {
    pub auth: AuthConfig,
    pub catalog: CatalogConfig,
    pub subscriptions: SubscriptionConfig,
    pub wallet: WalletConfig,
    pub outbox: OutboxConfig,
}

impl CoreConfig {
    /// The defaults named in each section, with the two secrets that have no safe default.
    pub fn new(jwt_secret: impl Into<Vec<u8>>) -> Result<Self, Error> {
        Ok(CoreConfig {
            auth: AuthConfig::new(jwt_secret)?,
            catalog: CatalogConfig { low_stock_threshold: 3, list_cache_ttl: Duration::from_secs(1) },
            subscriptions: SubscriptionConfig { reminder_days: 3, sweep_batch: 200 },
            wallet: WalletConfig {
                topup_min: Money::from_paise(100).expect("positive"),
                topup_max: Money::from_paise(1_000_000).expect("positive"),
                adjustment_max: Money::from_paise(10_000_000).expect("positive"),
                currency: "INR".into(),
                reconcile_after: Duration::from_secs(15 * 60),
                reconcile_horizon: Duration::from_secs(3 * 24 * 3600),
                reconcile_batch: 200,
                late_capture_window: Duration::from_secs(7 * 24 * 3600),
                capture: CaptureMode::Auto,
                max_open_topups: 10,
                topups_per_minute: 5,
                checkout_link_ttl: Duration::from_secs(2 * 3600),
            },
            outbox: OutboxConfig {
                max_attempts: 10,
                backoff_base: Duration::from_secs(5),
                backoff_max: Duration::from_secs(3600),
                lease: Duration::from_secs(60),
            },
        })
    }
}

/// Login rules. Secrets are redacted from `Debug`.
#[derive(Clone)]
pub struct AuthConfig {
    jwt_secret: Vec<u8>,
    /// Key of the OTP MACs, derived from the JWT secret so operators manage one secret.
    otp_mac_key: Vec<u8>,
    /// Key of checkout-link tokens, derived likewise under its own label.
    checkout_key: Vec<u8>,
    pub jwt_issuer: String,
    /// Access token lifetime (default 15 min).
    pub access_ttl: Duration,
    /// Refresh token lifetime (default 30 days).
    pub refresh_ttl: Duration,
    /// Digits of a one-time code (default 6).
    pub otp_digits: u32,
    /// How long a code is valid (default 5 min).
    pub otp_ttl: Duration,
    /// Wrong submissions after which a code is dead (default 5).
    pub otp_max_attempts: u32,
    /// Code submissions per phone per send window (the rolling day of `otp_daily_limit`), across
    /// resends: a new code does not bring new guesses (default 10).
    pub otp_daily_guess_limit: u32,
    /// Minimum time between two sends to one phone (default 60 s).
    pub otp_resend_cooldown: Duration,
    /// Sends per phone per rolling day (default 10).
    pub otp_daily_limit: u32,
    /// ISO 3166 alpha-2 country of numbers typed without a `+` (default India, `"IN"`).
    pub default_region: Option<String>,
    /// ISO 3166 alpha-2 countries whose mobile numbers may receive a code (default `{"IN"}`);
    /// empty allows every country. Against SMS pumping: an attacker who makes us text premium
    /// numbers abroad is paid per message.
    pub otp_countries: BTreeSet<String>,
    /// Phones that always accept a fixed code, receive nothing and skip rate limits (demos, CI).
    pub test_phones: HashMap<PhoneNumber, String>,
}

/// Shortest JWT secret accepted: HS256 wants at least as many key bytes as hash bytes.
pub const JWT_SECRET_MIN_BYTES: usize = 32;

impl AuthConfig {
    pub fn new(jwt_secret: impl Into<Vec<u8>>) -> Result<Self, Error> {
        let jwt_secret = jwt_secret.into();
        if jwt_secret.len() < JWT_SECRET_MIN_BYTES {
            return Err(Error::validation(
                "jwt_secret",
                format!("must be at least {JWT_SECRET_MIN_BYTES} bytes"),
            ));
        }
        let otp_mac_key = crate::crypto::hmac_hex(&jwt_secret, &[b"ottsonly/otp-mac/v1"]).into_bytes();
        let checkout_key = crate::crypto::hmac_hex(&jwt_secret, &[b"ottsonly/checkout-link/v1"]).into_bytes();
        Ok(AuthConfig {
            jwt_secret,
            otp_mac_key,
            checkout_key,
            jwt_issuer: "ottsonly".into(),
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            otp_digits: 6,
            otp_ttl: Duration::from_secs(5 * 60),
            otp_max_attempts: 5,
            otp_daily_guess_limit: 10,
            otp_resend_cooldown: Duration::from_secs(60),
            otp_daily_limit: 10,
            default_region: Some(INDIA.into()),
            otp_countries: BTreeSet::from([INDIA.to_string()]),
            test_phones: HashMap::new(),
        })
    }

    pub(crate) fn jwt_secret(&self) -> &[u8] {
        &self.jwt_secret
    }

    pub(crate) fn otp_mac_key(&self) -> &[u8] {
        &self.otp_mac_key
    }

    pub(crate) fn checkout_key(&self) -> &[u8] {
        &self.checkout_key
    }

    /// Parses `+91XXXXXXXXXX:123456,+91YYYYYYYYYY:654321` into `test_phones`. A test phone must be
    /// a valid number but need not be a mobile one, nor in `otp_countries`: it never receives an
    /// SMS, and an operator chose it.
    pub fn parse_test_phones(&self, spec: &str) -> Result<HashMap<PhoneNumber, String>, Error> {
        let mut out = HashMap::new();
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (phone, code) = pair
                .rsplit_once(':')
                .ok_or_else(|| Error::validation("test_phones", format!("`{pair}` is not PHONE:CODE")))?;
            let phone = PhoneNumber::parse_any(phone, self.default_region.as_deref())
                .map_err(|e| Error::validation("test_phones", format!("`{phone}`: {e}")))?;
            let code = code.trim();
            if code.len() != self.otp_digits as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::validation(
                    "test_phones",
                    format!("code for {phone} must be {} digits", self.otp_digits),
                ));
            }
            out.insert(phone, code.to_string());
        }
        Ok(out)
    }
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field("jwt_secret", &"<redacted>")
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .field("otp_ttl", &self.otp_ttl)
            .field("otp_max_attempts", &self.otp_max_attempts)
            .field("otp_resend_cooldown", &self.otp_resend_cooldown)
            .field("otp_daily_limit", &self.otp_daily_limit)
            .field("otp_daily_guess_limit", &self.otp_daily_guess_limit)
            .field("default_region", &self.default_region)
            .field("otp_countries", &self.otp_countries)
            .field("test_phones", &self.test_phones.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Debug)]
pub struct CatalogConfig {
    /// A purchase that leaves stock at or below this raises a low-stock alert (default 3).
    pub low_stock_threshold: i64,
    /// How long the public product list may be served from memory (default 1 s; zero turns the
    /// cache off). This process's own catalog writes drop it at once; see `catalog_cache`.
    pub list_cache_ttl: Duration,
}

#[derive(Clone, Debug)]
pub struct SubscriptionConfig {
    /// Days before the end at which the owner is reminded (default 3).
    pub reminder_days: u32,
    /// Subscriptions handled per unit of work by the expiry sweep and reminders (default 200).
    pub sweep_batch: u32,
}

#[derive(Clone, Debug)]
pub struct WalletConfig {
    /// Smallest top-up (default 100 paise).
    pub topup_min: Money,
    /// Largest top-up (default 10,00,000 paise).
    pub topup_max: Money,
    /// Largest single admin adjustment (default 1,00,00,000 paise).
    pub adjustment_max: Money,
    pub currency: String,
    /// A top-up still open this long after creation is checked against the gateway.
    pub reconcile_after: Duration,
    /// A top-up still open this long after creation, with no payment the gateway may still
    /// capture, is expired (default 3 days). An intent whose payment is still `authorized` is
    /// never expired, whatever its age: Razorpay's Payment Capture Settings say "You must ensure
    /// that all payments in the authorized state are moved to the captured state within 3 days of
    /// creation ... payments that are not captured within this period will be refunded
    /// automatically" (https://razorpay.com/docs/payments/payments/capture-settings/), and a late
    /// authorisation can itself arrive up to 3 days after the payment was made, so an authorized
    /// payment is left to end as captured (credited) or refunded (then the intent expires). A
    /// capture that arrives after expiry is still credited.
    pub reconcile_horizon: Duration,
    /// Most top-ups one background reconciliation pass visits, which bounds its order-payment
    /// fetches at the gateway (default 200; a capture in manual mode is one call more).
    pub reconcile_batch: u32,
    /// Expired top-ups made this recently are still asked about when a pass has budget left,
    /// so a capture after expiry is credited even without a webhook (default 7 days: Razorpay's
    /// 3-day late authorisation plus its 3-day capture window, with a day to spare).
    pub late_capture_window: Duration,
    /// Whether checkout verification and reconciliation capture authorized payments themselves
    /// (`Manual`) or wait for the gateway to capture them (`Auto`, default).
    pub capture: CaptureMode,
    /// Most open (created, not yet expired) top-ups one user may hold (default 10).
    pub max_open_topups: u32,
    /// Most top-ups one user may start per minute (default 5).
    pub topups_per_minute: u32,
    /// How long a checkout link (a signed token bound to one top-up and its user) opens the
    /// checkout page (default 2 h). The page also refuses a top-up that is no longer open.
    pub checkout_link_ttl: Duration,
}

#[derive(Clone, Debug)]
pub struct OutboxConfig {
    /// Deliveries tried before an alert is parked as failed (default 10).
    pub max_attempts: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// How long a claimed alert stays leased to its claimer (default 60 s).
    pub lease: Duration,
}
