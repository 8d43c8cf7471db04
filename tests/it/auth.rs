use serde_json::{Value, json};
use vigil_testkit::TestApp;

use crate::assert_error_envelope;

#[tokio::test(flavor = "multi_thread")]
async fn login_me_refresh_logout() {
    let app = TestApp::spawn().await;
    let (email, password) = app.create_user("ROLE-OPERATOR").await;
    let data = app.login(&email, &password).await;
    assert_eq!(data["user"]["email"], email.as_str());
    assert_eq!(data["user"]["roleId"], "ROLE-OPERATOR");
    assert_eq!(data["tokenType"], "Bearer");
    assert!(data["user"].get("passwordHash").is_none());
    let access = data["accessToken"].as_str().unwrap().to_string();
    let refresh = data["refreshToken"].as_str().unwrap().to_string();

    let me: Value = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["success"], true);
    assert_eq!(me["data"]["user"]["email"], email.as_str());
    let perms: Vec<&str> = me["data"]["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(perms.contains(&"cameras:write"), "{perms:?}");

    // Rotation: the refresh token works once and yields a new pair.
    let resp = app
        .client
        .post(app.url("/api/v1/auth/refresh"))
        .json(&json!({ "refreshToken": refresh }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let rotated: Value = resp.json().await.unwrap();
    let refresh2 = rotated["data"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(refresh2, refresh);
    let access2 = rotated["data"]["accessToken"].as_str().unwrap();
    let resp = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .bearer_auth(access2)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // Logout revokes the session: the current refresh token stops working.
    let resp = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .json(&json!({ "refreshToken": refresh2 }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let resp = app
        .client
        .post(app.url("/api/v1/auth/refresh"))
        .json(&json!({ "refreshToken": refresh2 }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn reusing_a_rotated_refresh_token_revokes_the_family() {
    let app = TestApp::spawn().await;
    let (email, password) = app.create_user("ROLE-VIEWER").await;
    let first = app.login(&email, &password).await["refreshToken"]
        .as_str()
        .unwrap()
        .to_string();
    let refresh = |token: String| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/api/v1/auth/refresh"))
                .json(&json!({ "refreshToken": token }))
                .send()
                .await
                .unwrap()
        }
    };
    let resp = refresh(first.clone()).await;
    assert_eq!(resp.status(), 200);
    let second = resp.json::<Value>().await.unwrap()["data"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_string();

    // The stolen first token is replayed: rejected, and the legitimate second one dies too.
    let resp = refresh(first).await;
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["error"]["message"].as_str().unwrap().contains("reuse"),
        "{body}"
    );
    assert_eq!(refresh(second).await.status(), 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_credentials_and_tokens_are_401() {
    let app = TestApp::spawn().await;
    let (email, _) = app.create_user("ROLE-VIEWER").await;
    for (user, pass) in [
        (email.as_str(), "wrong password"),
        ("nobody@example.test", "whatever123"),
    ] {
        let resp = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({ "username": user, "password": pass }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
        let body: Value = resp.json().await.unwrap();
        let err = assert_error_envelope(&body, "UNAUTHORIZED");
        assert_eq!(err["message"], "invalid username or password");
    }
    let resp = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_error_envelope(&resp.json().await.unwrap(), "UNAUTHORIZED");
    let resp = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .bearer_auth("not.a.jwt")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = app
        .client
        .post(app.url("/api/v1/auth/refresh"))
        .json(&json!({ "refreshToken": "unknown" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn suspended_user_loses_access_immediately() {
    let app = TestApp::spawn().await;
    let admin = app.token_for("ROLE-ADMIN").await;
    let (email, password) = app.create_user("ROLE-VIEWER").await;
    let data = app.login(&email, &password).await;
    let token = data["accessToken"].as_str().unwrap();
    let id = data["user"]["id"].as_str().unwrap();
    let resp = app
        .client
        .put(app.url(&format!("/api/v1/users/{id}")))
        .bearer_auth(&admin)
        .json(&json!({ "status": "suspended" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "username": email, "password": password }))
        .send()
        .await
        .unwrap();
    // The same answer as a wrong password: a suspended account does not learn its password
    // was right.
    assert_eq!(resp.status(), 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn first_admin_comes_from_configuration_once() {
    let email = format!(
        "boot-{}@example.test",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let app = TestApp::spawn_with(|c| {
        c.admin_email = Some(email.clone());
        c.admin_password = Some("a strong bootstrap password".into());
    })
    .await;
    let data = app.login(&email, "a strong bootstrap password").await;
    assert_eq!(data["user"]["roleId"], "ROLE-ADMIN");
    // A second start with a different password neither fails nor changes the admin.
    let mut conn = app.ctx.db.get().await.unwrap();
    let again = vigil_core::users::bootstrap_admin(&mut conn, &email, "another password!", None)
        .await
        .unwrap();
    assert!(again.is_none());
}
