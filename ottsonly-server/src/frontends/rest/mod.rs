//! The REST front-end: poem-openapi operations over core ([`api`]), their request and response
//! types ([`dto`], [`responses`]), the one error envelope ([`error`]), bearer authentication
//! ([`auth`]), per-IP rate limits ([`ratelimit`]), the HTTP middleware with request ids, access
//! logs and metrics ([`http`]), what the OpenAPI document adds to poem-openapi's ([`document`]), `GET /health`'s view of the integrations ([`health`]), the
//! Razorpay webhook ([`webhook`]) and the assembly of all of it ([`app`]).

pub mod api;
pub mod app;
pub mod auth;
pub mod document;
pub mod dto;
pub mod error;
pub mod health;
pub mod http;
pub mod ratelimit;
pub mod responses;
pub mod webhook;

pub use app::{HttpOptions, build_app, openapi_service, spec_json};
pub use health::Integrations;
pub use http::BodyLimits;
