//! Password guessing is slowed down per account and per address; sessions end when they
//! should.

use serde_json::json;
use vigil_testkit::TestApp;

/// The status and `Retry-After` of one login from `forwarded` (the trusted proxy's entry).
async fn login(app: &TestApp, username: &str, password: &str, forwarded: &str) -> (u16, bool) {
    let resp = app
        .anonymous()
        .post_json(
            "/auth/login",
            json!({ "username": username, "password": password }),
        )
        .header("x-forwarded-for", forwarded)
        .await;
    (resp.status(), resp.header("retry-after").is_some())
}

#[tokio::test(flavor = "multi_thread")]
async fn repeated_wrong_passwords_lock_the_account_and_then_the_address() {
    let app = TestApp::spawn_with(|c| c.trusted_proxy_count = 1).await;
    let user = app.new_user("ROLE-VIEWER").await;
    let mut answers = Vec::new();
    for _ in 0..30 {
        answers.push(login(&app, &user.email, "wrong password", "10.9.9.1").await);
    }
    assert!(answers[..5].iter().all(|(s, _)| *s == 401), "{answers:?}");
    let refused: Vec<_> = answers.iter().filter(|(s, _)| *s == 429).collect();
    assert!(refused.len() >= 20, "{answers:?}");
    assert!(refused.iter().all(|(_, retry)| *retry), "{answers:?}");
    // Locked: the right password is refused too, from anywhere.
    assert_eq!(
        login(&app, &user.email, &user.password, "10.9.9.2").await.0,
        429
    );

    // An unknown account is counted (and answered) the same way.
    for _ in 0..5 {
        assert_eq!(
            login(&app, "nobody@example.test", "x", "10.9.9.3").await.0,
            401
        );
    }
    assert_eq!(
        login(&app, "nobody@example.test", "x", "10.9.9.3").await.0,
        429
    );

    // One address guessing many accounts is locked after 20 failures, whatever it claims to
    // be left of the entry the trusted proxy wrote.
    let mut last = 0;
    for i in 0..25 {
        let spoofed = format!("203.0.113.{i}, 10.8.8.8");
        last = login(&app, &format!("user{i}@example.test"), "x", &spoofed)
            .await
            .0;
    }
    assert_eq!(last, 429);
    // Other accounts from other addresses are not affected.
    let other = app.new_user("ROLE-VIEWER").await;
    assert_eq!(
        login(&app, &other.email, &other.password, "10.7.7.7")
            .await
            .0,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_end_on_suspension_and_after_their_absolute_lifetime() {
    let app = TestApp::spawn().await;
    let admin = app.as_user(&app.admin().await);
    let anonymous = app.anonymous();
    let refresh = |login: &serde_json::Value| json!({ "refreshToken": login["refreshToken"] });

    let user = app.new_user("ROLE-VIEWER").await;
    admin
        .put_json(
            format!("/users/{}", user.id),
            json!({ "status": "suspended" }),
        )
        .await
        .expect(200);
    anonymous
        .post_json("/auth/refresh", refresh(&user.login))
        .await
        .expect(401);

    // A session refreshed again and again still ends at its absolute lifetime.
    let user = app.new_user("ROLE-VIEWER").await;
    {
        use diesel_async::RunQueryDsl;
        let mut conn = app.ctx.db.get().await.unwrap();
        diesel::sql_query(
            "UPDATE refresh_tokens SET family_expires_at = now() - interval '1 second'",
        )
        .execute(&mut conn)
        .await
        .unwrap();
    }
    anonymous
        .post_json("/auth/refresh", refresh(&user.login))
        .await
        .expect(401);
}

#[tokio::test(flavor = "multi_thread")]
async fn changing_ones_own_password_needs_the_current_one_even_for_admins() {
    let app = TestApp::spawn().await;
    let admin = app.new_user("ROLE-ADMIN").await;
    let path = format!("/users/{}/password", admin.id);
    let new = "a new long password";
    admin
        .caller
        .patch_json(&path, json!({ "password": new }))
        .await
        .expect(422);
    admin
        .caller
        .patch_json(
            &path,
            json!({ "password": new, "currentPassword": "wrong" }),
        )
        .await
        .expect(403);
    admin
        .caller
        .patch_json(
            &path,
            json!({ "password": new, "currentPassword": admin.password }),
        )
        .await
        .expect(204);
}
