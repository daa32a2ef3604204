//! OTTSONLY core: every rule of the subscription shop as a typed async API over a storage port.
//!
//! Core knows no HTTP, no database driver, no wall clock and no environment: storage comes in
//! as a [`Store`], time as a [`Clock`], waiting as a [`Sleeper`], randomness as an [`Entropy`], and the outside world
//! (SMS, payment gateway) through ports.

pub mod clock;
pub mod error;
pub mod ids;
pub mod model;
pub mod money;
pub mod phone;
pub mod record;
pub mod store;

#[cfg(feature = "testing")]
pub mod testing;

pub use clock::{Clock, Entropy, ManualClock, OsEntropy, Sleeper, SystemClock, TokioSleeper};
pub use error::{Error, ErrorKind, Result, StoreError};
pub use ids::*;
pub use model::*;
pub use money::Money;
pub use phone::PhoneNumber;
pub use store::{Store, StoreRead, StoreResult, Tx};

pub mod access;
pub mod app;
pub mod audit;
pub mod auth;
pub mod catalog;
mod catalog_cache;
pub mod checkout;
pub mod config;
pub mod crypto;
mod ctx;
pub mod notifications;
pub mod orders;
pub mod otp_sender;
pub mod outbox;
pub mod payments;
pub mod stats;
pub mod subscriptions;
pub mod telegram_shop;
pub mod users;
mod validate;
pub mod wallet;

pub use access::{Action, Actor};
pub use app::{Ottsonly, OttsonlyBuilder};
pub use config::CoreConfig;
pub use crypto::{CredentialCipher, Credentials};
