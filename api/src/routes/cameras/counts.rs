//! Seed 000's camera endpoints beside seed 004's: connect by address, start/stop counting,
//! the counts per window, and the day's summary per camera.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;
use vigil_core::auth::Permission;
use vigil_core::cameras::counts::{self, CameraCount, CountFilter, DaySummary};
use vigil_core::cameras::{self, CameraDraft, StateChange, StreamType};

use super::CamerasApi;
use super::dto::CameraDto;
use crate::auth::BearerAuth;
use crate::envelope::{self, Envelope, Ok};
use crate::error::{ApiError, ApiResult};
use crate::middleware::note;
use crate::params::Paging;
use crate::routes::{Tag, conn};
use crate::state::ApiState;

/// Most windows `GET /cameras/{id}/counts` returns (a day of minutes).
const MAX_COUNTS: u32 = 1440;

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct CameraCountDto {
    pub id: Uuid,
    pub camera_id: String,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    /// When the window closed (seed 000's `timestamp`).
    pub timestamp: DateTime<Utc>,
    /// The most persons seen at once in the window.
    pub people_count: i32,
    pub average_count: f64,
    pub frames_processed: i32,
    /// Mean person-detector time per analysed frame.
    pub inference_time_ms: f64,
    /// The watcher did not see the whole window (it started, reconnected or stopped inside it).
    pub partial: bool,
}

impl From<CameraCount> for CameraCountDto {
    fn from(c: CameraCount) -> Self {
        Self {
            id: c.id,
            camera_id: c.camera_id,
            window_start: c.window_start,
            window_end: c.window_end,
            timestamp: c.window_end,
            people_count: c.people_count,
            average_count: (c.average_count * 100.0).round() / 100.0,
            frames_processed: c.frames_processed,
            inference_time_ms: (c.avg_inference_ms * 10.0).round() / 10.0,
            partial: c.partial,
        }
    }
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct SummaryDto {
    pub id: String,
    /// Persons counted today: the sum of each window's count.
    pub detections_today: i64,
    /// Unknown faces seen today (face recognition on cameras is not enabled yet: 0).
    pub unknown_faces: i64,
    /// Share of today's count windows in which the camera delivered video.
    pub uptime_percent: f64,
    pub peak_today: i32,
    pub people_now: Option<i32>,
}

impl From<DaySummary> for SummaryDto {
    fn from(s: DaySummary) -> Self {
        Self {
            id: s.camera_id,
            detections_today: s.detections_today,
            unknown_faces: 0,
            uptime_percent: s.uptime_percent,
            peak_today: s.peak_today,
            people_now: s.people_now,
        }
    }
}

/// `POST /camera/connect` (seed 000): a camera by address.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ConnectBody {
    /// The full stream URL; or give `ipAddress` (and `port`, `rtspPath`) for RTSP.
    pub stream_url: Option<String>,
    pub ip_address: Option<String>,
    /// Default 554.
    pub port: Option<u16>,
    /// Default `/`.
    pub rtsp_path: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub name: Option<String>,
    pub location: Option<String>,
}

#[derive(ApiResponse)]
pub enum Connected {
    /// A camera at this address existed: it is enabled and counting.
    #[oai(status = 200)]
    Reused(Json<Envelope<CameraDto>>),
    /// A new camera was registered and is counting.
    #[oai(status = 201)]
    Created(Json<Envelope<CameraDto>>),
}

pub struct CameraCountsApi {
    pub state: Arc<ApiState>,
    pub cameras: CamerasApi,
}

impl CameraCountsApi {
    pub fn new(state: Arc<ApiState>) -> Self {
        Self {
            cameras: CamerasApi {
                state: state.clone(),
            },
            state,
        }
    }

    async fn switch(&self, req: &Request, id: &str, enabled: bool) -> ApiResult<Ok<CameraDto>> {
        note(req, |n| n.resource_id = Some(id.to_string()));
        let mut conn = conn(&self.state).await?;
        let camera = cameras::set_state(
            &mut conn,
            id,
            StateChange {
                enabled: Some(enabled),
                maintenance: None,
            },
        )
        .await?;
        drop(conn);
        self.cameras.start_watchers().await;
        // Read again: starting names the new watcher.
        let camera = self.cameras.existing(&camera.id).await?;
        Ok(envelope::ok(self.cameras.dto(camera).await))
    }
}

#[OpenApi(prefix_path = "/api/v1", tag = "Tag::Cameras")]
impl CameraCountsApi {
    /// Register a camera by address, or reuse the one already at that address, and start
    /// counting on it (seed 000).
    #[oai(
        path = "/camera/connect",
        method = "post",
        operation_id = "cameras.connect"
    )]
    async fn connect(
        &self,
        req: &Request,
        auth: BearerAuth,
        body: Json<ConnectBody>,
    ) -> ApiResult<Connected> {
        auth.0.require(Permission::CamerasWrite)?;
        let b = body.0;
        let url = match (&b.stream_url, &b.ip_address) {
            (Some(url), _) => url.trim().to_string(),
            (None, Some(ip)) => {
                let path = b.rtsp_path.as_deref().unwrap_or("/").trim();
                let path = path.strip_prefix('/').unwrap_or(path);
                format!("rtsp://{}:{}/{path}", ip.trim(), b.port.unwrap_or(554))
            }
            (None, None) => {
                return Err(ApiError::validation(
                    "streamUrl",
                    "give streamUrl, or ipAddress for an RTSP camera",
                ));
            }
        };
        let stream_type = match url.split("://").next().unwrap_or_default() {
            "http" | "https" => StreamType::Http,
            "rtmp" | "rtmps" => StreamType::Rtmp,
            _ if url.starts_with("/dev/") => StreamType::Usb,
            _ => StreamType::Rtsp,
        };
        let draft = CameraDraft {
            name: b.name.clone().unwrap_or_default(),
            location: b.location.clone(),
            stream_type,
            stream_url: url,
            username: b.username.clone(),
            password: b.password.clone(),
            enabled: Some(true),
            ..CameraDraft::default()
        };
        let sealer = self.state.ctx.secrets.sealer();
        // Checked with a placeholder name first: the address decides the default name.
        let mut probe = draft.clone();
        probe.name = "-".into();
        let checked = probe
            .check(&self.state.egress, sealer, None)
            .map_err(CamerasApi::draft_error)?;
        let mut conn = conn(&self.state).await?;
        let existing =
            cameras::find_by_address(&mut conn, checked.ip_address.as_deref(), stream_type).await?;
        let (camera, created) = match existing {
            Some(camera) => {
                let camera = cameras::set_state(
                    &mut conn,
                    &camera.id,
                    StateChange {
                        enabled: Some(true),
                        maintenance: Some(false),
                    },
                )
                .await?;
                (camera, false)
            }
            None => {
                let mut draft = draft;
                if draft.name.trim().is_empty() {
                    draft.name = format!(
                        "Camera {}",
                        checked.ip_address.as_deref().unwrap_or("(local)")
                    );
                }
                let checked = draft
                    .check(&self.state.egress, sealer, None)
                    .map_err(CamerasApi::draft_error)?;
                (
                    cameras::create(&mut conn, &checked, Some(auth.0.user.id)).await?,
                    true,
                )
            }
        };
        drop(conn);
        note(req, |n| n.resource_id = Some(camera.id.clone()));
        self.cameras.start_watchers().await;
        let dto = envelope::ok(self.cameras.dto(camera).await);
        Ok(if created {
            Connected::Created(dto)
        } else {
            Connected::Reused(dto)
        })
    }

    /// Start counting: enables the camera; its watcher starts within seconds.
    #[oai(
        path = "/cameras/:id/start",
        method = "post",
        operation_id = "cameras.start"
    )]
    async fn start(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<String>,
    ) -> ApiResult<Ok<CameraDto>> {
        auth.0.require(Permission::CamerasWrite)?;
        self.switch(req, &id.0, true).await
    }

    /// Stop counting: disables the camera; its watcher stops within seconds.
    #[oai(
        path = "/cameras/:id/stop",
        method = "post",
        operation_id = "cameras.stop"
    )]
    async fn stop(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<String>,
    ) -> ApiResult<Ok<CameraDto>> {
        auth.0.require(Permission::CamerasWrite)?;
        self.switch(req, &id.0, false).await
    }

    /// Per camera: persons counted today, unknown faces, uptime percent, peak and latest count.
    #[oai(path = "/cameras/summary", method = "get")]
    async fn summary(&self, auth: BearerAuth) -> ApiResult<Ok<Vec<SummaryDto>>> {
        auth.0.require(Permission::CamerasRead)?;
        let mut conn = conn(&self.state).await?;
        let all = counts::day_summaries(
            &mut conn,
            self.state.ctx.config.camera_count_window_secs,
            Utc::now(),
        )
        .await?;
        Ok(envelope::ok(all.into_iter().map(Into::into).collect()))
    }

    /// The camera's latest count window.
    #[oai(path = "/cameras/:id/latest-count", method = "get")]
    async fn latest(&self, auth: BearerAuth, id: Path<String>) -> ApiResult<Ok<CameraCountDto>> {
        auth.0.require(Permission::CountsRead)?;
        let mut conn = conn(&self.state).await?;
        cameras::get(&mut conn, &id.0).await?;
        let latest = counts::recent(&mut conn, &id.0, 1).await?;
        latest
            .into_iter()
            .next()
            .map(|c| envelope::ok(c.into()))
            .ok_or_else(|| ApiError::not_found(format!("camera {} has no counts yet", id.0)))
    }

    /// The camera's most recent count windows, newest first (`limit`, default 60, at most
    /// 1440).
    #[oai(path = "/cameras/:id/counts", method = "get")]
    async fn camera_counts(
        &self,
        auth: BearerAuth,
        id: Path<String>,
        limit: Query<Option<u32>>,
    ) -> ApiResult<Ok<Vec<CameraCountDto>>> {
        auth.0.require(Permission::CountsRead)?;
        let limit = limit.0.unwrap_or(60);
        if limit == 0 || limit > MAX_COUNTS {
            return Err(ApiError::validation("limit", format!("1 to {MAX_COUNTS}")));
        }
        let mut conn = conn(&self.state).await?;
        cameras::get(&mut conn, &id.0).await?;
        let rows = counts::recent(&mut conn, &id.0, i64::from(limit)).await?;
        Ok(envelope::ok(rows.into_iter().map(Into::into).collect()))
    }

    /// Count windows of every camera (or `cameraId`), newest first, paginated.
    #[oai(path = "/camera-counts", method = "get")]
    async fn list(
        &self,
        auth: BearerAuth,
        #[oai(name = "cameraId")] camera_id: Query<Option<String>>,
        from: Query<Option<DateTime<Utc>>>,
        to: Query<Option<DateTime<Utc>>>,
        paging: Paging,
    ) -> ApiResult<Ok<Vec<CameraCountDto>>> {
        auth.0.require(Permission::CountsRead)?;
        let filter = CountFilter {
            camera_id: camera_id.0,
            from: from.0,
            to: to.0,
        };
        let mut conn = conn(&self.state).await?;
        let page = counts::list(&mut conn, &filter, paging.0).await?;
        Ok(envelope::page(page.map(Into::into)))
    }

    #[oai(path = "/camera-counts/:id", method = "get")]
    async fn get(&self, auth: BearerAuth, id: Path<Uuid>) -> ApiResult<Ok<CameraCountDto>> {
        auth.0.require(Permission::CountsRead)?;
        let mut conn = conn(&self.state).await?;
        Ok(envelope::ok(counts::get(&mut conn, id.0).await?.into()))
    }
}
