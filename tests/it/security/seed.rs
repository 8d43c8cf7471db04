//! Searches with results written straight into the database: what these tests need is the
//! shape and size of the data (thousands of children, hostile names, someone else's rows), not
//! a worker finding it.

use diesel::sql_types::{BigInt, Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use uuid::Uuid;
use vigil_core::jobs::{NewJob, store};
use vigil_core::missing_persons::{self, Details};
use vigil_core::searches::{self, NewSearch, SearchJob, SearchSettings};
use vigil_core::videos::{self, NewVideo, VideoKind, VideoStatus};
use vigil_testkit::TestApp;

/// A search of one person in some recorded videos.
pub struct Fixture {
    pub search: Uuid,
    pub job: Uuid,
    pub person: Uuid,
    pub videos: Vec<Uuid>,
}

/// A search of a person named `person` in ready videos titled `titles`, created by nobody.
pub async fn search_of(app: &TestApp, person: &str, titles: &[&str]) -> Fixture {
    search_by(app, person, titles, None).await
}

/// As [`search_of`], the person, videos and search created by `owner`.
pub async fn search_by(
    app: &TestApp,
    person: &str,
    titles: &[&str],
    owner: Option<Uuid>,
) -> Fixture {
    let mut conn = app.ctx.db.get().await.unwrap();
    let person = missing_persons::create(
        &mut conn,
        Details {
            name: Some(person.into()),
            ..Default::default()
        },
        owner,
    )
    .await
    .unwrap()
    .id;
    let mut ids = Vec::new();
    for title in titles {
        let id = Uuid::now_v7();
        let key = format!("videos/{id}.video");
        videos::create(
            &mut conn,
            NewVideo {
                id,
                kind: VideoKind::File,
                title,
                description: None,
                object_key: Some(&key),
                original_filename: None,
                content_type: None,
                size_bytes: Some(1),
                stream_url: None,
                status: VideoStatus::Ready,
                created_by: owner,
            },
        )
        .await
        .unwrap();
        ids.push(id);
    }
    let search = Uuid::now_v7();
    let (job, _) = store::submit(
        &mut conn,
        NewJob::of(&SearchJob { search_id: search }).created_by(owner),
    )
    .await
    .unwrap();
    searches::create(
        &mut conn,
        NewSearch {
            id: search,
            job_id: job.id,
            name: None,
            settings: &SearchSettings::default(),
            notify: &[],
            persons: &[person],
            videos: &ids,
            created_by: owner,
        },
    )
    .await
    .unwrap();
    Fixture {
        search,
        job: job.id,
        person,
        videos: ids,
    }
}

/// The storage key of the thumbnail of the `nth` appearance (and detection) in `video`.
pub fn thumbnail_key(f: &Fixture, video: Uuid, nth: i64) -> String {
    format!(
        "frames/{}/{video}/{}/{}.jpg",
        f.search,
        f.person,
        nth * 10_000
    )
}

/// Adds `n` appearances of the person in `video`, the i-th (from 1) at 10·i s, each with one
/// confirmed detection; both name the thumbnail [`thumbnail_key`]`(f, video, i)`.
pub async fn appearances(app: &TestApp, f: &Fixture, video: Uuid, n: i64) {
    let mut conn = app.ctx.db.get().await.unwrap();
    let prefix = format!("frames/{}/{video}/{}/", f.search, f.person);
    diesel::sql_query(
        "WITH a AS (
             INSERT INTO appearances (id, search_id, video_id, missing_person_id, start_secs,
                                      end_secs, frames, best_distance, best_score, best_secs,
                                      best_box, thumbnail_key)
             SELECT gen_random_uuid(), $1, $2, $3, g * 10, g * 10 + 5, 1, 0.3, 0.7, g * 10,
                    '{\"x\": 1, \"y\": 2, \"width\": 30, \"height\": 30}',
                    $5 || (g * 10000) || '.jpg'
             FROM generate_series(1, $4) g
             RETURNING id, start_secs, thumbnail_key)
         INSERT INTO detections (id, search_id, video_id, missing_person_id, appearance_id,
                                 frame_ms, bbox, detector_score, distance, score, frame_key)
         SELECT gen_random_uuid(), $1, $2, $3, a.id, (a.start_secs * 1000)::int8,
                '{\"x\": 1, \"y\": 2, \"width\": 30, \"height\": 30}', 0.9, 0.3, 0.7,
                a.thumbnail_key
         FROM a",
    )
    .bind::<SqlUuid, _>(f.search)
    .bind::<SqlUuid, _>(video)
    .bind::<SqlUuid, _>(f.person)
    .bind::<BigInt, _>(n)
    .bind::<Text, _>(prefix)
    .execute(&mut conn)
    .await
    .unwrap();
}
