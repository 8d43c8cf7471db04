//! Bearer-token authentication as a poem-openapi security scheme, and permission checks.

use std::sync::Arc;

use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;
use vigil_core::auth::{Permission, Permissions, tokens};
use vigil_core::devices::{self, Device, KeyRefusal};
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
    if devices::is_device_key(&bearer.token) {
        // A device key is a valid credential for the wrong thing: 403, not 401.
        return Err(
            ApiError::forbidden("a device key may only capture and send heartbeats").into(),
        );
    }
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

/// A capture device's API key (`vgd_…`, from `POST /devices`), sent as a bearer token. It is
/// accepted only by `POST /capture` and `POST /devices/heartbeat`; user tokens are not.
#[derive(SecurityScheme)]
#[oai(
    rename = "DeviceKey",
    ty = "bearer",
    bearer_format = "device key",
    checker = "authenticate_device"
)]
pub struct DeviceAuth(pub Device);

async fn authenticate_device(req: &Request, bearer: Bearer) -> poem::Result<Device> {
    let state = req.data::<Arc<ApiState>>().ok_or_else(ApiError::internal)?;
    if !devices::is_device_key(&bearer.token) {
        return Err(ApiError::forbidden("this route takes a device key, not a user token").into());
    }
    let ip = req
        .extensions()
        .get::<crate::middleware::ClientIp>()
        .and_then(|c| c.0)
        .map(|ip| ip.to_string());
    let mut conn = state
        .ctx
        .db
        .get()
        .await
        .map_err(|e| ApiError::from(vigil_core::Error::from(e)))?;
    match devices::authenticate(&mut conn, &bearer.token, ip.as_deref())
        .await
        .map_err(ApiError::from)?
    {
        Ok(device) => {
            crate::middleware::note(req, |n| {
                n.actor = Some((None, format!("device:{}", device.id), Some("device".into())));
            });
            Ok(device)
        }
        Err(KeyRefusal::Unknown) => {
            Err(ApiError::unauthorized("unknown or revoked device key").into())
        }
        Err(KeyRefusal::Inactive) => Err(ApiError::forbidden("this device is inactive").into()),
    }
}
