//! `/searches`: start missing-person searches, follow them, read and export what they found,
//! control them. Handlers are thin: checks, submission, control and the read model live in
//! `vigil_core::searches`; `dto` turns the read model into responses.

pub mod dto;

use std::sync::Arc;

use poem::Request;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use uuid::Uuid;
use vigil_core::auth::Permission;
use vigil_core::db::{PageRequest, Paged};
use vigil_core::exports::{ExportFormat, ExportRequest, ExportSource};
use vigil_core::jobs::{JobStatus, NewJob};
use vigil_core::searches::control::{self, Control};
use vigil_core::searches::face_tracks::{self, ReviewStatus, SightingFilter};
use vigil_core::searches::request::SearchRequest;
use vigil_core::searches::results::{self, DetectionFilter};
use vigil_core::searches::{self, read};
use vigil_core::storage::orphans;

use super::Tag;
use super::jobs::{Accepted, submit};
use crate::auth::BearerAuth;
use crate::envelope::{self, Envelope, NoContent, Ok};
use crate::error::ApiResult;
use crate::middleware::note;
use crate::params::{Choice, Paging};
use crate::state::ApiState;
use dto::{
    AppearanceDto, CreateSearch, DetectionDto, DetectionSummaryDto, SearchDto, SearchStatusDto,
    SearchSummaryDto, SearchVideoDto, SightingDto, SightingReview, VideoSummaryDto,
};

#[derive(ApiResponse)]
pub enum SearchAccepted {
    /// Queued; poll `/api/v1/searches/{id}/status`.
    #[oai(status = 202)]
    Accepted(
        Json<Envelope<SearchDto>>,
        #[oai(header = "Location")] String,
    ),
}

/// Appearances per video a summary lists (with thumbnail links): the response stays bounded
/// however much a search finds.
pub const SUMMARY_APPEARANCES_PER_VIDEO: i64 = 50;

pub struct SearchesApi {
    pub state: Arc<ApiState>,
}

impl SearchesApi {
    async fn search(&self, id: Uuid) -> ApiResult<searches::Search> {
        let mut conn = super::conn(&self.state).await?;
        Ok(searches::get(&mut conn, id).await?)
    }

    async fn view(&self, search: searches::Search) -> ApiResult<SearchDto> {
        let mut conn = super::conn(&self.state).await?;
        Ok(read::view(&mut conn, search).await?.into())
    }

    async fn thumbnail_url(&self, key: Option<&str>) -> Option<String> {
        let key = key.filter(|k| !k.is_empty())?;
        let ttl = self.state.ctx.config.download_url_ttl();
        self.state.ctx.storage.download_url(key, ttl).await.ok()
    }

    async fn detection_page(
        &self,
        id: Uuid,
        filter: DetectionFilter,
        paging: Paging,
    ) -> ApiResult<Ok<Vec<DetectionDto>>> {
        let mut conn = super::conn(&self.state).await?;
        searches::get(&mut conn, id).await?;
        let page = results::list_detections(&mut conn, id, &filter, paging.0).await?;
        drop(conn);
        let mut items = Vec::with_capacity(page.items.len());
        for d in &page.items {
            items.push(self.thumbnail_url(d.frame_key.as_deref()).await);
        }
        let mut urls = items.into_iter();
        Ok(envelope::page(
            page.map(|d| DetectionDto::new(d, urls.next().flatten())),
        ))
    }

    async fn control(
        &self,
        auth: BearerAuth,
        id: Uuid,
        control: Control,
    ) -> ApiResult<Ok<SearchDto>> {
        let search = self.search(id).await?;
        control::authorize(&search, auth.0.user.id, &auth.0.permissions)?;
        let mut conn = super::conn(&self.state).await?;
        control.apply(&mut conn, &search).await?;
        drop(conn);
        // Re-read: the job's new status is mirrored onto the search.
        Ok(envelope::ok(self.view(self.search(id).await?).await?))
    }
}

#[OpenApi(prefix_path = "/api/v1/searches", tag = "Tag::Search")]
impl SearchesApi {
    /// Start a search for missing persons in recorded videos and live streams. It runs as a
    /// parent job with one child per video segment (any worker takes them) and per live
    /// stream. Honours `Idempotency-Key`.
    #[oai(path = "/", method = "post", operation_id = "searches.create")]
    async fn create(
        &self,
        req: &Request,
        auth: BearerAuth,
        #[oai(name = "Idempotency-Key")] key: Header<Option<String>>,
        body: Json<CreateSearch>,
    ) -> ApiResult<SearchAccepted> {
        auth.0.require(Permission::SearchesWrite)?;
        let b = body.0;
        let request = SearchRequest {
            name: b.name,
            persons: b.missing_person_ids,
            videos: b.video_ids,
            settings: b.settings.unwrap_or_default().resolve()?,
            notify: b.notify,
        };
        let checked = request.check(&self.state.ctx).await?;
        let (search, _job, _) = checked
            .submit(&self.state.ctx, auth.0.user.id, key.0)
            .await?;
        note(req, |n| n.resource_id = Some(search.id.to_string()));
        let location = format!("/api/v1/searches/{}", search.id);
        Ok(SearchAccepted::Accepted(
            envelope::ok(self.view(search).await?),
            location,
        ))
    }

    /// List searches, newest first, filtered by status or creator.
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        auth: BearerAuth,
        status: Query<Option<Choice<JobStatus>>>,
        #[oai(name = "createdBy")] created_by: Query<Option<Uuid>>,
        paging: Paging,
    ) -> ApiResult<Ok<Vec<SearchDto>>> {
        auth.0.require(Permission::SearchesRead)?;
        let filter = searches::Filter {
            status: status
                .0
                .map(|s| s.get("status"))
                .transpose()?
                .into_iter()
                .collect(),
            created_by: created_by.0,
        };
        let mut conn = super::conn(&self.state).await?;
        let Paged { items, total, page } = searches::list(&mut conn, &filter, paging.0).await?;
        let items = read::views(&mut conn, items).await?;
        Ok(envelope::page(Paged {
            items: items.into_iter().map(SearchDto::from).collect(),
            total,
            page,
        }))
    }

    #[oai(path = "/:id", method = "get")]
    async fn get(&self, auth: BearerAuth, id: Path<Uuid>) -> ApiResult<Ok<SearchDto>> {
        auth.0.require(Permission::SearchesRead)?;
        let search = self.search(id.0).await?;
        Ok(envelope::ok(self.view(search).await?))
    }

    /// Progress: overall and per video (percent, frames processed, ETA), hits so far.
    #[oai(path = "/:id/status", method = "get")]
    async fn status(&self, auth: BearerAuth, id: Path<Uuid>) -> ApiResult<Ok<SearchStatusDto>> {
        auth.0.require(Permission::SearchesRead)?;
        let search = self.search(id.0).await?;
        let mut conn = super::conn(&self.state).await?;
        let lines = read::video_lines(&mut conn, &search).await?;
        let view = read::view(&mut conn, search).await?;
        Ok(envelope::ok(SearchStatusDto::new(
            view.into(),
            lines.into_iter().map(Into::into).collect(),
        )))
    }

    /// The search's videos and streams with their progress.
    #[oai(path = "/:id/videos", method = "get")]
    async fn videos(&self, auth: BearerAuth, id: Path<Uuid>) -> ApiResult<Ok<Vec<SearchVideoDto>>> {
        auth.0.require(Permission::SearchesRead)?;
        let search = self.search(id.0).await?;
        let mut conn = super::conn(&self.state).await?;
        let lines = read::video_lines(&mut conn, &search).await?;
        Ok(envelope::ok(lines.into_iter().map(Into::into).collect()))
    }

    /// Matching frames, in video and time order. By default only frames that are part of an
    /// appearance; `includeUnconfirmed=true` adds lone or weak matches.
    #[allow(clippy::too_many_arguments)]
    #[oai(path = "/:id/detections", method = "get")]
    async fn detections(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        #[oai(name = "videoId")] video_id: Query<Option<Uuid>>,
        #[oai(name = "missingPersonId")] person_id: Query<Option<Uuid>>,
        #[oai(name = "minScore")] min_score: Query<Option<f32>>,
        #[oai(name = "fromSecs")] from_secs: Query<Option<f64>>,
        #[oai(name = "toSecs")] to_secs: Query<Option<f64>>,
        #[oai(name = "includeUnconfirmed")] unconfirmed: Query<Option<bool>>,
        paging: Paging,
    ) -> ApiResult<Ok<Vec<DetectionDto>>> {
        auth.0.require(Permission::SearchesRead)?;
        let filter = DetectionFilter {
            video: video_id.0,
            person: person_id.0,
            min_score: min_score.0,
            from_secs: from_secs.0,
            to_secs: to_secs.0,
            include_unconfirmed: unconfirmed.0.unwrap_or(false),
        };
        self.detection_page(id.0, filter, paging).await
    }

    /// Per video and person: confirmed detections, appearances, first/last seen, best score.
    #[oai(path = "/:id/detections/summary", method = "get")]
    async fn detection_summary(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Ok<Vec<DetectionSummaryDto>>> {
        auth.0.require(Permission::SearchesRead)?;
        let mut conn = super::conn(&self.state).await?;
        searches::get(&mut conn, id.0).await?;
        let rows = results::detection_summary(&mut conn, id.0).await?;
        Ok(envelope::ok(rows.into_iter().map(Into::into).collect()))
    }

    /// Thumbnails of matching frames (the detections that have one), paginated.
    #[oai(path = "/:id/detections/frames", method = "get")]
    async fn frames(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        #[oai(name = "videoId")] video_id: Query<Option<Uuid>>,
        #[oai(name = "minScore")] min_score: Query<Option<f32>>,
        paging: Paging,
    ) -> ApiResult<Ok<Vec<DetectionDto>>> {
        auth.0.require(Permission::SearchesRead)?;
        let filter = DetectionFilter {
            video: video_id.0,
            min_score: min_score.0,
            ..Default::default()
        };
        self.detection_page(id.0, filter, paging).await
    }

    /// The result: appearances per video (first/last seen, best frame's thumbnail and score),
    /// the first 50 of each video in time order with the total; the export has them all.
    #[oai(path = "/:id/summary", method = "get")]
    async fn summary(&self, auth: BearerAuth, id: Path<Uuid>) -> ApiResult<Ok<SearchSummaryDto>> {
        auth.0.require(Permission::SearchesRead)?;
        let search = self.search(id.0).await?;
        let mut conn = super::conn(&self.state).await?;
        let lines = read::video_lines(&mut conn, &search).await?;
        let findings =
            read::first_findings(&mut conn, &search, SUMMARY_APPEARANCES_PER_VIDEO).await?;
        let status = read::view(&mut conn, search.clone()).await?.status();
        drop(conn);
        let total = lines.iter().map(|l| l.appearances).sum();
        let mut videos: Vec<VideoSummaryDto> = lines
            .into_iter()
            .map(|l| VideoSummaryDto {
                video_id: l.video_id,
                title: l.title,
                status: l.state.status,
                error: l.state.error,
                appearances: Vec::new(),
                appearances_total: l.appearances,
            })
            .collect();
        for a in findings.appearances {
            let thumbnail = self.thumbnail_url(Some(&a.thumbnail_key)).await;
            let title = findings
                .titles
                .get(&a.video_id)
                .cloned()
                .unwrap_or_default();
            let name = findings
                .names
                .get(&a.missing_person_id)
                .cloned()
                .unwrap_or_default();
            if let Some(v) = videos.iter_mut().find(|v| v.video_id == a.video_id) {
                v.appearances
                    .push(AppearanceDto::new(a, title, name, thumbnail));
            }
        }
        let mut conn = super::conn(&self.state).await?;
        let sightings = face_tracks::list_sightings(
            &mut conn,
            search.id,
            &SightingFilter::default(),
            PageRequest::new(Some(1), Some(1))?,
        )
        .await?
        .total;
        Ok(envelope::ok(SearchSummaryDto {
            id: search.id,
            status,
            appearances: total,
            possible_sightings: sightings,
            videos,
        }))
    }

    /// Possible sightings: face tracks too small or unclear to confirm, but nearer the person
    /// than the video's other tracks, those standing out most first. For a reviewer to confirm
    /// or dismiss; never counted as appearances.
    #[oai(path = "/:id/possible-sightings", method = "get")]
    async fn sightings(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        #[oai(name = "videoId")] video_id: Query<Option<Uuid>>,
        #[oai(name = "missingPersonId")] person_id: Query<Option<Uuid>>,
        status: Query<Option<Choice<ReviewStatus>>>,
        paging: Paging,
    ) -> ApiResult<Ok<Vec<SightingDto>>> {
        auth.0.require(Permission::SearchesRead)?;
        let filter = SightingFilter {
            video: video_id.0,
            person: person_id.0,
            status: status.0.map(|s| s.get("status")).transpose()?,
        };
        let mut conn = super::conn(&self.state).await?;
        searches::get(&mut conn, id.0).await?;
        let page = face_tracks::list_sightings(&mut conn, id.0, &filter, paging.0).await?;
        drop(conn);
        let mut urls = Vec::with_capacity(page.items.len());
        for t in &page.items {
            urls.push(self.thumbnail_url(t.thumbnail_key.as_deref()).await);
        }
        let mut urls = urls.into_iter();
        Ok(envelope::page(
            page.map(|t| SightingDto::new(t, urls.next().flatten())),
        ))
    }

    /// Confirm or dismiss a possible sighting (reviewers: `searches:review`).
    #[oai(
        path = "/:id/possible-sightings/:sighting_id/review",
        method = "put",
        operation_id = "searches.possible_sightings.review"
    )]
    async fn review_sighting(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        sighting_id: Path<Uuid>,
        body: Json<SightingReview>,
    ) -> ApiResult<Ok<SightingDto>> {
        auth.0.require(Permission::SearchesReview)?;
        let b = body.0;
        let status = b.status.get("status")?;
        let mut conn = super::conn(&self.state).await?;
        let track = face_tracks::review(
            &mut conn,
            id.0,
            sighting_id.0,
            status,
            b.note.as_deref(),
            auth.0.user.id,
        )
        .await?;
        drop(conn);
        let url = self.thumbnail_url(track.thumbnail_key.as_deref()).await;
        Ok(envelope::ok(SightingDto::new(track, url)))
    }

    /// Delete a search with its detections, appearances and thumbnails; a running one is
    /// cancelled first.
    #[oai(path = "/:id", method = "delete", operation_id = "searches.delete")]
    async fn delete(&self, auth: BearerAuth, id: Path<Uuid>) -> ApiResult<NoContent> {
        let search = self.search(id.0).await?;
        control::authorize(&search, auth.0.user.id, &auth.0.permissions)?;
        let mut conn = super::conn(&self.state).await?;
        control::cancel_and_delete(&mut conn, &search).await?;
        drop(conn);
        orphans::sweep_after_delete(&self.state.ctx).await;
        Ok(NoContent::NoContent)
    }

    /// Cancel the search: stops every video within a few seconds; results so far stay.
    #[oai(path = "/:id/cancel", method = "put", operation_id = "searches.cancel")]
    async fn cancel(&self, auth: BearerAuth, id: Path<Uuid>) -> ApiResult<Ok<SearchDto>> {
        self.control(auth, id.0, Control::Cancel).await
    }

    /// Pause the search: running segments checkpoint, queued ones wait.
    #[oai(path = "/:id/pause", method = "put", operation_id = "searches.pause")]
    async fn pause(&self, auth: BearerAuth, id: Path<Uuid>) -> ApiResult<Ok<SearchDto>> {
        self.control(auth, id.0, Control::Pause).await
    }

    /// Resume a paused search from its checkpoints; finished segments are not redone.
    #[oai(path = "/:id/resume", method = "put", operation_id = "searches.resume")]
    async fn resume(&self, auth: BearerAuth, id: Path<Uuid>) -> ApiResult<Ok<SearchDto>> {
        self.control(auth, id.0, Control::Resume).await
    }

    /// Stop watching the search's live streams (they finish as succeeded); recorded videos
    /// go on. `videoId` stops one stream only.
    #[oai(path = "/:id/stop", method = "put", operation_id = "searches.stop")]
    async fn stop(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        #[oai(name = "videoId")] video_id: Query<Option<Uuid>>,
    ) -> ApiResult<Ok<SearchDto>> {
        let search = self.search(id.0).await?;
        control::authorize(&search, auth.0.user.id, &auth.0.permissions)?;
        let mut conn = super::conn(&self.state).await?;
        control::stop(&mut conn, &search, video_id.0).await?;
        drop(conn);
        Ok(envelope::ok(self.view(search).await?))
    }

    /// Export the search's appearances as CSV or PDF (with thumbnails) through an export job;
    /// its result holds the download link, for callers with `searches:read`. A POST (it
    /// creates a job, and is audited); honours `Idempotency-Key`.
    #[oai(
        path = "/:id/export",
        method = "post",
        operation_id = "searches.export"
    )]
    async fn export(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<Uuid>,
        format: Query<Option<Choice<ExportFormat>>>,
        #[oai(name = "Idempotency-Key")] key: Header<Option<String>>,
    ) -> ApiResult<Accepted> {
        auth.0.require(Permission::SearchesRead)?;
        auth.0.require(Permission::ExportsWrite)?;
        let format = match format.0 {
            Some(f) => f.get("format")?,
            None => ExportFormat::Csv,
        };
        let search = self.search(id.0).await?;
        let request = ExportRequest {
            format,
            source: ExportSource::Search {
                search_id: search.id,
            },
        };
        submit(&self.state, req, &auth.0, NewJob::of(&request), key.0).await
    }
}
