//! User management: who may manage users, creating, listing with pagination and filters,
//! updating, passwords, and the rule that keeps one admin.

use serde_json::json;
use vigil_testkit::TestApp;

#[tokio::test(flavor = "multi_thread")]
async fn rbac_viewer_cannot_manage_users() {
    let app = TestApp::spawn().await;
    let viewer = app.as_new_user("ROLE-VIEWER").await;
    let resp = viewer
        .post_json(
            "/users",
            json!({ "name": "X", "email": "x@example.test", "roleId": "ROLE-VIEWER", "password": "password123" }),
        )
        .await
        .expect_error(403, "FORBIDDEN");
    assert_eq!(resp.error()["details"]["required"], "users:write");

    viewer.get("/users").await.expect(403);
    app.anonymous().get("/users").await.expect(401);
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_manages_users_with_pagination() {
    let app = TestApp::spawn().await;
    let admin = app.as_new_user("ROLE-ADMIN").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let user = admin
            .post_json(
                "/users",
                json!({ "name": format!("Reviewer {i}"), "email": format!("Rev{i}@Example.test"), "roleId": "ROLE-REVIEWER", "password": "password123" }),
            )
            .await
            .expect(201)
            .data();
        assert_eq!(user["email"], format!("rev{i}@example.test"));
        ids.push(user["id"].as_str().unwrap().to_string());
    }
    // Duplicate email (case-insensitive) → 409.
    let dup = json!({ "name": "Dup", "email": "REV0@example.test", "roleId": "ROLE-REVIEWER" });
    admin.post_json("/users", dup).await.expect(409);
    // Unknown role → 422.
    let bad = json!({ "name": "Bad", "email": "bad@example.test", "roleId": "ROLE-NOPE" });
    admin.post_json("/users", bad).await.expect(422);

    let page = admin
        .get("/users")
        .query(&[("role", "ROLE-REVIEWER"), ("page", "2"), ("pageSize", "2")])
        .await;
    assert_eq!(
        page.meta(),
        json!({ "page": 2, "pageSize": 2, "total": 3, "totalPages": 2 })
    );
    assert_eq!(page.items().len(), 1);

    let search = |text: &'static str| admin.get("/users").query(&[("search", text)]);
    assert_eq!(search("nobody-matches").await.meta()["total"], 0);
    assert_eq!(search("Reviewer 1").await.meta()["total"], 1);

    let renamed = admin
        .put_json(
            format!("/users/{}", ids[0]),
            json!({ "name": "Renamed", "roleId": "ROLE-OPERATOR" }),
        )
        .await
        .expect(200)
        .data();
    assert_eq!(renamed["name"], "Renamed");
    assert_eq!(renamed["roleId"], "ROLE-OPERATOR");

    // Admin sets a password; the user logs in with it.
    let password = format!("/users/{}/password", ids[1]);
    admin
        .patch_json(&password, json!({ "password": "brand new password" }))
        .await
        .expect(204);
    app.login("rev1@example.test", "brand new password").await;
    admin
        .patch_json(&password, json!({ "password": "short" }))
        .await
        .expect(422);

    let removed = format!("/users/{}", ids[2]);
    admin.delete(&removed).await.expect(204);
    admin.get(&removed).await.expect(404);

    let roles = admin.get("/roles").await.items();
    let ids: Vec<&str> = roles.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(
        ids,
        [
            "ROLE-ADMIN",
            "ROLE-OPERATOR",
            "ROLE-REVIEWER",
            "ROLE-VIEWER"
        ]
    );
    assert_eq!(roles[0]["permissions"], json!(["*"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_last_admin_cannot_be_removed() {
    let app = TestApp::spawn().await;
    let admin = app.new_user("ROLE-ADMIN").await;
    let path = format!("/users/{}", admin.id);
    let me = admin.caller;
    me.put_json(&path, json!({ "roleId": "ROLE-VIEWER" }))
        .await
        .expect(409);
    me.delete(&path).await.expect(409);
}

#[tokio::test(flavor = "multi_thread")]
async fn users_change_their_own_password_with_the_current_one() {
    let app = TestApp::spawn().await;
    let user = app.new_user("ROLE-VIEWER").await;
    let (me, password) = (&user.caller, &user.password);
    let path = format!("/users/{}/password", user.id);
    me.patch_json(&path, json!({ "password": "a new password" }))
        .await
        .expect(422);
    me.patch_json(
        &path,
        json!({ "password": "a new password", "currentPassword": "wrong" }),
    )
    .await
    .expect(403);
    me.patch_json(
        &path,
        json!({ "password": "a new password", "currentPassword": password }),
    )
    .await
    .expect(204);
    app.login(&user.email, "a new password").await;
    // Every earlier session was revoked with the password change.
    app.anonymous()
        .post_json(
            "/auth/refresh",
            json!({ "refreshToken": user.login["refreshToken"] }),
        )
        .await
        .expect(401);
}
