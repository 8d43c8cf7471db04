//! A camera's status as its watcher sees it: `online` while frames arrive, `offline` after a
//! while without them. Going offline raises one `camera.offline` alert (and, with a cooldown,
//! an email to the people who watch cameras); frames coming back resolve it. A camera in
//! `maintenance` is left alone. Each transition is one conditional UPDATE, so two holders of a
//! watch (the old one not yet stopped) cannot raise two alerts.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::CameraStatus;
use crate::AppContext;
use crate::alerts;
use crate::auth::Permission;
use crate::db::schema::cameras;
use crate::email::Email;
use crate::error::Result;
use crate::severity::Severity;

/// The alert kind of a camera without frames (source: the camera id).
pub const OFFLINE_ALERT: &str = "camera.offline";

/// Records frames seen at `at`; `true` when the camera just came (back) online.
pub async fn seen(conn: &mut AsyncPgConnection, id: &str, at: DateTime<Utc>) -> Result<bool> {
    let back = diesel::update(
        cameras::table
            .find(id)
            .filter(cameras::status.eq(CameraStatus::Offline)),
    )
    .set((
        cameras::status.eq(CameraStatus::Online),
        cameras::last_seen.eq(at),
    ))
    .execute(conn)
    .await?
        == 1;
    if back {
        alerts::resolve(conn, OFFLINE_ALERT, id).await?;
    } else {
        diesel::update(cameras::table.find(id))
            .set(cameras::last_seen.eq(at))
            .execute(conn)
            .await?;
    }
    Ok(back)
}

/// Marks the camera offline (no frames for `silent_secs`); `true` when it was online, in
/// which case the alert is raised and the email queued.
pub async fn went_offline(
    ctx: &AppContext,
    id: &str,
    name: &str,
    silent_secs: u64,
) -> Result<bool> {
    let mut conn = ctx.db.get().await?;
    let dropped = diesel::update(
        cameras::table
            .find(id)
            .filter(cameras::status.eq(CameraStatus::Online)),
    )
    .set(cameras::status.eq(CameraStatus::Offline))
    .execute(&mut conn)
    .await?
        == 1;
    if !dropped {
        return Ok(false);
    }
    let message = format!("Camera {id} ({name}) has sent no video for {silent_secs} s");
    let raised = alerts::raise(
        &mut conn,
        OFFLINE_ALERT,
        id,
        Severity::Warning,
        &message,
        Some(serde_json::json!({ "cameraId": id, "silentSecs": silent_secs })),
    )
    .await?;
    if raised {
        let to = crate::users::active_emails_with_permission(&mut conn, Permission::CamerasWrite)
            .await?;
        drop(conn);
        if !to.is_empty() {
            // One email per camera and cooldown period, however often it flaps.
            let bucket =
                Utc::now().timestamp() / ctx.config.camera_alert_cooldown_secs.max(60) as i64;
            let email = Email {
                to,
                subject: format!("Camera offline: {name}"),
                text: format!("{message}.\n\nVigil marks it online again when video returns."),
                html: None,
            };
            crate::outbox::send_email(ctx, email, format!("camera-offline:{id}:{bucket}"), None)
                .await?;
        }
    }
    Ok(true)
}
