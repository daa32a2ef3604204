//! Collections, the fields that queries name, and every index, created at startup.
//!
//! Names follow the original service's MongoDB schema where a collection existed there
//! (`users`, `products`, `orders`, `subscriptions`, `wallet_transactions`, `notifications`),
//! with integer paise (`*_paise`) instead of float amounts.
//!
//! Each unique index carries an explicit name from [`crate::unique`], which maps that name to
//! the `constraint::*` a duplicate-key error reports.

use crate::error::{SetupError, server_code};
use crate::unique;
use mongodb::bson::{Document, doc};
use mongodb::options::IndexOptions;
use mongodb::{Collection, Database, IndexModel};
use ottsonly_core::{StoreError, StoreResult};

/// Field names used in more than one place (queries, updates and decoding).
pub(crate) mod f {
    pub(crate) const ID: &str = "_id";
    pub(crate) const BALANCE: &str = "wallet_balance_paise";
    pub(crate) const STOCK: &str = "stock";
    /// Subscription period, named as in the original schema.
    pub(crate) const START: &str = "start_date";
    pub(crate) const END: &str = "end_date";
    /// Credit or debit of a ledger entry, and the kind of a notification (original: `type`).
    pub(crate) const KIND: &str = "type";
}

/// Collection names.
pub(crate) mod c {
    pub(crate) const USERS: &str = "users";
    pub(crate) const OTPS: &str = "otps";
    pub(crate) const REFRESH_TOKENS: &str = "refresh_tokens";
    pub(crate) const PRODUCTS: &str = "products";
    pub(crate) const CREDENTIALS: &str = "credentials";
    pub(crate) const ORDERS: &str = "orders";
    pub(crate) const SUBSCRIPTIONS: &str = "subscriptions";
    pub(crate) const LEDGER: &str = "wallet_transactions";
    pub(crate) const TOPUPS: &str = "topups";
    pub(crate) const NOTIFICATIONS: &str = "notifications";
    pub(crate) const BROADCASTS: &str = "broadcasts";
    pub(crate) const BROADCAST_STATES: &str = "broadcast_states";
    pub(crate) const OUTBOX: &str = "outbox";
    pub(crate) const AUDIT: &str = "audit_log";
    pub(crate) const SETTINGS: &str = "settings";
    pub(crate) const WEBHOOK_EVENTS: &str = "webhook_events";
    pub(crate) const TELEGRAM_LINKS: &str = "telegram_links";
    pub(crate) const TELEGRAM_BOT_LEASES: &str = "telegram_bot_leases";
    pub(crate) const TELEGRAM_DELIVERIES: &str = "telegram_deliveries";
}

/// `_id` of a handled webhook event: source and event id joined by a separator neither contains.
pub(crate) fn webhook_event_id(source: &str, event_id: &str) -> String {
    format!("{source}\u{1f}{event_id}")
}

/// Handles on every collection (cheap clones of the database's).
pub(crate) struct Colls {
    pub(crate) users: Collection<Document>,
    pub(crate) otps: Collection<Document>,
    pub(crate) refresh_tokens: Collection<Document>,
    pub(crate) products: Collection<Document>,
    pub(crate) credentials: Collection<Document>,
    pub(crate) orders: Collection<Document>,
    pub(crate) subscriptions: Collection<Document>,
    pub(crate) ledger: Collection<Document>,
    pub(crate) topups: Collection<Document>,
    pub(crate) notifications: Collection<Document>,
    pub(crate) broadcasts: Collection<Document>,
    pub(crate) broadcast_states: Collection<Document>,
    pub(crate) outbox: Collection<Document>,
    pub(crate) audit: Collection<Document>,
    pub(crate) settings: Collection<Document>,
    pub(crate) webhook_events: Collection<Document>,
    pub(crate) telegram_links: Collection<Document>,
    pub(crate) telegram_bot_leases: Collection<Document>,
    pub(crate) telegram_deliveries: Collection<Document>,
}

impl Colls {
    pub(crate) fn new(db: &Database) -> Self {
        let c = |name: &str| db.collection::<Document>(name);
        Colls {
            users: c(c::USERS),
            otps: c(c::OTPS),
            refresh_tokens: c(c::REFRESH_TOKENS),
            products: c(c::PRODUCTS),
            credentials: c(c::CREDENTIALS),
            orders: c(c::ORDERS),
            subscriptions: c(c::SUBSCRIPTIONS),
            ledger: c(c::LEDGER),
            topups: c(c::TOPUPS),
            notifications: c(c::NOTIFICATIONS),
            broadcasts: c(c::BROADCASTS),
            broadcast_states: c(c::BROADCAST_STATES),
            outbox: c(c::OUTBOX),
            audit: c(c::AUDIT),
            settings: c(c::SETTINGS),
            webhook_events: c(c::WEBHOOK_EVENTS),
            telegram_links: c(c::TELEGRAM_LINKS),
            telegram_bot_leases: c(c::TELEGRAM_BOT_LEASES),
            telegram_deliveries: c(c::TELEGRAM_DELIVERIES),
        }
    }
}

fn index(name: &str, keys: Document) -> IndexModel {
    IndexModel::builder().keys(keys).options(IndexOptions::builder().name(name.to_owned()).build()).build()
}

fn unique_index(name: &str, keys: Document) -> IndexModel {
    let options = IndexOptions::builder().name(name.to_owned()).unique(true).build();
    IndexModel::builder().keys(keys).options(options).build()
}

/// Unique among the documents where `field` holds a string: absent values (stored as `null`)
/// never collide. (`$exists: true` would not do: a `null` exists.)
fn unique_where_string(name: &str, keys: Document, field: &str) -> IndexModel {
    let options = IndexOptions::builder()
        .name(name.to_owned())
        .unique(true)
        .partial_filter_expression(doc! { field: { "$type": "string" } })
        .build();
    IndexModel::builder().keys(keys).options(options).build()
}

/// Every collection with its secondary indexes. Lists page on `_id` descending (ids are
/// time-ordered), so each list filter has an index ending in `_id`.
fn indexes() -> Vec<(&'static str, Vec<IndexModel>)> {
    vec![
        (
            c::USERS,
            vec![
                unique_index(unique::USERS_PHONE, doc! { "phone": 1 }),
                index("users_role", doc! { "role": 1, "_id": -1 }),
                // The dashboard's new users of a period (`shop_stats`).
                index("users_created", doc! { "created_at": 1 }),
            ],
        ),
        // `_id` is the phone: one live code per phone.
        (c::OTPS, vec![]),
        (
            c::REFRESH_TOKENS,
            vec![
                unique_index(unique::REFRESH_TOKENS_TOKEN_HASH, doc! { "token_hash": 1 }),
                // Revoking a family (reuse detection) and all of a user's tokens (logout everywhere).
                index("refresh_tokens_family", doc! { "family_id": 1 }),
                index("refresh_tokens_user", doc! { "user_id": 1 }),
            ],
        ),
        (
            c::PRODUCTS,
            vec![
                index("products_active", doc! { "is_active": 1, "_id": -1 }),
                // The dashboard's low stock (`shop_stats`).
                index("products_active_stock", doc! { "is_active": 1, "stock": 1 }),
            ],
        ),
        (
            c::CREDENTIALS,
            vec![
                // A subscription holds at most one credential (pooled or assigned directly).
                unique_where_string(
                    unique::CREDENTIALS_SUBSCRIPTION,
                    doc! { "subscription_id": 1 },
                    "subscription_id",
                ),
                // The pool: oldest available credential of a product, and its count.
                index("credentials_pool", doc! { "product_id": 1, "status": 1, "_id": 1 }),
            ],
        ),
        (
            c::ORDERS,
            vec![
                // A retried purchase with the same key replays instead of buying twice.
                unique_where_string(
                    unique::ORDERS_USER_IDEMPOTENCY_KEY,
                    doc! { "user_id": 1, "idempotency_key": 1 },
                    "idempotency_key",
                ),
                index("orders_user", doc! { "user_id": 1, "_id": -1 }),
                index("orders_status", doc! { "status": 1, "_id": -1 }),
                // The dashboard's orders and refunds of a period (`shop_stats`).
                index("orders_created", doc! { "created_at": 1, "product_id": 1 }),
                index("orders_refunded", doc! { "refunded_at": 1 }),
            ],
        ),
        (
            c::SUBSCRIPTIONS,
            vec![
                unique_index(unique::SUBSCRIPTIONS_ORDER, doc! { "order_id": 1 }),
                index("subscriptions_user", doc! { "user_id": 1, "_id": -1 }),
                index("subscriptions_product", doc! { "product_id": 1, "_id": -1 }),
                index("subscriptions_status", doc! { "status": 1, "_id": -1 }),
                // Expiry sweep and reminders: active subscriptions by end date.
                index("subscriptions_status_end", doc! { "status": 1, "end_date": 1, "_id": 1 }),
            ],
        ),
        (
            c::LEDGER,
            vec![
                // One debit per order, one refund per order, one credit per payment: the
                // double-spend guard.
                unique_index(
                    unique::LEDGER_REFERENCE,
                    doc! { "reference_type": 1, "reference_id": 1, "type": 1 },
                ),
                index("wallet_transactions_user", doc! { "user_id": 1, "_id": -1 }),
            ],
        ),
        (
            c::TOPUPS,
            vec![
                unique_index(unique::TOPUPS_GATEWAY_ORDER, doc! { "gateway_order_id": 1 }),
                // One payment credits one top-up, however often the webhook is replayed.
                unique_where_string(
                    unique::TOPUPS_GATEWAY_PAYMENT,
                    doc! { "gateway_payment_id": 1 },
                    "gateway_payment_id",
                ),
                // Reconciliation: open top-ups, newest first, with a rotating cursor.
                index("topups_status_id", doc! { "status": 1, "_id": -1 }),
                // Per-user top-up limits: open intents, intents of the last minute.
                index("topups_user_created", doc! { "user_id": 1, "created_at": 1 }),
                // The dashboard's top-ups paid in a period (`shop_stats`).
                index("topups_paid", doc! { "paid_at": 1 }),
            ],
        ),
        (
            c::NOTIFICATIONS,
            vec![
                index("notifications_user", doc! { "user_id": 1, "_id": -1 }),
                // The unread badge is read on every page view; keep it off the read ones.
                IndexModel::builder()
                    .keys(doc! { "user_id": 1, "_id": -1 })
                    .options(
                        IndexOptions::builder()
                            .name("notifications_user_unread".to_owned())
                            .partial_filter_expression(doc! { "is_read": false })
                            .build(),
                    )
                    .build(),
            ],
        ),
        (c::BROADCASTS, vec![index("broadcasts_audience", doc! { "audience": 1, "_id": -1 })]),
        // `_id` is `{b: broadcast, u: user}`; this one serves "everything a user acted on".
        (c::BROADCAST_STATES, vec![index("broadcast_states_user", doc! { "user_id": 1 })]),
        (
            c::OUTBOX,
            vec![
                // Claiming: pending items by due time.
                index("outbox_due", doc! { "status": 1, "due_at": 1, "_id": 1 }),
                index("outbox_status", doc! { "status": 1, "_id": -1 }),
            ],
        ),
        (
            c::AUDIT,
            vec![
                index("audit_log_actor", doc! { "actor_id": 1, "_id": -1 }),
                index("audit_log_target", doc! { "target_id": 1, "_id": -1 }),
                index("audit_log_target_type", doc! { "target_type": 1, "_id": -1 }),
                index("audit_log_action", doc! { "action": 1, "_id": -1 }),
            ],
        ),
        // `_id` is the key.
        (c::SETTINGS, vec![]),
        (c::WEBHOOK_EVENTS, vec![]),
        // `_id` is the Telegram user id; a user has at most one linked account.
        (c::TELEGRAM_LINKS, vec![unique_index(unique::TELEGRAM_LINKS_USER, doc! { "user_id": 1 })]),
        // `_id` is the lease name.
        (c::TELEGRAM_BOT_LEASES, vec![]),
        // `_id` is notification and chat: one push per notification and chat.
        (c::TELEGRAM_DELIVERIES, vec![]),
    ]
}

/// Creates every collection and index that is missing; existing identical ones are left alone,
/// so this runs at every start. Collections are created up front because some servers cannot
/// create a collection inside a multi-document transaction.
pub(crate) async fn ensure(db: &Database) -> StoreResult<()> {
    let existing = db.list_collection_names().await.map_err(|e| {
        StoreError::backend(SetupError::Schema { what: "listing collections".into(), source: e })
    })?;
    for (name, models) in indexes() {
        if !existing.iter().any(|e| e == name) {
            match db.create_collection(name).await {
                Ok(()) => {}
                // Another process created it in between.
                Err(e) if server_code(&e) == Some(NAMESPACE_EXISTS) => {}
                Err(e) => {
                    let what = format!("creating collection {name}");
                    return Err(StoreError::backend(SetupError::Schema { what, source: e }));
                }
            }
        }
        if models.is_empty() {
            continue;
        }
        db.collection::<Document>(name).create_indexes(models).await.map_err(|e| {
            // 85/86: an index of that name exists with other keys or options (a schema change
            // that needs a migration, never silently replaced).
            StoreError::backend(SetupError::Schema {
                what: format!("creating the indexes of {name}"),
                source: e,
            })
        })?;
    }
    Ok(())
}

const NAMESPACE_EXISTS: i32 = 48;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unique::UNIQUE_RULES;
    use std::collections::HashSet;

    #[test]
    fn every_unique_index_has_a_rule_and_names_are_distinct() {
        let mut names = HashSet::new();
        for (coll, models) in indexes() {
            for m in models {
                let opts = m.options.expect("every index is named");
                let name = opts.name.expect("every index is named");
                assert!(name.starts_with(coll), "{name} is not prefixed with {coll}");
                assert!(names.insert(name.clone()), "duplicate index name {name}");
                if opts.unique == Some(true) {
                    assert!(UNIQUE_RULES.iter().any(|(n, _)| *n == name), "unique index {name} has no rule");
                }
            }
        }
        for (name, _) in UNIQUE_RULES.iter().skip(1) {
            assert!(names.contains(*name), "rule for unknown index {name}");
        }
    }
}
