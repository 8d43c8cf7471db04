//! Camera rows: create (with a generated `CAM-NN` id when none is given), read, list, update
//! under optimistic concurrency (`version`), state changes, delete, and all-or-nothing import.

use std::collections::HashSet;

use chrono::Utc;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::input::CheckedCamera;
use super::{Camera, CameraStatus, StreamType};
use crate::db::paginate::{PageRequest, Paged, Paginate};
use crate::db::schema::cameras;
use crate::error::{Error, Result};

/// Defaults of the counting settings (also in the migration).
pub const DEFAULT_SAMPLE_FPS: f64 = 1.0;
pub const DEFAULT_MIN_CONFIDENCE: f32 = 0.3;
/// Two looks a second follow a walking person's face through a doorway (docs/attendance.md).
pub const DEFAULT_FACE_SAMPLE_FPS: f64 = 2.0;
/// Attempts at a generated id when concurrent creations race for the same one.
const ID_ATTEMPTS: usize = 5;

#[derive(Debug, Clone, Default)]
pub struct CameraFilter {
    pub status: Option<CameraStatus>,
    pub stream_type: Option<StreamType>,
    pub enabled: Option<bool>,
    /// Part of the id, name, location or address.
    pub search: Option<String>,
}

/// What `PATCH /cameras/{id}/state` changes.
#[derive(Debug, Clone, Copy, Default)]
pub struct StateChange {
    pub enabled: Option<bool>,
    /// `true` takes the camera out of service (`maintenance`: not watched, no alerts);
    /// `false` puts it back (`offline` until its watcher sees frames).
    pub maintenance: Option<bool>,
}

fn taken(id: &str) -> Error {
    Error::conflict(format!("camera {id} already exists"))
}

fn map_insert(id: &str, e: DieselError) -> Error {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => taken(id),
        other => other.into(),
    }
}

/// The next free `CAM-NN` id (two digits at least, like the seeds' `CAM-01`).
async fn next_id(conn: &mut AsyncPgConnection) -> Result<String> {
    #[derive(QueryableByName)]
    struct Highest {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Int4>)]
        n: Option<i32>,
    }
    let highest: Highest = diesel::sql_query(
        "SELECT max(substring(id FROM 5)::int) AS n FROM cameras WHERE id ~ '^CAM-[0-9]{1,6}$'",
    )
    .get_result(conn)
    .await?;
    Ok(format!("CAM-{:02}", highest.n.unwrap_or(0) + 1))
}

async fn insert(
    conn: &mut AsyncPgConnection,
    id: &str,
    c: &CheckedCamera,
    created_by: Option<Uuid>,
) -> Result<Camera> {
    diesel::insert_into(cameras::table)
        .values((
            cameras::id.eq(id),
            cameras::name.eq(&c.name),
            cameras::location.eq(&c.location),
            cameras::stream_type.eq(c.stream_type),
            cameras::stream_url.eq(&c.stream_url),
            cameras::username.eq(c.username.clone().flatten()),
            cameras::password.eq(c.password.clone().flatten()),
            cameras::ip_address.eq(&c.ip_address),
            cameras::tags.eq(c.tags.clone().unwrap_or_default()),
            cameras::enabled.eq(c.enabled.unwrap_or(true)),
            cameras::sample_fps.eq(c.sample_fps.unwrap_or(DEFAULT_SAMPLE_FPS)),
            cameras::min_confidence.eq(c.min_confidence.unwrap_or(DEFAULT_MIN_CONFIDENCE)),
            cameras::face_recognition.eq(c.face_recognition.unwrap_or(false)),
            cameras::face_sample_fps.eq(c.face_sample_fps.unwrap_or(DEFAULT_FACE_SAMPLE_FPS)),
            cameras::roi.eq(c.roi.clone().flatten()),
            cameras::created_by.eq(created_by),
        ))
        .returning(Camera::as_returning())
        .get_result(conn)
        .await
        .map_err(|e| map_insert(id, e))
}

/// Creates a camera; a given id that exists is a conflict, a generated one is retried.
pub async fn create(
    conn: &mut AsyncPgConnection,
    c: &CheckedCamera,
    created_by: Option<Uuid>,
) -> Result<Camera> {
    if let Some(id) = &c.id {
        return insert(conn, id, c, created_by).await;
    }
    let mut last = None;
    for _ in 0..ID_ATTEMPTS {
        let id = next_id(conn).await?;
        match insert(conn, &id, c, created_by).await {
            Err(Error::Conflict(m)) => last = Some(Error::Conflict(m)),
            other => return other,
        }
    }
    Err(last.unwrap_or_else(|| Error::conflict("no free camera id")))
}

pub async fn get(conn: &mut AsyncPgConnection, id: &str) -> Result<Camera> {
    cameras::table
        .find(id)
        .select(Camera::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| Error::not_found(format!("no camera {id}")))
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &CameraFilter,
    page: PageRequest,
) -> Result<Paged<Camera>> {
    let mut q = cameras::table.into_boxed();
    if let Some(status) = filter.status {
        q = q.filter(cameras::status.eq(status));
    }
    if let Some(t) = filter.stream_type {
        q = q.filter(cameras::stream_type.eq(t));
    }
    if let Some(enabled) = filter.enabled {
        q = q.filter(cameras::enabled.eq(enabled));
    }
    if let Some(pattern) = filter
        .search
        .as_deref()
        .and_then(crate::db::contains_pattern)
    {
        q = q.filter(
            cameras::id
                .ilike(pattern.clone())
                .or(cameras::name.ilike(pattern.clone()))
                .or(cameras::location.ilike(pattern.clone()))
                .or(cameras::ip_address.ilike(pattern)),
        );
    }
    q.order((cameras::created_at.asc(), cameras::id.asc()))
        .select(Camera::as_select())
        .paginate(page)
        .load_page(conn)
        .await
}

/// Every camera, for export (ordered by id).
pub async fn export(conn: &mut AsyncPgConnection) -> Result<Vec<Camera>> {
    Ok(cameras::table
        .order(cameras::id.asc())
        .select(Camera::as_select())
        .load(conn)
        .await?)
}

/// Replaces the camera's description. `expected_version` (the version the client read) must
/// still be the stored one; without it the version `current` was read at is used, so a
/// concurrent change between the read and this write is never silently overwritten.
pub async fn update(
    conn: &mut AsyncPgConnection,
    current: &Camera,
    c: &CheckedCamera,
    expected_version: Option<i32>,
) -> Result<Camera> {
    let expected = expected_version.unwrap_or(current.version);
    if c.id.as_deref().is_some_and(|id| id != current.id) {
        return Err(Error::validation("id", "a camera's id cannot change"));
    }
    let updated = diesel::update(
        cameras::table
            .find(&current.id)
            .filter(cameras::version.eq(expected)),
    )
    .set((
        cameras::name.eq(&c.name),
        cameras::location.eq(&c.location),
        cameras::stream_type.eq(c.stream_type),
        cameras::stream_url.eq(&c.stream_url),
        cameras::username.eq(c.username.clone().unwrap_or(current.username.clone())),
        cameras::password.eq(c.password.clone().unwrap_or(current.password.clone())),
        cameras::ip_address.eq(&c.ip_address),
        cameras::tags.eq(c.tags.clone().unwrap_or(current.tags.clone())),
        cameras::enabled.eq(c.enabled.unwrap_or(current.enabled)),
        cameras::sample_fps.eq(c.sample_fps.unwrap_or(current.sample_fps)),
        cameras::min_confidence.eq(c.min_confidence.unwrap_or(current.min_confidence)),
        cameras::face_recognition.eq(c.face_recognition.unwrap_or(current.face_recognition)),
        cameras::face_sample_fps.eq(c.face_sample_fps.unwrap_or(current.face_sample_fps)),
        cameras::roi.eq(c.roi.clone().unwrap_or(current.roi.clone())),
        cameras::updated_at.eq(Utc::now()),
        cameras::version.eq(cameras::version + 1),
    ))
    .returning(Camera::as_returning())
    .get_result(conn)
    .await
    .optional()?;
    match updated {
        Some(camera) => Ok(camera),
        None => {
            let now = get(conn, &current.id).await?;
            Err(Error::conflict(format!(
                "camera {} was changed meanwhile (version {}, not {expected}): read it again and retry",
                now.id, now.version
            )))
        }
    }
}

/// Enables or disables the camera, or takes it in or out of maintenance.
pub async fn set_state(
    conn: &mut AsyncPgConnection,
    id: &str,
    change: StateChange,
) -> Result<Camera> {
    conn.transaction(async |conn| {
        let current: Camera = cameras::table
            .find(id)
            .select(Camera::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()?
            .ok_or_else(|| Error::not_found(format!("no camera {id}")))?;
        let status = match change.maintenance {
            Some(true) => CameraStatus::Maintenance,
            Some(false) if current.status == CameraStatus::Maintenance => CameraStatus::Offline,
            _ => current.status,
        };
        Ok(diesel::update(cameras::table.find(id))
            .set((
                cameras::enabled.eq(change.enabled.unwrap_or(current.enabled)),
                cameras::status.eq(status),
                cameras::updated_at.eq(Utc::now()),
                cameras::version.eq(cameras::version + 1),
            ))
            .returning(Camera::as_returning())
            .get_result(conn)
            .await?)
    })
    .await
}

pub async fn delete(conn: &mut AsyncPgConnection, id: &str) -> Result<Camera> {
    diesel::delete(cameras::table.find(id))
        .returning(Camera::as_returning())
        .get_result(conn)
        .await
        .optional()?
        .ok_or_else(|| Error::not_found(format!("no camera {id}")))
}

/// Which of `ids` name existing cameras.
pub async fn existing_ids(conn: &mut AsyncPgConnection, ids: &[String]) -> Result<HashSet<String>> {
    Ok(cameras::table
        .filter(cameras::id.eq_any(ids))
        .select(cameras::id)
        .load::<String>(conn)
        .await?
        .into_iter()
        .collect())
}

/// Creates every checked camera in one transaction: all or none.
pub async fn import(
    conn: &mut AsyncPgConnection,
    rows: &[CheckedCamera],
    created_by: Option<Uuid>,
) -> Result<Vec<Camera>> {
    conn.transaction(async |conn| {
        // Generated ids are read from the table: one import at a time keeps them distinct.
        diesel::sql_query("SELECT pg_advisory_xact_lock(7472691201)")
            .execute(conn)
            .await?;
        let mut created = Vec::with_capacity(rows.len());
        for row in rows {
            let id = match &row.id {
                Some(id) => id.clone(),
                None => next_id(conn).await?,
            };
            created.push(insert(conn, &id, row, created_by).await?);
        }
        Ok(created)
    })
    .await
}

/// The camera registered at `address` with this stream type (for seed 000's connect).
pub async fn find_by_address(
    conn: &mut AsyncPgConnection,
    address: Option<&str>,
    stream_type: StreamType,
) -> Result<Option<Camera>> {
    let Some(address) = address else {
        return Ok(None);
    };
    Ok(cameras::table
        .filter(cameras::ip_address.eq(address))
        .filter(cameras::stream_type.eq(stream_type))
        .order(cameras::created_at.asc())
        .select(Camera::as_select())
        .first(conn)
        .await
        .optional()?)
}
