//! Parents and their children (fan-out): a parent's progress and outcome follow its
//! children's, and the reconciler finishes parents whose last child's update was missed.

use diesel::prelude::*;
use diesel::sql_types::{Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::Result;

/// Updates a parent from its children: progress is their mean; once all are finished the parent
/// finishes too (succeeded when all succeeded, failed when any failed, else cancelled).
pub async fn aggregate_parent(conn: &mut AsyncPgConnection, parent: Uuid) -> Result<()> {
    diesel::sql_query(
        "UPDATE jobs p SET progress = s.progress, updated_at = now(),
                counters = COALESCE(p.counters, '{}'::jsonb) || jsonb_build_object(
                    'children', s.total, 'childrenSucceeded', s.succeeded,
                    'childrenFailed', s.failed, 'childrenCancelled', s.cancelled)
         FROM (SELECT count(*) AS total,
                      count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
                      count(*) FILTER (WHERE status = 'failed') AS failed,
                      count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
                      COALESCE(avg(CASE WHEN status IN ('succeeded','failed','cancelled') THEN 100 ELSE progress END), 0)::real AS progress
               FROM jobs WHERE parent_id = $1) s
         WHERE p.id = $1 AND p.status = 'running' AND p.lease_owner IS NULL",
    )
    .bind::<SqlUuid, _>(parent)
    .execute(conn)
    .await?;
    // Parents of kinds that summarise their children go back to the queue for that last run;
    // the others finish here with the children's aggregate status.
    diesel::sql_query(
        "UPDATE jobs p SET
            status = CASE WHEN p.kind = ANY($2) THEN 'queued'
                          WHEN s.failed > 0 THEN 'failed' WHEN s.cancelled > 0 THEN 'cancelled'
                          ELSE 'succeeded' END,
            error = CASE WHEN p.kind = ANY($2) THEN p.error
                         WHEN s.failed > 0 THEN s.failed || ' of ' || s.total || ' child jobs failed'
                         ELSE NULL END,
            result = CASE WHEN s.failed = 0 AND s.cancelled = 0 AND NOT p.kind = ANY($2)
                          THEN COALESCE(p.result, '{}'::jsonb) || jsonb_build_object('children', s.total) ELSE p.result END,
            stage = CASE WHEN p.kind = ANY($2) THEN 'summarising' ELSE 'done' END,
            finished_at = CASE WHEN p.kind = ANY($2) THEN NULL ELSE now() END,
            dispatched_at = NULL, message_id = NULL, run_after = now(), updated_at = now()
         FROM (SELECT count(*) AS total,
                      count(*) FILTER (WHERE status = 'failed') AS failed,
                      count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
                      count(*) FILTER (WHERE status NOT IN ('succeeded','failed','cancelled')) AS open
               FROM jobs WHERE parent_id = $1) s
         WHERE p.id = $1 AND p.status = 'running' AND p.lease_owner IS NULL AND s.open = 0 AND s.total > 0",
    )
    .bind::<SqlUuid, _>(parent)
    .bind::<diesel::sql_types::Array<Text>, _>(super::kinds::rerun_after_children())
    .execute(conn)
    .await?;
    Ok(())
}

/// Parents waiting for children whose children are all finished (an aggregation was missed).
pub async fn stalled_parents(conn: &mut AsyncPgConnection) -> Result<Vec<Uuid>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = SqlUuid)]
        id: Uuid,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT p.id FROM jobs p
         WHERE p.status = 'running' AND p.lease_owner IS NULL
           AND EXISTS (SELECT 1 FROM jobs c WHERE c.parent_id = p.id)
           AND NOT EXISTS (SELECT 1 FROM jobs c WHERE c.parent_id = p.id
                           AND c.status NOT IN ('succeeded','failed','cancelled'))",
    )
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}
