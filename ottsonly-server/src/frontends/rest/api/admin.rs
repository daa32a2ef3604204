use super::{ApiTags, State, page};
use crate::common::audit::{AuditQuery, list_audit};
use crate::frontends::rest::auth::BearerAuth;
use crate::frontends::rest::dto::{AuditPage, OutboxPage, OutboxStatus};
use crate::frontends::rest::error::{ApiResult, ok};
use ottsonly_core::{Error as CoreError, Role, UserId};
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

    /// The audit log of admin actions, newest first (admin). Every filter that is given must
    /// match exactly. A page may hold fewer than `limit` entries while `next_cursor` is set
    /// (when filtering by `target_type` or `action` over a long log): keep following it.
    #[oai(path = "/admin/audit", method = "get", operation_id = "list_audit")]
    // poem-openapi takes each query parameter as an argument of the operation.
    #[allow(clippy::too_many_arguments)]
    async fn audit(
        &self,
        auth: BearerAuth,
        /// Who acted: a user id, or `system` (the operator's command line).
        actor: Query<Option<String>>,
        /// `user`, `product`, `order`, `subscription`, `broadcast` or `topup`.
        target_type: Query<Option<String>>,
        target_id: Query<Option<String>>,
        /// e.g. `order.refund`, `wallet.adjust`, `user.set_role`.
        action: Query<Option<String>>,
        limit: Query<Option<u32>>,
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<AuditPage>> {
        let query = AuditQuery {
            actor_id: actor.0.map(UserId::from_string),
            target_type: target_type.0,
            target_id: target_id.0,
            action: action.0,
        };
        ok(list_audit(&self.0.app, &auth.0, &query, &page(limit.0, cursor.0)).await?.into())
    }
}
