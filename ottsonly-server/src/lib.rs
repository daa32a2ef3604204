//! OTTSONLY's server: the front-ends, the adapters and the composition root over
//! `ottsonly-core`, as one binary.
//!
//! Layers, each importing only those below it:
//!
//! * [`host`]: settings, store selection, secrets, wiring ([`build_core`]), background tasks,
//!   `serve` and the operator CLI.
//! * [`frontends`]: how people reach the shop; today [`frontends::rest`] ([`build_app`]).
//! * [`adapters`]: core's ports over Razorpay, SMS providers and Telegram.
//! * [`common`]: secrets, the environment, metrics.
//!
//! [`build_app`] assembles the HTTP application from a wired [`ottsonly_core::Ottsonly`], so the
//! binary and the tests serve the same thing.

pub mod adapters;
pub mod common;
pub mod frontends;
pub mod host;

pub use adapters::telegram::{DispatchReport, TelegramConfig, TelegramDispatcher};
pub use common::secret::{Environment, Secret};
pub use frontends::rest::{HttpOptions, build_app, openapi_service, spec_json};
pub use host::bootstrap::{CoreParts, build_core};
pub use host::settings::Settings;
pub use host::site::{SiteOptions, build_site};
pub use host::store::open_store;
