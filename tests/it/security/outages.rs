//! Dependencies failing: a PostgreSQL connection lost or stuck mid-request is a 503 with the
//! envelope (not a 500, not a hang); a Redis that does not answer costs submissions a quarter
//! second without holding PostgreSQL connections; an idle queue is not a Redis outage.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use serde_json::json;
use vigil_core::jobs::stream;
use vigil_testkit::TestApp;

/// Opens a connection of the test's own and locks `missing_persons` in a transaction, so
/// the API's queries on it wait.
async fn lock_missing_persons(app: &TestApp) -> AsyncPgConnection {
    let mut conn = AsyncPgConnection::establish(&app.ctx.config.database_url)
        .await
        .unwrap();
    conn.batch_execute("BEGIN; LOCK TABLE missing_persons IN ACCESS EXCLUSIVE MODE;")
        .await
        .unwrap();
    conn
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stuck_or_killed_database_connection_is_503() {
    let app = TestApp::spawn_with(|c| c.database_statement_timeout_ms = 1_500).await;
    let admin = app.as_user(&app.admin().await);
    admin.get("/missing-persons").await.expect(200);
    let mut locker = lock_missing_persons(&app).await;

    // A statement past `statement_timeout` (the database is blocked or overloaded).
    let started = Instant::now();
    let resp = admin
        .get("/missing-persons")
        .await
        .expect_error(503, "SERVICE_UNAVAILABLE");
    assert_eq!(resp.header("retry-after"), Some("5"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // The connection killed under a running query (a restart, a failover, a network cut).
    let waiting = tokio::spawn({
        let admin = admin.clone();
        async move { admin.get("/missing-persons").await }
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    #[derive(QueryableByName)]
    struct Killed {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let killed: Killed = diesel::sql_query(
        "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()
           AND wait_event_type = 'Lock'",
    )
    .get_result(&mut locker)
    .await
    .unwrap();
    assert_eq!(killed.n, 1, "one API query was waiting");
    waiting
        .await
        .unwrap()
        .expect_error(503, "SERVICE_UNAVAILABLE");
    locker.batch_execute("ROLLBACK").await.unwrap();
    // The pool drops the dead connection and goes on.
    admin.get("/missing-persons").await.expect(200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_redis_does_not_hold_database_connections() {
    // Accepts connections and never answers, like a hung Redis or a black-holed route.
    let hung = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}", hung.local_addr().unwrap());
    let app = TestApp::spawn_with(|c| {
        c.redis_url = url;
        c.database_pool_size = 2;
    })
    .await;
    let admin = app.as_user(&app.admin().await);
    let started = Instant::now();
    let submissions = (0..8).map(|_| {
        let admin = admin.clone();
        tokio::spawn(async move {
            admin
                .post_json("/jobs/canary", json!({ "durationMs": 0 }))
                .await
                .status()
        })
    });
    for status in futures::future::join_all(submissions).await {
        assert_eq!(status.unwrap(), 202);
    }
    // Eight submissions over two connections: each waits for Redis a quarter second at most,
    // holding no connection meanwhile.
    let took = started.elapsed();
    assert!(took < Duration::from_secs(4), "took {took:?}");
    // The jobs are in the backlog for the dispatcher.
    assert_eq!(
        admin.get("/jobs?status=queued").await.expect(200).meta()["total"],
        8
    );
    drop(hung);
}

#[tokio::test(flavor = "multi_thread")]
async fn reading_an_idle_queue_is_not_an_error() {
    let app = TestApp::spawn().await;
    let redis = &app.ctx.redis;
    let mut reader = stream::reader_connection(redis, 1_000).await.unwrap();
    stream::ensure_group(redis, "default").await.unwrap();
    let started = Instant::now();
    // Blocks its full second and finds nothing: with the client's default 500 ms response
    // timeout this was "redis unavailable: timed out", logged by every worker every second.
    let read = stream::read(&mut reader, redis, "default", "idle-test", 1_000).await;
    assert!(matches!(read, Ok(None)), "{read:?}");
    assert!(started.elapsed() >= Duration::from_millis(900));
}
