use super::state::{ApiTags, State};
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
        ok(HealthDetail { status: "ok".into(), integrations })
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
    #[oai(path = "/metrics", method = "get", operation_id = "metrics")]
    async fn metrics(&self) -> ApiResult<PlainText<String>> {
        Ok(PlainText(self.0.metrics.render()).into())
    }
}
