//! Sign-in and sessions: login, refresh-token rotation and theft detection, logout, bad
//! credentials, suspension, and the first admin from configuration.

use serde_json::{Value, json};
use vigil_testkit::TestApp;

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

    let me = app.as_user(&access).get("/auth/me").await.json();
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
    let anonymous = app.anonymous();
    let rotated = anonymous
        .post_json("/auth/refresh", json!({ "refreshToken": refresh }))
        .await
        .expect(200)
        .data();
    let refresh2 = rotated["refreshToken"].as_str().unwrap().to_string();
    assert_ne!(refresh2, refresh);
    let access2 = rotated["accessToken"].as_str().unwrap();
    app.as_user(access2).get("/auth/me").await.expect(200);

    // Logout revokes the session: the current refresh token stops working.
    anonymous
        .post_json("/auth/logout", json!({ "refreshToken": refresh2 }))
        .await
        .expect(204);
    anonymous
        .post_json("/auth/refresh", json!({ "refreshToken": refresh2 }))
        .await
        .expect(401);
}

#[tokio::test(flavor = "multi_thread")]
async fn reusing_a_rotated_refresh_token_revokes_the_family() {
    let app = TestApp::spawn().await;
    let (email, password) = app.create_user("ROLE-VIEWER").await;
    let first = app.login(&email, &password).await["refreshToken"]
        .as_str()
        .unwrap()
        .to_string();
    let anonymous = app.anonymous();
    let refresh =
        |token: &str| anonymous.post_json("/auth/refresh", json!({ "refreshToken": token }));
    let second = refresh(&first).await.expect(200).data()["refreshToken"]
        .as_str()
        .unwrap()
        .to_string();

    // The stolen first token is replayed: rejected, and the legitimate second one dies too.
    let resp = refresh(&first).await.expect(401);
    assert!(
        resp.error()["message"].as_str().unwrap().contains("reuse"),
        "{}",
        resp.text()
    );
    refresh(&second).await.expect(401);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_credentials_and_tokens_are_401() {
    let app = TestApp::spawn().await;
    let (email, _) = app.create_user("ROLE-VIEWER").await;
    let anonymous = app.anonymous();
    for (user, pass) in [
        (email.as_str(), "wrong password"),
        ("nobody@example.test", "whatever123"),
    ] {
        let resp = anonymous
            .post_json("/auth/login", json!({ "username": user, "password": pass }))
            .await
            .expect_error(401, "UNAUTHORIZED");
        assert_eq!(resp.error()["message"], "invalid username or password");
    }
    anonymous
        .get("/auth/me")
        .await
        .expect_error(401, "UNAUTHORIZED");
    app.as_user("not.a.jwt").get("/auth/me").await.expect(401);
    let unknown = json!({ "refreshToken": "unknown" });
    anonymous
        .post_json("/auth/refresh", unknown)
        .await
        .expect(401);
}

#[tokio::test(flavor = "multi_thread")]
async fn suspended_user_loses_access_immediately() {
    let app = TestApp::spawn().await;
    let admin = app.as_new_user("ROLE-ADMIN").await;
    let viewer = app.new_user("ROLE-VIEWER").await;
    admin
        .put_json(
            format!("/users/{}", viewer.id),
            json!({ "status": "suspended" }),
        )
        .await
        .expect(200);
    viewer.caller.get("/auth/me").await.expect(401);
    // The same answer as a wrong password: a suspended account does not learn its password
    // was right.
    app.anonymous()
        .post_json(
            "/auth/login",
            json!({ "username": viewer.email, "password": viewer.password }),
        )
        .await
        .expect(401);
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
