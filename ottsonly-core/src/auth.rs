//! Phone + one-time code login, access JWTs and rotating refresh tokens.

use crate::access::Actor;
use crate::crypto::{ct_eq, hmac_hex, random_digits, random_token, sha256_hex, verify_hmac_hex};
use crate::ctx::{Ctx, UnitError, UnitResult};
use crate::error::{Error, Result, StoreError, constraint};
use crate::ids::{RefreshTokenId, UserId};
use crate::model::{OtpRecord, RefreshToken, Role, Timestamp, User};
pub use crate::otp_sender::{LogOtpSender, OtpSender};
use crate::phone::PhoneNumber;
use chrono::TimeDelta;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What the caller is told after a code was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtpChallenge {
    pub expires_in: Duration,
    pub resend_after: Duration,
}

/// A logged-in session: a short-lived access token and a refresh token to renew it.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    pub access_token: String,
    pub access_expires_in: Duration,
    pub refresh_token: String,
    pub refresh_expires_in: Duration,
    pub user: User,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("user", &self.user.id).finish_non_exhaustive()
    }
}

/// Claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    /// The user's token version when issued; a bump revokes the token.
    pub ver: i64,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub iss: String,
}

pub struct Auth<'a> {
    pub(crate) ctx: &'a Ctx,
}

fn secs(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

fn remaining(until: Timestamp, now: Timestamp) -> Duration {
    (until - now).to_std().unwrap_or(Duration::ZERO)
}

const DAY: TimeDelta = TimeDelta::days(1);

impl Auth<'_> {
    /// Parses the phone of a login. A configured test phone is taken as it is; any other number
    /// must be a valid mobile number of a country in `otp_countries`
    /// ([`Error::PhoneCountryNotAllowed`] otherwise).
    pub fn parse_phone(&self, raw: &str) -> Result<PhoneNumber> {
        let cfg = &self.ctx.config.auth;
        let region = cfg.default_region.as_deref();
        let invalid = |e: crate::phone::PhoneError| Error::validation("phone", e.to_string());
        if let Ok(p) = PhoneNumber::parse_any(raw, region)
            && cfg.test_phones.contains_key(&p)
        {
            return Ok(p);
        }
        let phone = PhoneNumber::parse(raw, region).map_err(invalid)?;
        if !cfg.otp_countries.is_empty() {
            let allowed = phone.region().is_some_and(|r| cfg.otp_countries.contains(&r));
            if !allowed {
                return Err(Error::PhoneCountryNotAllowed);
            }
        }
        Ok(phone)
    }

    fn otp_mac(&self, phone: &PhoneNumber, code: &str) -> String {
        hmac_hex(self.ctx.config.auth.otp_mac_key(), &[phone.as_str().as_bytes(), b"|", code.as_bytes()])
    }

    /// Sends a new one-time code, within the cooldown and daily cap. The code is stored only as
    /// an HMAC. When delivery fails the caller gets [`Error::OtpDeliveryFailed`]; the cooldown
    /// still applies, so a failing provider cannot be used to spam.
    ///
    /// A blocked number is answered exactly like any other (same limits, same record, same
    /// reply), so the answer does not tell whether an account exists or is blocked; only no SMS
    /// is sent to it. The block bites at [`Auth::verify_otp`].
    pub async fn request_otp(&self, phone_raw: &str) -> Result<OtpChallenge> {
        let cfg = &self.ctx.config.auth;
        let phone = self.parse_phone(phone_raw)?;
        if cfg.test_phones.contains_key(&phone) {
            return Ok(OtpChallenge { expires_in: cfg.otp_ttl, resend_after: Duration::ZERO });
        }
        let code = random_digits(self.ctx.entropy.as_ref(), cfg.otp_digits);
        let mac = self.otp_mac(&phone, &code);
        let (phone_ref, mac) = (&phone, &mac);
        let blocked = self
            .ctx
            .unit(|tx| {
                Box::pin(async move {
                    let phone = phone_ref;
                    let now = self.ctx.now();
                    let blocked = tx.get_user_by_phone(phone).await?.is_some_and(|u| u.is_blocked);
                    let prev = tx.get_otp(phone).await?;
                    let (window_start, sends, guesses) = match &prev {
                        Some(p) => {
                            let next_send = p.last_sent_at + secs(cfg.otp_resend_cooldown);
                            if now < next_send {
                                return Err(
                                    Error::OtpCooldown { retry_after: remaining(next_send, now) }.into()
                                );
                            }
                            if now - p.window_start >= DAY {
                                (now, 0, 0)
                            } else if p.sends_in_window >= cfg.otp_daily_limit {
                                return Err(Error::OtpDailyLimit {
                                    retry_after: remaining(p.window_start + DAY, now),
                                }
                                .into());
                            } else if p.guesses_in_window >= cfg.otp_daily_guess_limit {
                                // No guesses left today: a new code could not be used.
                                return Err(Error::OtpGuessLimit {
                                    retry_after: remaining(p.window_start + DAY, now),
                                }
                                .into());
                            } else {
                                (p.window_start, p.sends_in_window, p.guesses_in_window)
                            }
                        }
                        None => (now, 0, 0),
                    };
                    let rec = OtpRecord {
                        phone: phone.clone(),
                        code_mac: mac.clone(),
                        created_at: now,
                        expires_at: now + secs(cfg.otp_ttl),
                        attempts: 0,
                        consumed_at: None,
                        last_sent_at: now,
                        window_start,
                        sends_in_window: sends + 1,
                        guesses_in_window: guesses,
                    };
                    tx.put_otp(&rec).await?;
                    Ok(blocked)
                })
            })
            .await?;
        if blocked {
            tracing::info!(phone = %phone.masked(), "login of a blocked number; no code sent");
            return Ok(OtpChallenge { expires_in: cfg.otp_ttl, resend_after: cfg.otp_resend_cooldown });
        }
        // Sent after commit: a crash in between costs the user a resend, never a code that
        // works but was not recorded.
        self.ctx.otp_sender.send(&phone, &code).await.map_err(|e| {
            tracing::warn!(phone = %phone.masked(), error = %e, "OTP delivery failed");
            Error::OtpDeliveryFailed(e)
        })?;
        Ok(OtpChallenge { expires_in: cfg.otp_ttl, resend_after: cfg.otp_resend_cooldown })
    }

    /// Checks a code and logs the phone in, creating the user on first login. A code works once,
    /// even when submitted concurrently; the attempt counter is written before the comparison.
    pub async fn verify_otp(&self, phone_raw: &str, code: &str) -> Result<Session> {
        let cfg = &self.ctx.config.auth;
        let phone = self.parse_phone(phone_raw)?;
        let code = code.trim();
        if code.len() != cfg.otp_digits as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::validation("otp", format!("must be {} digits", cfg.otp_digits)));
        }
        if let Some(fixed) = cfg.test_phones.get(&phone) {
            if !ct_eq(fixed, code) {
                return Err(Error::OtpInvalid { attempts_left: cfg.otp_max_attempts });
            }
            let phone = &phone;
            return self
                .ctx
                .unit(|tx| {
                    Box::pin(async move {
                        let now = self.ctx.now();
                        self.login_in(tx, phone, now).await
                    })
                })
                .await;
        }
        let phone = &phone;
        // A wrong or expired code still counts as an attempt: that outcome is committed too.
        self.ctx
            .unit(|tx| {
                Box::pin(async move {
                    let now = self.ctx.now();
                    let max_guesses = cfg.otp_daily_guess_limit;
                    let Some(rec) = tx.record_otp_attempt(phone, cfg.otp_max_attempts, max_guesses).await?
                    else {
                        return Err(match tx.get_otp(phone).await? {
                            Some(r) if r.consumed_at.is_none() && r.guesses_in_window >= max_guesses => {
                                Error::OtpGuessLimit { retry_after: remaining(r.window_start + DAY, now) }
                            }
                            Some(r) if r.consumed_at.is_none() && r.attempts >= cfg.otp_max_attempts => {
                                Error::OtpAttemptsExceeded
                            }
                            _ => Error::OtpExpired,
                        }
                        .into());
                    };
                    if rec.expires_at <= now {
                        return Ok(Err(Error::OtpExpired));
                    }
                    // The guess is counted (committed with the refusal) before the block is told.
                    if tx.get_user_by_phone(phone).await?.is_some_and(|u| u.is_blocked) {
                        return Ok(Err(Error::UserBlocked));
                    }
                    let mac_ok = verify_hmac_hex(
                        cfg.otp_mac_key(),
                        &[phone.as_str().as_bytes(), b"|", code.as_bytes()],
                        &rec.code_mac,
                    );
                    if !mac_ok {
                        let attempts_left = cfg
                            .otp_max_attempts
                            .saturating_sub(rec.attempts)
                            .min(max_guesses.saturating_sub(rec.guesses_in_window));
                        return Ok(Err(Error::OtpInvalid { attempts_left }));
                    }
                    if !tx.consume_otp(phone, rec.created_at, now).await? {
                        return Err(Error::OtpExpired.into());
                    }
                    Ok(Ok(self.login_in(tx, phone, now).await?))
                })
            })
            .await?
    }

    /// Finds or creates the user and opens a new refresh-token family.
    async fn login_in(
        &self,
        tx: &mut dyn crate::store::Tx,
        phone: &PhoneNumber,
        now: Timestamp,
    ) -> UnitResult<Session> {
        let user = match tx.get_user_by_phone(phone).await? {
            Some(u) => u,
            None => {
                let u = User::new(self.ctx.id(), phone.clone(), Role::User, now);
                tx.insert_user(&u).await.map_err(phone_race)?;
                u
            }
        };
        if user.is_blocked {
            return Err(Error::UserBlocked.into());
        }
        let family = self.ctx.id::<RefreshTokenId>().as_str().to_string();
        Ok(self.issue(tx, user, family, now).await?)
    }

    async fn issue(
        &self,
        tx: &mut dyn crate::store::Tx,
        user: User,
        family_id: String,
        now: Timestamp,
    ) -> Result<Session> {
        let cfg = &self.ctx.config.auth;
        let refresh_token = random_token(self.ctx.entropy.as_ref(), 32);
        let rec = RefreshToken {
            id: self.ctx.id(),
            user_id: user.id.clone(),
            family_id,
            token_hash: sha256_hex(refresh_token.as_bytes()),
            token_version: user.token_version,
            created_at: now,
            expires_at: now + secs(cfg.refresh_ttl),
            used_at: None,
            revoked_at: None,
        };
        tx.insert_refresh_token(&rec).await?;
        let access_token = self.access_token(&user, now)?;
        Ok(Session {
            access_token,
            access_expires_in: cfg.access_ttl,
            refresh_token,
            refresh_expires_in: cfg.refresh_ttl,
            user,
        })
    }

    fn access_token(&self, user: &User, now: Timestamp) -> Result<String> {
        let cfg = &self.ctx.config.auth;
        let claims = Claims {
            sub: user.id.as_str().into(),
            role: user.role,
            ver: user.token_version,
            iat: now.timestamp(),
            exp: (now + secs(cfg.access_ttl)).timestamp(),
            jti: random_token(self.ctx.entropy.as_ref(), 12),
            iss: cfg.jwt_issuer.clone(),
        };
        let key = EncodingKey::from_secret(cfg.jwt_secret()).map_err(|e| Error::Internal(e.to_string()))?;
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key)
            .map_err(|e| Error::Internal(e.to_string()))
    }

    /// Checks an access token and loads the caller. The stored role, block flag and token version
    /// are authoritative, so a role change, block or logout-everywhere applies at once.
    pub async fn authenticate(&self, access_token: &str) -> Result<Actor> {
        Ok(self.authenticate_user(access_token).await?.0)
    }

    /// [`Auth::authenticate`], also answering the user row it loaded (for "who am I" without a
    /// second read).
    pub async fn authenticate_user(&self, access_token: &str) -> Result<(Actor, User)> {
        let cfg = &self.ctx.config.auth;
        let key = DecodingKey::from_secret(cfg.jwt_secret()).map_err(|e| Error::Internal(e.to_string()))?;
        let mut v = Validation::new(Algorithm::HS256);
        // Expiry is checked below against the injected clock, not the wall clock.
        v.validate_exp = false;
        v.set_issuer(&[cfg.jwt_issuer.as_str()]);
        v.set_required_spec_claims(&["exp", "iss", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(access_token, &key, &v).map_err(|_| Error::InvalidToken)?;
        let claims = data.claims;
        if claims.exp <= self.ctx.now().timestamp() {
            return Err(Error::TokenExpired);
        }
        let mut r = self.ctx.store.reader().await?;
        let user = r.get_user(&UserId::from_string(claims.sub)).await?.ok_or(Error::InvalidToken)?;
        if user.token_version != claims.ver {
            return Err(Error::InvalidToken);
        }
        if user.is_blocked {
            return Err(Error::UserBlocked);
        }
        Ok((Actor::of(&user), user))
    }

    /// Exchanges a refresh token for a new pair. Each token works once: presenting a used one
    /// again is treated as theft and revokes every token of its login.
    pub async fn refresh(&self, refresh_token: &str) -> Result<Session> {
        let hash = &sha256_hex(refresh_token.trim().as_bytes());
        // A reused token revokes its family, and that revocation is committed with the refusal.
        self.ctx
            .unit(|tx| {
                Box::pin(async move {
                    let now = self.ctx.now();
                    let rec = tx.get_refresh_token_by_hash(hash).await?.ok_or(Error::RefreshTokenInvalid)?;
                    if rec.used_at.is_some() {
                        tx.revoke_refresh_family(&rec.family_id, now).await?;
                        tracing::warn!(user = %rec.user_id, "refresh token reuse; family revoked");
                        return Ok(Err(Error::RefreshTokenReused));
                    }
                    if rec.revoked_at.is_some() || rec.expires_at <= now {
                        return Err(Error::RefreshTokenInvalid.into());
                    }
                    let user = tx.get_user(&rec.user_id).await?.ok_or(Error::RefreshTokenInvalid)?;
                    if user.is_blocked {
                        return Err(Error::UserBlocked.into());
                    }
                    if user.token_version != rec.token_version {
                        return Err(Error::RefreshTokenInvalid.into());
                    }
                    if !tx.mark_refresh_token_used(&rec.id, now).await? {
                        // Lost a race with another use of the same token: same as reuse.
                        tx.revoke_refresh_family(&rec.family_id, now).await?;
                        return Ok(Err(Error::RefreshTokenReused));
                    }
                    Ok(Ok(self.issue(tx, user, rec.family_id.clone(), now).await?))
                })
            })
            .await?
    }

    /// Ends the session the refresh token belongs to. Unknown tokens are ignored (idempotent).
    pub async fn logout(&self, refresh_token: &str) -> Result<()> {
        let hash = &sha256_hex(refresh_token.trim().as_bytes());
        self.ctx
            .unit(|tx| {
                Box::pin(async move {
                    if let Some(rec) = tx.get_refresh_token_by_hash(hash).await? {
                        tx.revoke_refresh_family(&rec.family_id, self.ctx.now()).await?;
                    }
                    Ok(())
                })
            })
            .await
    }

    /// Ends every session of the caller: refresh tokens are revoked and the token version bump
    /// invalidates access tokens already issued.
    pub async fn logout_all(&self, actor: &Actor) -> Result<()> {
        self.ctx
            .unit(|tx| {
                Box::pin(async move {
                    let now = self.ctx.now();
                    let mut user =
                        tx.get_user(&actor.user_id).await?.ok_or(Error::NotFound { what: "user" })?;
                    user.token_version += 1;
                    user.updated_at = now;
                    tx.update_user(&user).await?;
                    tx.revoke_user_refresh_tokens(&user.id, now).await?;
                    Ok(())
                })
            })
            .await
    }
}

/// Two first logins of one phone raced: run the unit again and it finds the winner's user.
pub(crate) fn phone_race(e: StoreError) -> UnitError {
    match e {
        StoreError::Conflict { constraint: constraint::USER_PHONE } => {
            UnitError::RunAgain("concurrent creation of the same phone")
        }
        e => e.into(),
    }
}
