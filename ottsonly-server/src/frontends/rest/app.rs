//! Assembling the HTTP application: API, docs, spec and middleware. `main` and the tests share
//! [`build_app`], so the tests exercise exactly what is served.

use crate::common::metrics::Metrics;
use crate::frontends::rest::api::{self, State};
use crate::frontends::rest::document::{self, AllowedMethods};
use crate::frontends::rest::http::{self, BodyLimits, RouteLabels};
use crate::frontends::rest::ratelimit::IpRateLimiter;
use ottsonly_core::Ottsonly;
use poem::endpoint::BoxEndpoint;
use poem::http::Method;
use poem::middleware::{CatchPanic, Cors};
use poem::{EndpointExt, Response, Route};
use poem_openapi::OpenApiService;
use std::sync::Arc;

/// HTTP-level options (core's live in `CoreConfig`).
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Requests per minute per client IP on `/auth/login` and `/auth/verify`; 0 disables.
    pub ip_rate_limit: u32,
    /// Browser origins allowed by CORS; empty means no CORS headers (same origin only).
    pub cors_origins: Vec<String>,
    pub body_limits: BodyLimits,
    /// Secret of the Razorpay webhook; without it `/webhooks/razorpay` answers 503.
    pub razorpay_webhook_secret: Option<crate::common::secret::Secret>,
    /// Proxies whose forwarding headers name the client for the per-IP limits.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Bearer token of `GET /metrics`; without it the metrics are public and leave out revenue.
    pub metrics_token: Option<crate::common::secret::Secret>,
    /// Reported by `GET /health`.
    pub environment: crate::common::secret::Environment,
    /// Secrets that are development values kept in the database (`GET /health` names them).
    pub dev_secrets: Vec<String>,
    /// Where users reach the server, for the checkout links a top-up answers with.
    pub public_url: String,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            ip_rate_limit: 60,
            cors_origins: Vec::new(),
            body_limits: BodyLimits::default(),
            razorpay_webhook_secret: None,
            trusted_proxies: Vec::new(),
            metrics_token: None,
            environment: crate::common::secret::Environment::Dev,
            dev_secrets: Vec::new(),
            public_url: "http://127.0.0.1:8000".into(),
        }
    }
}

const DESCRIPTION: &str = "\
OTTSONLY sells OTT subscription plans from a prepaid wallet.

* Amounts are integers in paise (1 INR = 100 paise), in fields named `*_paise`.
* Ids are strings. Times are RFC 3339 in UTC.
* Lists take `limit` (default 50, at most 200) and `cursor`, and answer \
`{\"items\": [...], \"next_cursor\": \"...\" | null}`; pass `next_cursor` back as `cursor`.
* Every error has the body `{\"error\": {\"code\": \"...\", \"message\": \"...\"}}` with a stable \
snake_case `code`. Anything wrong with what the client sent (malformed JSON, wrong types, unknown \
enum values, values the rules reject) is 400; 401 means no valid token; 403 the role may not; \
404 also hides other users' orders, subscriptions and notifications; 409 the state does not allow \
it; 429 comes with `Retry-After`; 503 a dependency is missing or busy.
* Every response carries `X-Request-Id` (the client's own if it sent a valid one).";

/// The OpenAPI service over every API, shared by the server and `ottsonly-server openapi`.
pub fn openapi_service(state: &State) -> OpenApiService<impl poem_openapi::OpenApi + use<>, ()> {
    OpenApiService::new(api::all(state), "OTTSONLY API", env!("CARGO_PKG_VERSION"))
        .description(DESCRIPTION)
        .server("/")
}

/// The OpenAPI document as JSON, as `/openapi.json` serves it.
pub fn spec_json(app: &Ottsonly) -> String {
    let spec = openapi_service(&state(app.clone(), &HttpOptions::default())).spec();
    document::finish(&spec, app.config())
}

fn state(app: Ottsonly, options: &HttpOptions) -> State {
    State {
        app,
        ip_limiter: IpRateLimiter::per_minute(options.ip_rate_limit, options.trusted_proxies.clone())
            .map(Arc::new),
        metrics: Metrics::global(),
        metrics_token: options.metrics_token.clone(),
        environment: options.environment,
        dev_secrets: options.dev_secrets.clone(),
        public_url: options.public_url.clone(),
    }
}

/// The whole HTTP application.
///
/// Layers, outermost first: request id + access log + metrics; the JSON error envelope for
/// whatever the framework answers itself (and panics); CORS; the body size limit; the routes.
pub fn build_app(app: Ottsonly, options: HttpOptions) -> BoxEndpoint<'static, Response> {
    let state = state(app.clone(), &options);
    let api = openapi_service(&state);
    let document = document::finish(&api.spec(), app.config());
    let labels = Arc::new(route_labels(&document));
    let allowed = Arc::new(AllowedMethods::from_document(&document));
    let docs = api.swagger_ui();
    let spec = poem::endpoint::make_sync(move |_| {
        Response::builder().content_type("application/json; charset=utf-8").body(document.clone())
    });
    let limits = options.body_limits;
    let routes = Route::new()
        .nest("/", api)
        .nest("/docs", docs)
        .at("/openapi.json", poem::get(spec))
        // Outside the OpenAPI operations: the signature covers the raw body, which must reach
        // the handler untouched (see `webhook`).
        .at(
            "/webhooks/razorpay",
            poem::post(razorpay_webhook(app.clone(), options.razorpay_webhook_secret.clone())),
        )
        // The security scheme's checker reads the app from the request (see `auth`).
        .data(app)
        .around(move |ep, req| http::body_limit(ep, req, limits))
        .around(http::detach);
    let routes = match cors(&options.cors_origins) {
        Some(cors) => routes.with(cors).boxed(),
        None => routes.boxed(),
    };
    routes
        .with(CatchPanic::new())
        .around(move |ep, req| http::envelope(ep, req, allowed.clone()))
        .around(move |ep, req| http::observe(ep, req, labels.clone()))
        .map_to_response()
        .boxed()
}

fn razorpay_webhook(
    app: Ottsonly,
    secret: Option<crate::common::secret::Secret>,
) -> impl poem::Endpoint<Output = Response> {
    let hook = Arc::new(super::webhook::RazorpayWebhook { app, secret });
    poem::endpoint::make(move |req: poem::Request| {
        let hook = hook.clone();
        async move {
            let mut req = req;
            let body = req.take_body();
            hook.handle(&req, body).await
        }
    })
}

/// Metrics labels for every documented path (the spec is the one list of them).
fn route_labels(spec: &str) -> RouteLabels {
    let spec: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
    let paths = spec["paths"].as_object().map(|p| p.keys().cloned().collect::<Vec<_>>()).unwrap_or_default();
    RouteLabels::new(paths.iter().map(String::as_str))
}

fn cors(origins: &[String]) -> Option<Cors> {
    if origins.is_empty() {
        return None;
    }
    Some(
        Cors::new()
            .allow_origins(origins.iter().map(String::as_str))
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
            .allow_headers(["authorization", "content-type", "idempotency-key", "x-request-id"])
            .expose_headers(["x-request-id", "retry-after"])
            .max_age(600),
    )
}
