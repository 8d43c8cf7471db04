//! The detection provider's call log (seed 004's detection event logs): every frame sent on
//! demand and every provider test, with its latency and what came back, or why it failed.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use uuid::Uuid;

use super::{CallKind, CallStatus};
use crate::db::paginate::{PageRequest, Paged, Paginate};
use crate::db::schema::detection_events;
use crate::error::Result;

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = detection_events, check_for_backend(diesel::pg::Pg))]
#[serde(rename_all = "camelCase")]
pub struct Call {
    pub id: Uuid,
    pub camera_id: Option<String>,
    pub camera_name: Option<String>,
    pub kind: CallKind,
    pub status: CallStatus,
    pub latency_ms: Option<i32>,
    pub payload: Option<serde_json::Value>,
    pub error_message: Option<String>,
    pub job_id: Option<Uuid>,
    pub occurred_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

pub struct NewCall<'a> {
    pub camera: Option<(&'a str, &'a str)>,
    pub kind: CallKind,
    pub status: CallStatus,
    pub latency_ms: Option<u64>,
    pub payload: Option<serde_json::Value>,
    pub error_message: Option<String>,
    pub job_id: Option<Uuid>,
    pub occurred_at: DateTime<Utc>,
}

pub async fn record(conn: &mut AsyncPgConnection, c: NewCall<'_>) -> Result<()> {
    diesel::insert_into(detection_events::table)
        .values((
            detection_events::id.eq(Uuid::now_v7()),
            detection_events::camera_id.eq(c.camera.map(|(id, _)| id)),
            detection_events::camera_name.eq(c.camera.map(|(_, name)| name)),
            detection_events::kind.eq(c.kind),
            detection_events::status.eq(c.status),
            detection_events::latency_ms.eq(c.latency_ms.map(|ms| ms.min(i32::MAX as u64) as i32)),
            detection_events::payload.eq(c.payload),
            detection_events::error_message.eq(c.error_message),
            detection_events::job_id.eq(c.job_id),
            detection_events::occurred_at.eq(c.occurred_at),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub status: Option<CallStatus>,
    pub camera_id: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Calls, newest first.
pub async fn list(
    conn: &mut AsyncPgConnection,
    f: &Filter,
    page: PageRequest,
) -> Result<Paged<Call>> {
    let mut q = detection_events::table.into_boxed();
    if let Some(s) = f.status {
        q = q.filter(detection_events::status.eq(s));
    }
    if let Some(c) = f.camera_id.clone() {
        q = q.filter(detection_events::camera_id.eq(c));
    }
    if let Some(from) = f.from {
        q = q.filter(detection_events::occurred_at.ge(from));
    }
    if let Some(to) = f.to {
        q = q.filter(detection_events::occurred_at.lt(to));
    }
    q.order((
        detection_events::occurred_at.desc(),
        detection_events::id.desc(),
    ))
    .select(Call::as_select())
    .paginate(page)
    .load_page(conn)
    .await
}
