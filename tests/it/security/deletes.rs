//! Deletes: only a record's creator (with the write permission) or an admin may delete it,
//! and what it owned in storage goes with its rows, thumbnails of search results included.

use serde_json::json;
use uuid::Uuid;
use vigil_testkit::TestApp;

use super::seed::{appearances, search_by, search_of, thumbnail_key};

async fn stored(app: &TestApp, key: &str) -> bool {
    app.ctx.storage.head(key).await.unwrap().is_some()
}

async fn store(app: &TestApp, key: &str) {
    app.ctx
        .storage
        .put_bytes(key, vec![0xFF, 0xD8, 0xFF, 0xD9], "image/jpeg")
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn operators_delete_only_what_they_created() {
    let app = TestApp::spawn().await;
    let alice = app.new_user("ROLE-OPERATOR").await;
    let bob = app.as_new_user("ROLE-OPERATOR").await;
    let admin = app.as_user(&app.admin().await);
    let video = |caller: &vigil_testkit::Caller| {
        let caller = caller.clone();
        async move {
            caller
                .post_json(
                    "/videos/live",
                    json!({ "title": "door", "url": "rtsp://10.0.0.7/stream" }),
                )
                .await
                .expect(201)
                .id()
        }
    };
    let person = |caller: &vigil_testkit::Caller| {
        let caller = caller.clone();
        async move {
            caller
                .post_json("/missing-persons", json!({ "name": "Owned" }))
                .await
                .expect(201)
                .id()
        }
    };
    let (v1, v2) = (video(&alice.caller).await, video(&alice.caller).await);
    let (p1, p2) = (person(&alice.caller).await, person(&alice.caller).await);
    for path in [format!("/videos/{v1}"), format!("/missing-persons/{p1}")] {
        bob.delete(&path).await.expect_error(403, "FORBIDDEN");
        alice.caller.get(&path).await.expect(200);
        alice.caller.delete(&path).await.expect(204);
        alice.caller.get(&path).await.expect(404);
    }
    for path in [format!("/videos/{v2}"), format!("/missing-persons/{p2}")] {
        admin.delete(&path).await.expect(204);
    }
    // A search's results belong to its creator too: another operator's search is not theirs
    // to delete, nor are rows made by nobody (the system, or a deleted user).
    let mine = search_by(&app, "Theirs", &["clip"], Some(alice.id.parse().unwrap())).await;
    bob.delete(format!("/searches/{}", mine.search))
        .await
        .expect_error(403, "FORBIDDEN");
    let nobodys = search_of(&app, "Nobody's", &["clip"]).await;
    alice
        .caller
        .delete(format!("/videos/{}", nobodys.videos[0]))
        .await
        .expect_error(403, "FORBIDDEN");
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_video_deletes_its_file_and_every_thumbnail_found_in_it() {
    let app = TestApp::spawn().await;
    let admin = app.as_user(&app.admin().await);
    let f = search_of(&app, "Seen", &["kept", "deleted"]).await;
    let (kept, gone) = (f.videos[0], f.videos[1]);
    appearances(&app, &f, kept, 2).await;
    appearances(&app, &f, gone, 3).await;
    let file = format!("videos/{gone}.video");
    store(&app, &file).await;
    for video in [kept, gone] {
        for nth in 1..=(if video == kept { 2 } else { 3 }) {
            store(&app, &thumbnail_key(&f, video, nth)).await;
        }
    }
    admin.delete(format!("/videos/{gone}")).await.expect(204);
    assert!(!stored(&app, &file).await, "the video's file");
    for nth in 1..=3 {
        assert!(
            !stored(&app, &thumbnail_key(&f, gone, nth)).await,
            "thumbnail {nth} of the deleted video"
        );
    }
    for nth in 1..=2 {
        assert!(stored(&app, &thumbnail_key(&f, kept, nth)).await);
    }
    let summary = admin
        .get_data(format!("/searches/{}/summary", f.search))
        .await;
    assert_eq!(summary["appearances"], 2);
    assert_eq!(pending_orphans(&app).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_person_deletes_their_photos_and_thumbnails() {
    let app = TestApp::spawn().await;
    let admin = app.as_user(&app.admin().await);
    let f = search_of(&app, "Found", &["clip"]).await;
    appearances(&app, &f, f.videos[0], 2).await;
    for nth in 1..=2 {
        store(&app, &thumbnail_key(&f, f.videos[0], nth)).await;
    }
    let mut conn = app.ctx.db.get().await.unwrap();
    let profile = vigil_core::missing_persons::get(&mut conn, f.person)
        .await
        .unwrap()
        .profile_id;
    let photo = Uuid::now_v7();
    let photo_key = format!("faces/{profile}/{photo}.jpg");
    vigil_core::faces::add_photo(
        &mut conn,
        vigil_core::faces::NewPhoto {
            id: photo,
            profile_id: profile,
            object_key: &photo_key,
            content_type: "image/jpeg",
            size_bytes: 4,
            original_filename: None,
            created_by: None,
        },
    )
    .await
    .unwrap();
    drop(conn);
    store(&app, &photo_key).await;
    admin
        .delete(format!("/missing-persons/{}", f.person))
        .await
        .expect(204);
    assert!(!stored(&app, &photo_key).await, "the photo");
    for nth in 1..=2 {
        assert!(!stored(&app, &thumbnail_key(&f, f.videos[0], nth)).await);
    }
    assert_eq!(pending_orphans(&app).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn objects_storage_could_not_delete_wait_for_the_cleanup_job() {
    let app = TestApp::spawn().await;
    let f = search_of(&app, "Later", &["clip"]).await;
    appearances(&app, &f, f.videos[0], 2).await;
    for nth in 1..=2 {
        store(&app, &thumbnail_key(&f, f.videos[0], nth)).await;
    }
    // Rows deleted behind the API's back (as retention or a cascade would): the database
    // remembers their objects until a sweep deletes them.
    let mut conn = app.ctx.db.get().await.unwrap();
    vigil_core::searches::delete(&mut conn, f.search)
        .await
        .unwrap();
    drop(conn);
    assert_eq!(pending_orphans(&app).await, 2);
    assert!(stored(&app, &thumbnail_key(&f, f.videos[0], 1)).await);
    let swept = vigil_core::storage::orphans::sweep(&app.ctx, 100)
        .await
        .unwrap();
    assert_eq!(swept.deleted, 2);
    assert!(!stored(&app, &thumbnail_key(&f, f.videos[0], 1)).await);
    assert_eq!(pending_orphans(&app).await, 0);
}

async fn pending_orphans(app: &TestApp) -> i64 {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use vigil_core::db::schema::storage_orphans;
    let mut conn = app.ctx.db.get().await.unwrap();
    storage_orphans::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap()
}
