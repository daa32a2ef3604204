//! OTTSONLY: a reseller platform for digital subscriptions.
//!
//! This facade re-exports the domain ([`core`]) and, behind features, the storage backends, so an
//! application can depend on one crate:
//!
//! ```toml
//! ottsonly = { version = "0.1", features = ["sqlite"] }   # or "mongo"
//! ```
//!
//! See `examples/embedded.rs` for a whole flow and `ARCHITECTURE.md` for the design.

pub use ottsonly_core as core;
#[cfg(feature = "mongo")]
pub use ottsonly_store_mongo as mongo;
#[cfg(feature = "sqlite")]
pub use ottsonly_store_sqlite as sqlite;
