//! The scheduler: replicas enqueue each tick once, periodic health checks are recorded, and
//! cleanup removes expired exports with their objects.

use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;
use serde_json::json;
use vigil_testkit::TestApp;
use vigil_testkit::jobs::{accepted, wait_finished, wait_succeeded};

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let mut conn = app.ctx.db.get().await.unwrap();
    diesel::sql_query(sql)
        .get_result::<Count>(&mut conn)
        .await
        .unwrap()
        .n
}

#[tokio::test(flavor = "multi_thread")]
async fn two_schedulers_enqueue_each_tick_once_and_health_is_recorded() {
    let mut app = TestApp::spawn_with(|c| {
        c.schedule_health = "* * * * * *".into();
        c.schedule_cleanup = "0 0 0 1 1 *".into();
        c.schedule_reconcile = "0 0 0 1 1 *".into();
    })
    .await;
    app.start_worker();
    app.start_scheduler();
    app.start_scheduler();
    tokio::time::sleep(Duration::from_millis(4500)).await;

    let ticks = count(
        &app,
        "SELECT count(*) AS n FROM scheduler_ticks WHERE task = 'health'",
    )
    .await;
    let jobs = count(&app, "SELECT count(*) AS n FROM jobs WHERE kind = 'health'").await;
    assert!(ticks >= 3, "expected a tick per second, got {ticks}");
    // Jobs may trail the ticks by the one being enqueued right now.
    assert!(
        jobs == ticks || jobs + 1 == ticks,
        "{jobs} health jobs for {ticks} ticks"
    );
    let doubled = count(&app, "SELECT count(*) AS n FROM (SELECT job_id FROM scheduler_ticks WHERE job_id IS NOT NULL GROUP BY job_id HAVING count(*) > 1) d").await;
    assert_eq!(doubled, 0);

    // The health jobs ran and recorded every component; nothing is down here.
    for _ in 0..50 {
        if count(
            &app,
            "SELECT count(*) AS n FROM jobs WHERE kind = 'health' AND status = 'succeeded'",
        )
        .await
            >= 2
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        count(
            &app,
            "SELECT count(*) AS n FROM health_checks WHERE component = 'postgres' AND status = 'up'"
        )
        .await
            >= 1
    );
    assert!(
        count(
            &app,
            "SELECT count(*) AS n FROM health_checks WHERE component = 'workers' AND status = 'up'"
        )
        .await
            >= 1
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS n FROM alerts WHERE resolved_at IS NULL"
        )
        .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cleanup_deletes_expired_exports_with_their_objects() {
    let app = TestApp::spawn_with_worker().await;
    let admin = app.as_new_user("ROLE-ADMIN").await;
    let export = accepted(
        admin
            .post_json("/audit/export", json!({ "format": "csv" }))
            .await,
    );
    let job = wait_finished(
        &admin,
        export["id"].as_str().unwrap(),
        Duration::from_secs(20),
    )
    .await;
    let key = job["result"]["key"].as_str().unwrap().to_string();
    assert!(app.ctx.storage.head(&key).await.unwrap().is_some());
    {
        let mut conn = app.ctx.db.get().await.unwrap();
        diesel::sql_query("UPDATE exports SET expires_at = now() - interval '1 minute'")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let (cleanup, _) = vigil_core::jobs::enqueue(
        &app.ctx,
        vigil_core::jobs::NewJob::of(&vigil_core::maintenance::CleanupJob { tick: None }),
    )
    .await
    .unwrap();
    let done = wait_succeeded(&admin, &cleanup.id.to_string(), Duration::from_secs(20)).await;
    assert_eq!(done["result"]["exportsDeleted"], 1);
    assert!(app.ctx.storage.head(&key).await.unwrap().is_none());
    assert_eq!(count(&app, "SELECT count(*) AS n FROM exports").await, 0);
}
