//! Capture devices (seed 001): IoT cameras that send still photos for attendance. Each has an
//! API key, shown once when created or rotated and stored as its SHA-256, that may only
//! capture and heartbeat. Online/offline is derived from `last_seen`, which every capture and
//! heartbeat updates.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::db::paginate::{PageRequest, Paged, Paginate};
use crate::db::schema::devices;
use crate::db::text_enum::text_enum;
use crate::error::{Error, Result};

/// Every device key starts with this, so the API can tell a device key from a user's token
/// (and refuse it with 403 on routes devices may not use) without a lookup.
pub const KEY_PREFIX: &str = "vgd_";
/// Characters of a key kept in clear to tell keys apart (prefix included).
const SHOWN_CHARS: usize = 12;

text_enum! {
    /// Set by operators: an inactive device's key is refused.
    pub enum DeviceStatus {
        Active = "active",
        Inactive = "inactive",
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = devices, check_for_backend(diesel::pg::Pg))]
#[serde(rename_all = "camelCase")]
pub struct Device {
    pub id: Uuid,
    pub name: String,
    pub classroom_id: Option<String>,
    pub location: Option<String>,
    pub status: DeviceStatus,
    #[serde(skip)]
    pub key_hash: Option<String>,
    pub key_prefix: Option<String>,
    pub key_created_at: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
    pub last_ip: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Device {
    /// Seen within `offline_after`.
    pub fn online(&self, offline_after: Duration, now: DateTime<Utc>) -> bool {
        let window = chrono::Duration::from_std(offline_after).unwrap_or(chrono::Duration::MAX);
        self.last_seen.is_some_and(|seen| now - seen <= window)
    }
}

/// A new API key: the secret (shown once) and what is stored of it.
pub struct NewKey {
    pub secret: String,
    hash: String,
    prefix: String,
}

impl NewKey {
    fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let secret = format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
        Self {
            hash: hash_key(&secret),
            prefix: secret[..SHOWN_CHARS].to_string(),
            secret,
        }
    }
}

fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Whether a bearer token is a device key (by its form, not checked).
pub fn is_device_key(token: &str) -> bool {
    token.starts_with(KEY_PREFIX)
}

#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = devices)]
pub struct Details {
    pub name: Option<String>,
    pub classroom_id: Option<Option<String>>,
    pub location: Option<Option<String>>,
    pub status: Option<DeviceStatus>,
}

impl Details {
    fn normalized(self) -> Self {
        let t = |v: Option<Option<String>>| {
            v.map(|v| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()))
        };
        Self {
            name: self.name.map(|n| n.trim().to_string()),
            classroom_id: t(self.classroom_id),
            location: t(self.location),
            status: self.status,
        }
    }

    fn validate(&self) -> Result<()> {
        if let Some(name) = &self.name
            && (name.is_empty() || name.chars().count() > 200)
        {
            return Err(Error::validation(
                "name",
                "name must be 1 to 200 characters",
            ));
        }
        for (v, field) in [
            (&self.classroom_id, "classroomId"),
            (&self.location, "location"),
        ] {
            if let Some(Some(s)) = v
                && s.chars().count() > 200
            {
                return Err(Error::validation(
                    field,
                    format!("{field} must be at most 200 characters"),
                ));
            }
        }
        Ok(())
    }
}

/// Registers a device with a fresh key; returns the device and the key (shown once).
pub async fn create(
    conn: &mut AsyncPgConnection,
    details: Details,
    created_by: Option<Uuid>,
) -> Result<(Device, String)> {
    let details = details.normalized();
    details.validate()?;
    let name = details
        .name
        .clone()
        .ok_or_else(|| Error::validation("name", "name is required"))?;
    let key = NewKey::generate();
    let id = Uuid::now_v7();
    diesel::insert_into(devices::table)
        .values((
            devices::id.eq(id),
            devices::name.eq(&name),
            devices::classroom_id.eq(details.classroom_id.clone().flatten()),
            devices::location.eq(details.location.clone().flatten()),
            devices::status.eq(details.status.unwrap_or(DeviceStatus::Active)),
            devices::key_hash.eq(&key.hash),
            devices::key_prefix.eq(&key.prefix),
            devices::key_created_at.eq(Utc::now()),
            devices::created_by.eq(created_by),
        ))
        .execute(conn)
        .await?;
    Ok((get(conn, id).await?, key.secret))
}

pub async fn update(conn: &mut AsyncPgConnection, id: Uuid, details: Details) -> Result<Device> {
    let details = details.normalized();
    details.validate()?;
    let n = diesel::update(devices::table.find(id))
        .set((&details, devices::updated_at.eq(Utc::now())))
        .execute(conn)
        .await?;
    if n == 0 {
        return Err(Error::not_found("no such device"));
    }
    get(conn, id).await
}

pub async fn get(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Device> {
    devices::table
        .find(id)
        .select(Device::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| Error::not_found("no such device"))
}

pub async fn get_many(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> Result<Vec<Device>> {
    Ok(devices::table
        .filter(devices::id.eq_any(ids))
        .select(Device::as_select())
        .load(conn)
        .await?)
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub status: Option<DeviceStatus>,
    pub classroom_id: Option<String>,
    /// Case-insensitive substring of the name or location.
    pub search: Option<String>,
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &Filter,
    page: PageRequest,
) -> Result<Paged<Device>> {
    let mut q = devices::table.into_boxed();
    if let Some(status) = filter.status {
        q = q.filter(devices::status.eq(status));
    }
    if let Some(classroom) = filter.classroom_id.clone() {
        q = q.filter(devices::classroom_id.eq(classroom));
    }
    if let Some(pattern) = filter
        .search
        .as_deref()
        .and_then(crate::db::contains_pattern)
    {
        q = q.filter(
            devices::name
                .ilike(pattern.clone())
                .or(devices::location.ilike(pattern)),
        );
    }
    q.order((devices::created_at.desc(), devices::id.desc()))
        .select(Device::as_select())
        .paginate(page)
        .load_page(conn)
        .await
}

pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> Result<()> {
    let n = diesel::delete(devices::table.find(id))
        .execute(conn)
        .await?;
    if n == 0 {
        return Err(Error::not_found("no such device"));
    }
    Ok(())
}

/// Replaces the device's key: the old one stops working at once. Returns the new key.
pub async fn rotate_key(conn: &mut AsyncPgConnection, id: Uuid) -> Result<(Device, String)> {
    let key = NewKey::generate();
    let n = diesel::update(devices::table.find(id))
        .set((
            devices::key_hash.eq(&key.hash),
            devices::key_prefix.eq(&key.prefix),
            devices::key_created_at.eq(Utc::now()),
            devices::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    if n == 0 {
        return Err(Error::not_found("no such device"));
    }
    Ok((get(conn, id).await?, key.secret))
}

/// Removes the device's key: it can no longer capture until a new key is issued.
pub async fn revoke_key(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Device> {
    let n = diesel::update(devices::table.find(id))
        .set((
            devices::key_hash.eq(None::<String>),
            devices::key_prefix.eq(None::<String>),
            devices::key_created_at.eq(None::<DateTime<Utc>>),
            devices::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    if n == 0 {
        return Err(Error::not_found("no such device"));
    }
    get(conn, id).await
}

/// Why a device key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRefusal {
    /// No device has this key (never issued, rotated or revoked).
    Unknown,
    /// The device is set inactive.
    Inactive,
}

/// The device holding `key`, if it may use it; records the device as seen.
pub async fn authenticate(
    conn: &mut AsyncPgConnection,
    key: &str,
    ip: Option<&str>,
) -> Result<std::result::Result<Device, KeyRefusal>> {
    if !is_device_key(key) {
        return Ok(Err(KeyRefusal::Unknown));
    }
    let device: Option<Device> = diesel::update(devices::table)
        .filter(devices::key_hash.eq(hash_key(key)))
        .filter(devices::status.eq(DeviceStatus::Active))
        .set((devices::last_seen.eq(Utc::now()), devices::last_ip.eq(ip)))
        .returning(Device::as_returning())
        .get_result(conn)
        .await
        .optional()?;
    if let Some(device) = device {
        return Ok(Ok(device));
    }
    let inactive: i64 = devices::table
        .filter(devices::key_hash.eq(hash_key(key)))
        .count()
        .get_result(conn)
        .await?;
    Ok(Err(if inactive > 0 {
        KeyRefusal::Inactive
    } else {
        KeyRefusal::Unknown
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_prefixed_and_stored_hashed() {
        let a = NewKey::generate();
        let b = NewKey::generate();
        assert_ne!(a.secret, b.secret);
        assert!(is_device_key(&a.secret));
        assert_eq!(a.secret.len(), KEY_PREFIX.len() + 43);
        assert!(a.secret.starts_with(&a.prefix));
        assert_eq!(a.hash, hash_key(&a.secret));
        assert!(!a.hash.contains(&a.secret[KEY_PREFIX.len()..]));
    }

    #[test]
    fn online_is_derived_from_last_seen() {
        let now = Utc::now();
        let mut d = Device {
            id: Uuid::nil(),
            name: "d".into(),
            classroom_id: None,
            location: None,
            status: DeviceStatus::Active,
            key_hash: None,
            key_prefix: None,
            key_created_at: None,
            last_seen: None,
            last_ip: None,
            created_by: None,
            created_at: now,
            updated_at: now,
        };
        let window = Duration::from_secs(120);
        assert!(!d.online(window, now));
        d.last_seen = Some(now - chrono::Duration::seconds(119));
        assert!(d.online(window, now));
        d.last_seen = Some(now - chrono::Duration::seconds(121));
        assert!(!d.online(window, now));
    }
}
