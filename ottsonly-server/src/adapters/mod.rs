//! Adapters: the outside world behind core's ports, one folder per service. They know core and
//! [`crate::common`], nothing of the settings, the front-ends or HTTP routes; each has its own
//! configuration type that validates itself (`problems`), built by the host from the settings.
//!
//! * [`razorpay`]: core's `PaymentGateway` over Razorpay's REST API, and its signatures.
//! * [`sms`]: core's `OtpSender` per SMS provider (Twilio, MSG91).
//! * [`telegram`]: delivery of core's outbox (admin alerts) to Telegram chats.

pub mod razorpay;
pub mod sms;
pub mod telegram;
