//! The people registry: employees (`/faces`) registered with photos that enroll or are
//! rejected with a reason, listed and filtered, updated, and erased with their photos;
//! students (`/students`) on the same model.

use serde_json::json;
use vigil_testkit::TestApp;
use vigil_testkit::attendance::{register_face, wait_images_processed};
use vigil_testkit::client::file_part;
use vigil_testkit::media::{blank_png, media};
use vigil_testkit::reqwest::multipart::Form;

#[tokio::test(flavor = "multi_thread")]
async fn employees_enroll_from_photos_and_are_erased_with_them() {
    let app = TestApp::spawn_with_worker().await;
    let operator = app.as_new_user("ROLE-OPERATOR").await;

    let created = register_face(
        &operator,
        &[
            ("name", "Ada Lovelace"),
            ("employeeId", "EMP-00412"),
            ("department", "Research"),
            ("role", "Engineer"),
        ],
        vec![
            ("face.png", media().target_photo()),
            ("wall.png", blank_png(640, 480, 128)),
        ],
    )
    .await
    .expect(201)
    .data();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["employeeId"], "EMP-00412");
    assert_eq!(created["status"], "pending");
    let uploaded = created["uploaded"].as_array().unwrap();
    assert_eq!(uploaded.len(), 2);
    assert!(
        uploaded
            .iter()
            .all(|p| p["status"] == "pending" && p["jobId"].is_string())
    );

    let images = wait_images_processed(&operator, "/faces", &id).await;
    let by_name = |n: &str| {
        images
            .iter()
            .find(|p| p["originalFilename"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(by_name("face.png")["status"], "enrolled");
    let wall = by_name("wall.png");
    assert_eq!(wall["status"], "rejected");
    assert!(
        wall["reason"].as_str().unwrap().contains("no face"),
        "{wall}"
    );

    // The first enrolled photo activates the person.
    let face = operator.get_data(format!("/faces/{id}")).await;
    assert_eq!(face["status"], "active");
    assert_eq!(face["images"]["enrolled"], 1);
    assert_eq!(face["images"]["rejected"], 1);

    // The employee id is unique.
    register_face(
        &operator,
        &[("name", "Someone Else"), ("employeeId", "EMP-00412")],
        vec![("face.png", media().target_photo())],
    )
    .await
    .expect_error(409, "CONFLICT");
    // At most 5 images per request; nothing stored for a refused form.
    register_face(
        &operator,
        &[("name", "Too Many"), ("employeeId", "EMP-1")],
        (0..6).map(|_| ("x.png", blank_png(8, 8, 1))).collect(),
    )
    .await
    .expect_error(422, "VALIDATION_ERROR");
    // Not an image.
    register_face(
        &operator,
        &[("name", "Notes"), ("employeeId", "EMP-2")],
        vec![("notes.txt", b"hello".to_vec())],
    )
    .await
    .expect_error(422, "VALIDATION_ERROR");
    // A second employee, for the filters.
    let other = register_face(
        &operator,
        &[
            ("name", "Grace Hopper"),
            ("employeeId", "EMP-00007"),
            ("department", "Navy"),
        ],
        vec![],
    )
    .await
    .expect(201)
    .id();

    let listed = operator.get("/faces?department=research").await.expect(200);
    assert_eq!(listed.meta()["total"], 1);
    assert_eq!(listed.items()[0]["id"], id.as_str());
    let searched = operator
        .get("/faces?search=00007")
        .await
        .expect(200)
        .items();
    assert_eq!(searched.len(), 1);
    assert_eq!(searched[0]["id"], other.as_str());
    let pending = operator
        .get("/faces?status=pending")
        .await
        .expect(200)
        .items();
    assert_eq!(pending.len(), 1);
    operator
        .get("/faces?status=gone")
        .await
        .expect_error(422, "VALIDATION_ERROR");
    let page = operator.get("/faces?pageSize=1&page=2").await.expect(200);
    assert_eq!(page.meta()["total"], 2);
    assert_eq!(page.items().len(), 1);

    let updated = operator
        .put_json(
            format!("/faces/{id}"),
            json!({ "department": "R&D", "notes": "night shift" }),
        )
        .await
        .expect(200)
        .data();
    assert_eq!(updated["department"], "R&D");
    assert_eq!(updated["employeeId"], "EMP-00412");

    // More photos later; a photo of another person's profile is not this person's.
    let form = Form::new().part(
        "images[]",
        file_part("again.png", None, media().target_photo()),
    );
    let added = operator
        .multipart(format!("/faces/{other}/images"), form)
        .await
        .expect(202)
        .items();
    let added_id = added[0]["id"].as_str().unwrap().to_string();
    operator
        .delete(format!("/faces/{id}/images/{added_id}"))
        .await
        .expect_error(404, "NOT_FOUND");
    operator
        .delete(format!("/faces/{other}/images/{added_id}"))
        .await
        .expect(204);

    // Viewers read but do not write.
    let viewer = app.as_new_user("ROLE-VIEWER").await;
    viewer
        .delete(format!("/faces/{id}"))
        .await
        .expect_error(403, "FORBIDDEN");

    // Erasure: the rows and the stored photos go.
    let keys: Vec<String> = {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use vigil_core::db::schema::{face_photos, people};
        let mut conn = app.ctx.db.get().await.unwrap();
        face_photos::table
            .inner_join(people::table.on(people::profile_id.eq(face_photos::profile_id)))
            .filter(people::id.eq(uuid::Uuid::parse_str(&id).unwrap()))
            .select(face_photos::object_key)
            .load(&mut conn)
            .await
            .unwrap()
    };
    assert_eq!(keys.len(), 2);
    for key in &keys {
        assert!(app.ctx.storage.head(key).await.unwrap().is_some());
    }
    operator.delete(format!("/faces/{id}")).await.expect(204);
    operator
        .get(format!("/faces/{id}"))
        .await
        .expect_error(404, "NOT_FOUND");
    for key in &keys {
        assert!(
            app.ctx.storage.head(key).await.unwrap().is_none(),
            "{key} kept"
        );
    }
    let admin = app.as_user(&app.admin().await);
    let audit = admin.get("/audit?pageSize=100").await.items();
    let row = audit
        .iter()
        .find(|r| r["action"] == "faces.delete")
        .expect("faces.delete audited");
    assert_eq!(row["resourceId"], id.as_str());
    assert_eq!(row["context"]["number"], "EMP-00412");
}

#[tokio::test(flavor = "multi_thread")]
async fn students_share_the_registry_with_their_own_numbers() {
    let app = TestApp::spawn().await;
    let operator = app.as_new_user("ROLE-OPERATOR").await;
    let student = operator
        .post_json(
            "/students",
            json!({ "studentNumber": "STU12345", "fullName": "John Doe", "email": "John@Example.test", "department": "Physics", "year": 2 }),
        )
        .await
        .expect(201)
        .data();
    let id = student["id"].as_str().unwrap().to_string();
    assert_eq!(student["fullName"], "John Doe");
    assert_eq!(student["email"], "john@example.test");
    assert_eq!(student["status"], "pending");
    operator
        .post_json(
            "/students",
            json!({ "studentNumber": "STU12345", "fullName": "Jane Doe" }),
        )
        .await
        .expect_error(409, "CONFLICT");
    operator
        .post_json(
            "/students",
            json!({ "studentNumber": "STU9", "fullName": "Bad Year", "year": 99 }),
        )
        .await
        .expect_error(422, "VALIDATION_ERROR");
    // A student is not an employee.
    operator
        .get(format!("/faces/{id}"))
        .await
        .expect_error(404, "NOT_FOUND");
    let listed = operator
        .get("/students?search=doe")
        .await
        .expect(200)
        .items();
    assert_eq!(listed.len(), 1);
    let updated = operator
        .put_json(
            format!("/students/{id}"),
            json!({ "year": 3, "email": null }),
        )
        .await
        .expect(200)
        .data();
    assert_eq!(updated["year"], 3);
    assert!(updated["email"].is_null());
    operator.delete(format!("/students/{id}")).await.expect(204);
    operator
        .get(format!("/students/{id}"))
        .await
        .expect_error(404, "NOT_FOUND");
}
