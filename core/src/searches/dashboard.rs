//! The home page's figures: persons, photos, videos and searches by status, appearances.

use std::collections::BTreeMap;

use diesel::dsl::count_star;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::{appearances, face_photos, missing_persons, searches, videos};
use crate::error::Result;
use crate::videos::VideoKind;

/// Counts per status value, and their sum.
#[derive(Debug, Clone, Default)]
pub struct ByStatus {
    pub total: i64,
    pub by_status: BTreeMap<String, i64>,
}

impl<S: std::fmt::Display> FromIterator<(S, i64)> for ByStatus {
    fn from_iter<I: IntoIterator<Item = (S, i64)>>(rows: I) -> Self {
        let by_status: BTreeMap<String, i64> =
            rows.into_iter().map(|(s, n)| (s.to_string(), n)).collect();
        ByStatus {
            total: by_status.values().sum(),
            by_status,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Stats {
    pub missing_persons: ByStatus,
    pub photos: ByStatus,
    pub videos: ByStatus,
    pub live_streams: i64,
    pub searches: ByStatus,
    pub appearances: i64,
}

pub async fn stats(conn: &mut AsyncPgConnection) -> Result<Stats> {
    let persons: Vec<(crate::missing_persons::MissingPersonStatus, i64)> = missing_persons::table
        .group_by(missing_persons::status)
        .select((missing_persons::status, count_star()))
        .load(conn)
        .await?;
    let photos: Vec<(crate::faces::PhotoStatus, i64)> = face_photos::table
        .group_by(face_photos::status)
        .select((face_photos::status, count_star()))
        .load(conn)
        .await?;
    let files: Vec<(crate::videos::VideoStatus, i64)> = videos::table
        .filter(videos::kind.eq(VideoKind::File))
        .group_by(videos::status)
        .select((videos::status, count_star()))
        .load(conn)
        .await?;
    let live_streams = videos::table
        .filter(videos::kind.eq(VideoKind::Live))
        .count()
        .get_result(conn)
        .await?;
    let search_rows: Vec<(crate::jobs::JobStatus, i64)> = searches::table
        .group_by(searches::status)
        .select((searches::status, count_star()))
        .load(conn)
        .await?;
    let appearances = appearances::table.count().get_result(conn).await?;
    Ok(Stats {
        missing_persons: persons.into_iter().collect(),
        photos: photos.into_iter().collect(),
        videos: files.into_iter().collect(),
        live_streams,
        searches: search_rows.into_iter().collect(),
        appearances,
    })
}
