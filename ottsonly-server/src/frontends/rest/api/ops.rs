use super::state::{ApiTags, State};
use crate::common::metrics::REVENUE_METRICS;
use crate::common::secret::Environment;
use crate::frontends::rest::dto::Health;
use crate::frontends::rest::error::{ApiError, ApiResult, ok};
use crate::frontends::rest::health::{HealthDetail, Integrations};
use poem::http::StatusCode;
use poem_openapi::OpenApi;
use poem_openapi::payload::{Json, PlainText};

pub struct OpsApi(pub State);

#[OpenApi(tag = "ApiTags::Operations")]
impl OpsApi {
    /// Liveness: the process answers, and what its integrations do.
    ///
    /// `integrations.telegram_alerts` is `off` when admin alerts stay queued in the outbox;
    /// `integrations.otp_sms` says how one-time codes are delivered.
    #[oai(path = "/health", method = "get", operation_id = "health")]
    async fn health(&self, req: &poem::Request) -> ApiResult<Json<HealthDetail>> {
        let integrations = req.data::<Integrations>().map(Integrations::health);
        let environment = match self.0.environment {
            Environment::Dev => "dev",
            Environment::Production => "production",
        };
        ok(HealthDetail {
            status: "ok".into(),
            environment: environment.into(),
            dev_secrets: self.0.dev_secrets.clone(),
            integrations,
        })
    }

    /// Readiness: the database answers (503 `not_ready` otherwise).
    #[oai(path = "/ready", method = "get", operation_id = "ready")]
    async fn ready(&self) -> ApiResult<Json<Health>> {
        match self.0.app.store().ping().await {
            Ok(()) => ok(Health { status: "ready".into() }),
            Err(e) => {
                tracing::warn!(error = %crate::common::error_chain(&e), "readiness check failed");
                Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "not_ready",
                    "the database does not answer",
                ))
            }
        }
    }

    /// Prometheus metrics (text exposition format).
    ///
    /// With `OTTSONLY_METRICS_TOKEN` set, 401 `unauthenticated` unless `Authorization: Bearer
    /// <token>`; without it the metrics are public and leave out the revenue counters.
    #[oai(path = "/metrics", method = "get", operation_id = "metrics")]
    async fn metrics(&self, req: &poem::Request) -> ApiResult<PlainText<String>> {
        let text = self.0.metrics.render();
        let Some(token) = &self.0.metrics_token else {
            return Ok(PlainText(without_revenue(&text)).into());
        };
        let given = req
            .headers()
            .get(poem::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !ottsonly_core::crypto::ct_eq(given.trim(), token.expose()) {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "the metrics need `Authorization: Bearer <OTTSONLY_METRICS_TOKEN>`",
            ));
        }
        Ok(PlainText(text).into())
    }
}

/// The exposition without the revenue counters (their samples and `# HELP` / `# TYPE` lines).
fn without_revenue(text: &str) -> String {
    let revenue = |line: &str| {
        let name = line.strip_prefix("# HELP ").or_else(|| line.strip_prefix("# TYPE ")).unwrap_or(line);
        REVENUE_METRICS
            .iter()
            .any(|m| name.strip_prefix(m).is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '{'])))
    };
    let mut out: String = text.lines().filter(|l| !revenue(l)).collect::<Vec<_>>().join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    out
}
