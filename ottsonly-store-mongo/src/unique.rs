//! The unique indexes by name, and the `constraint::*` each one enforces.
//!
//! A leaf module: `schema` creates the indexes under these names and `error` maps a
//! duplicate-key error to the constraint of the index its message names, so the mapping is exact
//! rather than a guess from the key pattern. Imports go one way: `schema` → `error` → `unique`.

use ottsonly_core::error::constraint;

pub(crate) const USERS_PHONE: &str = "users_phone_unique";
pub(crate) const ORDERS_USER_IDEMPOTENCY_KEY: &str = "orders_user_idempotency_key_unique";
pub(crate) const LEDGER_REFERENCE: &str = "wallet_transactions_reference_unique";
pub(crate) const SUBSCRIPTIONS_ORDER: &str = "subscriptions_order_unique";
pub(crate) const TOPUPS_GATEWAY_ORDER: &str = "topups_gateway_order_unique";
pub(crate) const TOPUPS_GATEWAY_PAYMENT: &str = "topups_gateway_payment_unique";
pub(crate) const REFRESH_TOKENS_TOKEN_HASH: &str = "refresh_tokens_token_hash_unique";
pub(crate) const CREDENTIALS_SUBSCRIPTION: &str = "credentials_subscription_unique";
pub(crate) const TELEGRAM_LINKS_USER: &str = "telegram_links_user_unique";

/// Unique index names, and the rule each one enforces. `_id_` is every collection's own.
pub(crate) const UNIQUE_RULES: &[(&str, &str)] = &[
    ("_id_", constraint::PRIMARY_KEY),
    (USERS_PHONE, constraint::USER_PHONE),
    (ORDERS_USER_IDEMPOTENCY_KEY, constraint::ORDER_IDEMPOTENCY_KEY),
    (LEDGER_REFERENCE, constraint::LEDGER_REFERENCE),
    (SUBSCRIPTIONS_ORDER, constraint::SUBSCRIPTION_ORDER),
    (TOPUPS_GATEWAY_ORDER, constraint::TOPUP_GATEWAY_ORDER),
    (TOPUPS_GATEWAY_PAYMENT, constraint::TOPUP_GATEWAY_PAYMENT),
    (REFRESH_TOKENS_TOKEN_HASH, constraint::REFRESH_TOKEN_HASH),
    (CREDENTIALS_SUBSCRIPTION, constraint::CREDENTIAL_SUBSCRIPTION),
    (TELEGRAM_LINKS_USER, constraint::TELEGRAM_LINK_USER),
];
