use std::sync::Arc;

use diesel::dsl::count_star;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use poem_openapi::param::Query;
use poem_openapi::{Object, OpenApi};
use vigil_core::db::schema::{appearances, face_photos, missing_persons, searches, videos};
use vigil_core::searches::Filter;

use super::Tag;
use super::searches::{SearchDto, search_dtos};
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

fn by_status(rows: Vec<(String, i64)>) -> CountsByStatus {
    CountsByStatus {
        total: rows.iter().map(|(_, n)| n).sum(),
        by_status: rows.into_iter().collect(),
    }
}

pub struct DashboardApi {
    pub state: Arc<ApiState>,
}

#[OpenApi(prefix_path = "/api/v1/dashboard", tag = "Tag::Search")]
impl DashboardApi {
    /// Counts for the home page: persons, photos, videos, searches by status, appearances.
    #[oai(path = "/stats", method = "get")]
    async fn stats(&self, auth: BearerAuth) -> ApiResult<Ok<DashboardStats>> {
        auth.0.require("searches:read")?;
        let mut conn = super::conn(&self.state).await?;
        let c = &mut conn;
        let persons = missing_persons::table
            .group_by(missing_persons::status)
            .select((missing_persons::status, count_star()))
            .load(c)
            .await
            .map_err(vigil_core::Error::from)?;
        let photos = face_photos::table
            .group_by(face_photos::status)
            .select((face_photos::status, count_star()))
            .load(c)
            .await
            .map_err(vigil_core::Error::from)?;
        let videos_rows = videos::table
            .filter(videos::kind.eq("file"))
            .group_by(videos::status)
            .select((videos::status, count_star()))
            .load(c)
            .await
            .map_err(vigil_core::Error::from)?;
        let live_streams = videos::table
            .filter(videos::kind.eq("live"))
            .count()
            .get_result(c)
            .await
            .map_err(vigil_core::Error::from)?;
        let search_rows = searches::table
            .group_by(searches::status)
            .select((searches::status, count_star()))
            .load(c)
            .await
            .map_err(vigil_core::Error::from)?;
        let appearances = appearances::table
            .count()
            .get_result(c)
            .await
            .map_err(vigil_core::Error::from)?;
        Ok(envelope::ok(DashboardStats {
            missing_persons: by_status(persons),
            photos: by_status(photos),
            videos: by_status(videos_rows),
            live_streams,
            searches: by_status(search_rows),
            appearances,
        }))
    }

    /// The latest searches (default 10, at most 50).
    #[oai(path = "/recent-searches", method = "get")]
    async fn recent(
        &self,
        auth: BearerAuth,
        limit: Query<Option<u32>>,
    ) -> ApiResult<Ok<Vec<SearchDto>>> {
        auth.0.require("searches:read")?;
        let limit = i64::from(limit.0.unwrap_or(10).clamp(1, 50));
        let mut conn = super::conn(&self.state).await?;
        let (rows, _) = vigil_core::searches::list(&mut conn, &Filter::default(), 0, limit).await?;
        drop(conn);
        Ok(envelope::ok(search_dtos(&self.state, rows).await?))
    }

    /// Searches still queued, running or paused.
    #[oai(path = "/active-searches", method = "get")]
    async fn active(&self, auth: BearerAuth) -> ApiResult<Ok<Vec<SearchDto>>> {
        auth.0.require("searches:read")?;
        let mut conn = super::conn(&self.state).await?;
        let rows: Vec<vigil_core::searches::Search> = searches::table
            .filter(searches::status.eq_any(["queued", "running", "paused"]))
            .order(searches::created_at.desc())
            .limit(100)
            .select(vigil_core::searches::Search::as_select())
            .load(&mut conn)
            .await
            .map_err(vigil_core::Error::from)?;
        drop(conn);
        Ok(envelope::ok(search_dtos(&self.state, rows).await?))
    }
}
