//! Secrets that must never reach a log line, and the environment the process runs in. Both are
//! used by the adapters' configurations and by the host's settings, so they live below both.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A secret string. `Debug` prints `<redacted>` (there is no `Display`); read it with
/// [`Secret::expose`].
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Secret {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// `dev` or `production` (`OTTSONLY_ENV`): production refuses what dev only warns about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    #[default]
    Dev,
    Production,
}
