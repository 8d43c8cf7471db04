//! The reviewers' digest: one email per interval (`VIGIL_SCHEDULE_REVIEW_DIGEST`, hourly) to
//! everyone who may review attendance, listing the sightings that wait for them — sent only
//! when new ones arrived since the last digest, never one email per sighting.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::EventStatus;
use crate::AppContext;
use crate::auth::Permission;
use crate::db::schema::{attendance_events, instance_settings, people};
use crate::email::Email;
use crate::error::Result;

/// Where the time of the last digest is kept.
const MARKER: &str = "review_digest_at";
/// Sightings listed in one email; the rest are counted.
const LISTED: i64 = 20;

/// Sends the digest if sightings arrived for review since the last one; returns how many
/// are pending (0 when nothing was sent).
pub async fn send(ctx: &AppContext, now: DateTime<Utc>) -> Result<i64> {
    let mut conn = ctx.db.get().await?;
    let since: Option<DateTime<Utc>> = instance_settings::table
        .find(MARKER)
        .select(instance_settings::value)
        .first::<String>(&mut conn)
        .await
        .optional()?
        .and_then(|v| v.parse().ok());
    let pending =
        attendance_events::table.filter(attendance_events::status.eq(EventStatus::Pending));
    let mut new = pending
        .filter(attendance_events::created_at.le(now))
        .into_boxed();
    if let Some(since) = since {
        new = new.filter(attendance_events::created_at.gt(since));
    }
    let new: i64 = new.count().get_result(&mut conn).await?;
    if new == 0 {
        return Ok(0);
    }
    let total: i64 = pending.count().get_result(&mut conn).await?;
    let listed: Vec<(DateTime<Utc>, String, super::EventSource, Option<String>)> = pending
        .inner_join(people::table.on(people::id.eq(attendance_events::person_id)))
        .order(attendance_events::occurred_at.desc())
        .limit(LISTED)
        .select((
            attendance_events::occurred_at,
            people::name,
            attendance_events::source,
            attendance_events::review_reason,
        ))
        .load(&mut conn)
        .await?;
    let to = crate::users::active_emails_with_permission(&mut conn, Permission::AttendanceReview)
        .await?;
    let mut text = format!(
        "{total} attendance sighting(s) wait for review, {new} new since the last digest.\n\n"
    );
    for (at, name, source, reason) in &listed {
        let local = super::calendar::local(*at).format("%Y-%m-%d %H:%M");
        text.push_str(&format!(
            "- {local} {name} ({source}){}\n",
            reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ));
    }
    if total > LISTED {
        text.push_str(&format!("… and {} more.\n", total - LISTED));
    }
    text.push_str("\nReview them in Vigil (GET /api/v1/attendance/pending).\n");
    if !to.is_empty() {
        crate::outbox::send_email(
            ctx,
            Email {
                to,
                subject: format!("Vigil: {total} attendance sighting(s) to review"),
                text,
                html: None,
            },
            format!("review-digest:{}", now.to_rfc3339()),
            None,
        )
        .await?;
    }
    diesel::insert_into(instance_settings::table)
        .values((
            instance_settings::key.eq(MARKER),
            instance_settings::value.eq(now.to_rfc3339()),
        ))
        .on_conflict(instance_settings::key)
        .do_update()
        .set(instance_settings::value.eq(now.to_rfc3339()))
        .execute(&mut conn)
        .await?;
    Ok(total)
}
