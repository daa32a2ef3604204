//! What every service shares ([`Ctx`]: the store, the ports, the configuration) and core's unit
//! of work ([`Ctx::unit`]): begin, run, commit, and run again when the unit lost a race.
//!
//! Services depend on this module, never on the `app` module, which only wires a `Ctx` together
//! and hands out the services.

use crate::access::Actor;
use crate::clock::{Clock, Entropy, Sleeper, truncate_ms};
use crate::config::CoreConfig;
use crate::crypto::CredentialCipher;
use crate::error::{Error, Result, StoreError};
use crate::ids::{AuditId, Id, IdGen, UserId, check_cursor};
use crate::model::{
    AuditEntry, Notification, NotificationKind, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX, Page, PageRequest, Slice,
    Timestamp,
};
use crate::otp_sender::OtpSender;
use crate::payments::PaymentGateway;
use crate::store::{Store, Tx};
use futures::future::BoxFuture;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

/// Shared by every service: the store, the ports and the configuration.
pub(crate) struct Ctx {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub sleeper: Arc<dyn Sleeper>,
    pub entropy: Arc<dyn Entropy>,
    pub ids: IdGen,
    pub cipher: CredentialCipher,
    pub config: CoreConfig,
    pub otp_sender: Arc<dyn OtpSender>,
    pub gateway: Option<Arc<dyn PaymentGateway>>,
    /// Where the next reconciliation pass resumes its newest-first walk over open top-ups
    /// (the last id visited); `None` starts again from the newest.
    pub reconcile_cursor: std::sync::Mutex<Option<String>>,
    /// The same for the walk over recently expired top-ups (late captures).
    pub late_capture_cursor: std::sync::Mutex<Option<String>>,
    /// The public product list, briefly (see [`crate::catalog_cache`]).
    pub catalog_cache: crate::catalog_cache::CatalogCache,
}

/// Units of work that lost a race are run again this many times at most.
pub(crate) const TX_ATTEMPTS_MAX: u32 = 60;

/// How a unit of work ends when it does not return a value.
#[derive(Debug)]
pub(crate) enum UnitError {
    /// The unit failed: nothing it wrote is kept, and the error is the caller's answer. A
    /// [`StoreError::Transient`] in here (only stores produce those) runs the unit again.
    Fail(Error),
    /// Core saw the unit lose a race (a concurrent request with the same idempotency key, a
    /// row changed since it was read): nothing is kept and the unit runs again from the start,
    /// where it sees the winner's writes. The text says which race, for the logs.
    RunAgain(&'static str),
}

impl From<Error> for UnitError {
    fn from(e: Error) -> Self {
        UnitError::Fail(e)
    }
}

impl From<StoreError> for UnitError {
    fn from(e: StoreError) -> Self {
        UnitError::Fail(Error::Store(e))
    }
}

/// What the closure of [`Ctx::unit`] returns.
pub(crate) type UnitResult<T> = std::result::Result<T, UnitError>;

impl Ctx {
    /// Now, at the millisecond precision every store keeps.
    pub fn now(&self) -> Timestamp {
        truncate_ms(self.clock.now())
    }

    pub fn id<T: From<Id>>(&self) -> T {
        T::from(self.ids.next(self.clock.as_ref(), self.entropy.as_ref()))
    }

    /// [`Ctx::unit`] for a unit that changes products (price, state, stock): once it has
    /// committed, the cached product list is dropped, so this process serves its own write next.
    pub async fn catalog_unit<'a, T, F>(&self, f: F) -> Result<T>
    where
        F: for<'t> FnMut(&'t mut (dyn Tx + 'a)) -> BoxFuture<'t, UnitResult<T>>,
    {
        let out = self.unit(f).await;
        if out.is_ok() {
            self.catalog_cache.invalidate();
        }
        out
    }

    /// Runs `f` as one unit of work: begins a [`Tx`], runs `f` on it, and commits when `f`
    /// returns `Ok`; on `Err` the `Tx` is dropped, so nothing `f` wrote is kept.
    ///
    /// When the store reports [`StoreError::Transient`] (from any statement or from `commit`) or
    /// `f` asks for [`UnitError::RunAgain`], the whole unit runs again from `begin`, at most
    /// [`TX_ATTEMPTS_MAX`] times, with jittered exponential backoff through the [`Sleeper`].
    /// `f` must therefore compute everything that can change (`now`, what it reads) inside.
    /// When the attempts run out, a transient store error is returned as it is and a
    /// `RunAgain` becomes [`Error::Busy`].
    ///
    /// A unit that must keep its writes and still report a failure (a wrong code counts as an
    /// attempt) returns `Ok(Err(e))`: the value is the outcome, the `Err` is for rolling back.
    ///
    /// The lifetime `'a` ties the borrowed `Tx` to what the closure captures, so the returned
    /// future may borrow both.
    pub async fn unit<'a, T, F>(&self, mut f: F) -> Result<T>
    where
        F: for<'t> FnMut(&'t mut (dyn Tx + 'a)) -> BoxFuture<'t, UnitResult<T>>,
    {
        let mut attempt = 0u32;
        loop {
            let again: Cow<'static, str> = match self.attempt(&mut f).await {
                Ok(v) => return Ok(v),
                Err(UnitError::Fail(Error::Store(StoreError::Transient(msg)))) => {
                    if attempt + 1 >= TX_ATTEMPTS_MAX {
                        return Err(Error::Store(StoreError::Transient(msg)));
                    }
                    msg.into()
                }
                Err(UnitError::RunAgain(why)) => {
                    if attempt + 1 >= TX_ATTEMPTS_MAX {
                        tracing::warn!(attempts = TX_ATTEMPTS_MAX, why, "unit of work kept losing races");
                        return Err(Error::Busy(why));
                    }
                    why.into()
                }
                Err(UnitError::Fail(e)) => return Err(e),
            };
            attempt += 1;
            tracing::debug!(attempt, why = %again, "unit of work lost a race; running it again");
            self.sleeper.sleep(self.backoff(attempt)).await;
        }
    }

    async fn attempt<'a, T, F>(&self, f: &mut F) -> UnitResult<T>
    where
        F: for<'t> FnMut(&'t mut (dyn Tx + 'a)) -> BoxFuture<'t, UnitResult<T>>,
    {
        let mut tx = self.store.begin().await?;
        let value = f(&mut *tx).await?;
        tx.commit().await?;
        Ok(value)
    }

    /// Before run `attempt + 1`: 1 ms plus up to 2^min(attempt, 7) − 1 ms of jitter (≤ 128 ms).
    fn backoff(&self, attempt: u32) -> Duration {
        let cap_ms = 1u64 << attempt.min(7);
        let mut b = [0u8; 2];
        self.entropy.fill(&mut b);
        let jitter = u64::from(u16::from_le_bytes(b)) % cap_ms.max(1);
        Duration::from_millis(1 + jitter)
    }

    pub fn slice(page: &PageRequest) -> Result<Slice> {
        let limit = page.limit.unwrap_or(PAGE_LIMIT_DEFAULT);
        if limit == 0 || limit > PAGE_LIMIT_MAX {
            return Err(Error::validation("limit", format!("must be between 1 and {PAGE_LIMIT_MAX}")));
        }
        if let Some(c) = &page.cursor {
            check_cursor(c)?;
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
        actor: &Actor,
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
        user: &UserId,
        kind: NotificationKind,
        title: impl Into<String>,
        message: impl Into<String>,
    ) -> Result<()> {
        tx.insert_notification(&self.notification(user, kind, title, message)).await?;
        Ok(())
    }

    /// An unread notification for `user`, built now, for [`Tx::insert_notifications`].
    pub fn notification(
        &self,
        user: &UserId,
        kind: NotificationKind,
        title: impl Into<String>,
        message: impl Into<String>,
    ) -> Notification {
        Notification {
            id: self.id(),
            user_id: user.clone(),
            kind,
            title: title.into(),
            message: message.into(),
            is_read: false,
            created_at: self.now(),
        }
    }
}
