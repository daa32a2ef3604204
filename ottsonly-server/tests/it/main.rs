//! In-process tests of the HTTP API: the real application over a temp-file SQLite store.

mod support;

mod admin;
mod auth;
mod catalog;
mod cli;
mod errors;
mod fakes;
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
mod users;
mod wallet;
