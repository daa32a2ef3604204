//! OTTSONLY's REST server and operator CLI over `ottsonly-core`.
//!
//! [`build_app`] assembles the HTTP application from a wired [`ottsonly_core::Ottsonly`]
//! ([`bootstrap::build_core`]), so the binary and the tests serve the same thing.

pub mod api;
pub mod app;
pub mod auth;
pub mod bootstrap;
pub mod cli;
pub mod config;
pub mod dto;
pub mod error;
pub mod http;
pub mod import;
pub mod integrations;
pub mod metrics;
pub mod ratelimit;
pub mod razorpay;
pub mod responses;
pub mod serve;
pub mod sms;
pub mod store;
pub mod telegram;
pub mod telemetry;

pub use app::{HttpOptions, build_app, openapi_service, spec_json};
pub use bootstrap::{CoreParts, build_core};
pub use config::Settings;
pub use store::open_store;
pub use telegram::{DispatchReport, TelegramConfig, TelegramDispatcher};

/// An HTTP client for the workspace's end-to-end test (plain HTTP to loopback only).
#[cfg(feature = "test-support")]
pub mod testkit {
    pub use reqwest;
}
