//! Bearer-token authentication as a poem-openapi security scheme, and permission checks.

use std::sync::Arc;

use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;
use vigil_core::auth::{Permission, Permissions, tokens};
use vigil_core::users::{self, Role, User, UserStatus};

use crate::error::ApiError;
use crate::state::ApiState;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    pub role: Role,
    pub permissions: Permissions,
    /// When the access token expires (Unix seconds): long-lived responses (progress streams)
    /// end then, and the client reconnects with a fresh token.
    pub token_expires_at: i64,
}

impl Principal {
    /// 403 unless the caller's role grants `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.permissions.allows(permission) {
            Ok(())
        } else {
            Err(
                ApiError::forbidden(format!("missing permission {permission}"))
                    .with_details(serde_json::json!({ "required": permission })),
            )
        }
    }
}

/// JWT access token from `POST /auth/login`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "authenticate")]
pub struct BearerAuth(pub Principal);

async fn authenticate(req: &Request, bearer: Bearer) -> poem::Result<Principal> {
    let state = req.data::<Arc<ApiState>>().ok_or_else(ApiError::internal)?;
    let claims =
        tokens::verify_access_token(&state.ctx.secrets, &bearer.token).map_err(ApiError::from)?;
    let mut conn = state
        .ctx
        .db
        .get()
        .await
        .map_err(|e| ApiError::from(vigil_core::Error::from(e)))?;
    // Re-read the account on every request: suspension, deletion and role changes apply at once.
    let (user, role) = users::find_user_with_role(&mut conn, claims.sub)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| ApiError::unauthorized("account no longer exists"))?;
    if user.status != UserStatus::Active {
        return Err(ApiError::unauthorized("account is suspended").into());
    }
    let permissions = role.permissions();
    Ok(Principal {
        user,
        role,
        permissions,
        token_expires_at: claims.exp,
    })
}
