//! The composition root: reads the settings, opens the store, resolves the secrets, builds the
//! adapters and wires core ([`bootstrap`]), then runs the front-ends and the background tasks
//! ([`serve`], [`tasks`]) or one operator command ([`cli`]). The only layer that knows every
//! other; nothing imports it.

pub mod bootstrap;
pub mod cli;
pub mod import;
pub mod secrets;
pub mod serve;
pub mod settings;
pub mod site;
pub mod store;
pub mod tasks;
pub mod telemetry;
