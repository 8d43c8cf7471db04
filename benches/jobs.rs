//! Job-system figures: no-op throughput of one worker draining a backlog, and the latency from
//! submission (API) to start (worker) at a steady submission rate. Needs the test services
//! (`scripts/bench-jobs.sh` starts them and runs this).
//!
//!   VIGIL_BENCH_JOBS=20000 VIGIL_BENCH_RATE=100 VIGIL_BENCH_SECS=20 cargo bench --bench jobs

use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::json;
use vigil_core::db::schema::jobs;
use vigil_testkit::TestApp;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn unfinished(app: &TestApp) -> i64 {
    let mut conn = app.ctx.db.get().await.unwrap();
    jobs::table
        .filter(jobs::status.ne("succeeded"))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap()
}

async fn drain(workers: usize, concurrency: usize, n: u64) {
    let mut app = TestApp::spawn_with(|c| c.worker_concurrency = concurrency).await;
    {
        let mut conn = app.ctx.db.get().await.unwrap();
        diesel::sql_query(format!(
            "INSERT INTO jobs (id, kind, queue, payload, max_attempts) \
             SELECT gen_random_uuid(), 'canary', 'default', '{{}}'::jsonb, 3 \
             FROM generate_series(1, {n})"
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let started = Instant::now();
    for _ in 0..workers {
        app.start_worker();
    }
    while unfinished(&app).await > 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "drain  workers={workers} concurrency={concurrency:<3} jobs={n:<6} {secs:>7.2} s  {:>7.0} jobs/s",
        n as f64 / secs
    );
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

async fn latency(rate: u64, secs: u64) {
    let mut app = TestApp::spawn_with(|c| {
        c.worker_concurrency = 8;
        c.rate_limit_per_second = 100_000;
        c.rate_limit_burst = 100_000;
    })
    .await;
    app.start_worker();
    let token = app.admin().await;
    // Let the worker settle (consumer group, first dispatch tick).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let total = rate * secs;
    let every = Duration::from_secs_f64(1.0 / rate as f64);
    let mut tick = tokio::time::interval(every);
    let mut submits = tokio::task::JoinSet::new();
    for _ in 0..total {
        tick.tick().await;
        let client = app.client.clone();
        let url = app.url("/api/v1/jobs/canary");
        let token = token.clone();
        submits.spawn(async move {
            let resp = client
                .post(url)
                .bearer_auth(token)
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 202);
        });
    }
    while submits.join_next().await.is_some() {}
    while unfinished(&app).await > 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut conn = app.ctx.db.get().await.unwrap();
    type Times = (
        chrono::DateTime<chrono::Utc>,
        Option<chrono::DateTime<chrono::Utc>>,
        Option<chrono::DateTime<chrono::Utc>>,
    );
    let rows: Vec<Times> = jobs::table
        .filter(jobs::kind.eq("canary"))
        .select((jobs::created_at, jobs::started_at, jobs::finished_at))
        .load(&mut conn)
        .await
        .unwrap();
    let ms = |a: chrono::DateTime<chrono::Utc>, b: Option<chrono::DateTime<chrono::Utc>>| {
        (b.unwrap() - a).num_microseconds().unwrap() as f64 / 1000.0
    };
    let mut start: Vec<f64> = rows.iter().map(|r| ms(r.0, r.1)).collect();
    let mut end: Vec<f64> = rows.iter().map(|r| ms(r.0, r.2)).collect();
    start.sort_by(f64::total_cmp);
    end.sort_by(f64::total_cmp);
    println!(
        "latency rate={rate}/s jobs={total}: submit→start p50 {:.1} ms p99 {:.1} ms max {:.1} ms; submit→succeeded p50 {:.1} ms p99 {:.1} ms",
        percentile(&start, 0.5),
        percentile(&start, 0.99),
        start.last().copied().unwrap_or_default(),
        percentile(&end, 0.5),
        percentile(&end, 0.99),
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported here.
    let n = env_num("VIGIL_BENCH_JOBS", 20_000);
    let rate = env_num("VIGIL_BENCH_RATE", 100);
    let secs = env_num("VIGIL_BENCH_SECS", 20);
    drain(1, 32, n).await;
    drain(2, 32, n).await;
    latency(rate, secs).await;
}
