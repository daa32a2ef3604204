//! What every operation shares: the [`State`] on `&self`, the document's tags, and paging.

use crate::common::metrics::Metrics;
use crate::common::secret::{Environment, Secret};
use crate::frontends::rest::ratelimit::IpRateLimiter;
use ottsonly_core::Ottsonly;
use ottsonly_core::model::PageRequest;
use poem_openapi::Tags;
use std::sync::Arc;

/// What every handler may use.
#[derive(Clone)]
pub struct State {
    pub app: Ottsonly,
    pub ip_limiter: Option<Arc<IpRateLimiter>>,
    pub metrics: Metrics,
    /// Bearer token `GET /metrics` requires; `None`: public, without the revenue counters.
    pub metrics_token: Option<Secret>,
    /// `dev` or `production`, for `GET /health`.
    pub environment: Environment,
    /// Secrets that are development values kept in the database, for `GET /health`.
    pub dev_secrets: Vec<String>,
    /// Where users reach the server, for checkout links.
    pub public_url: String,
}

#[derive(Tags)]
pub enum ApiTags {
    /// Phone + one-time code login and sessions.
    Auth,
    /// Profiles, and staff administration of users.
    Users,
    /// Plans on sale, stock and credential pools.
    Catalog,
    /// Purchases and refunds.
    Orders,
    /// What a purchase bought, and its login.
    Subscriptions,
    /// The prepaid wallet.
    Wallet,
    /// In-app notifications and broadcasts.
    Notifications,
    /// Operator tools.
    Admin,
    /// Liveness, readiness and metrics.
    Operations,
}

/// A page request from the `limit` and `cursor` query parameters (core checks the range).
pub fn page(limit: Option<u32>, cursor: Option<String>) -> PageRequest {
    PageRequest { limit, cursor }
}
