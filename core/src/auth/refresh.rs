//! Rotating refresh tokens. A token is 32 random bytes (base64url); only its SHA-256 is stored,
//! which is enough for a high-entropy secret and keeps lookups indexable.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::db::schema::refresh_tokens;
use crate::error::{Error, Result};

pub struct ClientInfo<'a> {
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = refresh_tokens, check_for_backend(diesel::pg::Pg))]
struct StoredToken {
    id: Uuid,
    user_id: Uuid,
    family_id: Uuid,
    expires_at: DateTime<Utc>,
    rotated_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
    family_expires_at: DateTime<Utc>,
}

/// How long tokens live: each token `ttl` after it is issued, and a session (a family of
/// rotated tokens) no longer than `session` after the login, however often it is refreshed.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub ttl: std::time::Duration,
    pub session: std::time::Duration,
}

fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

async fn insert(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    family_id: Uuid,
    ttl: std::time::Duration,
    family_expires_at: DateTime<Utc>,
    client: &ClientInfo<'_>,
) -> Result<String> {
    let token = new_token();
    let expires_at = (Utc::now() + ttl).min(family_expires_at);
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::id.eq(Uuid::now_v7()),
            refresh_tokens::user_id.eq(user_id),
            refresh_tokens::family_id.eq(family_id),
            refresh_tokens::token_hash.eq(hash_token(&token)),
            refresh_tokens::expires_at.eq(expires_at),
            refresh_tokens::family_expires_at.eq(family_expires_at),
            refresh_tokens::ip_address.eq(client.ip),
            refresh_tokens::user_agent.eq(client.user_agent),
        ))
        .execute(conn)
        .await?;
    Ok(token)
}

/// Starts a new token family (a login).
pub async fn issue(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    lifetimes: Lifetimes,
    client: &ClientInfo<'_>,
) -> Result<String> {
    let family_expires_at = Utc::now() + lifetimes.session;
    insert(
        conn,
        user_id,
        Uuid::now_v7(),
        lifetimes.ttl,
        family_expires_at,
        client,
    )
    .await
}

/// Exchanges a refresh token for a new one in the same family and returns the user id.
/// Presenting a token that was already rotated or revoked revokes its whole family: either
/// the client misbehaves or someone else holds a copy.
pub async fn rotate(
    conn: &mut AsyncPgConnection,
    token: &str,
    lifetimes: Lifetimes,
    client: &ClientInfo<'_>,
) -> Result<(Uuid, String)> {
    let hash = hash_token(token);
    let outcome = conn
        .transaction(async |conn| {
            let stored = refresh_tokens::table
                .filter(refresh_tokens::token_hash.eq(&hash))
                .for_update()
                .select(StoredToken::as_select())
                .first(conn)
                .await
                .optional()?;
            let Some(stored) = stored else {
                return Ok::<_, Error>(Err("invalid refresh token"));
            };
            if stored.rotated_at.is_some() || stored.revoked_at.is_some() {
                revoke_family(conn, stored.family_id).await?;
                return Ok(Err("refresh token reuse detected; the session was revoked"));
            }
            if stored.expires_at <= Utc::now() || stored.family_expires_at <= Utc::now() {
                return Ok(Err("refresh token expired"));
            }
            diesel::update(refresh_tokens::table.find(stored.id))
                .set(refresh_tokens::rotated_at.eq(Some(Utc::now())))
                .execute(conn)
                .await?;
            let next = insert(
                conn,
                stored.user_id,
                stored.family_id,
                lifetimes.ttl,
                stored.family_expires_at,
                client,
            )
            .await?;
            Ok(Ok((stored.user_id, next)))
        })
        .await?;
    // The family revocation above must commit, so the rejection is reported after the
    // transaction instead of rolling it back with an error.
    outcome.map_err(|msg| Error::Unauthorized(msg.into()))
}

/// Logout: revokes the family of the given token. Unknown tokens are ignored so logout is
/// idempotent.
pub async fn revoke(conn: &mut AsyncPgConnection, token: &str) -> Result<()> {
    let family: Option<Uuid> = refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(hash_token(token)))
        .select(refresh_tokens::family_id)
        .first(conn)
        .await
        .optional()?;
    if let Some(family) = family {
        revoke_family(conn, family).await?;
    }
    Ok(())
}

async fn revoke_family(conn: &mut AsyncPgConnection, family_id: Uuid) -> Result<()> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(Some(Utc::now())))
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn revoke_all_for_user(conn: &mut AsyncPgConnection, user_id: Uuid) -> Result<()> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::user_id.eq(user_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(Some(Utc::now())))
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes tokens that expired more than `older_than` ago (retention).
pub async fn purge_expired(
    conn: &mut AsyncPgConnection,
    older_than: chrono::Duration,
) -> Result<usize> {
    Ok(diesel::delete(
        refresh_tokens::table.filter(refresh_tokens::expires_at.lt(Utc::now() - older_than)),
    )
    .execute(conn)
    .await?)
}
