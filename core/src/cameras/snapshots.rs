//! Snapshots a camera took: one row per stored JPEG, so the object goes with its camera (the
//! rows cascade, and the orphan sweep deletes their objects) and with retention. The latest
//! one is the camera's thumbnail and outlives retention.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::{camera_snapshots, cameras};
use crate::error::Result;

pub async fn record(
    conn: &mut AsyncPgConnection,
    camera: &str,
    key: &str,
    taken_at: DateTime<Utc>,
    job: Option<Uuid>,
) -> Result<()> {
    diesel::insert_into(camera_snapshots::table)
        .values((
            camera_snapshots::id.eq(Uuid::now_v7()),
            camera_snapshots::camera_id.eq(camera),
            camera_snapshots::object_key.eq(key),
            camera_snapshots::taken_at.eq(taken_at),
            camera_snapshots::job_id.eq(job),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes snapshots taken before `before`, except those that are a camera's thumbnail; their
/// objects are left to the orphan sweep. Returns how many went.
pub async fn purge_before(conn: &mut AsyncPgConnection, before: DateTime<Utc>) -> Result<usize> {
    let thumbnails = cameras::table
        .filter(cameras::thumbnail_key.is_not_null())
        .select(cameras::thumbnail_key.assume_not_null());
    Ok(diesel::delete(
        camera_snapshots::table
            .filter(camera_snapshots::taken_at.lt(before))
            .filter(diesel::dsl::not(
                camera_snapshots::object_key.eq_any(thumbnails),
            )),
    )
    .execute(conn)
    .await?)
}
