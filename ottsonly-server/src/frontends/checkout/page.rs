//! The checkout page's HTML. maud escapes every value it interpolates.

use super::CheckoutOptions;
use maud::{DOCTYPE, Markup, html};
use ottsonly_core::checkout::CheckoutView;
use ottsonly_core::wallet::PaymentOutcome;
use ottsonly_core::{Error, TopUpStatus};

fn layout(options: &CheckoutOptions, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (options.shop_name) }
                // Relative: the page is at `/pay/{id}`, wherever the host mounts it.
                link rel="stylesheet" href="assets/checkout.css";
            }
            body { main { (body) } }
        }
    }
}

/// An open top-up: the amount and a button that opens Razorpay Checkout.
pub fn open(options: &CheckoutOptions, view: &CheckoutView, token: &str) -> Markup {
    let t = &view.topup;
    let body = html! {
        h1 { "Add money to your wallet" }
        p class="amount" { (t.amount) }
        div id="checkout"
            data-key=(view.key_id)
            data-order=(t.gateway_order_id)
            data-amount=(t.amount.paise())
            data-currency=(t.currency)
            data-shop=(options.shop_name)
            data-description={ "Wallet top-up " (t.id) }
            data-contact=(view.contact)
            data-name=(view.name.as_deref().unwrap_or("")) {
            button id="pay" type="button" { "Pay " (t.amount) }
            p id="status" role="status" aria-live="polite" {}
        }
        form id="result" method="post" {
            input type="hidden" name="t" value=(token);
            input type="hidden" name="razorpay_order_id";
            input type="hidden" name="razorpay_payment_id";
            input type="hidden" name="razorpay_signature";
        }
        p class="muted" { "This link works until " (view.link_expires_at.format("%d %b %Y, %H:%M UTC")) "." }
        script src=(options.checkout_script) {}
        script src="assets/checkout.js" {}
    };
    layout(options, "Add money", body)
}

/// A top-up that can no longer be paid: paid, expired or failed.
pub fn closed(options: &CheckoutOptions, view: &CheckoutView) -> Markup {
    let t = &view.topup;
    let body = match t.status {
        TopUpStatus::Paid => html! {
            h1 { "Already paid" }
            p class="ok" { (t.amount) " was added to your wallet." }
        },
        _ => html! {
            h1 { "This top-up has expired" }
            p { "Nothing was charged for it. Start a new top-up to add money." }
        },
    };
    layout(options, "Top-up", body)
}

/// What confirming the payment did.
pub fn outcome(options: &CheckoutOptions, outcome: &PaymentOutcome) -> Markup {
    let body = match outcome {
        PaymentOutcome::Credited(c) | PaymentOutcome::AlreadyCredited(c) => html! {
            h1 { "Money added" }
            p class="ok" { (c.credited) " was added to your wallet." }
            p { "Balance: " strong { (c.balance) } }
        },
        PaymentOutcome::NotCaptured => html! {
            h1 { "Payment received" }
            p { "Your bank has not confirmed it yet. Your wallet is credited as soon as it does; you will be notified." }
        },
        PaymentOutcome::AmountMismatch { .. } => html! {
            h1 { "Payment not added" }
            p class="bad" { "The amount paid differs from this top-up. Nothing was added; it will be refunded." }
        },
        PaymentOutcome::HeldForRefund { .. } => html! {
            h1 { "Already paid" }
            p class="bad" { "This top-up was already paid by another payment. This payment will be refunded." }
        },
        PaymentOutcome::UnknownOrder => html! {
            h1 { "Payment not found" }
        },
    };
    layout(options, "Payment", body)
}

/// A link or a result that was refused.
pub fn refused(options: &CheckoutOptions, e: &Error) -> Markup {
    let (title, text) = match e {
        Error::InvalidToken => (
            "Link not valid",
            "This payment link is not valid. Open the link you were sent again, or start a new top-up.",
        ),
        Error::TokenExpired => {
            ("Link expired", "This payment link has expired. Start a new top-up to add money.")
        }
        Error::UserBlocked => ("Account blocked", "This account is blocked. Contact support."),
        Error::PaymentSignatureInvalid => (
            "Payment not verified",
            "The payment could not be verified here. If money left your account, your wallet is credited or the money is refunded automatically.",
        ),
        Error::PaymentsNotConfigured | Error::PaymentGatewayUnavailable(_) => {
            ("Payments unavailable", "Payments are unavailable right now. Try again in a few minutes.")
        }
        Error::NotFound { .. } => ("Payment not found", "This payment does not belong to this top-up."),
        _ => ("Something went wrong", "Something went wrong. Try again in a few minutes."),
    };
    let body = html! {
        h1 { (title) }
        p class="bad" { (text) }
        p class="muted" { "Code: " code { (e.code()) } }
    };
    layout(options, title, body)
}
