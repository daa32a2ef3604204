use super::state::{ApiTags, State, page};
use crate::frontends::rest::auth::{BearerAuth, MeAuth};
use crate::frontends::rest::dto::{
    LedgerPage, ProfilePatch, ReasonRequest, Role, RoleRequest, User, UserPage,
};
use crate::frontends::rest::error::{ApiResult, ok};
use ottsonly_core::UserId;
use ottsonly_core::users::ProfilePatch as CorePatch;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;

pub struct UsersApi(pub State);

#[OpenApi(tag = "ApiTags::Users")]
impl UsersApi {
    /// The caller's profile.
    #[oai(path = "/users/me", method = "get", operation_id = "get_me")]
    async fn me(&self, auth: MeAuth) -> ApiResult<Json<User>> {
        ok(auth.0.into())
    }

    /// Change the caller's name or email; an empty string clears a field.
    #[oai(path = "/users/me", method = "patch", operation_id = "update_me")]
    async fn update_me(&self, auth: BearerAuth, body: Json<ProfilePatch>) -> ApiResult<Json<User>> {
        let patch = CorePatch { name: body.0.name.map(String::from), email: body.0.email.map(String::from) };
        ok(self.0.app.users().update_profile(&auth.0, patch).await?.into())
    }

    /// Search users (support, admin). `phone` may be the start of a number.
    ///
    /// Support staff get no `wallet_balance_paise`.
    #[oai(path = "/users", method = "get", operation_id = "list_users")]
    async fn list(
        &self,
        auth: BearerAuth,
        /// The start of a number: up to 15 digits, optionally after `+` (else `+91` is assumed).
        #[oai(validator(pattern = r"^(\+?[0-9]{1,15})?$"))]
        phone: Query<Option<String>>,
        role: Query<Option<Role>>,
        /// Items per page, 1 to 200 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<Option<u32>>,
        /// The `next_cursor` of the previous page.
        #[oai(validator(pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<UserPage>> {
        let users = self.0.app.users();
        let p =
            users.list(&auth.0, phone.0.as_deref(), role.0.map(Into::into), &page(limit.0, cursor.0)).await?;
        let items = p.items.into_iter().map(|u| User::for_staff(u, &auth.0)).collect();
        ok(UserPage { items, next_cursor: p.next_cursor })
    }

    /// One user (support, admin).
    ///
    /// Support staff get no `wallet_balance_paise`.
    #[oai(path = "/users/:id", method = "get", operation_id = "get_user")]
    async fn get(&self, auth: BearerAuth, id: Path<String>) -> ApiResult<Json<User>> {
        ok(User::for_staff(self.0.app.users().get(&auth.0, &UserId::from_string(id.0)).await?, &auth.0))
    }

    /// Change a user's role (admin; not your own).
    #[oai(path = "/users/:id/role", method = "put", operation_id = "set_user_role")]
    async fn set_role(
        &self,
        auth: BearerAuth,
        id: Path<String>,
        body: Json<RoleRequest>,
    ) -> ApiResult<Json<User>> {
        let u = self.0.app.users().set_role(&auth.0, &UserId::from_string(id.0), body.0.role.into()).await?;
        ok(u.into())
    }

    /// Block a user (admin): their tokens stop working at once. The body is optional.
    #[oai(path = "/users/:id/block", method = "post", operation_id = "block_user")]
    async fn block(
        &self,
        auth: BearerAuth,
        id: Path<String>,
        body: Json<Option<ReasonRequest>>,
    ) -> ApiResult<Json<User>> {
        let reason = body.0.and_then(|b| b.reason);
        let u = self
            .0
            .app
            .users()
            .block(&auth.0, &UserId::from_string(id.0), reason.as_ref().map(|r| r.as_str()))
            .await?;
        ok(u.into())
    }

    /// Unblock a user (admin).
    #[oai(path = "/users/:id/unblock", method = "post", operation_id = "unblock_user")]
    async fn unblock(&self, auth: BearerAuth, id: Path<String>) -> ApiResult<Json<User>> {
        ok(self.0.app.users().unblock(&auth.0, &UserId::from_string(id.0)).await?.into())
    }

    /// A user's wallet ledger, newest first (admin).
    #[oai(path = "/users/:id/transactions", method = "get", operation_id = "list_user_transactions")]
    async fn transactions(
        &self,
        auth: BearerAuth,
        id: Path<String>,
        /// Items per page, 1 to 200 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<Option<u32>>,
        /// The `next_cursor` of the previous page.
        #[oai(validator(pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<LedgerPage>> {
        let wallet = self.0.app.wallet();
        let p =
            wallet.user_transactions(&auth.0, &UserId::from_string(id.0), &page(limit.0, cursor.0)).await?;
        ok(p.into())
    }
}
