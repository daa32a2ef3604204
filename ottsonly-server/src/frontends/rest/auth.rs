//! Bearer authentication: a poem-openapi security scheme whose checker asks core, so the stored
//! role, block flag and token version decide (not the token's claims), plus an explicit
//! optional variant for public operations.

use ottsonly_core::{Actor, Ottsonly, User};
use poem::http::StatusCode;
use poem::{Request, RequestBody};
use poem_openapi::auth::Bearer;
use poem_openapi::registry::Registry;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions, SecurityScheme};

/// An authenticated caller. Operations that take it answer 401 without a valid access token.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "check_bearer", rename = "BearerAuth")]
pub struct BearerAuth(pub Actor);

/// The checker: core validates the token and loads the caller. The application handle is
/// attached to every request by `build_app` (checkers cannot reach the API structs' state).
async fn check_bearer(req: &Request, bearer: Bearer) -> poem::Result<Actor> {
    Ok(check_bearer_user(req, bearer).await?.0)
}

async fn check_bearer_user(req: &Request, bearer: Bearer) -> poem::Result<(Actor, User)> {
    let app = req.data::<Ottsonly>().ok_or_else(|| {
        poem::Error::from_string("application state missing", StatusCode::INTERNAL_SERVER_ERROR)
    })?;
    app.auth().authenticate_user(&bearer.token).await.map_err(|e| {
        let status = crate::frontends::rest::error::ApiError::from_core(&e).status();
        // Keeps the core error so the envelope carries its code (invalid_token, token_expired,
        // user_blocked).
        poem::Error::new(e, status)
    })
}

/// The caller's own user row, as loaded by authentication (`GET /users/me` reads it once).
/// Documented as the same bearer scheme.
pub struct MeAuth(pub User);

impl<'a> ApiExtractor<'a> for MeAuth {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        BearerAuth::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        BearerAuth::security_schemes()
    }

    async fn from_request(
        req: &'a Request,
        _body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let bearer = <Bearer as poem_openapi::auth::BearerAuthorization>::from_request(req)?;
        Ok(MeAuth(check_bearer_user(req, bearer).await?.1))
    }
}

/// The caller if a token was sent, `None` if none was. A token that is present but invalid is
/// still a 401: a broken client must not be silently served as anonymous.
pub struct MaybeAuth(pub Option<Actor>);

impl<'a> ApiExtractor<'a> for MaybeAuth {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        BearerAuth::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        BearerAuth::security_schemes()
    }

    /// Documents the anonymous alternative (an empty security requirement).
    fn has_security_fallback() -> bool {
        true
    }

    async fn from_request(
        req: &'a Request,
        body: &mut RequestBody,
        param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        if req.headers().get(poem::http::header::AUTHORIZATION).is_none() {
            return Ok(MaybeAuth(None));
        }
        let auth = BearerAuth::from_request(req, body, param_opts).await?;
        Ok(MaybeAuth(Some(auth.0)))
    }
}

impl MaybeAuth {
    pub fn actor(&self) -> Option<&Actor> {
        self.0.as_ref()
    }
}
