//! Objects whose rows were deleted. The database lists them (`storage_orphans`, filled by
//! triggers on every table whose rows name an object, migration 6), so deleting a video, a
//! person, a photo or a search never leaves its thumbnails and files behind, whichever path
//! deleted the rows. [`sweep`] deletes listed objects: the API right after its own deletes,
//! the cleanup job for whatever failed then.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::context::AppContext;
use crate::db::schema::storage_orphans;
use crate::error::Result;

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub deleted: usize,
    /// Objects storage refused to delete (kept listed, tried again later).
    pub failed: usize,
}

/// Deletes up to `limit` listed objects from storage, least tried first, and unlists each
/// one deleted. A database connection is only held around the queries, never while storage
/// answers.
pub async fn sweep(ctx: &AppContext, limit: i64) -> Result<Swept> {
    let keys: Vec<String> = {
        let mut conn = ctx.db.get().await?;
        storage_orphans::table
            .order((storage_orphans::attempts, storage_orphans::orphaned_at))
            .limit(limit)
            .select(storage_orphans::key)
            .load(&mut conn)
            .await?
    };
    let mut deleted = Vec::with_capacity(keys.len());
    let mut failed = Vec::new();
    for key in keys {
        match ctx.storage.delete(&key).await {
            Ok(()) => deleted.push(key),
            Err(e) => failed.push((key, e.to_string())),
        }
    }
    let mut conn = ctx.db.get().await?;
    diesel::delete(storage_orphans::table.filter(storage_orphans::key.eq_any(&deleted)))
        .execute(&mut conn)
        .await?;
    for (key, error) in &failed {
        tracing::warn!(%key, %error, "orphaned object not deleted; the cleanup job retries");
        diesel::update(storage_orphans::table.find(key))
            .set((
                storage_orphans::attempts.eq(storage_orphans::attempts + 1),
                storage_orphans::last_error.eq(error),
            ))
            .execute(&mut conn)
            .await?;
    }
    Ok(Swept {
        deleted: deleted.len(),
        failed: failed.len(),
    })
}

/// Sweeps after a request deleted rows: best effort, the cleanup job finishes what is left.
pub async fn sweep_after_delete(ctx: &AppContext) {
    // Enough for what one delete orphans in practice (a video's thumbnails); more waits for
    // the cleanup job rather than holding the request.
    const PER_REQUEST: i64 = 2_000;
    match sweep(ctx, PER_REQUEST).await {
        Ok(s) if s.failed > 0 => {
            tracing::warn!(
                deleted = s.deleted,
                failed = s.failed,
                "storage sweep incomplete"
            )
        }
        Ok(s) => tracing::debug!(deleted = s.deleted, "storage swept"),
        Err(e) => tracing::warn!(error = %e, "storage sweep failed; the cleanup job retries"),
    }
}
