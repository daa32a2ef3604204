//! In-process tests of the HTTP API: the real application over a temp-file SQLite store.

mod support;

mod admin;
mod auth;
mod catalog;
mod cli;
mod errors;
mod matrix;
mod notifications;
mod openapi;
mod ops;
mod orders;
mod subscriptions;
mod users;
mod wallet;
