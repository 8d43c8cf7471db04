//! Lists read a page in a constant number of queries, whatever its size: the search list and
//! the dashboard's lists load their jobs, persons and counts for the whole page at once.

use serde_json::Value;
use uuid::Uuid;
use vigil_core::jobs::{NewJob, store};
use vigil_core::missing_persons::{self, Details};
use vigil_core::searches::{self, NewSearch, SearchJob, SearchSettings};
use vigil_core::videos::{self, NewVideo, VideoKind, VideoStatus};
use vigil_testkit::{Caller, TestApp};

/// Inserts `n` searches of one person in one live stream, straight into the database.
async fn searches(app: &TestApp, n: usize) {
    let mut conn = app.ctx.db.get().await.unwrap();
    let person = missing_persons::create(
        &mut conn,
        Details {
            name: Some("Query Count".into()),
            ..Default::default()
        },
        None,
    )
    .await
    .unwrap();
    let video = videos::create(
        &mut conn,
        NewVideo {
            id: Uuid::now_v7(),
            kind: VideoKind::Live,
            title: "stream",
            description: None,
            object_key: None,
            original_filename: None,
            content_type: None,
            size_bytes: None,
            stream_url: Some("rtsp://10.0.0.1/stream"),
            status: VideoStatus::Ready,
            created_by: None,
        },
    )
    .await
    .unwrap();
    for _ in 0..n {
        let search_id = Uuid::now_v7();
        let (job, _) = store::submit(&mut conn, NewJob::of(&SearchJob { search_id }))
            .await
            .unwrap();
        searches::create(
            &mut conn,
            NewSearch {
                id: search_id,
                job_id: job.id,
                name: None,
                settings: &SearchSettings::default(),
                notify: &[],
                persons: &[person.id],
                videos: &[video.id],
                created_by: None,
            },
        )
        .await
        .unwrap();
    }
}

/// The queries one GET costs, and its items.
async fn queries_of(app: &TestApp, caller: &Caller, path: &str) -> (u64, Vec<Value>) {
    let before = app.ctx.db_queries.get();
    let items = caller.get(path).await.expect(200).items();
    (app.ctx.db_queries.get() - before, items)
}

#[tokio::test(flavor = "multi_thread")]
async fn search_lists_cost_the_same_queries_for_3_or_40_searches() {
    let app = TestApp::spawn().await;
    let admin = app.as_user(&app.admin().await);
    searches(&app, 40).await;
    for (small, large) in [
        ("/searches?pageSize=3", "/searches?pageSize=40"),
        (
            "/dashboard/recent-searches?limit=3",
            "/dashboard/recent-searches?limit=40",
        ),
    ] {
        let (few, items) = queries_of(&app, &admin, small).await;
        assert_eq!(items.len(), 3);
        let (many, items) = queries_of(&app, &admin, large).await;
        assert_eq!(items.len(), 40);
        assert_eq!(items[0]["persons"][0]["name"], "Query Count");
        assert_eq!(items[0]["videos"], 1);
        assert_eq!(few, many, "{small}: {few} queries, {large}: {many}");
        // Authentication, the page and five batched reads of the read model.
        assert!(many <= 10, "{large} ran {many} queries");
    }
    let (_, items) = queries_of(&app, &admin, "/dashboard/active-searches").await;
    assert_eq!(items.len(), 40);
}
