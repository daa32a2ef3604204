use super::state::{ApiTags, State, page};
use crate::common::metrics;
use crate::frontends::rest::auth::BearerAuth;
use crate::frontends::rest::dto::{NewOrder, Order, OrderPage, OrderStatus, Refund, RefundRequest};
use crate::frontends::rest::error::{ApiResult, ok};
use crate::frontends::rest::responses::PurchaseResponse;
use ottsonly_core::model::OrderFilter;
use ottsonly_core::{OrderId, ProductId, UserId};
use poem_openapi::OpenApi;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;

pub struct OrdersApi(pub State);

#[OpenApi(tag = "ApiTags::Orders")]
impl OrdersApi {
    /// Buy one unit of a product from the wallet (user, admin).
    ///
    /// With an `Idempotency-Key`, a retry answers 200 with the first purchase and charges
    /// nothing; the same key for another product is 409 `idempotency_key_reused`.
    #[oai(path = "/orders", method = "post", operation_id = "create_order")]
    async fn create(
        &self,
        auth: BearerAuth,
        /// 1 to 128 visible ASCII characters.
        #[oai(name = "Idempotency-Key", validator(pattern = r"^[!-~]{1,128}$"))]
        idempotency_key: Header<Option<String>>,
        body: Json<NewOrder>,
    ) -> ApiResult<PurchaseResponse> {
        let product = ProductId::from_string(body.0.product_id);
        let p = self.0.app.orders().purchase(&auth.0, &product, idempotency_key.0.as_deref()).await?;
        if p.replayed {
            return Ok(PurchaseResponse::Replayed(Json(p.into())).into());
        }
        metrics::record_purchase(p.order.amount.paise());
        Ok(PurchaseResponse::Created(Json(p.into())).into())
    }

    /// The caller's orders, newest first (user, admin).
    #[oai(path = "/orders/my", method = "get", operation_id = "list_my_orders")]
    async fn mine(
        &self,
        auth: BearerAuth,
        /// Items per page, 1 to 200 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<Option<u32>>,
        /// The `next_cursor` of the previous page.
        #[oai(validator(pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<OrderPage>> {
        ok(self.0.app.orders().mine(&auth.0, &page(limit.0, cursor.0)).await?.into())
    }

    /// All orders, newest first (support, admin).
    #[oai(path = "/orders", method = "get", operation_id = "list_orders")]
    async fn list(
        &self,
        auth: BearerAuth,
        user_id: Query<Option<String>>,
        status: Query<Option<OrderStatus>>,
        /// Items per page, 1 to 200 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<Option<u32>>,
        /// The `next_cursor` of the previous page.
        #[oai(validator(pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<OrderPage>> {
        let filter = OrderFilter {
            user_id: user_id.0.map(UserId::from_string),
            status: status.0.map(Into::into),
            ..Default::default()
        };
        ok(self.0.app.orders().list(&auth.0, &filter, &page(limit.0, cursor.0)).await?.into())
    }

    /// One order: its owner, support and admins; 404 for anyone else.
    #[oai(path = "/orders/:id", method = "get", operation_id = "get_order")]
    async fn get(&self, auth: BearerAuth, id: Path<String>) -> ApiResult<Json<Order>> {
        ok(self.0.app.orders().get(&auth.0, &OrderId::from_string(id.0)).await?.into())
    }

    /// Refund an order in full to the wallet (admin); once only.
    #[oai(path = "/orders/:id/refund", method = "post", operation_id = "refund_order")]
    async fn refund(
        &self,
        auth: BearerAuth,
        id: Path<String>,
        body: Json<RefundRequest>,
    ) -> ApiResult<Json<Refund>> {
        let r = self
            .0
            .app
            .orders()
            .refund(&auth.0, &OrderId::from_string(id.0), &body.0.reason, body.0.restock)
            .await?;
        metrics::record_refund();
        ok(r.into())
    }
}
