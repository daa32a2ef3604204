//! Checkout links: a signed, expiring token that lets a page opened from a link (a Telegram
//! message, a redirect of the web storefront) pay one stored top-up without a bearer token.
//!
//! The token is `{expiry}.{mac}`: the expiry in Unix seconds and an HMAC-SHA256 over the top-up
//! id, its user id and the expiry, under a key derived from the JWT secret. It names no amount:
//! the page takes the amount, the gateway order and the key from the store, so a link cannot be
//! bent to another top-up, another user or another price, and guessing a top-up id gains nothing.

use crate::access::{Action, Actor};
use crate::crypto::{hmac_hex, verify_hmac_hex};
use crate::error::{Error, Result};
use crate::ids::TopUpId;
use crate::model::{Timestamp, TopUp, TopUpStatus};
use crate::wallet::{PaymentOutcome, Wallet};
use chrono::TimeDelta;

/// What the checkout page shows: the stored top-up, the gateway's public key id, and the
/// details the gateway's form may be prefilled with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutView {
    pub topup: TopUp,
    pub key_id: String,
    /// The user's phone in E.164, for the gateway form's contact field.
    pub contact: String,
    pub name: Option<String>,
    /// When the link stops opening the page.
    pub link_expires_at: Timestamp,
}

impl CheckoutView {
    /// True while a payment can still be made for it (created, not expired, not paid).
    pub fn is_open(&self) -> bool {
        self.topup.status == TopUpStatus::Created
    }
}

impl Wallet<'_> {
    /// A fresh checkout-link token for one of the caller's top-ups (to send the link again).
    pub async fn checkout_token(&self, actor: &Actor, topup_id: &TopUpId) -> Result<String> {
        actor.require(Action::Wallet)?;
        let topup = {
            let mut r = self.ctx.store.reader().await?;
            r.get_topup(topup_id).await?
        };
        let topup = topup.filter(|t| t.user_id == actor.user_id).ok_or(Error::NotFound { what: "top-up" })?;
        Ok(self.sign_checkout(&topup))
    }

    /// Signs a checkout link for `topup`, valid for `checkout_link_ttl` from now.
    pub(crate) fn sign_checkout(&self, topup: &TopUp) -> String {
        let ttl = TimeDelta::from_std(self.ctx.config.wallet.checkout_link_ttl).unwrap_or(TimeDelta::MAX);
        let expires = self.ctx.now().checked_add_signed(ttl).map_or(i64::MAX, |t| t.timestamp());
        let mac = hmac_hex(self.ctx.config.auth.checkout_key(), &checkout_parts(topup, &expires.to_string()));
        format!("{expires}.{mac}")
    }

    /// Opens the checkout page of a link: checks the token against the stored top-up and its
    /// user. `invalid_token` for a forged token, another top-up's token or an unknown top-up
    /// (so ids cannot be probed); `token_expired` past the link's expiry; `user_blocked` for a
    /// blocked user. A paid or expired top-up is returned as it is, for the page to say so.
    pub async fn open_checkout(&self, topup_id: &TopUpId, token: &str) -> Result<CheckoutView> {
        Ok(self.open_link(topup_id, token).await?.0)
    }

    /// [`Wallet::open_checkout`], also answering the link's user as the caller it acts for.
    async fn open_link(&self, topup_id: &TopUpId, token: &str) -> Result<(CheckoutView, Actor)> {
        let gateway = self.gateway()?;
        let mut r = self.ctx.store.reader().await?;
        let topup = r.get_topup(topup_id).await?.ok_or(Error::InvalidToken)?;
        let expires = self.check_checkout_token(&topup, token)?;
        let user = r.get_user(&topup.user_id).await?.ok_or(Error::InvalidToken)?;
        if user.is_blocked {
            return Err(Error::UserBlocked);
        }
        let actor = Actor::of(&user);
        let view = CheckoutView {
            topup,
            key_id: gateway.key_id().into(),
            contact: user.phone.to_string(),
            name: user.name,
            link_expires_at: expires,
        };
        Ok((view, actor))
    }

    /// Confirms a checkout result posted by the page of a link, as its user: the token must
    /// still open the page, and the gateway order must be this top-up's. Then exactly as
    /// [`Wallet::verify_payment`].
    pub async fn verify_checkout(
        &self,
        topup_id: &TopUpId,
        token: &str,
        order_id: &str,
        payment_id: &str,
        signature: &str,
    ) -> Result<PaymentOutcome> {
        let (view, actor) = self.open_link(topup_id, token).await?;
        if order_id.trim() != view.topup.gateway_order_id {
            return Err(Error::NotFound { what: "top-up" });
        }
        self.verify_payment(&actor, order_id, payment_id, signature).await
    }

    /// The link's expiry if `token` is a live token of `topup`.
    fn check_checkout_token(&self, topup: &TopUp, token: &str) -> Result<Timestamp> {
        let (expires, mac) = token.trim().split_once('.').ok_or(Error::InvalidToken)?;
        let at = expires
            .parse::<i64>()
            .ok()
            .filter(|_| expires.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| Timestamp::from_timestamp(s, 0))
            .ok_or(Error::InvalidToken)?;
        if !verify_hmac_hex(self.ctx.config.auth.checkout_key(), &checkout_parts(topup, expires), mac) {
            return Err(Error::InvalidToken);
        }
        if at <= self.ctx.now() {
            return Err(Error::TokenExpired);
        }
        Ok(at)
    }
}

/// The MAC's input: length-free fields joined by NUL, which none of them can contain.
fn checkout_parts<'a>(topup: &'a TopUp, expires: &'a str) -> [&'a [u8]; 6] {
    [
        topup.id.as_str().as_bytes(),
        b"\0",
        topup.user_id.as_str().as_bytes(),
        b"\0",
        expires.as_bytes(),
        b"\0checkout",
    ]
}
