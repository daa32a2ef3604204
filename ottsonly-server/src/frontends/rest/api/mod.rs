//! The REST API: one `*Api` struct per area, each holding the shared [`State`] on `&self`.
//! Handlers parse, call core, and map; access rules live in core (`Actor::require`).

pub mod admin;
pub mod auth;
pub mod catalog;
pub mod notifications;
pub mod ops;
pub mod orders;
pub mod state;
pub mod subscriptions;
pub mod users;
pub mod wallet;

pub use state::{ApiTags, State, page};

/// Every API of the server, in the order the document lists them.
pub fn all(state: &State) -> impl poem_openapi::OpenApi + use<> {
    (
        ops::OpsApi(state.clone()),
        auth::AuthApi(state.clone()),
        users::UsersApi(state.clone()),
        catalog::CatalogApi(state.clone()),
        orders::OrdersApi(state.clone()),
        subscriptions::SubscriptionsApi(state.clone()),
        wallet::WalletApi(state.clone()),
        notifications::NotificationsApi(state.clone()),
        admin::AdminApi(state.clone()),
    )
}
