//! The detection provider: by default the workers' built-in pipeline (face detector,
//! descriptor and gallery); or, as seed 004 allows, an external HTTP service that frames sent
//! on demand and provider tests go to (docs/attendance.md "External provider" has the
//! contract). One row holds its settings and health; workers report a heartbeat and their
//! measured latency after each test and each frame sent on demand.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use super::ProviderStatus;
use crate::auth::sealed::Sealer;
use crate::db::schema::detection_provider;
use crate::error::{Error, Result};

/// The endpoint that names the workers' own models.
pub const BUILTIN: &str = "builtin";
/// Sealing context of the provider's API key.
const KEY_CONTEXT: &str = "detection-provider-key";
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
    /// Sealed; never serialised.
    #[serde(skip)]
    pub api_key: Option<String>,
}

impl Provider {
    /// The workers' own models, not an external service.
    pub fn is_builtin(&self) -> bool {
        self.endpoint == BUILTIN
    }

    /// The external provider's API key, opened.
    pub fn api_key(&self, sealer: &Sealer) -> Result<Option<String>> {
        self.api_key
            .as_deref()
            .map(|k| {
                let bytes = sealer.open(k, KEY_CONTEXT)?;
                String::from_utf8(bytes)
                    .map_err(|_| Error::Internal(anyhow::anyhow!("the provider key is not text")))
            })
            .transpose()
    }
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
    /// `builtin`, or an `http(s)://` URL that passed the egress precheck.
    pub endpoint: Option<String>,
    /// A new API key for an external provider; `Some("")` removes it.
    pub api_key: Option<String>,
    pub enabled: Option<bool>,
    /// The version read; a provider changed since is a conflict.
    pub version: Option<i32>,
}

pub async fn update(conn: &mut AsyncPgConnection, sealer: &Sealer, c: Changes) -> Result<Provider> {
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
        && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
    {
        return Err(Error::validation(
            "endpoint",
            "endpoint must be \"builtin\" (the workers' own models) or an http(s) URL of an external provider",
        ));
    }
    let current = get(conn).await?;
    let endpoint = c.endpoint.clone().unwrap_or(current.endpoint.clone());
    let moved = endpoint != current.endpoint;
    // A key belongs to an external provider: switching to the built-in one drops it.
    let api_key = if endpoint == BUILTIN {
        if c.api_key.as_deref().is_some_and(|k| !k.is_empty()) {
            return Err(Error::validation(
                "apiKey",
                "the built-in provider takes no API key",
            ));
        }
        None
    } else {
        match c.api_key.as_deref() {
            Some("") => None,
            Some(key) => Some(sealer.seal(key.as_bytes(), KEY_CONTEXT)),
            None => current.api_key.clone(),
        }
    };
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
        detection_provider::endpoint.eq(&endpoint),
        detection_provider::api_key.eq(api_key),
        // Health measured of another provider says nothing about this one.
        detection_provider::status.eq(if moved {
            ProviderStatus::Offline
        } else {
            current.status
        }),
        detection_provider::average_latency_ms.eq(current.average_latency_ms.filter(|_| !moved)),
        detection_provider::last_heartbeat.eq(current.last_heartbeat.filter(|_| !moved)),
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
