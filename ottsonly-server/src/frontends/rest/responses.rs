//! Success responses other than a plain 200 with JSON.

use crate::frontends::rest::dto::{Product, Purchase};
use poem_openapi::ApiResponse;
use poem_openapi::payload::Json;

#[derive(ApiResponse)]
pub enum NoContent {
    /// Done; no body.
    #[oai(status = 204)]
    Done,
}

#[derive(ApiResponse)]
pub enum PurchaseResponse {
    /// Bought: the order and its subscription.
    #[oai(status = 201)]
    Created(Json<Purchase>),
    /// A retry with an `Idempotency-Key` already used for this product: the first purchase,
    /// unchanged. Nothing was charged again.
    #[oai(status = 200)]
    Replayed(Json<Purchase>),
}

#[derive(ApiResponse)]
pub enum ProductCreated {
    #[oai(status = 201)]
    Created(Json<Product>),
}
