use super::state::{ApiTags, State, page};
use crate::frontends::rest::auth::BearerAuth;
use crate::frontends::rest::dto::{Broadcast, BroadcastRequest, MarkedRead, NotificationPage, UnreadCount};
use crate::frontends::rest::error::{ApiResult, ok};
use crate::frontends::rest::responses::NoContent;
use ottsonly_core::NotificationId;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;

pub struct NotificationsApi(pub State);

#[OpenApi(tag = "ApiTags::Notifications")]
impl NotificationsApi {
    /// The caller's notifications and the broadcasts addressed to them, newest first.
    #[oai(path = "/notifications", method = "get", operation_id = "list_notifications")]
    async fn list(
        &self,
        auth: BearerAuth,
        unread_only: Query<Option<bool>>,
        /// Items per page, 1 to 200 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<Option<u32>>,
        /// The `next_cursor` of the previous page.
        #[oai(validator(pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<NotificationPage>> {
        let n = self.0.app.notifications();
        ok(n.list(&auth.0, unread_only.0.unwrap_or(false), &page(limit.0, cursor.0)).await?.into())
    }

    /// How many are unread.
    #[oai(path = "/notifications/unread-count", method = "get", operation_id = "count_unread_notifications")]
    async fn unread_count(&self, auth: BearerAuth) -> ApiResult<Json<UnreadCount>> {
        ok(UnreadCount { unread: self.0.app.notifications().unread_count(&auth.0).await? })
    }

    /// Mark one read; another user's is 404.
    #[oai(path = "/notifications/:id/read", method = "post", operation_id = "mark_notification_read")]
    async fn mark_read(&self, auth: BearerAuth, id: Path<String>) -> ApiResult<NoContent> {
        self.0.app.notifications().mark_read(&auth.0, &NotificationId::from_string(id.0)).await?;
        Ok(NoContent::Done.into())
    }

    /// Mark all read.
    #[oai(path = "/notifications/read-all", method = "post", operation_id = "mark_all_notifications_read")]
    async fn mark_all_read(&self, auth: BearerAuth) -> ApiResult<Json<MarkedRead>> {
        ok(MarkedRead { marked: self.0.app.notifications().mark_all_read(&auth.0).await? })
    }

    /// Delete one (a broadcast is hidden for the caller only); another user's is 404.
    #[oai(path = "/notifications/:id", method = "delete", operation_id = "delete_notification")]
    async fn delete(&self, auth: BearerAuth, id: Path<String>) -> ApiResult<NoContent> {
        self.0.app.notifications().delete(&auth.0, &NotificationId::from_string(id.0)).await?;
        Ok(NoContent::Done.into())
    }

    /// Send a message to everyone or to every user of a role (admin).
    #[oai(path = "/notifications/bulk", method = "post", operation_id = "broadcast_notification")]
    async fn bulk(&self, auth: BearerAuth, body: Json<BroadcastRequest>) -> ApiResult<Json<Broadcast>> {
        let b = body.0;
        ok(self
            .0
            .app
            .notifications()
            .broadcast(&auth.0, b.audience.into(), &b.title, &b.message)
            .await?
            .into())
    }
}
