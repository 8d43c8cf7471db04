//! The detection provider: the workers' built-in pipeline (face detector, descriptor and
//! gallery). One row holds its settings and health; workers report a heartbeat and their
//! measured latency after each test and each frame sent on demand.
//!
//! Seed 004 also imagines an external HTTP provider. Vigil does not call one yet: a
//! configuration naming another endpoint is refused with a reason (422) rather than stored
//! and silently ignored.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use super::ProviderStatus;
use crate::db::schema::detection_provider;
use crate::error::{Error, Result};

/// The one endpoint the provider can have: the workers' own models.
pub const BUILTIN: &str = "builtin";
/// A provider answering slower than this is `degraded`.
pub const DEGRADED_AFTER_MS: u64 = 2000;
/// Weight of the newest latency in the running average.
const LATENCY_WEIGHT: f64 = 0.3;

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = detection_provider, check_for_backend(diesel::pg::Pg))]
#[serde(rename_all = "camelCase")]
pub struct Provider {
    pub provider_name: String,
    pub endpoint: String,
    pub enabled: bool,
    pub status: ProviderStatus,
    pub last_heartbeat: Option<DateTime<Utc>>,
    pub average_latency_ms: Option<i32>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

pub async fn get(conn: &mut AsyncPgConnection) -> Result<Provider> {
    Ok(detection_provider::table
        .find(1)
        .select(Provider::as_select())
        .first(conn)
        .await?)
}

/// What an administrator may change.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    pub provider_name: Option<String>,
    pub endpoint: Option<String>,
    pub enabled: Option<bool>,
    /// The version read; a provider changed since is a conflict.
    pub version: Option<i32>,
}

pub async fn update(conn: &mut AsyncPgConnection, c: Changes) -> Result<Provider> {
    if let Some(name) = &c.provider_name
        && (name.trim().is_empty() || name.chars().count() > 200)
    {
        return Err(Error::validation(
            "providerName",
            "providerName must be 1 to 200 characters",
        ));
    }
    if let Some(endpoint) = &c.endpoint
        && endpoint != BUILTIN
    {
        return Err(Error::validation(
            "endpoint",
            "only the built-in provider (endpoint \"builtin\": the workers' own models) is supported; external detection providers are not",
        ));
    }
    let current = get(conn).await?;
    if let Some(v) = c.version
        && v != current.version
    {
        return Err(Error::conflict(format!(
            "the provider was changed meanwhile (version {}, not {v}): read it again and retry",
            current.version
        )));
    }
    let updated = diesel::update(
        detection_provider::table
            .find(1)
            .filter(detection_provider::version.eq(current.version)),
    )
    .set((
        detection_provider::provider_name.eq(c
            .provider_name
            .map(|n| n.trim().to_string())
            .unwrap_or(current.provider_name)),
        detection_provider::enabled.eq(c.enabled.unwrap_or(current.enabled)),
        detection_provider::updated_at.eq(Utc::now()),
        detection_provider::version.eq(detection_provider::version + 1),
    ))
    .returning(Provider::as_returning())
    .get_result(conn)
    .await
    .optional()?;
    updated.ok_or_else(|| Error::conflict("the provider was changed meanwhile: read it again"))
}

/// The status a measured latency means.
pub fn status_for(latency_ms: u64) -> ProviderStatus {
    if latency_ms > DEGRADED_AFTER_MS {
        ProviderStatus::Degraded
    } else {
        ProviderStatus::Connected
    }
}

/// A worker reached the provider (or failed to: `None`).
pub async fn heartbeat(conn: &mut AsyncPgConnection, latency_ms: Option<u64>) -> Result<()> {
    let current = get(conn).await?;
    let (status, average) = match latency_ms {
        Some(ms) => {
            let average = match current.average_latency_ms {
                Some(a) => f64::from(a) * (1.0 - LATENCY_WEIGHT) + ms as f64 * LATENCY_WEIGHT,
                None => ms as f64,
            };
            (status_for(ms), Some(average.round() as i32))
        }
        None => (ProviderStatus::Offline, current.average_latency_ms),
    };
    diesel::update(detection_provider::table.find(1))
        .set((
            detection_provider::status.eq(status),
            detection_provider::average_latency_ms.eq(average),
            detection_provider::last_heartbeat
                .eq(latency_ms.map(|_| Utc::now()).or(current.last_heartbeat)),
        ))
        .execute(conn)
        .await?;
    Ok(())
}
