//! Opaque, time-ordered identifiers (UUIDv7 strings).

use crate::clock::{Clock, Entropy};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Mutex;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an id read from storage or from a request. Ids are opaque: any string is
            /// accepted and a wrong one simply finds nothing.
            pub fn from_string(s: impl Into<String>) -> Self {
                $name(s.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<Id> for $name {
            fn from(id: Id) -> Self {
                $name(id.0)
            }
        }

        /// Stored as its string; any string is an id (a wrong one finds nothing).
        impl crate::record::Field for $name {
            fn read(f: &dyn crate::record::Fields, name: &str) -> crate::StoreResult<Self> {
                f.text(name).map($name)
            }
            fn value(&self) -> crate::StoreResult<crate::record::Value<'_>> {
                Ok(crate::record::Value::text(&self.0))
            }
        }
    };
}

/// The shape of every id (and so of every page cursor): a UUID in lowercase hyphenated form.
pub const ID_PATTERN: &str = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";

/// Checks a page cursor: the id of the last item of an earlier page, so a UUID in the form
/// [`IdGen`] writes (36 characters, lowercase hex and hyphens). Anything else is
/// [`Error::InvalidCursor`], never silently the first page.
pub fn check_cursor(cursor: &str) -> crate::error::Result<()> {
    let canonical = uuid::Uuid::try_parse(cursor).ok().map(|u| u.hyphenated().to_string());
    if canonical.as_deref() == Some(cursor) { Ok(()) } else { Err(crate::error::Error::InvalidCursor) }
}

/// A freshly generated id, convertible into any typed id.
#[derive(Debug, Clone)]
pub struct Id(String);

impl Id {
    pub fn into_string(self) -> String {
        self.0
    }
}

id_type!(/// A user.
    UserId);
id_type!(/// A catalog product (plan).
    ProductId);
id_type!(/// One account credential in a product's pool or assigned to a subscription.
    CredentialId);
id_type!(/// A purchase.
    OrderId);
id_type!(/// A subscription created by a purchase.
    SubscriptionId);
id_type!(/// A wallet ledger entry.
    LedgerEntryId);
id_type!(/// A wallet top-up intent (one gateway order).
    TopUpId);
id_type!(/// An in-app notification or broadcast.
    NotificationId);
id_type!(/// An admin alert waiting in the outbox.
    OutboxId);
id_type!(/// A stored refresh token.
    RefreshTokenId);
id_type!(/// An audit log entry.
    AuditId);

/// Generates UUIDv7 ids from the injected clock and entropy.
///
/// Ids from one generator are strictly increasing even within a millisecond (a counter fills
/// the first random bits), so "newest first" can sort by id and cursors can be ids.
pub struct IdGen {
    last: Mutex<(u64, u16)>,
}

impl Default for IdGen {
    fn default() -> Self {
        Self::new()
    }
}

impl IdGen {
    pub fn new() -> Self {
        IdGen { last: Mutex::new((0, 0)) }
    }

    pub fn next(&self, clock: &dyn Clock, entropy: &dyn Entropy) -> Id {
        let now_ms = u64::try_from(clock.now().timestamp_millis()).unwrap_or(0);
        let (ms, seq) = {
            let mut last = self.last.lock().expect("id lock");
            let (ms, seq) = if now_ms > last.0 {
                (now_ms, 0u16)
            } else if last.1 >= 0x0FFF {
                // Counter exhausted in this millisecond: borrow the next one.
                (last.0 + 1, 0)
            } else {
                (last.0, last.1 + 1)
            };
            *last = (ms, seq);
            (ms, seq)
        };
        let mut bytes = [0u8; 10];
        entropy.fill(&mut bytes);
        // rand_a is 12 bits: the counter keeps same-millisecond ids ordered.
        bytes[0] = ((seq >> 8) & 0x0F) as u8;
        bytes[1] = (seq & 0xFF) as u8;
        let uuid = uuid::Builder::from_unix_timestamp_millis(ms, &bytes).into_uuid();
        Id(uuid.hyphenated().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{ManualClock, OsEntropy};

    #[test]
    fn cursors_are_ids() {
        let id = IdGen::new().next(&ManualClock::at_epoch_2030(), &OsEntropy).into_string();
        assert!(check_cursor(&id).is_ok());
        for bad in [
            "",
            "abc",
            "page-2",
            &id.to_uppercase(),
            &id.replace('-', ""),
            &format!("{{{id}}}"),
            &format!("{id} "),
        ] {
            assert!(matches!(check_cursor(bad), Err(crate::error::Error::InvalidCursor)), "{bad}");
        }
    }

    #[test]
    fn ids_increase_within_one_millisecond() {
        let clock = ManualClock::at_epoch_2030();
        let g = IdGen::new();
        let mut prev = g.next(&clock, &OsEntropy).into_string();
        for _ in 0..5000 {
            let next = g.next(&clock, &OsEntropy).into_string();
            assert!(next > prev, "{next} <= {prev}");
            prev = next;
        }
    }
}
