use super::state::{ApiTags, State};
use crate::frontends::rest::auth::BearerAuth;
use crate::frontends::rest::dto::{LoginRequest, OtpChallenge, RefreshRequest, Session, VerifyRequest};
use crate::frontends::rest::error::{ApiError, ApiResult, ok};
use crate::frontends::rest::responses::NoContent;
use poem_openapi::OpenApi;
use poem_openapi::payload::Json;

pub struct AuthApi(pub State);

impl AuthApi {
    fn limit_ip(&self, req: &poem::Request) -> Result<(), ApiError> {
        match &self.0.ip_limiter {
            Some(l) => l.check(req.remote_addr(), req.headers()),
            None => Ok(()),
        }
    }
}

#[OpenApi(tag = "ApiTags::Auth")]
impl AuthApi {
    /// Send a one-time code to a phone.
    ///
    /// 429 `otp_cooldown` / `otp_daily_limit` / `rate_limited` carry `Retry-After`.
    #[oai(path = "/auth/login", method = "post", operation_id = "request_otp")]
    async fn request_otp(
        &self,
        req: &poem::Request,
        body: Json<LoginRequest>,
    ) -> ApiResult<Json<OtpChallenge>> {
        self.limit_ip(req)?;
        let c = self.0.app.auth().request_otp(&body.0.phone).await?;
        ok(OtpChallenge { expires_in_s: c.expires_in.as_secs(), resend_after_s: c.resend_after.as_secs() })
    }

    /// Exchange a one-time code for a session; creates the user on first login.
    #[oai(path = "/auth/verify", method = "post", operation_id = "verify_otp")]
    async fn verify_otp(&self, req: &poem::Request, body: Json<VerifyRequest>) -> ApiResult<Json<Session>> {
        self.limit_ip(req)?;
        let s = self.0.app.auth().verify_otp(&body.0.phone, &body.0.otp).await?;
        ok(s.into())
    }

    /// Exchange a refresh token for a new pair. Each refresh token works once; reusing one
    /// revokes its whole login (401 `refresh_token_reused`).
    #[oai(path = "/auth/refresh", method = "post", operation_id = "refresh_session")]
    async fn refresh(&self, body: Json<RefreshRequest>) -> ApiResult<Json<Session>> {
        ok(self.0.app.auth().refresh(&body.0.refresh_token).await?.into())
    }

    /// End the session a refresh token belongs to. Unknown tokens are ignored.
    #[oai(path = "/auth/logout", method = "post", operation_id = "logout")]
    async fn logout(&self, body: Json<RefreshRequest>) -> ApiResult<NoContent> {
        self.0.app.auth().logout(&body.0.refresh_token).await?;
        Ok(NoContent::Done.into())
    }

    /// End every session of the caller, access tokens included.
    #[oai(path = "/auth/logout-all", method = "post", operation_id = "logout_all")]
    async fn logout_all(&self, auth: BearerAuth) -> ApiResult<NoContent> {
        self.0.app.auth().logout_all(&auth.0).await?;
        Ok(NoContent::Done.into())
    }
}
