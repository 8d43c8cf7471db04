use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::Request;
use poem_openapi::{Object, OpenApi, payload::Json};
use vigil_core::auth::{password, refresh, throttle, tokens};
use vigil_core::users::{self, Role, User, UserStatus};

use super::{Tag, conn};
use crate::auth::BearerAuth;
use crate::envelope::{self, NoContent, Ok};
use crate::error::{ApiError, ApiResult};
use crate::middleware::{ClientIp, note, user_agent};
use crate::state::ApiState;

#[derive(Debug, Object)]
pub struct LoginRequest {
    /// The account's email.
    #[oai(validator(min_length = 1, max_length = 254))]
    pub username: String,
    #[oai(validator(min_length = 1, max_length = 256))]
    pub password: String,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct UserDto {
    pub id: uuid::Uuid,
    pub name: String,
    pub email: String,
    pub role_id: String,
    pub status: UserStatus,
    pub last_active: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<User> for UserDto {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            name: u.name,
            email: u.email,
            role_id: u.role_id,
            status: u.status,
            last_active: u.last_active,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct LoginResponse {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub user: UserDto,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct RefreshRequest {
    #[oai(validator(min_length = 1, max_length = 512))]
    pub refresh_token: String,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: String,
    pub expires_in: u64,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct RoleDto {
    pub id: String,
    pub name: String,
    pub permissions: Vec<String>,
    pub description: String,
    pub builtin: bool,
}

impl From<Role> for RoleDto {
    fn from(r: Role) -> Self {
        Self {
            id: r.id,
            name: r.name,
            permissions: r.permissions,
            description: r.description,
            builtin: r.builtin,
        }
    }
}

#[derive(Debug, Object)]
pub struct Me {
    pub user: UserDto,
    pub role: RoleDto,
    pub permissions: Vec<String>,
}

pub struct AuthApi {
    pub state: Arc<ApiState>,
}

fn client_info(req: &Request) -> (Option<String>, Option<String>) {
    let ip = req
        .extensions()
        .get::<ClientIp>()
        .and_then(|c| c.0)
        .map(|i| i.to_string());
    (ip, user_agent(req))
}

impl AuthApi {
    fn access_token(&self, user: &User) -> ApiResult<String> {
        Ok(tokens::issue_access_token(
            &self.state.ctx.secrets,
            user.id,
            &user.email,
            &user.role_id,
            self.state.ctx.config.access_token_ttl(),
        )?)
    }
}

#[OpenApi(prefix_path = "/api/v1/auth", tag = "Tag::Auth")]
impl AuthApi {
    /// Log in with email and password. Repeated failures lock the account, and the client's
    /// address, for a while (429 with `Retry-After`). A wrong password, an unknown account and
    /// a suspended one get the same answer in the same time.
    #[oai(path = "/login", method = "post", operation_id = "auth.login")]
    async fn login(&self, req: &Request, body: Json<LoginRequest>) -> ApiResult<Ok<LoginResponse>> {
        let (account_policy, address_policy) = self.state.ctx.config.login_policies();
        let account = throttle::Key::account(&body.username);
        let address = req
            .extensions()
            .get::<ClientIp>()
            .and_then(|c| c.0)
            .map(throttle::Key::address);
        let keys: Vec<&throttle::Key> = std::iter::once(&account).chain(&address).collect();
        // The connection is not held while the password is hashed: a flood of logins must not
        // take the pool from every other request.
        let user = {
            let mut conn = conn(&self.state).await?;
            if let Some(wait) = throttle::locked(&mut conn, &keys).await? {
                return Err(ApiError::rate_limited(wait.as_secs().max(1)));
            }
            users::find_user_by_email(&mut conn, &body.username).await?
        };
        // Only an existing account names the row's actor: the log keeps no attacker-chosen
        // usernames.
        if let Some(u) = &user {
            note(req, |n| {
                n.actor = Some((Some(u.id), u.email.clone(), Some(u.role_id.clone())));
            });
        }
        let stored = user.as_ref().and_then(|u| u.password_hash.as_deref());
        // Verify against a dummy hash for unknown accounts so timing does not reveal them.
        let valid =
            password::verify(&body.password, stored.unwrap_or(password::dummy_hash())).await;
        let mut conn = conn(&self.state).await?;
        let user = match user {
            Some(user) if valid && stored.is_some() && user.status == UserStatus::Active => user,
            _ => {
                throttle::failed(&mut conn, &account, &account_policy).await?;
                if let Some(address) = &address {
                    throttle::failed(&mut conn, address, &address_policy).await?;
                }
                return Err(ApiError::unauthorized("invalid username or password"));
            }
        };
        throttle::succeeded(&mut conn, &account).await?;
        let (ip, agent) = client_info(req);
        let refresh_token = refresh::issue(
            &mut conn,
            user.id,
            self.state.ctx.config.refresh_lifetimes(),
            &refresh::ClientInfo {
                ip: ip.as_deref(),
                user_agent: agent.as_deref(),
            },
        )
        .await?;
        users::touch_last_active(&mut conn, user.id).await?;
        Ok(envelope::ok(LoginResponse {
            access_token: self.access_token(&user)?,
            refresh_token,
            token_type: "Bearer".into(),
            expires_in: self.state.ctx.config.access_token_ttl_secs,
            user: user.into(),
        }))
    }

    /// Exchange a refresh token for a new pair. Each refresh token works once; reusing one
    /// revokes the whole session.
    #[oai(path = "/refresh", method = "post", operation_id = "auth.refresh")]
    async fn refresh(&self, req: &Request, body: Json<RefreshRequest>) -> ApiResult<Ok<TokenPair>> {
        let mut conn = conn(&self.state).await?;
        let (ip, agent) = client_info(req);
        let (user_id, refresh_token) = refresh::rotate(
            &mut conn,
            &body.refresh_token,
            self.state.ctx.config.refresh_lifetimes(),
            &refresh::ClientInfo {
                ip: ip.as_deref(),
                user_agent: agent.as_deref(),
            },
        )
        .await?;
        let user = users::find_user(&mut conn, user_id)
            .await
            .map_err(|_| ApiError::unauthorized("account no longer exists"))?;
        note(req, |n| {
            n.actor = Some((
                Some(user.id),
                user.email.clone(),
                Some(user.role_id.clone()),
            ))
        });
        if user.status != UserStatus::Active {
            refresh::revoke(&mut conn, &refresh_token).await?;
            return Err(ApiError::forbidden("account is suspended"));
        }
        users::touch_last_active(&mut conn, user.id).await?;
        Ok(envelope::ok(TokenPair {
            access_token: self.access_token(&user)?,
            refresh_token,
            token_type: "Bearer".into(),
            expires_in: self.state.ctx.config.access_token_ttl_secs,
        }))
    }

    /// Revoke the session the refresh token belongs to.
    #[oai(path = "/logout", method = "post", operation_id = "auth.logout")]
    async fn logout(&self, body: Json<RefreshRequest>) -> ApiResult<NoContent> {
        let mut conn = conn(&self.state).await?;
        refresh::revoke(&mut conn, &body.refresh_token).await?;
        Ok(NoContent::NoContent)
    }

    /// The current user, their role and permissions.
    #[oai(path = "/me", method = "get")]
    async fn me(&self, auth: BearerAuth) -> ApiResult<Ok<Me>> {
        let p = auth.0;
        Ok(envelope::ok(Me {
            permissions: p.permissions.as_slice().to_vec(),
            user: p.user.into(),
            role: p.role.into(),
        }))
    }
}
