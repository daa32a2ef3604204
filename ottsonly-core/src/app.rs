//! The entry point: [`Ottsonly`] wires the store, the ports and the configuration, and hands out
//! one accessor per area (`app.orders().purchase(..)`).

use crate::auth::{LogOtpSender, OtpSender};
use crate::clock::{Clock, Entropy, OsEntropy, Sleeper, SystemClock, TokioSleeper};
use crate::config::CoreConfig;
use crate::crypto::CredentialCipher;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::ids::IdGen;
use crate::model::Timestamp;
use crate::payments::PaymentGateway;
use crate::store::Store;
use std::sync::Arc;

/// Builds an [`Ottsonly`]. Only the store and the configuration are required; the ports default
/// to the system clock, tokio's timer, the OS RNG, a logging OTP sender and no payment gateway.
pub struct OttsonlyBuilder {
    store: Arc<dyn Store>,
    config: CoreConfig,
    cipher: Option<CredentialCipher>,
    clock: Arc<dyn Clock>,
    sleeper: Arc<dyn Sleeper>,
    entropy: Arc<dyn Entropy>,
    otp_sender: Arc<dyn OtpSender>,
    gateway: Option<Arc<dyn PaymentGateway>>,
}

impl OttsonlyBuilder {
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
    /// How core waits between runs of a unit of work that lost a race.
    pub fn sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.sleeper = sleeper;
        self
    }
    pub fn entropy(mut self, entropy: Arc<dyn Entropy>) -> Self {
        self.entropy = entropy;
        self
    }
    pub fn otp_sender(mut self, sender: Arc<dyn OtpSender>) -> Self {
        self.otp_sender = sender;
        self
    }
    pub fn payment_gateway(mut self, gateway: Arc<dyn PaymentGateway>) -> Self {
        self.gateway = Some(gateway);
        self
    }
    /// The key that seals credentials at rest (required).
    pub fn credential_cipher(mut self, cipher: CredentialCipher) -> Self {
        self.cipher = Some(cipher);
        self
    }

    pub fn build(self) -> Result<Ottsonly> {
        let cipher = self
            .cipher
            .ok_or_else(|| Error::validation("credentials_key", "a credential encryption key is required"))?;
        Ok(Ottsonly {
            ctx: Arc::new(Ctx {
                store: self.store,
                clock: self.clock,
                sleeper: self.sleeper,
                entropy: self.entropy,
                ids: IdGen::new(),
                cipher,
                config: self.config,
                otp_sender: self.otp_sender,
                gateway: self.gateway,
                reconcile_cursor: Default::default(),
                late_capture_cursor: Default::default(),
                catalog_cache: Default::default(),
            }),
        })
    }
}

/// The OTTSONLY domain as one handle. Cheap to clone; share it between tasks.
#[derive(Clone)]
pub struct Ottsonly {
    pub(crate) ctx: Arc<Ctx>,
}

impl Ottsonly {
    pub fn builder(store: Arc<dyn Store>, config: CoreConfig) -> OttsonlyBuilder {
        OttsonlyBuilder {
            store,
            config,
            cipher: None,
            clock: Arc::new(SystemClock),
            sleeper: Arc::new(TokioSleeper),
            entropy: Arc::new(OsEntropy),
            otp_sender: Arc::new(LogOtpSender),
            gateway: None,
        }
    }

    pub fn auth(&self) -> crate::auth::Auth<'_> {
        crate::auth::Auth { ctx: &self.ctx }
    }
    pub fn users(&self) -> crate::users::Users<'_> {
        crate::users::Users { ctx: &self.ctx }
    }
    pub fn catalog(&self) -> crate::catalog::Catalog<'_> {
        crate::catalog::Catalog { ctx: &self.ctx }
    }
    pub fn orders(&self) -> crate::orders::Orders<'_> {
        crate::orders::Orders { ctx: &self.ctx }
    }
    pub fn subscriptions(&self) -> crate::subscriptions::Subscriptions<'_> {
        crate::subscriptions::Subscriptions { ctx: &self.ctx }
    }
    pub fn wallet(&self) -> crate::wallet::Wallet<'_> {
        crate::wallet::Wallet { ctx: &self.ctx }
    }
    pub fn notifications(&self) -> crate::notifications::Notifications<'_> {
        crate::notifications::Notifications { ctx: &self.ctx }
    }
    pub fn telegram_shop(&self) -> crate::telegram_shop::TelegramShop<'_> {
        crate::telegram_shop::TelegramShop { ctx: &self.ctx }
    }
    pub fn outbox(&self) -> crate::outbox::Outbox<'_> {
        crate::outbox::Outbox { ctx: &self.ctx }
    }
    pub fn audit(&self) -> crate::audit::Audit<'_> {
        crate::audit::Audit { ctx: &self.ctx }
    }
    pub fn stats(&self) -> crate::stats::Stats<'_> {
        crate::stats::Stats { ctx: &self.ctx }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.ctx.store
    }
    pub fn config(&self) -> &CoreConfig {
        &self.ctx.config
    }
    pub fn now(&self) -> Timestamp {
        self.ctx.now()
    }
    pub fn payments_configured(&self) -> bool {
        self.ctx.gateway.is_some()
    }
}
