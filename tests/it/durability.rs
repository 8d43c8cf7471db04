//! The job system's promises under failure: a SIGKILLed worker process, Redis losing its data,
//! and a backlog far larger than the Redis window.

use std::time::{Duration, Instant};

use diesel_async::RunQueryDsl;
use serde_json::json;
use vigil_core::jobs::stream;
use vigil_testkit::jobs::{submit_canary, wait_finished, wait_job, wait_succeeded};
use vigil_testkit::{Caller, TestApp, received_mail, use_s3, wait_for_mail};

const VIGIL: &str = env!("CARGO_BIN_EXE_vigil");

#[tokio::test(flavor = "multi_thread")]
async fn a_sigkilled_worker_process_loses_no_job_and_repeats_no_effect() {
    let app = TestApp::spawn_with(use_s3).await;
    let admin = app.as_new_user("ROLE-ADMIN").await;
    let to = format!("kill9-{}@example.test", uuid::Uuid::new_v4().simple());
    let canary = json!({ "durationMs": 8000, "stepMs": 200, "notify": to });
    let id = submit_canary(&admin, canary).await;

    let mut first = app.start_worker_process(VIGIL);
    let running = wait_job(&admin, &id, Duration::from_secs(60), |j| {
        j["status"] == "running" && j["progress"].as_f64().unwrap_or(0.0) >= 20.0
    })
    .await;
    first.kill9();
    let killed_at = Instant::now();
    assert!(running["leaseOwner"].is_string(), "{running}");

    let second = app.start_worker_process(VIGIL);
    let done = wait_finished(&admin, &id, Duration::from_secs(60)).await;
    let took = killed_at.elapsed();
    assert_eq!(
        done["status"],
        "succeeded",
        "{done}\nsecond worker log:\n{}",
        second.log_text()
    );
    assert!(took < Duration::from_secs(60), "took {took:?}");
    assert!(
        done["result"]["resumedFromMs"].as_u64().unwrap() > 0,
        "the new worker continues from the checkpoint: {done}"
    );
    assert!(done["attempts"].as_i64().unwrap() >= 2, "{done}");

    let subject = format!("Vigil canary {id}");
    assert!(
        wait_for_mail(&subject, Duration::from_secs(5))
            .await
            .is_some()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let copies = received_mail()
        .iter()
        .filter(|m| m.contains(&subject))
        .count();
    assert_eq!(copies, 1, "one email");
    let object = app
        .ctx
        .storage
        .head(&format!("canary/{id}.txt"))
        .await
        .unwrap();
    assert!(object.is_some(), "one object");
}

async fn all_succeed(caller: &Caller, ids: &[String], timeout: Duration) {
    for id in ids {
        wait_succeeded(caller, id, timeout).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_queued_when_redis_loses_its_data_still_complete() {
    let mut app = TestApp::spawn().await;
    let admin = app.as_new_user("ROLE-ADMIN").await;
    let mut ids = Vec::new();
    for _ in 0..20 {
        ids.push(submit_canary(&admin, json!({})).await);
    }
    assert_eq!(
        stream::depth(&app.ctx.redis, "default").await.unwrap(),
        20,
        "submission publishes at once"
    );
    // As after a Redis restart without persistence: streams, groups, everything gone.
    app.ctx.redis.delete_namespace().await.unwrap();
    app.start_worker();
    all_succeed(&admin, &ids, Duration::from_secs(30)).await;

    // Again under a running worker: its consumer group vanishes with the data.
    app.ctx.redis.delete_namespace().await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..10 {
        ids.push(submit_canary(&admin, json!({ "durationMs": 300 })).await);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    app.ctx.redis.delete_namespace().await.unwrap();
    all_succeed(&admin, &ids, Duration::from_secs(30)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_100k_job_backlog_is_drained_by_one_worker() {
    const JOBS: i64 = 100_000;
    let mut app = TestApp::spawn_with(|c| {
        c.worker_concurrency = 32;
        c.dispatch_window = 500;
    })
    .await;
    {
        let mut conn = app.ctx.db.get().await.unwrap();
        diesel::sql_query(format!(
            "INSERT INTO jobs (id, kind, queue, payload, max_attempts) \
             SELECT gen_random_uuid(), 'canary', 'default', '{{}}'::jsonb, 3 \
             FROM generate_series(1, {JOBS})"
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    }
    app.start_worker();
    let started = Instant::now();
    let mut max_stream = 0;
    loop {
        let left: i64 = {
            use diesel::dsl::count_star;
            use diesel::{ExpressionMethods, QueryDsl};
            use vigil_core::db::schema::jobs;
            let mut conn = app.ctx.db.get().await.unwrap();
            jobs::table
                .filter(jobs::status.ne("succeeded"))
                .select(count_star())
                .first(&mut conn)
                .await
                .unwrap()
        };
        max_stream = max_stream.max(stream::depth(&app.ctx.redis, "default").await.unwrap());
        assert!(
            !app.worker_finished(),
            "the worker must not exit under a large backlog"
        );
        if left == 0 {
            break;
        }
        // A guard against a stalled drain, not a speed target (benches/jobs.rs measures
        // throughput): on a slow 2-core machine sharing its cores with the rest of the suite
        // the drain has been seen to take ~15 minutes.
        assert!(
            started.elapsed() < Duration::from_secs(1800),
            "{left} jobs left after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let took = started.elapsed();
    eprintln!(
        "drained {JOBS} jobs in {took:?} ({:.0} jobs/s); most messages on the stream at once: {max_stream}",
        JOBS as f64 / took.as_secs_f64()
    );
    // The window bounds jobs in flight; a handler that just finished its job may not have
    // deleted its message yet, so up to `worker_concurrency` more can be seen at an instant.
    assert!(
        max_stream <= 500 + 32,
        "Redis holds a bounded window, not the backlog ({max_stream} messages)"
    );
}
