//! Front-ends: the ways people reach the shop. Each one is a folder here over the same core.
//!
//! # The contract of a front-end
//!
//! * **It receives** what the host built: the wired core handle ([`ottsonly_core::Ottsonly`],
//!   with its ports already plugged in) and an options struct of its own, filled by the host from
//!   the settings (for [`rest`]: [`rest::HttpOptions`]). It never reads the settings or the
//!   environment, and never opens a store or an adapter itself.
//! * **It returns** what the host runs: a poem endpoint or `Route` to mount
//!   ([`rest::build_app`]), and/or futures for background work that take a stop signal.
//! * Access rules are core's (`Actor::require`); a front-end parses, calls core and renders.
//! * It may use [`crate::adapters`] for what is specific to its transport (the REST webhook
//!   checks Razorpay's signature) and [`crate::common`].
//! * **Front-ends never import each other.** What two of them share goes down into core,
//!   [`crate::adapters`] or [`crate::common`].
//!
//! # Front-ends
//!
//! * [`rest`]: the JSON REST API with its OpenAPI document, Swagger UI, metrics and the Razorpay
//!   webhook.
//! * [`checkout`]: the checkout page of a top-up (`/pay/{id}?t=TOKEN`), which the other
//!   front-ends link to: Razorpay Checkout for one stored top-up without a bearer token.
//! * [`telegram_shop`]: the Telegram bot where customers log in, browse, buy, top up and read
//!   their subscriptions.
//! * [`web`]: the web storefront (`/`, `/shop/...`) and the admin console (`/admin`),
//!   server-rendered HTML over core, in front of the others.

pub mod checkout;
pub mod rest;
pub mod telegram_shop;
pub mod web;
