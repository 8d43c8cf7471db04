//! Route handlers, one module per resource.

pub mod attendance;
pub mod audit;
pub mod auth;
pub mod cameras;
pub mod dashboard;
pub mod detections;
pub mod devices;
pub mod face_photos;
pub mod files;
pub mod health;
pub mod jobs;
pub mod mail;
pub mod missing_persons;
pub mod people;
pub mod queues;
pub mod roles;
pub mod searches;
pub mod shifts;
pub mod users;
pub mod videos;

use poem_openapi::Tags;

#[derive(Tags)]
pub enum Tag {
    /// Login, token refresh, logout, current user
    Auth,
    /// User accounts (admin)
    Users,
    /// Roles and their permissions
    Roles,
    /// Audit log of every mutation
    Audit,
    /// Liveness, readiness and metrics
    Health,
    /// Signed downloads from local storage
    Files,
    /// Queued work: status, progress, cancel, pause, resume, retry
    Jobs,
    /// Queue operations: depth, workers, pause and resume
    Queues,
    /// Outgoing email
    Mail,
    /// Missing persons, their photos, videos and live streams, searches and their results
    Search,
    /// Cameras: registry, connection tests, snapshots, watchers and people counts
    Cameras,
    /// People registry (employees, students), capture devices, captures and attendance
    Attendance,
    /// Live face detections of cameras, the detection provider and its call log, a person's
    /// history
    Detections,
}

/// Maps a core error from a pool checkout.
pub(crate) async fn conn(
    state: &crate::state::ApiState,
) -> Result<vigil_core::db::DbConn, crate::error::ApiError> {
    state
        .ctx
        .db
        .get()
        .await
        .map_err(|e| vigil_core::Error::from(e).into())
}
