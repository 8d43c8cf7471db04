//! `/dashboard`: the home page's figures and the searches it lists.

use std::sync::Arc;

use poem_openapi::param::Query;
use poem_openapi::{Object, OpenApi};
use vigil_core::auth::Permission;
use vigil_core::db::PageRequest;
use vigil_core::jobs::JobStatus;
use vigil_core::searches::dashboard::{self, ByStatus};
use vigil_core::searches::{self, Filter, read};

use super::Tag;
use super::searches::dto::SearchDto;
use crate::auth::BearerAuth;
use crate::envelope::{self, Ok};
use crate::error::ApiResult;
use crate::state::ApiState;

#[derive(Debug, Object, Default)]
#[oai(rename_all = "camelCase")]
pub struct CountsByStatus {
    pub total: i64,
    /// Count per status value.
    pub by_status: std::collections::BTreeMap<String, i64>,
}

impl From<ByStatus> for CountsByStatus {
    fn from(c: ByStatus) -> Self {
        CountsByStatus {
            total: c.total,
            by_status: c.by_status,
        }
    }
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct DashboardStats {
    pub missing_persons: CountsByStatus,
    pub photos: CountsByStatus,
    pub videos: CountsByStatus,
    pub live_streams: i64,
    pub searches: CountsByStatus,
    pub appearances: i64,
}

pub struct DashboardApi {
    pub state: Arc<ApiState>,
}

impl DashboardApi {
    /// The first `size` searches matching `filter`, as list entries.
    async fn searches(&self, filter: Filter, size: u32) -> ApiResult<Vec<SearchDto>> {
        let page = PageRequest::new(Some(1), Some(size))?;
        let mut conn = super::conn(&self.state).await?;
        let rows = searches::list(&mut conn, &filter, page).await?.items;
        let views = read::views(&mut conn, rows).await?;
        Ok(views.into_iter().map(SearchDto::from).collect())
    }
}

#[OpenApi(prefix_path = "/api/v1/dashboard", tag = "Tag::Search")]
impl DashboardApi {
    /// Counts for the home page: persons, photos, videos, searches by status, appearances.
    #[oai(path = "/stats", method = "get")]
    async fn stats(&self, auth: BearerAuth) -> ApiResult<Ok<DashboardStats>> {
        auth.0.require(Permission::SearchesRead)?;
        let mut conn = super::conn(&self.state).await?;
        let s = dashboard::stats(&mut conn).await?;
        Ok(envelope::ok(DashboardStats {
            missing_persons: s.missing_persons.into(),
            photos: s.photos.into(),
            videos: s.videos.into(),
            live_streams: s.live_streams,
            searches: s.searches.into(),
            appearances: s.appearances,
        }))
    }

    /// The latest searches (default 10, at most 50).
    #[oai(path = "/recent-searches", method = "get")]
    async fn recent(
        &self,
        auth: BearerAuth,
        limit: Query<Option<u32>>,
    ) -> ApiResult<Ok<Vec<SearchDto>>> {
        auth.0.require(Permission::SearchesRead)?;
        let size = limit.0.unwrap_or(10).clamp(1, 50);
        Ok(envelope::ok(self.searches(Filter::default(), size).await?))
    }

    /// Searches still queued, running or paused (the latest 100).
    #[oai(path = "/active-searches", method = "get")]
    async fn active(&self, auth: BearerAuth) -> ApiResult<Ok<Vec<SearchDto>>> {
        auth.0.require(Permission::SearchesRead)?;
        let filter = Filter {
            status: vec![JobStatus::Queued, JobStatus::Running, JobStatus::Paused],
            created_by: None,
        };
        Ok(envelope::ok(
            self.searches(filter, PageRequest::MAX_SIZE).await?,
        ))
    }
}
