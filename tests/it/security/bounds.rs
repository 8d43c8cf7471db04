//! Status endpoints stay bounded whatever a search or a person grew to: per-video progress is
//! added up by PostgreSQL (not by loading every child job), summaries list a fixed number of
//! appearances per video, photo lists are paged.

use diesel::sql_types::{BigInt, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use serde_json::json;
use uuid::Uuid;
use vigil_core::faces::{self, NewPhoto};
use vigil_core::missing_persons;
use vigil_testkit::TestApp;

use super::seed::{Fixture, appearances, search_of};

/// Adds `n` segment children of `video` to the search's job: the first `failed` failed, the
/// next `running` running at 50 %, the rest succeeded; each processed 10 frames, analysed 4 and
/// searched 2.5 s.
async fn segments(app: &TestApp, f: &Fixture, video: Uuid, n: i64, failed: i64, running: i64) {
    let mut conn = app.ctx.db.get().await.unwrap();
    diesel::sql_query(
        "INSERT INTO jobs (id, kind, queue, status, payload, progress, counters, error,
                           max_attempts, parent_id, created_at)
         SELECT gen_random_uuid(), 'search.segment', 'search',
                CASE WHEN g <= $4 THEN 'failed' WHEN g <= $4 + $5 THEN 'running' ELSE 'succeeded' END,
                jsonb_build_object('searchId', $1, 'videoId', $2, 'index', g - 1,
                                   'startSecs', (g - 1) * 30, 'endSecs', g * 30),
                CASE WHEN g > $4 AND g <= $4 + $5 THEN 50 ELSE 100 END,
                jsonb_build_object('videoId', $2, 'framesProcessed', 10, 'framesAnalysed', 4,
                                   'hits', 0, 'secondsProcessed', 2.5, 'live', false),
                CASE WHEN g <= $4 THEN 'segment ' || g || ' could not be decoded' END,
                3, $6, now() + g * interval '1 microsecond'
         FROM generate_series(1, $3) g",
    )
    .bind::<SqlUuid, _>(f.search)
    .bind::<SqlUuid, _>(video)
    .bind::<BigInt, _>(n)
    .bind::<BigInt, _>(failed)
    .bind::<BigInt, _>(running)
    .bind::<SqlUuid, _>(f.job)
    .execute(&mut conn)
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn search_status_adds_up_many_children_in_the_database() {
    let app = TestApp::spawn().await;
    let admin = app.as_user(&app.admin().await);
    let f = search_of(&app, "Bounded", &["video 0", "video 1"]).await;
    // 60,000 segments: what 60 long videos at the segment cap fan out to.
    segments(&app, &f, f.videos[0], 30_000, 0, 0).await;
    segments(&app, &f, f.videos[1], 30_000, 1, 2).await;
    for path in ["status", "videos", "summary"] {
        // How long this takes is a figure for docs/security.md ("Bounded work"), not a test:
        // under CI's load the same aggregate took anywhere from 0.3 s to 1.8 s.
        let data = admin
            .get_data(format!("/searches/{}/{path}", f.search))
            .await;
        if path == "summary" {
            continue;
        }
        let lines = if path == "status" {
            data["videos"].as_array().unwrap().clone()
        } else {
            data.as_array().unwrap().clone()
        };
        let line = |video: Uuid| {
            lines
                .iter()
                .find(|l| l["videoId"] == video.to_string())
                .unwrap()
                .clone()
        };
        let done = line(f.videos[0]);
        assert_eq!(done["status"], "succeeded", "{done}");
        assert_eq!(done["segments"], 30_000);
        assert_eq!(done["segmentsDone"], 30_000);
        assert_eq!(done["framesProcessed"], 300_000);
        assert_eq!(done["framesAnalysed"], 120_000);
        assert_eq!(done["secondsProcessed"], 75_000.0);
        assert_eq!(done["progress"], 100.0);
        let busy = line(f.videos[1]);
        assert_eq!(busy["status"], "running", "{busy}");
        assert_eq!(busy["segmentsDone"], 29_998);
        assert_eq!(busy["error"], "segment 1 could not be decoded");
        let progress = busy["progress"].as_f64().unwrap();
        assert!(progress > 99.99 && progress < 100.0, "{progress}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_summary_lists_a_bounded_number_of_appearances_per_video() {
    let app = TestApp::spawn().await;
    let admin = app.as_user(&app.admin().await);
    let f = search_of(&app, "Bounded", &["video 0", "video 1"]).await;
    appearances(&app, &f, f.videos[0], 120).await;
    appearances(&app, &f, f.videos[1], 3).await;
    let summary = admin
        .get_data(format!("/searches/{}/summary", f.search))
        .await;
    assert_eq!(summary["appearances"], 123);
    let video = |id: Uuid| {
        summary["videos"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["videoId"] == id.to_string())
            .unwrap()
            .clone()
    };
    let many = video(f.videos[0]);
    assert_eq!(many["appearancesTotal"], 120);
    let listed = many["appearances"].as_array().unwrap();
    assert_eq!(listed.len(), 50);
    // The first ones in time, in order.
    assert_eq!(listed[0]["startSecs"], 10.0);
    assert_eq!(listed[49]["startSecs"], 500.0);
    let few = video(f.videos[1]);
    assert_eq!(few["appearancesTotal"], 3);
    assert_eq!(few["appearances"].as_array().unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_persons_photos_are_listed_a_page_at_a_time() {
    let app = TestApp::spawn().await;
    let admin = app.as_user(&app.admin().await);
    let person = admin
        .post_json("/missing-persons", json!({ "name": "Many Photos" }))
        .await
        .expect(201)
        .id();
    let mut conn = app.ctx.db.get().await.unwrap();
    let profile = missing_persons::get(&mut conn, person.parse().unwrap())
        .await
        .unwrap()
        .profile_id;
    for _ in 0..45 {
        let id = Uuid::now_v7();
        faces::add_photo(
            &mut conn,
            NewPhoto {
                id,
                profile_id: profile,
                object_key: &format!("faces/{profile}/{id}.jpg"),
                content_type: "image/jpeg",
                size_bytes: 1,
                original_filename: None,
                created_by: None,
            },
        )
        .await
        .unwrap();
    }
    drop(conn);
    let first = admin
        .get(format!("/missing-persons/{person}/photos"))
        .await
        .expect(200);
    assert_eq!(first.items().len(), 20);
    assert_eq!(first.meta()["total"], 45);
    let last = admin
        .get(format!("/missing-persons/{person}/photos?page=3"))
        .await
        .expect(200);
    assert_eq!(last.items().len(), 5);
    admin
        .get(format!("/missing-persons/{person}/photos?pageSize=1000"))
        .await
        .expect_error(422, "VALIDATION_ERROR");
}
