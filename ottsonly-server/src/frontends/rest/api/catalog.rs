use super::state::{ApiTags, State, page};
use crate::frontends::rest::auth::{BearerAuth, MaybeAuth};
use crate::frontends::rest::dto::{
    CredentialImport, CredentialImportResult, NewProduct, Product, ProductPage, ProductPatch, StockRequest,
};
use crate::frontends::rest::error::{ApiError, ApiResult, ok};
use crate::frontends::rest::responses::ProductCreated;
use ottsonly_core::ProductId;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;

pub struct CatalogApi(pub State);

#[OpenApi(tag = "ApiTags::Catalog")]
impl CatalogApi {
    /// Products on sale; no token needed. Admins may pass `include_inactive=true`.
    #[oai(path = "/products", method = "get", operation_id = "list_products")]
    async fn list(
        &self,
        auth: MaybeAuth,
        include_inactive: Query<Option<bool>>,
        /// Items per page, 1 to 200 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<Option<u32>>,
        /// The `next_cursor` of the previous page.
        #[oai(validator(pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<ProductPage>> {
        let include_inactive = include_inactive.0.unwrap_or(false);
        // Anonymous callers asking for more than the public list must authenticate first.
        if include_inactive && auth.actor().is_none() {
            return Err(ApiError::unauthenticated());
        }
        let p = self.0.app.catalog().list(auth.actor(), include_inactive, &page(limit.0, cursor.0)).await?;
        ok(p.into())
    }

    /// One product; inactive ones only for admins.
    #[oai(path = "/products/:id", method = "get", operation_id = "get_product")]
    async fn get(&self, auth: MaybeAuth, id: Path<String>) -> ApiResult<Json<Product>> {
        ok(self.0.app.catalog().get(auth.actor(), &ProductId::from_string(id.0)).await?.into())
    }

    /// Create a product (admin).
    #[oai(path = "/products", method = "post", operation_id = "create_product")]
    async fn create(&self, auth: BearerAuth, body: Json<NewProduct>) -> ApiResult<ProductCreated> {
        let p = self.0.app.catalog().create(&auth.0, body.0.into_core()?).await?;
        Ok(ProductCreated::Created(Json(p.into())).into())
    }

    /// Change a product (admin).
    #[oai(path = "/products/:id", method = "patch", operation_id = "update_product")]
    async fn update(
        &self,
        auth: BearerAuth,
        id: Path<String>,
        body: Json<ProductPatch>,
    ) -> ApiResult<Json<Product>> {
        let p =
            self.0.app.catalog().update(&auth.0, &ProductId::from_string(id.0), body.0.into_core()?).await?;
        ok(p.into())
    }

    /// Take a product off sale (admin). Existing subscriptions are untouched.
    #[oai(path = "/products/:id", method = "delete", operation_id = "deactivate_product")]
    async fn deactivate(&self, auth: BearerAuth, id: Path<String>) -> ApiResult<Json<Product>> {
        ok(self.0.app.catalog().deactivate(&auth.0, &ProductId::from_string(id.0)).await?.into())
    }

    /// Add or remove stock (admin).
    #[oai(path = "/products/:id/stock", method = "post", operation_id = "adjust_product_stock")]
    async fn stock(
        &self,
        auth: BearerAuth,
        id: Path<String>,
        body: Json<StockRequest>,
    ) -> ApiResult<Json<Product>> {
        let catalog = self.0.app.catalog();
        let p = catalog
            .adjust_stock(
                &auth.0,
                &ProductId::from_string(id.0),
                body.0.delta,
                body.0.reason.as_ref().map(|r| r.as_str()),
            )
            .await?;
        ok(p.into())
    }

    /// Add logins to the product's pool (admin); each adds one unit of stock. Bodies up to 2 MiB.
    #[oai(path = "/products/:id/credentials", method = "post", operation_id = "import_product_credentials")]
    async fn import(
        &self,
        auth: BearerAuth,
        id: Path<String>,
        body: Json<CredentialImport>,
    ) -> ApiResult<Json<CredentialImportResult>> {
        let creds: Vec<_> = body.0.credentials.into_iter().map(Into::into).collect();
        let imported = creds.len() as u64;
        let p =
            self.0.app.catalog().import_credentials(&auth.0, &ProductId::from_string(id.0), creds).await?;
        ok(CredentialImportResult { imported, product: p.into() })
    }
}
