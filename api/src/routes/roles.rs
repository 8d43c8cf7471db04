use std::sync::Arc;

use poem_openapi::OpenApi;
use poem_openapi::param::Path;
use vigil_core::auth::Permission;
use vigil_core::users;

use super::{Tag, conn};
use crate::auth::BearerAuth;
use crate::envelope::{self, Ok};
use crate::error::ApiResult;
use crate::routes::auth::RoleDto;
use crate::state::ApiState;

pub struct RolesApi {
    pub state: Arc<ApiState>,
}

#[OpenApi(prefix_path = "/api/v1/roles", tag = "Tag::Roles")]
impl RolesApi {
    /// Roles and their permission strings (`*` = everything, `resource:*` = every action).
    #[oai(path = "/", method = "get")]
    async fn list(&self, auth: BearerAuth) -> ApiResult<Ok<Vec<RoleDto>>> {
        auth.0.require(Permission::RolesRead)?;
        let mut conn = conn(&self.state).await?;
        let roles = users::list_roles(&mut conn).await?;
        Ok(envelope::ok(roles.into_iter().map(Into::into).collect()))
    }

    #[oai(path = "/:id", method = "get")]
    async fn get(&self, auth: BearerAuth, id: Path<String>) -> ApiResult<Ok<RoleDto>> {
        auth.0.require(Permission::RolesRead)?;
        let mut conn = conn(&self.state).await?;
        Ok(envelope::ok(
            users::find_role(&mut conn, &id.0).await?.into(),
        ))
    }
}
