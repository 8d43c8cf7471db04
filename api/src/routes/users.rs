use std::sync::Arc;

use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::{Object, OpenApi, payload::Json};
use uuid::Uuid;
use vigil_core::auth::Permission;
use vigil_core::auth::password;
use vigil_core::users::{self, NewUser, UserChanges, UserFilter, UserStatus};

use super::{Tag, conn};
use crate::auth::BearerAuth;
use crate::envelope::{self, Created, NoContent, Ok};
use crate::error::{ApiError, ApiResult};
use crate::middleware::note;
use crate::params::Paging;
use crate::routes::auth::UserDto;
use crate::state::ApiState;

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct CreateUser {
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: String,
    #[oai(validator(min_length = 3, max_length = 254))]
    pub email: String,
    #[oai(validator(min_length = 1, max_length = 64))]
    pub role_id: String,
    /// Optional: an account without a password cannot log in until one is set.
    #[oai(validator(min_length = 8, max_length = 256))]
    pub password: Option<String>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct UpdateUser {
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: Option<String>,
    #[oai(validator(min_length = 3, max_length = 254))]
    pub email: Option<String>,
    #[oai(validator(min_length = 1, max_length = 64))]
    pub role_id: Option<String>,
    pub status: Option<UserStatus>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ChangePassword {
    #[oai(validator(min_length = 8, max_length = 256))]
    pub password: String,
    /// Required when changing one's own password.
    #[oai(validator(max_length = 256))]
    pub current_password: Option<String>,
}

pub struct UsersApi {
    pub state: Arc<ApiState>,
}

#[OpenApi(prefix_path = "/api/v1/users", tag = "Tag::Users")]
impl UsersApi {
    /// List users, filtered by role, status or a search over name and email.
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        auth: BearerAuth,
        role: Query<Option<String>>,
        status: Query<Option<UserStatus>>,
        search: Query<Option<String>>,
        paging: Paging,
    ) -> ApiResult<Ok<Vec<UserDto>>> {
        auth.0.require(Permission::UsersRead)?;
        let filter = UserFilter {
            role_id: role.0,
            status: status.0,
            search: search.0,
        };
        let mut conn = conn(&self.state).await?;
        let page = users::list_users(&mut conn, &filter, paging.0).await?;
        Ok(envelope::page(page.map(Into::into)))
    }

    /// Create a user.
    #[oai(path = "/", method = "post", operation_id = "users.create")]
    async fn create(
        &self,
        req: &Request,
        auth: BearerAuth,
        body: Json<CreateUser>,
    ) -> ApiResult<Created<UserDto>> {
        auth.0.require(Permission::UsersWrite)?;
        let mut conn = conn(&self.state).await?;
        let user = users::create_user(
            &mut conn,
            NewUser {
                email: &body.email,
                name: &body.name,
                password: body.password.as_deref(),
                role_id: &body.role_id,
            },
        )
        .await?;
        note(req, |n| {
            n.resource_id = Some(user.id.to_string());
            n.context = Some(serde_json::json!({ "email": user.email, "roleId": user.role_id }));
        });
        Ok(envelope::created(user.into()))
    }

    #[oai(path = "/:id", method = "get")]
    async fn get(&self, auth: BearerAuth, id: Path<Uuid>) -> ApiResult<Ok<UserDto>> {
        if auth.0.user.id != id.0 {
            auth.0.require(Permission::UsersRead)?;
        }
        let mut conn = conn(&self.state).await?;
        Ok(envelope::ok(
            users::find_user(&mut conn, id.0).await?.into(),
        ))
    }

    /// Update name, email, role or status.
    #[oai(path = "/:id", method = "put", operation_id = "users.update")]
    async fn update(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<Uuid>,
        body: Json<UpdateUser>,
    ) -> ApiResult<Ok<UserDto>> {
        auth.0.require(Permission::UsersWrite)?;
        let body = body.0;
        note(req, |n| {
            n.context = Some(serde_json::json!({
                "name": body.name, "email": body.email, "roleId": body.role_id, "status": body.status,
            }))
        });
        let mut conn = conn(&self.state).await?;
        let user = users::update_user(
            &mut conn,
            id.0,
            UserChanges {
                email: body.email,
                name: body.name,
                role_id: body.role_id,
                status: body.status,
            },
        )
        .await?;
        Ok(envelope::ok(user.into()))
    }

    #[oai(path = "/:id", method = "delete", operation_id = "users.delete")]
    async fn delete(&self, auth: BearerAuth, id: Path<Uuid>) -> ApiResult<NoContent> {
        auth.0.require(Permission::UsersWrite)?;
        if auth.0.user.id == id.0 {
            return Err(ApiError::conflict("you cannot delete your own account"));
        }
        let mut conn = conn(&self.state).await?;
        users::delete_user(&mut conn, id.0).await?;
        Ok(NoContent::NoContent)
    }

    /// Set a password: any other user's with `users:write`; one's own only with the current
    /// password (admins too: a stolen admin token must not take over the account). Every
    /// session of the user is revoked.
    #[oai(
        path = "/:id/password",
        method = "patch",
        operation_id = "users.password"
    )]
    async fn password(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        body: Json<ChangePassword>,
    ) -> ApiResult<NoContent> {
        let me = &auth.0;
        if me.user.id == id.0 {
            let current = body.current_password.as_deref().ok_or_else(|| {
                ApiError::validation("currentPassword", "is required to change your own password")
            })?;
            let stored = me
                .user
                .password_hash
                .as_deref()
                .unwrap_or(password::dummy_hash());
            if !password::verify(current, stored).await {
                return Err(ApiError::forbidden("current password is wrong"));
            }
        } else {
            me.require(Permission::UsersWrite)?;
        }
        password::validate_new_password(&body.password)?;
        let hash = password::hash(&body.password).await?;
        let mut conn = conn(&self.state).await?;
        users::set_password_hash(&mut conn, id.0, hash).await?;
        Ok(NoContent::NoContent)
    }
}
