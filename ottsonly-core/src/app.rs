//! The entry point: [`Ottsonly`] wires the store, the ports and the configuration, and hands out
//! one accessor per area (`app.orders().purchase(..)`).

use crate::auth::{LogOtpSender, OtpSender};
use crate::clock::{Clock, Entropy, OsEntropy, SystemClock, truncate_ms};
use crate::config::CoreConfig;
use crate::crypto::CredentialCipher;
use crate::error::{Error, Result, StoreError};
use crate::ids::{AuditId, Id, IdGen};
use crate::model::{
    AuditEntry, NotificationKind, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX, Page, PageRequest, Slice, Timestamp,
};
use crate::model::{Notification, OutboxItem, OutboxStatus};
use crate::outbox::AdminAlert;
use crate::payments::PaymentGateway;
use crate::store::{Store, Tx};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Shared by every service: the store, the ports and the configuration.
pub(crate) struct Ctx {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub entropy: Arc<dyn Entropy>,
    pub ids: IdGen,
    pub cipher: CredentialCipher,
    pub config: CoreConfig,
    pub otp_sender: Arc<dyn OtpSender>,
    pub gateway: Option<Arc<dyn PaymentGateway>>,
}

/// Units of work that lost a race are run again this many times at most.
const TX_ATTEMPTS_MAX: u32 = 60;

impl Ctx {
    /// Now, at the millisecond precision every store keeps.
    pub fn now(&self) -> Timestamp {
        truncate_ms(self.clock.now())
    }

    pub fn id<T: From<Id>>(&self) -> T {
        T::from(self.ids.next(self.clock.as_ref(), self.entropy.as_ref()))
    }

    /// Runs a unit of work, running it again from the start when the store reports a transient
    /// conflict (bounded, with jittered exponential backoff). `f` must begin its own `Tx`.
    pub async fn retry<T, F, Fut>(&self, mut f: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut attempt = 0u32;
        loop {
            match f().await {
                Err(Error::Store(StoreError::Transient(msg))) if attempt + 1 < TX_ATTEMPTS_MAX => {
                    attempt += 1;
                    tracing::debug!(attempt, %msg, "unit of work lost a race; running it again");
                    let cap_ms = 1u64 << attempt.min(7); // 2 ms .. 128 ms
                    let mut b = [0u8; 2];
                    self.entropy.fill(&mut b);
                    let jitter = u64::from(u16::from_le_bytes(b)) % cap_ms.max(1);
                    tokio::time::sleep(Duration::from_millis(1 + jitter)).await;
                }
                other => return other,
            }
        }
    }

    pub fn slice(page: &PageRequest) -> Result<Slice> {
        let limit = page.limit.unwrap_or(PAGE_LIMIT_DEFAULT);
        if limit == 0 || limit > PAGE_LIMIT_MAX {
            return Err(Error::validation("limit", format!("must be between 1 and {PAGE_LIMIT_MAX}")));
        }
        if let Some(c) = &page.cursor
            && (c.is_empty() || c.len() > 64)
        {
            return Err(Error::validation("cursor", "malformed cursor"));
        }
        // One extra item tells whether another page exists.
        Ok(Slice { before_id: page.cursor.clone(), limit: limit + 1 })
    }

    /// Cuts the extra item fetched by [`Ctx::slice`] and derives the next cursor from the last id.
    pub fn page<T>(mut items: Vec<T>, slice: &Slice, id_of: impl Fn(&T) -> String) -> Page<T> {
        let limit = (slice.limit - 1) as usize;
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(id_of)
        } else {
            None
        };
        Page { items, next_cursor }
    }

    pub async fn audit(
        &self,
        tx: &mut dyn Tx,
        actor: &crate::access::Actor,
        action: &str,
        target: (&str, &str),
        details: serde_json::Value,
    ) -> Result<()> {
        let entry = AuditEntry {
            id: self.id::<AuditId>(),
            actor_id: actor.user_id.clone(),
            action: action.into(),
            target_type: target.0.into(),
            target_id: target.1.into(),
            details,
            created_at: self.now(),
        };
        tx.insert_audit(&entry).await?;
        Ok(())
    }

    pub async fn notify(
        &self,
        tx: &mut dyn Tx,
        user: &crate::ids::UserId,
        kind: NotificationKind,
        title: impl Into<String>,
        message: impl Into<String>,
    ) -> Result<()> {
        let n = Notification {
            id: self.id(),
            user_id: user.clone(),
            kind,
            title: title.into(),
            message: message.into(),
            is_read: false,
            created_at: self.now(),
        };
        tx.insert_notification(&n).await?;
        Ok(())
    }

    /// Queues an admin alert in the same unit of work as its cause.
    pub async fn alert(&self, tx: &mut dyn Tx, alert: &AdminAlert) -> Result<()> {
        let now = self.now();
        let item = OutboxItem {
            id: self.id(),
            payload: serde_json::to_string(alert).map_err(|e| Error::Internal(e.to_string()))?,
            status: OutboxStatus::Pending,
            attempts: 0,
            created_at: now,
            due_at: now,
            lease_owner: None,
            lease_until: None,
            last_error: None,
            delivered_at: None,
        };
        tx.insert_outbox(&item).await?;
        Ok(())
    }
}

/// Builds an [`Ottsonly`]. Only the store and the configuration are required; the ports default
/// to the system clock, the OS RNG, a logging OTP sender and no payment gateway.
pub struct OttsonlyBuilder {
    store: Arc<dyn Store>,
    config: CoreConfig,
    cipher: Option<CredentialCipher>,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    otp_sender: Arc<dyn OtpSender>,
    gateway: Option<Arc<dyn PaymentGateway>>,
}

impl OttsonlyBuilder {
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
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
                entropy: self.entropy,
                ids: IdGen::new(),
                cipher,
                config: self.config,
                otp_sender: self.otp_sender,
                gateway: self.gateway,
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
    pub fn outbox(&self) -> crate::outbox::Outbox<'_> {
        crate::outbox::Outbox { ctx: &self.ctx }
    }
    pub fn audit(&self) -> crate::audit::Audit<'_> {
        crate::audit::Audit { ctx: &self.ctx }
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
