//! Per-client-IP rate limits on the login endpoints, in front of core's per-phone limits: one
//! address cannot walk through many phone numbers.

use crate::frontends::rest::error::ApiError;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use poem::Addr;
use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

/// Checks between two sweeps of idle per-IP state, so memory stays bounded.
const SWEEP_EVERY: u64 = 4096;

pub struct IpRateLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
    checks: AtomicU64,
}

impl IpRateLimiter {
    /// `per_minute` requests per minute per IP (burst of the same size); `None` when 0 (off).
    pub fn per_minute(per_minute: u32) -> Option<IpRateLimiter> {
        let n = NonZeroU32::new(per_minute)?;
        Some(IpRateLimiter {
            limiter: RateLimiter::keyed(Quota::per_minute(n)),
            clock: DefaultClock::default(),
            checks: AtomicU64::new(0),
        })
    }

    /// Counts one request from `addr`; a 429 `rate_limited` with `Retry-After` when over.
    pub fn check(&self, addr: &Addr) -> Result<(), ApiError> {
        // Clients without an IP (in-process tests, Unix sockets) share one bucket.
        let ip = addr.as_socket_addr().map(|a| a.ip()).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            ApiError::rate_limited(secs, "too many login requests from this address; retry later")
        })
    }
}
