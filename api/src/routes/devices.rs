//! `/devices`: capture devices (seed 001) and their API keys, and the devices' heartbeat.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;
use vigil_core::auth::Permission;
use vigil_core::devices::{self, Details, Device, DeviceStatus, Filter};

use super::Tag;
use crate::auth::{BearerAuth, DeviceAuth};
use crate::envelope::{self, Created, NoContent, Ok};
use crate::error::ApiResult;
use crate::middleware::note;
use crate::params::{Choice, Paging};
use crate::state::ApiState;

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct DeviceDto {
    pub id: Uuid,
    pub name: String,
    pub classroom_id: Option<String>,
    pub location: Option<String>,
    /// Set by operators: `inactive` devices are refused.
    pub status: DeviceStatus,
    /// Seen (capture or heartbeat) within `VIGIL_DEVICE_OFFLINE_SECS`.
    pub online: bool,
    /// `online` or `offline`, as seed 001's dashboard shows it.
    pub connection: String,
    pub last_seen: Option<DateTime<Utc>>,
    /// The first characters of the current key (`null` when it was revoked).
    pub key_prefix: Option<String>,
    pub key_created_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl DeviceDto {
    pub fn new(d: Device, state: &ApiState) -> Self {
        let online = d.online(state.ctx.config.device_offline_after(), Utc::now());
        Self {
            id: d.id,
            name: d.name,
            classroom_id: d.classroom_id,
            location: d.location,
            status: d.status,
            online,
            connection: if online { "online" } else { "offline" }.into(),
            last_seen: d.last_seen,
            key_prefix: d.key_prefix,
            key_created_at: d.key_created_at,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

/// A device with its new API key. The key is shown only in this response: store it on the
/// device; Vigil keeps only its hash.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct DeviceWithKey {
    #[oai(flatten)]
    pub device: DeviceDto,
    /// Send as `Authorization: Bearer <apiKey>` to `POST /capture` and
    /// `POST /devices/heartbeat`.
    pub api_key: String,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct CreateDevice {
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: String,
    pub classroom_id: Option<String>,
    pub location: Option<String>,
    pub status: Option<Choice<DeviceStatus>>,
}

/// Fields to change; absent fields stay, `null` clears.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct UpdateDevice {
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: Option<String>,
    pub classroom_id: MaybeUndefined<String>,
    pub location: MaybeUndefined<String>,
    pub status: Option<Choice<DeviceStatus>>,
}

fn change<T>(v: MaybeUndefined<T>) -> Option<Option<T>> {
    match v {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

/// What a device learns from its heartbeat.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct HeartbeatDto {
    pub device_id: Uuid,
    pub name: String,
    pub classroom_id: Option<String>,
    pub status: DeviceStatus,
    /// The server's clock, for devices without a reliable one.
    pub server_time: DateTime<Utc>,
}

pub struct DevicesApi {
    pub state: Arc<ApiState>,
}

#[OpenApi(prefix_path = "/api/v1/devices", tag = "Tag::Attendance")]
impl DevicesApi {
    /// Capture devices, filtered by status, classroom or a search over name and location.
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        auth: BearerAuth,
        status: Query<Option<Choice<DeviceStatus>>>,
        #[oai(name = "classroomId")] classroom_id: Query<Option<String>>,
        search: Query<Option<String>>,
        paging: Paging,
    ) -> ApiResult<Ok<Vec<DeviceDto>>> {
        auth.0.require(Permission::DevicesRead)?;
        let filter = Filter {
            status: status.0.map(|s| s.get("status")).transpose()?,
            classroom_id: classroom_id.0,
            search: search.0,
        };
        let mut conn = super::conn(&self.state).await?;
        let page = devices::list(&mut conn, &filter, paging.0).await?;
        Ok(envelope::page(page.map(|d| DeviceDto::new(d, &self.state))))
    }

    /// Register a device. The answer holds its API key, shown this once.
    #[oai(path = "/", method = "post", operation_id = "devices.create")]
    async fn create(
        &self,
        req: &Request,
        auth: BearerAuth,
        body: Json<CreateDevice>,
    ) -> ApiResult<Created<DeviceWithKey>> {
        auth.0.require(Permission::DevicesWrite)?;
        let b = body.0;
        let details = Details {
            name: Some(b.name),
            classroom_id: Some(b.classroom_id),
            location: Some(b.location),
            status: b.status.map(|s| s.get("status")).transpose()?,
        };
        let mut conn = super::conn(&self.state).await?;
        let (device, key) = devices::create(&mut conn, details, Some(auth.0.user.id)).await?;
        note(req, |n| {
            n.resource_id = Some(device.id.to_string());
            n.context = Some(serde_json::json!({ "keyPrefix": device.key_prefix }));
        });
        Ok(envelope::created(DeviceWithKey {
            device: DeviceDto::new(device, &self.state),
            api_key: key,
        }))
    }

    /// A device's last contact: sent by the device itself with its key. Captures count as
    /// contact too.
    #[oai(
        path = "/heartbeat",
        method = "post",
        operation_id = "devices.heartbeat"
    )]
    async fn heartbeat(&self, device: DeviceAuth) -> ApiResult<Ok<HeartbeatDto>> {
        let d = device.0;
        Ok(envelope::ok(HeartbeatDto {
            device_id: d.id,
            name: d.name,
            classroom_id: d.classroom_id,
            status: d.status,
            server_time: Utc::now(),
        }))
    }

    #[oai(path = "/:id", method = "get")]
    async fn get(&self, auth: BearerAuth, id: Path<Uuid>) -> ApiResult<Ok<DeviceDto>> {
        auth.0.require(Permission::DevicesRead)?;
        let mut conn = super::conn(&self.state).await?;
        let device = devices::get(&mut conn, id.0).await?;
        Ok(envelope::ok(DeviceDto::new(device, &self.state)))
    }

    #[oai(path = "/:id", method = "put", operation_id = "devices.update")]
    async fn update(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        body: Json<UpdateDevice>,
    ) -> ApiResult<Ok<DeviceDto>> {
        auth.0.require(Permission::DevicesWrite)?;
        let b = body.0;
        let details = Details {
            name: b.name,
            classroom_id: change(b.classroom_id),
            location: change(b.location),
            status: b.status.map(|s| s.get("status")).transpose()?,
        };
        let mut conn = super::conn(&self.state).await?;
        let device = devices::update(&mut conn, id.0, details).await?;
        Ok(envelope::ok(DeviceDto::new(device, &self.state)))
    }

    /// Remove a device; its key stops working. Its captures are kept as evidence.
    #[oai(path = "/:id", method = "delete", operation_id = "devices.delete")]
    async fn delete(&self, auth: BearerAuth, id: Path<Uuid>) -> ApiResult<NoContent> {
        auth.0.require(Permission::DevicesWrite)?;
        let mut conn = super::conn(&self.state).await?;
        devices::delete(&mut conn, id.0).await?;
        Ok(NoContent::NoContent)
    }

    /// Issue a new key; the old one stops working at once. The new key is shown this once.
    #[oai(
        path = "/:id/key",
        method = "post",
        operation_id = "devices.key.rotate"
    )]
    async fn rotate_key(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Created<DeviceWithKey>> {
        auth.0.require(Permission::DevicesWrite)?;
        let mut conn = super::conn(&self.state).await?;
        let (device, key) = devices::rotate_key(&mut conn, id.0).await?;
        note(req, |n| {
            n.context = Some(serde_json::json!({ "keyPrefix": device.key_prefix }));
        });
        Ok(envelope::created(DeviceWithKey {
            device: DeviceDto::new(device, &self.state),
            api_key: key,
        }))
    }

    /// Revoke the device's key: it cannot capture until a new key is issued.
    #[oai(
        path = "/:id/key",
        method = "delete",
        operation_id = "devices.key.revoke"
    )]
    async fn revoke_key(&self, auth: BearerAuth, id: Path<Uuid>) -> ApiResult<Ok<DeviceDto>> {
        auth.0.require(Permission::DevicesWrite)?;
        let mut conn = super::conn(&self.state).await?;
        let device = devices::revoke_key(&mut conn, id.0).await?;
        Ok(envelope::ok(DeviceDto::new(device, &self.state)))
    }
}
