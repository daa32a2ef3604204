//! The one place driver errors become [`StoreError`]s, and the errors of setting up a store.

use crate::unique::UNIQUE_RULES;
use mongodb::error::{
    Error, ErrorKind, TRANSIENT_TRANSACTION_ERROR, UNKNOWN_TRANSACTION_COMMIT_RESULT, WriteFailure,
};
use ottsonly_core::StoreError;

const DUPLICATE_KEY: i32 = 11000;
const WRITE_CONFLICT: i32 = 112;

/// Why [`MongoStore::connect`](crate::MongoStore::connect) failed. Carried as the source of
/// `StoreError::Backend`, so the message reaches the operator's log.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("invalid MongoDB connection string: {0}")]
    InvalidUri(#[source] Error),
    #[error("cannot reach MongoDB at {hosts}{hint}: {source}")]
    Unreachable { hosts: String, hint: String, source: Error },
    #[error(
        "MongoDB at {hosts} is not a replica set member ({what}); OTTSONLY needs a replica set \
         (a single-node one is enough) because every unit of work is a multi-document transaction"
    )]
    NeedsReplicaSet { hosts: String, what: String },
    #[error("MongoDB schema setup failed while {what}: {source}")]
    Schema { what: String, source: Error },
}

/// The server's error code and message, for command errors and write errors alike (an insert
/// reports a duplicate key as a write error, `findAndModify` as a command error).
pub(crate) fn server_error(e: &Error) -> Option<(i32, &str)> {
    match e.kind.as_ref() {
        ErrorKind::Command(c) => Some((c.code, c.message.as_str())),
        ErrorKind::Write(WriteFailure::WriteError(w)) => Some((w.code, w.message.as_str())),
        ErrorKind::Write(WriteFailure::WriteConcernError(w)) => Some((w.code, w.message.as_str())),
        ErrorKind::InsertMany(m) => {
            m.write_errors.as_ref().and_then(|errors| errors.first()).map(|w| (w.code, w.message.as_str()))
        }
        _ => None,
    }
}

pub(crate) fn server_code(e: &Error) -> Option<i32> {
    server_error(e).map(|(code, _)| code)
}

/// Maps every driver error:
/// - duplicate key (11000) → `Conflict` with the constraint of the index named in the message;
/// - `TransientTransactionError` label or a write conflict (112) → `Transient` (core runs the
///   unit of work again);
/// - anything else → `Backend`.
pub(crate) fn map_err(e: Error) -> StoreError {
    if let Some((code, message)) = server_error(&e) {
        if code == DUPLICATE_KEY
            && let Some(constraint) = unique_constraint(message)
        {
            return StoreError::Conflict { constraint };
        }
        if code == WRITE_CONFLICT {
            return StoreError::Transient(e.to_string());
        }
    }
    if e.contains_label(TRANSIENT_TRANSACTION_ERROR) {
        return StoreError::Transient(e.to_string());
    }
    StoreError::backend(e)
}

/// Whether a failed commit may have committed: the driver could not learn the outcome (a
/// network error or a write concern timeout) and the commit may be sent again.
pub(crate) fn commit_outcome_unknown(e: &Error) -> bool {
    e.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT)
}

/// Names the violated unique rule from the server's message, which (mongod and compatible
/// servers alike) reads `E11000 duplicate key error collection: <ns> index: <name> dup key: ...`.
fn unique_constraint(message: &str) -> Option<&'static str> {
    let after = &message[message.find(" index: ")? + " index: ".len()..];
    let name = after.split_whitespace().next()?;
    UNIQUE_RULES.iter().find(|(index, _)| *index == name).map(|(_, constraint)| *constraint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ottsonly_core::error::constraint;

    #[test]
    fn constraint_comes_from_the_index_name() {
        let msg = |index: &str| {
            format!(
                "E11000 duplicate key error collection: shop.users index: {index} dup key: {{ phone: \"+91\" }}"
            )
        };
        assert_eq!(unique_constraint(&msg("users_phone_unique")), Some(constraint::USER_PHONE));
        assert_eq!(unique_constraint(&msg("_id_")), Some(constraint::PRIMARY_KEY));
        assert_eq!(
            unique_constraint(&msg("credentials_subscription_unique")),
            Some(constraint::CREDENTIAL_SUBSCRIPTION)
        );
        assert_eq!(unique_constraint(&msg("users_phone")), None, "names must match exactly");
        assert_eq!(unique_constraint("E11000 duplicate key error"), None);
    }
}
