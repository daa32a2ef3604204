//! The port through which one-time codes leave the system (SMS in production).
//!
//! A port of its own, below both `ctx` (which holds one) and `auth` (which uses it).

use crate::phone::PhoneNumber;
use async_trait::async_trait;

/// Delivers a one-time code to a phone (SMS in production).
#[async_trait]
pub trait OtpSender: Send + Sync + 'static {
    /// Sends `code`. An error means the code did not leave; its text reaches the user, so it must
    /// not contain the code or provider secrets.
    async fn send(&self, phone: &PhoneNumber, code: &str) -> std::result::Result<(), String>;
}

/// Development sender: writes the code to the log instead of sending it. Never use in production.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogOtpSender;

#[async_trait]
impl OtpSender for LogOtpSender {
    async fn send(&self, phone: &PhoneNumber, code: &str) -> std::result::Result<(), String> {
        tracing::warn!(phone = %phone, code, "development OTP sender: code logged, not sent");
        Ok(())
    }
}
