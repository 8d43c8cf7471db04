//! What a user may do to a running search: cancel, pause or resume it (through its parent job,
//! which passes the request on to its children), stop its live streams, or delete it.

use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::{Search, delete, request_stop};
use crate::auth::{Permission, Permissions, authorize_owner};
use crate::error::Result;
use crate::jobs::{Job, control, store};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Cancel,
    Pause,
    Resume,
}

impl Control {
    pub async fn apply(self, conn: &mut AsyncPgConnection, search: &Search) -> Result<Job> {
        match self {
            Control::Cancel => control::request_cancel(conn, search.job_id).await,
            Control::Pause => control::request_pause(conn, search.job_id).await,
            Control::Resume => control::resume(conn, search.job_id).await,
        }
    }
}

/// Only the search's creator (with `searches:write`) or an admin may control or delete it
/// (`auth::ownership`).
pub fn authorize(search: &Search, user: Uuid, permissions: &Permissions) -> Result<()> {
    authorize_owner(
        search.created_by,
        user,
        permissions,
        Permission::SearchesWrite,
        "search",
    )
}

/// Asks the search's live watches (or one of them) to end; recorded videos go on.
pub async fn stop(
    conn: &mut AsyncPgConnection,
    search: &Search,
    video: Option<Uuid>,
) -> Result<()> {
    request_stop(conn, search.id, video).await?;
    Ok(())
}

/// Cancels the search if it still runs, then deletes it with its results (their thumbnails
/// are listed for `storage::orphans::sweep`).
pub async fn cancel_and_delete(conn: &mut AsyncPgConnection, search: &Search) -> Result<()> {
    if store::get(conn, search.job_id)
        .await
        .is_ok_and(|j| !j.status.is_terminal())
    {
        control::request_cancel(conn, search.job_id).await?;
    }
    delete(conn, search.id).await
}
