//! Tests of the server: the HTTP API in process (the real application over a temp-file SQLite
//! store, or the MongoDB test server), the binary's CLI, and the real binary end to end (`e2e`).

/// One test per case and backend: `both_backends!(case, …)` in a file whose `case(Backend)`
/// functions and `Backend` enum are in scope.
macro_rules! both_backends {
    ($($case:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() { super::$case(super::Backend::Sqlite).await }
            )+
        }
        mod mongo {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() { super::$case(super::Backend::Mongo).await }
            )+
        }
    };
}

mod support;

mod admin;
mod auth;
mod browser;
mod catalog;
mod checkout;
mod cli;
mod e2e;
mod errors;
mod fake_bot;
mod fakes;
mod layers;
mod matrix;
mod mongo;
mod notifications;
mod openapi;
mod ops;
mod orders;
mod razorpay;
mod sms;
mod subscriptions;
mod telegram;
mod telegram_shop;
mod users;
mod wallet;
mod web;
