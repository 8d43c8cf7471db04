//! Users and roles: the records and the queries over them.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use uuid::Uuid;

use crate::auth::{Permission, Permissions, password};
use crate::db::paginate::{PageRequest, Paged, Paginate};
use crate::db::schema::{roles, users};
use crate::db::text_enum::text_enum;
use crate::error::{Error, Result};

diesel::define_sql_function! {
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

pub const ADMIN_ROLE: &str = "ROLE-ADMIN";

text_enum! {
    /// A suspended account cannot log in or use its tokens.
    pub enum UserStatus {
        Active = "active",
        Suspended = "suspended",
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    #[serde(skip)]
    pub password_hash: Option<String>,
    pub role_id: String,
    pub status: UserStatus,
    pub last_active: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = roles, check_for_backend(diesel::pg::Pg))]
pub struct Role {
    pub id: String,
    pub name: String,
    pub permissions: Vec<String>,
    pub description: String,
    pub builtin: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Role {
    pub fn permissions(&self) -> Permissions {
        Permissions::new(self.permissions.clone())
    }
}

pub struct NewUser<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub password: Option<&'a str>,
    pub role_id: &'a str,
}

#[derive(Default)]
pub struct UserChanges {
    pub email: Option<String>,
    pub name: Option<String>,
    pub role_id: Option<String>,
    pub status: Option<UserStatus>,
}

#[derive(Default)]
pub struct UserFilter {
    pub role_id: Option<String>,
    pub status: Option<UserStatus>,
    pub search: Option<String>,
}

pub fn normalize_email(email: &str) -> Result<String> {
    let email = email.trim();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !email.chars().any(char::is_whitespace);
    if !valid {
        return Err(Error::validation("email", "is not a valid email address"));
    }
    Ok(email.to_lowercase())
}

fn validate_name(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.len() > 200 {
        return Err(Error::validation("name", "must be 1 to 200 characters"));
    }
    Ok(())
}

pub async fn find_role(conn: &mut AsyncPgConnection, role_id: &str) -> Result<Role> {
    roles::table
        .find(role_id)
        .select(Role::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| Error::not_found(format!("role {role_id} not found")))
}

pub async fn list_roles(conn: &mut AsyncPgConnection) -> Result<Vec<Role>> {
    Ok(roles::table
        .order(roles::id)
        .select(Role::as_select())
        .load(conn)
        .await?)
}

pub async fn find_user(conn: &mut AsyncPgConnection, id: Uuid) -> Result<User> {
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| Error::not_found("user not found"))
}

/// The user and their role in one query, as every authenticated request needs.
pub async fn find_user_with_role(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> Result<Option<(User, Role)>> {
    Ok(users::table
        .inner_join(roles::table)
        .filter(users::id.eq(id))
        .select((User::as_select(), Role::as_select()))
        .first(conn)
        .await
        .optional()?)
}

pub async fn find_user_by_email(conn: &mut AsyncPgConnection, email: &str) -> Result<Option<User>> {
    let email = email.trim().to_lowercase();
    Ok(users::table
        .filter(lower(users::email).eq(email))
        .select(User::as_select())
        .first(conn)
        .await
        .optional()?)
}

pub async fn create_user(conn: &mut AsyncPgConnection, new: NewUser<'_>) -> Result<User> {
    let email = normalize_email(new.email)?;
    validate_name(new.name)?;
    find_role(conn, new.role_id)
        .await
        .map_err(|_| Error::validation("roleId", format!("role {} does not exist", new.role_id)))?;
    let password_hash = match new.password {
        Some(p) => {
            password::validate_new_password(p)?;
            Some(password::hash(p).await?)
        }
        None => None,
    };
    diesel::insert_into(users::table)
        .values((
            users::id.eq(Uuid::now_v7()),
            users::email.eq(&email),
            users::name.eq(new.name.trim()),
            users::password_hash.eq(password_hash),
            users::role_id.eq(new.role_id),
        ))
        .returning(User::as_returning())
        .get_result(conn)
        .await
        .map_err(|e| match Error::from(e) {
            Error::Conflict(_) => {
                Error::conflict(format!("a user with email {email} already exists"))
            }
            other => other,
        })
}

pub async fn list_users(
    conn: &mut AsyncPgConnection,
    filter: &UserFilter,
    page: PageRequest,
) -> Result<Paged<User>> {
    let mut q = users::table.into_boxed();
    if let Some(role) = &filter.role_id {
        q = q.filter(users::role_id.eq(role.clone()));
    }
    if let Some(status) = filter.status {
        q = q.filter(users::status.eq(status));
    }
    if let Some(pattern) = filter
        .search
        .as_deref()
        .and_then(crate::db::contains_pattern)
    {
        q = q.filter(
            users::email
                .ilike(pattern.clone())
                .or(users::name.ilike(pattern)),
        );
    }
    q.order((users::created_at.asc(), users::id.asc()))
        .select(User::as_select())
        .paginate(page)
        .load_page(conn)
        .await
}

/// Counts active admins other than `except`, so the last admin cannot be removed or demoted.
async fn other_active_admins(conn: &mut AsyncPgConnection, except: Uuid) -> Result<i64> {
    Ok(users::table
        .filter(users::role_id.eq(ADMIN_ROLE))
        .filter(users::status.eq(UserStatus::Active))
        .filter(users::id.ne(except))
        .count()
        .get_result(conn)
        .await?)
}

/// The user, row-locked until the transaction ends (admin-count checks must not race).
async fn locked_user(conn: &mut AsyncPgConnection, id: Uuid) -> Result<User> {
    users::table
        .find(id)
        .for_update()
        .select(User::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| Error::not_found("user not found"))
}

pub async fn update_user(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    changes: UserChanges,
) -> Result<User> {
    if let Some(name) = &changes.name {
        validate_name(name)?;
    }
    let email = changes.email.as_deref().map(normalize_email).transpose()?;
    if let Some(role) = &changes.role_id {
        find_role(conn, role)
            .await
            .map_err(|_| Error::validation("roleId", format!("role {role} does not exist")))?;
    }
    conn.transaction(async |conn| {
        let current = locked_user(conn, id).await?;
        let loses_admin = current.role_id == ADMIN_ROLE
            && (changes.role_id.as_deref().is_some_and(|r| r != ADMIN_ROLE)
                || changes.status.is_some_and(|s| s != UserStatus::Active));
        if loses_admin && other_active_admins(conn, id).await? == 0 {
            return Err(Error::conflict(
                "the last active admin cannot be demoted or suspended",
            ));
        }
        let suspended = changes.status == Some(UserStatus::Suspended);
        let user = diesel::update(users::table.find(id))
            .set((
                users::email.eq(email.unwrap_or(current.email)),
                users::name.eq(changes
                    .name
                    .map(|n| n.trim().to_string())
                    .unwrap_or(current.name)),
                users::role_id.eq(changes.role_id.unwrap_or(current.role_id)),
                users::status.eq(changes.status.unwrap_or(current.status)),
                users::updated_at.eq(Utc::now()),
                users::version.eq(current.version + 1),
            ))
            .returning(User::as_returning())
            .get_result(conn)
            .await
            .map_err(Error::from)?;
        // A suspended account's sessions end now, not when their tokens expire.
        if suspended {
            crate::auth::refresh::revoke_all_for_user(conn, id).await?;
        }
        Ok(user)
    })
    .await
}

pub async fn delete_user(conn: &mut AsyncPgConnection, id: Uuid) -> Result<()> {
    conn.transaction(async |conn| {
        let user = locked_user(conn, id).await?;
        if user.role_id == ADMIN_ROLE && other_active_admins(conn, id).await? == 0 {
            return Err(Error::conflict("the last active admin cannot be deleted"));
        }
        diesel::delete(users::table.find(id)).execute(conn).await?;
        Ok(())
    })
    .await
}

/// Sets a new password and revokes every refresh token of the user.
/// Sets a password hashed by the caller (hashing takes tens of milliseconds: not while a
/// pooled connection waits) and revokes every session of the user.
pub async fn set_password_hash(conn: &mut AsyncPgConnection, id: Uuid, hash: String) -> Result<()> {
    let updated = diesel::update(users::table.find(id))
        .set((
            users::password_hash.eq(Some(hash)),
            users::updated_at.eq(Utc::now()),
            users::version.eq(users::version + 1),
        ))
        .execute(conn)
        .await?;
    if updated == 0 {
        return Err(Error::not_found("user not found"));
    }
    crate::auth::refresh::revoke_all_for_user(conn, id).await
}

pub async fn touch_last_active(conn: &mut AsyncPgConnection, id: Uuid) -> Result<()> {
    diesel::update(users::table.find(id))
        .set(users::last_active.eq(Some(Utc::now())))
        .execute(conn)
        .await?;
    Ok(())
}

/// Creates the first admin from configuration when the deployment has no admin yet. Returns
/// the admin created, if any. Never overwrites an existing account.
pub async fn bootstrap_admin(
    conn: &mut AsyncPgConnection,
    email: &str,
    password: &str,
    name: Option<&str>,
) -> Result<Option<User>> {
    let admins: i64 = users::table
        .filter(users::role_id.eq(ADMIN_ROLE))
        .count()
        .get_result(conn)
        .await?;
    if admins > 0 {
        return Ok(None);
    }
    if find_user_by_email(conn, email).await?.is_some() {
        return Err(Error::conflict(format!(
            "VIGIL_ADMIN_EMAIL {email} belongs to an existing non-admin user"
        )));
    }
    let user = create_user(
        conn,
        NewUser {
            email,
            name: name.unwrap_or("Administrator"),
            password: Some(password),
            role_id: ADMIN_ROLE,
        },
    )
    .await;
    match user {
        Ok(user) => Ok(Some(user)),
        // Another process bootstrapped the same admin at the same moment.
        Err(Error::Conflict(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Email addresses of the active users whose role names `permission` itself (or its resource
/// wildcard): the people whose job it is, e.g. reviewers for `searches:review`. The admin
/// wildcard `*` grants the right to act, not the mail.
pub async fn active_emails_with_permission(
    conn: &mut AsyncPgConnection,
    permission: Permission,
) -> Result<Vec<String>> {
    let named = [
        permission.as_str().to_string(),
        format!("{}:*", permission.resource()),
    ];
    Ok(users::table
        .inner_join(roles::table)
        .filter(roles::permissions.overlaps_with(named.to_vec()))
        .filter(users::status.eq(UserStatus::Active))
        .select(users::email)
        .load(conn)
        .await?)
}
