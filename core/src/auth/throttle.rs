//! Slowing down password guessing: failed logins are counted per account and per client
//! address in PostgreSQL (so every API replica sees them); past a threshold the key is locked
//! for a time that doubles with each further failure, up to a cap. A locked key is refused
//! with 429 and `Retry-After` before any password is hashed. Failures older than the window
//! are forgotten.

use std::time::Duration;

use chrono::Utc;
use diesel::prelude::*;
use diesel::sql_types::{Integer, Interval, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use sha2::{Digest, Sha256};

use crate::db::schema::login_throttle;
use crate::error::Result;

/// How many failures a key may have before it is locked, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub threshold: i32,
    /// The first lock; each further failure doubles it.
    pub first_lock: Duration,
    pub max_lock: Duration,
    /// Failures older than this no longer count.
    pub window: Duration,
}

impl Policy {
    /// The lock after `failures` failures in the window.
    pub fn lock_for(&self, failures: i32) -> Option<Duration> {
        if failures < self.threshold {
            return None;
        }
        let factor = 2u32.saturating_pow((failures - self.threshold).min(30) as u32);
        Some(self.first_lock.saturating_mul(factor).min(self.max_lock))
    }
}

/// A throttled key: an account (by a hash of its normalised email, so no attacker-chosen text
/// is stored) or a client address.
#[derive(Debug, Clone)]
pub struct Key(String);

impl Key {
    pub fn account(email: &str) -> Self {
        let normalised = email.trim().to_lowercase();
        Key(format!(
            "account:{}",
            hex::encode(Sha256::digest(normalised))
        ))
    }

    pub fn address(ip: std::net::IpAddr) -> Self {
        Key(format!("ip:{ip}"))
    }
}

/// How long until the first of `keys` that is locked opens, if any is.
pub async fn locked(conn: &mut AsyncPgConnection, keys: &[&Key]) -> Result<Option<Duration>> {
    let names: Vec<&str> = keys.iter().map(|k| k.0.as_str()).collect();
    let until: Option<Option<chrono::DateTime<Utc>>> = login_throttle::table
        .filter(login_throttle::key.eq_any(names))
        .filter(login_throttle::locked_until.gt(Utc::now()))
        .select(diesel::dsl::max(login_throttle::locked_until))
        .first(conn)
        .await
        .optional()?;
    Ok(until.flatten().and_then(|t| (t - Utc::now()).to_std().ok()))
}

#[derive(QueryableByName)]
struct Failures {
    #[diesel(sql_type = Integer)]
    failures: i32,
}

/// Counts a failure of `key`, locking it when the policy says so.
pub async fn failed(conn: &mut AsyncPgConnection, key: &Key, policy: &Policy) -> Result<()> {
    let window = diesel::data_types::PgInterval::from_microseconds(
        i64::try_from(policy.window.as_micros()).unwrap_or(i64::MAX),
    );
    let row: Failures = diesel::sql_query(
        "INSERT INTO login_throttle (key, failures, updated_at) VALUES ($1, 1, now())
         ON CONFLICT (key) DO UPDATE SET
             failures = CASE WHEN login_throttle.updated_at < now() - $2 THEN 1
                             ELSE login_throttle.failures + 1 END,
             updated_at = now()
         RETURNING failures",
    )
    .bind::<Text, _>(&key.0)
    .bind::<Interval, _>(window)
    .get_result(conn)
    .await?;
    if let Some(lock) = policy.lock_for(row.failures) {
        diesel::update(login_throttle::table.find(&key.0))
            .set(login_throttle::locked_until.eq(Some(Utc::now() + lock)))
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// A successful login forgets the account's failures.
pub async fn succeeded(conn: &mut AsyncPgConnection, key: &Key) -> Result<()> {
    diesel::delete(login_throttle::table.find(&key.0))
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes keys whose failures have aged out (retention).
pub async fn purge_stale(conn: &mut AsyncPgConnection, older_than: Duration) -> Result<usize> {
    let cutoff = Utc::now() - older_than;
    Ok(diesel::delete(
        login_throttle::table
            .filter(login_throttle::updated_at.lt(cutoff))
            .filter(
                login_throttle::locked_until
                    .is_null()
                    .or(login_throttle::locked_until.lt(Utc::now())),
            ),
    )
    .execute(conn)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_double_after_the_threshold_up_to_the_cap() {
        let p = Policy {
            threshold: 5,
            first_lock: Duration::from_secs(1),
            max_lock: Duration::from_secs(60),
            window: Duration::from_secs(900),
        };
        assert_eq!(p.lock_for(4), None);
        assert_eq!(p.lock_for(5), Some(Duration::from_secs(1)));
        assert_eq!(p.lock_for(6), Some(Duration::from_secs(2)));
        assert_eq!(p.lock_for(9), Some(Duration::from_secs(16)));
        assert_eq!(p.lock_for(40), Some(Duration::from_secs(60)));
    }

    #[test]
    fn account_keys_hide_the_email_and_ignore_case() {
        let a = Key::account(" Alice@Example.test ");
        assert_eq!(a.0, Key::account("alice@example.test").0);
        assert!(!a.0.contains("alice"));
    }
}
