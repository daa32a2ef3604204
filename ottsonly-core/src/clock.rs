//! Time and randomness are inputs: core never reads the wall clock, waits on a timer or reads
//! the OS RNG itself.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use std::sync::Mutex;
use std::time::Duration;

/// The source of "now". Production uses [`SystemClock`]; tests use [`ManualClock`] to move time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock. The one place in core allowed to read it.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock(Mutex::new(start))
    }

    /// 2030-01-01T00:00:00Z: a fixed, readable starting point for tests.
    pub fn at_epoch_2030() -> Self {
        Self::new(Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).single().expect("valid date"))
    }

    pub fn advance(&self, by: TimeDelta) {
        let mut t = self.0.lock().expect("clock lock");
        *t += by;
    }

    pub fn set(&self, to: DateTime<Utc>) {
        *self.0.lock().expect("clock lock") = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock lock")
    }
}

/// Waiting. Core waits only between runs of a unit of work that lost a race (the jittered
/// backoff); production uses [`TokioSleeper`], tests may inject one that records and returns at
/// once.
#[async_trait]
pub trait Sleeper: Send + Sync + 'static {
    async fn sleep(&self, duration: Duration);
}

/// Sleeps on tokio's timer. The one place in core allowed to use it.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioSleeper;

#[async_trait]
impl Sleeper for TokioSleeper {
    #[allow(clippy::disallowed_methods)]
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// Cryptographically secure random bytes (OTP codes, tokens, nonces, id entropy).
pub trait Entropy: Send + Sync + 'static {
    fn fill(&self, buf: &mut [u8]);
}

/// The operating system's CSPRNG (through `rand`'s reseeding thread-local ChaCha generator).
#[derive(Debug, Default, Clone, Copy)]
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn fill(&self, buf: &mut [u8]) {
        use rand::Rng;
        rand::rng().fill_bytes(buf);
    }
}

/// Truncates to whole milliseconds: every backend stores millisecond precision, so values read
/// back compare equal to the values written.
pub fn truncate_ms(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}
