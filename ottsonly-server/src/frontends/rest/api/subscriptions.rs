use super::state::{ApiTags, State, page};
use crate::frontends::rest::auth::BearerAuth;
use crate::frontends::rest::dto::{
    CredentialsBody, ReasonRequest, Subscription, SubscriptionPage, SubscriptionStatus,
};
use crate::frontends::rest::error::{ApiResult, ok};
use ottsonly_core::model::SubscriptionFilter;
use ottsonly_core::{ProductId, SubscriptionId, UserId};
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;

pub struct SubscriptionsApi(pub State);

#[OpenApi(tag = "ApiTags::Subscriptions")]
impl SubscriptionsApi {
    /// The caller's subscriptions, newest first (user, admin).
    #[oai(path = "/subscriptions/my", method = "get", operation_id = "list_my_subscriptions")]
    async fn mine(
        &self,
        auth: BearerAuth,
        status: Query<Option<SubscriptionStatus>>,
        /// Items per page, 1 to 200 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<Option<u32>>,
        /// The `next_cursor` of the previous page.
        #[oai(validator(pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<SubscriptionPage>> {
        let subs = self.0.app.subscriptions();
        ok(subs.mine(&auth.0, status.0.map(Into::into), &page(limit.0, cursor.0)).await?.into())
    }

    /// All subscriptions, newest first (support, admin).
    #[oai(path = "/subscriptions", method = "get", operation_id = "list_subscriptions")]
    async fn list(
        &self,
        auth: BearerAuth,
        user_id: Query<Option<String>>,
        status: Query<Option<SubscriptionStatus>>,
        product_id: Query<Option<String>>,
        /// Items per page, 1 to 200 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<Option<u32>>,
        /// The `next_cursor` of the previous page.
        #[oai(validator(pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<SubscriptionPage>> {
        let filter = SubscriptionFilter {
            user_id: user_id.0.map(UserId::from_string),
            status: status.0.map(Into::into),
            product_id: product_id.0.map(ProductId::from_string),
        };
        ok(self.0.app.subscriptions().list(&auth.0, &filter, &page(limit.0, cursor.0)).await?.into())
    }

    /// One subscription: its owner, support and admins (404 for anyone else). `credentials`
    /// are shown to the owner and admins only, never to support.
    #[oai(path = "/subscriptions/:id", method = "get", operation_id = "get_subscription")]
    async fn get(&self, auth: BearerAuth, id: Path<String>) -> ApiResult<Json<Subscription>> {
        ok(self.0.app.subscriptions().get(&auth.0, &SubscriptionId::from_string(id.0)).await?.into())
    }

    /// Give a subscription its login (admin). A waiting subscription starts now.
    #[oai(
        path = "/subscriptions/:id/credentials",
        method = "put",
        operation_id = "assign_subscription_credentials"
    )]
    async fn assign(
        &self,
        auth: BearerAuth,
        id: Path<String>,
        body: Json<CredentialsBody>,
    ) -> ApiResult<Json<Subscription>> {
        let subs = self.0.app.subscriptions();
        ok(subs.assign_credentials(&auth.0, &SubscriptionId::from_string(id.0), body.0.into()).await?.into())
    }

    /// Cancel a waiting or active subscription (admin); no money moves. The body is optional.
    #[oai(path = "/subscriptions/:id/cancel", method = "post", operation_id = "cancel_subscription")]
    async fn cancel(
        &self,
        auth: BearerAuth,
        id: Path<String>,
        body: Json<Option<ReasonRequest>>,
    ) -> ApiResult<Json<Subscription>> {
        let reason = body.0.and_then(|b| b.reason);
        let subs = self.0.app.subscriptions();
        ok(subs
            .cancel(&auth.0, &SubscriptionId::from_string(id.0), reason.as_ref().map(|r| r.as_str()))
            .await?
            .into())
    }
}
