//! Razorpay's HMAC-SHA256 signatures, compared in constant time (core's `verify_hmac_hex`).

use ottsonly_core::crypto::verify_hmac_hex;

/// A webhook's `X-Razorpay-Signature`: the HMAC of the raw body as received (never a
/// re-serialised one), keyed with the webhook secret.
pub fn verify_webhook(webhook_secret: &[u8], raw_body: &[u8], signature: &str) -> bool {
    verify_hmac_hex(webhook_secret, &[raw_body], signature)
}

/// The checkout callback's `razorpay_signature`: the HMAC of `order_id|payment_id`, keyed with
/// the API key secret.
pub fn verify_checkout(key_secret: &[u8], order_id: &str, payment_id: &str, signature: &str) -> bool {
    verify_hmac_hex(key_secret, &[order_id.as_bytes(), b"|", payment_id.as_bytes()], signature)
}
