use super::{ApiTags, State, page};
use crate::frontends::rest::auth::BearerAuth;
use crate::frontends::rest::dto::{OutboxPage, OutboxStatus};
use crate::frontends::rest::error::{ApiResult, ok};
use ottsonly_core::{Error as CoreError, Role};
use poem_openapi::OpenApi;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;

pub struct AdminApi(pub State);

#[OpenApi(tag = "ApiTags::Admin")]
impl AdminApi {
    /// Admin alerts queued for delivery (Telegram), newest first (admin).
    #[oai(path = "/admin/outbox", method = "get", operation_id = "list_outbox")]
    async fn outbox(
        &self,
        auth: BearerAuth,
        status: Query<Option<OutboxStatus>>,
        limit: Query<Option<u32>>,
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<OutboxPage>> {
        // Core's outbox API is for the dispatcher and has no actor; admins only, checked here.
        if auth.0.role != Role::Admin {
            return Err(CoreError::Forbidden.into());
        }
        ok(self.0.app.outbox().list(status.0.map(Into::into), &page(limit.0, cursor.0)).await?.into())
    }
}
