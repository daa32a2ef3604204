//! The web session (a cookie over a core login), the CSRF check and the security headers.
//!
//! The session cookie holds `access~refresh`: the access JWT and the refresh token core issued at
//! login. Each request is authenticated through core (`Auth::authenticate` loads the user, so a
//! block, a role change or a logout-everywhere bites on the next request); an expired access token
//! is renewed with the refresh token (rotation, same family as the API's), and the cookie updated.

use super::Web;
use super::layout;
use crate::common::secret::Environment;
use ottsonly_core::auth::Session;
use ottsonly_core::crypto::ct_eq;
use ottsonly_core::{Actor, Error, User};
use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response};
use rand::RngExt;
use std::sync::Arc;

const SESSION: &str = "ottsonly_session";
const CSRF: &str = "ottsonly_csrf";
/// The form field every POST form carries.
pub(crate) const CSRF_FIELD: &str = "csrf";
/// Largest form body read for the CSRF check (a pasted credential import is the biggest).
const FORM_MAX: usize = 2 * 1024 * 1024;

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
frame-ancestors 'none'; base-uri 'none'";

/// Who is looking at the page.
pub(crate) struct Visitor {
    pub actor: Option<Actor>,
    pub user: Option<User>,
    pub csrf: String,
    pub unread: u64,
}

impl Visitor {
    pub fn is_staff(&self) -> bool {
        self.actor.as_ref().is_some_and(|a| a.role.is_staff())
    }
}

fn cookies(req: &Request) -> Vec<(String, String)> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn cookie(req: &Request, name: &str) -> Option<String> {
    cookies(req).into_iter().find(|(k, _)| k == name).map(|(_, v)| v).filter(|v| !v.is_empty())
}

fn set_cookie(env: Environment, name: &str, value: &str, max_age_s: u64) -> String {
    let secure = if env == Environment::Production { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{secure}")
}

/// The `Set-Cookie` value that logs the browser in with a core session.
pub(crate) fn login_cookie(web: &Web, s: &Session) -> String {
    let value = format!("{}~{}", s.access_token, s.refresh_token);
    set_cookie(web.options.environment, SESSION, &value, s.refresh_expires_in.as_secs())
}

/// The `Set-Cookie` value that forgets the session.
pub(crate) fn logout_cookie(web: &Web) -> String {
    set_cookie(web.options.environment, SESSION, "", 0)
}

/// The refresh token of the browser's session, for logging out.
pub(crate) fn refresh_token(req: &Request) -> Option<String> {
    cookie(req, SESSION).and_then(|v| v.split_once('~').map(|(_, r)| r.to_string()))
}

/// Whether the browser says the request comes from another site.
fn cross_site(web: &Web, req: &Request) -> bool {
    if let Some(site) = req.headers().get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return true;
    }
    let Some(origin) = req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = req.headers().get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let origin_host = origin.split_once("://").map_or("", |(_, h)| h);
    let public = web.options.public_url.trim_end_matches('/');
    !(origin == public || (!host.is_empty() && origin_host == host))
}

fn form_field(body: &[u8], name: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn refuse(status: StatusCode, why: &str) -> Response {
    layout::message_page(status, "Request refused", why)
}

/// Loads the visitor from the session cookie, renewing it when the access token expired.
async fn load(web: &Web, req: &Request) -> (Option<(Actor, User)>, Option<String>) {
    let Some((access, refresh)) =
        cookie(req, SESSION).and_then(|v| v.split_once('~').map(|(a, r)| (a.to_string(), r.to_string())))
    else {
        return (None, None);
    };
    let auth = web.app.auth();
    let (actor, new_cookie) = match auth.authenticate(&access).await {
        Ok(actor) => (actor, None),
        Err(Error::TokenExpired) => match auth.refresh(&refresh).await {
            Ok(s) => match auth.authenticate(&s.access_token).await {
                Ok(actor) => (actor, Some(login_cookie(web, &s))),
                Err(_) => return (None, Some(logout_cookie(web))),
            },
            Err(_) => return (None, Some(logout_cookie(web))),
        },
        Err(_) => return (None, Some(logout_cookie(web))),
    };
    match web.app.users().me(&actor).await {
        Ok(user) => (Some((actor, user)), new_cookie),
        Err(_) => (None, Some(logout_cookie(web))),
    }
}

/// Around every page: the CSRF and cross-site checks of a POST, the visitor, the security
/// headers, and errors rendered as pages.
pub(crate) async fn middleware<E: Endpoint>(ep: E, mut req: Request) -> poem::Result<Response> {
    let web = req.data::<Arc<Web>>().expect("web data").clone();
    let mut set_cookies: Vec<String> = Vec::new();
    let csrf = match cookie(&req, CSRF) {
        Some(c) => c,
        None => {
            let c = hex::encode(rand::rng().random::<[u8; 32]>());
            set_cookies.push(set_cookie(web.options.environment, CSRF, &c, 365 * 24 * 3600));
            c
        }
    };
    let response = if req.method() == Method::POST {
        if cross_site(&web, &req) {
            refuse(StatusCode::FORBIDDEN, "Cross-site form posts are not accepted.")
        } else {
            let body = req.take_body().into_bytes_limit(FORM_MAX).await;
            let (ok, body) = match body {
                Ok(b) => {
                    // A multipart upload carries the token in its URL; a form in a field.
                    let sent = form_field(&b, CSRF_FIELD)
                        .or_else(|| req.uri().query().and_then(|q| form_field(q.as_bytes(), CSRF_FIELD)));
                    let known = cookie(&req, CSRF);
                    (matches!((sent, known), (Some(s), Some(k)) if ct_eq(&s, &k)), b)
                }
                Err(_) => (false, Default::default()),
            };
            if ok {
                req.set_body(body);
                serve(&web, ep, req, csrf, &mut set_cookies).await
            } else {
                refuse(
                    StatusCode::FORBIDDEN,
                    "The form expired or did not come from this site. Go back, reload the page and try again.",
                )
            }
        }
    } else {
        serve(&web, ep, req, csrf, &mut set_cookies).await
    };
    // Pages are personal: `no-store` keeps them out of shared caches and the disk cache.
    let mut response = crate::common::http::html_page_headers(response, CSP);
    let h = response.headers_mut();
    for c in set_cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            h.append(header::SET_COOKIE, v);
        }
    }
    Ok(response)
}

async fn serve<E: Endpoint>(
    web: &Web,
    ep: E,
    mut req: Request,
    csrf: String,
    set_cookies: &mut Vec<String>,
) -> Response {
    let (who, new_cookie) = load(web, &req).await;
    set_cookies.extend(new_cookie);
    let unread = match &who {
        Some((actor, _)) => web.app.notifications().unread_count(actor).await.unwrap_or(0),
        None => 0,
    };
    let (actor, user) = who.map_or((None, None), |(a, u)| (Some(a), Some(u)));
    req.set_data(Arc::new(Visitor { actor, user, csrf, unread }));
    match ep.call(req).await {
        Ok(r) => r.into_response(),
        Err(e) => {
            let status = e.status();
            layout::message_page(status, "Not found", &e.to_string())
        }
    }
}
