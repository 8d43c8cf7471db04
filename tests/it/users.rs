use serde_json::{Value, json};
use vigil_testkit::TestApp;

use crate::assert_error_envelope;

#[tokio::test(flavor = "multi_thread")]
async fn rbac_viewer_cannot_manage_users() {
    let app = TestApp::spawn().await;
    let viewer = app.token_for("ROLE-VIEWER").await;
    let resp = app
        .client
        .post(app.url("/api/v1/users"))
        .bearer_auth(&viewer)
        .json(&json!({ "name": "X", "email": "x@example.test", "roleId": "ROLE-VIEWER", "password": "password123" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let err = assert_error_envelope(&resp.json().await.unwrap(), "FORBIDDEN");
    assert_eq!(err["details"]["required"], "users:write");

    let resp = app
        .client
        .get(app.url("/api/v1/users"))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = app
        .client
        .get(app.url("/api/v1/users"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_manages_users_with_pagination() {
    let app = TestApp::spawn().await;
    let admin = app.token_for("ROLE-ADMIN").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let resp = app
            .client
            .post(app.url("/api/v1/users"))
            .bearer_auth(&admin)
            .json(&json!({ "name": format!("Reviewer {i}"), "email": format!("Rev{i}@Example.test"), "roleId": "ROLE-REVIEWER", "password": "password123" }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["data"]["email"], format!("rev{i}@example.test"));
        ids.push(body["data"]["id"].as_str().unwrap().to_string());
    }
    // Duplicate email (case-insensitive) → 409.
    let resp = app
        .client
        .post(app.url("/api/v1/users"))
        .bearer_auth(&admin)
        .json(&json!({ "name": "Dup", "email": "REV0@example.test", "roleId": "ROLE-REVIEWER" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 409);
    // Unknown role → 422.
    let resp = app
        .client
        .post(app.url("/api/v1/users"))
        .bearer_auth(&admin)
        .json(&json!({ "name": "Bad", "email": "bad@example.test", "roleId": "ROLE-NOPE" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);

    let body: Value = app
        .client
        .get(app.url("/api/v1/users?role=ROLE-REVIEWER&page=2&pageSize=2"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["meta"],
        json!({ "page": 2, "pageSize": 2, "total": 3, "totalPages": 2 })
    );
    assert_eq!(body["data"].as_array().unwrap().len(), 1);

    let body: Value = app
        .client
        .get(app.url("/api/v1/users?search=nobody-matches"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["meta"]["total"], 0);
    let body: Value = app
        .client
        .get(app.url("/api/v1/users?search=Reviewer 1"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["meta"]["total"], 1);

    let resp = app
        .client
        .put(app.url(&format!("/api/v1/users/{}", ids[0])))
        .bearer_auth(&admin)
        .json(&json!({ "name": "Renamed", "roleId": "ROLE-OPERATOR" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["data"]["name"], "Renamed");
    assert_eq!(body["data"]["roleId"], "ROLE-OPERATOR");

    // Admin sets a password; the user logs in with it.
    let resp = app
        .client
        .patch(app.url(&format!("/api/v1/users/{}/password", ids[1])))
        .bearer_auth(&admin)
        .json(&json!({ "password": "brand new password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    app.login("rev1@example.test", "brand new password").await;
    let resp = app
        .client
        .patch(app.url(&format!("/api/v1/users/{}/password", ids[1])))
        .bearer_auth(&admin)
        .json(&json!({ "password": "short" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);

    let resp = app
        .client
        .delete(app.url(&format!("/api/v1/users/{}", ids[2])))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let resp = app
        .client
        .get(app.url(&format!("/api/v1/users/{}", ids[2])))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);

    let roles: Value = app
        .client
        .get(app.url("/api/v1/roles"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = roles["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "ROLE-ADMIN",
            "ROLE-OPERATOR",
            "ROLE-REVIEWER",
            "ROLE-VIEWER"
        ]
    );
    assert_eq!(roles["data"][0]["permissions"], json!(["*"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_last_admin_cannot_be_removed() {
    let app = TestApp::spawn().await;
    let (email, password) = app.create_user("ROLE-ADMIN").await;
    let data = app.login(&email, &password).await;
    let token = data["accessToken"].as_str().unwrap();
    let id = data["user"]["id"].as_str().unwrap();
    let resp = app
        .client
        .put(app.url(&format!("/api/v1/users/{id}")))
        .bearer_auth(token)
        .json(&json!({ "roleId": "ROLE-VIEWER" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 409);
    let resp = app
        .client
        .delete(app.url(&format!("/api/v1/users/{id}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 409);
}

#[tokio::test(flavor = "multi_thread")]
async fn users_change_their_own_password_with_the_current_one() {
    let app = TestApp::spawn().await;
    let (email, password) = app.create_user("ROLE-VIEWER").await;
    let data = app.login(&email, &password).await;
    let token = data["accessToken"].as_str().unwrap();
    let id = data["user"]["id"].as_str().unwrap();
    let url = app.url(&format!("/api/v1/users/{id}/password"));
    let resp = app
        .client
        .patch(&url)
        .bearer_auth(token)
        .json(&json!({ "password": "a new password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    let resp = app
        .client
        .patch(&url)
        .bearer_auth(token)
        .json(&json!({ "password": "a new password", "currentPassword": "wrong" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = app
        .client
        .patch(&url)
        .bearer_auth(token)
        .json(&json!({ "password": "a new password", "currentPassword": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    app.login(&email, "a new password").await;
    // Every earlier session was revoked with the password change.
    let resp = app
        .client
        .post(app.url("/api/v1/auth/refresh"))
        .json(&json!({ "refreshToken": data["refreshToken"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}
