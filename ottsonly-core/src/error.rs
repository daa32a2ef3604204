//! The error vocabulary of the whole API. Each variant has a stable machine code.

use std::time::Duration;

/// What a storage backend can report. Backends map their driver errors into this at their edge;
/// no driver type crosses into core.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique rule was violated. `constraint` is one of the `constraint::*` names.
    #[error("conflict on {constraint}")]
    Conflict { constraint: &'static str },
    /// The unit of work lost a race with another one and may succeed if run again from the
    /// start (SQLite busy, MongoDB `TransientTransactionError`). Core retries these, bounded.
    #[error("transient storage conflict: {0}")]
    Transient(String),
    /// Stored data could not be decoded into a domain value (a bug or a manual edit).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The backend failed (I/O, connection, driver).
    #[error("storage backend failed")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    pub fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Backend(Box::new(e))
    }
}

/// Names of the unique rules every backend enforces; carried by [`StoreError::Conflict`].
pub mod constraint {
    pub const USER_PHONE: &str = "users.phone";
    pub const ORDER_IDEMPOTENCY_KEY: &str = "orders.user_id+idempotency_key";
    pub const LEDGER_REFERENCE: &str = "ledger.reference";
    pub const SUBSCRIPTION_ORDER: &str = "subscriptions.order_id";
    pub const TOPUP_GATEWAY_ORDER: &str = "topups.gateway_order_id";
    pub const TOPUP_GATEWAY_PAYMENT: &str = "topups.gateway_payment_id";
    pub const REFRESH_TOKEN_HASH: &str = "refresh_tokens.token_hash";
    pub const CREDENTIAL_SUBSCRIPTION: &str = "credentials.subscription_id";
    /// A user linked to a second Telegram account at once.
    pub const TELEGRAM_LINK_USER: &str = "telegram_links.user_id";
    /// Any other primary key (an id generated twice).
    pub const PRIMARY_KEY: &str = "primary_key";
}

/// Broad classes of failure; the server maps each to one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidInput,
    Unauthenticated,
    Forbidden,
    NotFound,
    Conflict,
    RateLimited,
    Unavailable,
    Internal,
}

/// Every failure the core API can return.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("invalid {field}: {message}")]
    Validation { field: &'static str, message: String },
    /// A page cursor that is not one this API handed out (cursors are ids of listed items).
    #[error("invalid cursor: pass back a `next_cursor` from an earlier page")]
    InvalidCursor,
    #[error("authentication required")]
    Unauthenticated,
    #[error("invalid or revoked access token")]
    InvalidToken,
    #[error("access token expired")]
    TokenExpired,
    #[error("your role may not do this")]
    Forbidden,
    #[error("{what} not found")]
    NotFound { what: &'static str },
    #[error("wrong code, {attempts_left} attempts left")]
    OtpInvalid { attempts_left: u32 },
    #[error("the code has expired or was never requested; request a new one")]
    OtpExpired,
    #[error("too many wrong attempts; request a new code")]
    OtpAttemptsExceeded,
    #[error("a code was sent recently; retry in {} s", retry_after.as_secs())]
    OtpCooldown { retry_after: Duration },
    #[error("daily code limit reached for this number; retry in {} s", retry_after.as_secs())]
    OtpDailyLimit { retry_after: Duration },
    #[error("too many wrong codes for this number today; retry in {} s", retry_after.as_secs())]
    OtpGuessLimit { retry_after: Duration },
    #[error("codes are not sent to numbers of this country")]
    PhoneCountryNotAllowed,
    #[error("the code could not be delivered: {0}")]
    OtpDeliveryFailed(String),
    #[error("invalid or expired refresh token")]
    RefreshTokenInvalid,
    #[error("refresh token was already used; all sessions of that login were revoked")]
    RefreshTokenReused,
    #[error("this account is blocked")]
    UserBlocked,
    #[error("product is not on sale")]
    ProductInactive,
    #[error("product is out of stock")]
    OutOfStock,
    #[error("wallet balance is too low")]
    InsufficientBalance,
    #[error("order was already refunded")]
    AlreadyRefunded,
    #[error("idempotency key was already used for a different request")]
    IdempotencyKeyReused,
    #[error("{0}")]
    InvalidState(String),
    #[error("payments are not configured")]
    PaymentsNotConfigured,
    #[error("payment gateway unavailable: {0}")]
    PaymentGatewayUnavailable(String),
    #[error("payment signature is invalid")]
    PaymentSignatureInvalid,
    #[error("paid amount does not match the top-up")]
    PaymentAmountMismatch,
    #[error("payment is not captured yet")]
    PaymentNotCaptured,
    #[error("you have {limit} unpaid top-ups open; pay or wait for one to expire")]
    TooManyOpenTopUps { limit: u32 },
    #[error("too many top-ups started; retry in {} s", retry_after.as_secs())]
    TopUpRateLimited { retry_after: Duration },
    /// A unit of work kept losing races with concurrent ones and gave up; retrying later helps.
    #[error("too many concurrent changes ({0}); retry shortly")]
    Busy(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn validation(field: &'static str, message: impl Into<String>) -> Self {
        Error::Validation { field, message: message.into() }
    }

    /// A stable snake_case code for clients; never changes once published.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Validation { .. } => "invalid_input",
            Error::InvalidCursor => "invalid_cursor",
            Error::Unauthenticated => "unauthenticated",
            Error::InvalidToken => "invalid_token",
            Error::TokenExpired => "token_expired",
            Error::Forbidden => "forbidden",
            Error::NotFound { .. } => "not_found",
            Error::OtpInvalid { .. } => "invalid_otp",
            Error::OtpExpired => "otp_expired",
            Error::OtpAttemptsExceeded => "otp_attempts_exceeded",
            Error::OtpCooldown { .. } => "otp_cooldown",
            Error::OtpDailyLimit { .. } => "otp_daily_limit",
            Error::OtpGuessLimit { .. } => "otp_guess_limit",
            Error::PhoneCountryNotAllowed => "phone_country_not_allowed",
            Error::OtpDeliveryFailed(_) => "otp_delivery_failed",
            Error::RefreshTokenInvalid => "invalid_refresh_token",
            Error::RefreshTokenReused => "refresh_token_reused",
            Error::UserBlocked => "user_blocked",
            Error::ProductInactive => "product_inactive",
            Error::OutOfStock => "out_of_stock",
            Error::InsufficientBalance => "insufficient_balance",
            Error::AlreadyRefunded => "already_refunded",
            Error::IdempotencyKeyReused => "idempotency_key_reused",
            Error::InvalidState(_) => "invalid_state",
            Error::PaymentsNotConfigured => "payments_not_configured",
            Error::PaymentGatewayUnavailable(_) => "payment_gateway_unavailable",
            Error::PaymentSignatureInvalid => "invalid_payment_signature",
            Error::PaymentAmountMismatch => "payment_amount_mismatch",
            Error::PaymentNotCaptured => "payment_not_captured",
            Error::TooManyOpenTopUps { .. } => "too_many_open_topups",
            Error::TopUpRateLimited { .. } => "topup_rate_limited",
            Error::Busy(_) | Error::Store(StoreError::Transient(_)) => "busy",
            Error::Store(_) | Error::Internal(_) => "internal",
        }
    }

    pub fn kind(&self) -> ErrorKind {
        use ErrorKind as K;
        match self {
            Error::Validation { .. }
            | Error::InvalidCursor
            | Error::OtpInvalid { .. }
            | Error::OtpExpired
            | Error::OtpAttemptsExceeded
            | Error::PhoneCountryNotAllowed => K::InvalidInput,
            Error::PaymentSignatureInvalid | Error::RefreshTokenInvalid => K::InvalidInput,
            Error::Unauthenticated
            | Error::InvalidToken
            | Error::TokenExpired
            | Error::RefreshTokenReused => K::Unauthenticated,
            Error::Forbidden | Error::UserBlocked => K::Forbidden,
            Error::NotFound { .. } => K::NotFound,
            Error::ProductInactive
            | Error::OutOfStock
            | Error::InsufficientBalance
            | Error::AlreadyRefunded
            | Error::IdempotencyKeyReused
            | Error::InvalidState(_)
            | Error::PaymentAmountMismatch
            | Error::PaymentNotCaptured => K::Conflict,
            Error::OtpCooldown { .. }
            | Error::OtpDailyLimit { .. }
            | Error::OtpGuessLimit { .. }
            | Error::TooManyOpenTopUps { .. }
            | Error::TopUpRateLimited { .. } => K::RateLimited,
            Error::OtpDeliveryFailed(_)
            | Error::PaymentsNotConfigured
            | Error::PaymentGatewayUnavailable(_)
            | Error::Busy(_)
            | Error::Store(StoreError::Transient(_)) => K::Unavailable,
            Error::Store(_) | Error::Internal(_) => K::Internal,
        }
    }

    /// How long a rate-limited caller should wait.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::OtpCooldown { retry_after }
            | Error::OtpDailyLimit { retry_after }
            | Error::OtpGuessLimit { retry_after }
            | Error::TopUpRateLimited { retry_after } => Some(*retry_after),
            _ => None,
        }
    }
}

/// Every code [`Error::code`] can return, for documentation (the OpenAPI `ErrorCode` enum).
pub const CODES: &[&str] = &[
    "invalid_input",
    "invalid_cursor",
    "unauthenticated",
    "invalid_token",
    "token_expired",
    "forbidden",
    "not_found",
    "invalid_otp",
    "otp_expired",
    "otp_attempts_exceeded",
    "otp_cooldown",
    "otp_daily_limit",
    "otp_guess_limit",
    "otp_delivery_failed",
    "phone_country_not_allowed",
    "too_many_open_topups",
    "topup_rate_limited",
    "invalid_refresh_token",
    "refresh_token_reused",
    "user_blocked",
    "product_inactive",
    "out_of_stock",
    "insufficient_balance",
    "already_refunded",
    "idempotency_key_reused",
    "invalid_state",
    "payments_not_configured",
    "payment_gateway_unavailable",
    "invalid_payment_signature",
    "payment_amount_mismatch",
    "payment_not_captured",
    "busy",
    "internal",
];

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// One value of every variant; the match makes a new variant fail to compile here until it
    /// is added (and its code with it).
    fn one_of_each() -> Vec<Error> {
        let d = Duration::from_secs(1);
        let all = vec![
            Error::validation("f", "m"),
            Error::InvalidCursor,
            Error::Unauthenticated,
            Error::InvalidToken,
            Error::TokenExpired,
            Error::Forbidden,
            Error::NotFound { what: "x" },
            Error::OtpInvalid { attempts_left: 1 },
            Error::OtpExpired,
            Error::OtpAttemptsExceeded,
            Error::OtpCooldown { retry_after: d },
            Error::OtpDailyLimit { retry_after: d },
            Error::OtpGuessLimit { retry_after: d },
            Error::OtpDeliveryFailed("x".into()),
            Error::PhoneCountryNotAllowed,
            Error::TooManyOpenTopUps { limit: 10 },
            Error::TopUpRateLimited { retry_after: d },
            Error::RefreshTokenInvalid,
            Error::RefreshTokenReused,
            Error::UserBlocked,
            Error::ProductInactive,
            Error::OutOfStock,
            Error::InsufficientBalance,
            Error::AlreadyRefunded,
            Error::IdempotencyKeyReused,
            Error::InvalidState("x".into()),
            Error::PaymentsNotConfigured,
            Error::PaymentGatewayUnavailable("x".into()),
            Error::PaymentSignatureInvalid,
            Error::PaymentAmountMismatch,
            Error::PaymentNotCaptured,
            Error::Busy("x"),
            Error::Store(StoreError::Transient("x".into())),
            Error::Store(StoreError::Corrupt("x".into())),
            Error::Internal("x".into()),
        ];
        for e in &all {
            match e {
                Error::Validation { .. }
                | Error::InvalidCursor
                | Error::Unauthenticated
                | Error::InvalidToken
                | Error::TokenExpired
                | Error::Forbidden
                | Error::NotFound { .. }
                | Error::OtpInvalid { .. }
                | Error::OtpExpired
                | Error::OtpAttemptsExceeded
                | Error::OtpCooldown { .. }
                | Error::OtpDailyLimit { .. }
                | Error::OtpGuessLimit { .. }
                | Error::OtpDeliveryFailed(_)
                | Error::PhoneCountryNotAllowed
                | Error::TooManyOpenTopUps { .. }
                | Error::TopUpRateLimited { .. }
                | Error::RefreshTokenInvalid
                | Error::RefreshTokenReused
                | Error::UserBlocked
                | Error::ProductInactive
                | Error::OutOfStock
                | Error::InsufficientBalance
                | Error::AlreadyRefunded
                | Error::IdempotencyKeyReused
                | Error::InvalidState(_)
                | Error::PaymentsNotConfigured
                | Error::PaymentGatewayUnavailable(_)
                | Error::PaymentSignatureInvalid
                | Error::PaymentAmountMismatch
                | Error::PaymentNotCaptured
                | Error::Busy(_)
                | Error::Store(_)
                | Error::Internal(_) => {}
            }
        }
        all
    }

    #[test]
    fn every_code_is_listed_once() {
        let all = one_of_each();
        for e in &all {
            assert!(CODES.contains(&e.code()), "{} is missing from CODES", e.code());
        }
        for code in CODES {
            assert!(all.iter().any(|e| e.code() == *code), "{code} is listed but never returned");
            assert_eq!(CODES.iter().filter(|c| *c == code).count(), 1, "{code} twice");
        }
        assert_eq!(Error::InvalidCursor.kind(), ErrorKind::InvalidInput);
    }
}
