//! The audit log: every mutation is recorded with actor, resource and client, secrets never
//! are, and only admins read it.

use serde_json::json;
use vigil_testkit::TestApp;

#[tokio::test(flavor = "multi_thread")]
async fn every_mutation_is_audited_and_only_admins_read_it() {
    let app = TestApp::spawn().await;
    let user = app.new_user("ROLE-ADMIN").await;
    let (admin, admin_email) = (&user.caller, &user.email);
    let new_id = admin
        .post_json(
            "/users",
            json!({ "name": "Audited", "email": "audited@example.test", "roleId": "ROLE-VIEWER", "password": "password123" }),
        )
        .header("user-agent", "audit-test/1.0")
        .await
        .expect(201)
        .id();
    app.anonymous()
        .post_json(
            "/auth/login",
            json!({ "username": "audited@example.test", "password": "nope-nope" }),
        )
        .await
        .expect(401);

    let rows = admin.get("/audit?pageSize=100").await.items();
    let create = rows
        .iter()
        .find(|r| r["action"] == "users.create")
        .expect("users.create row");
    assert_eq!(create["actor"], admin_email.as_str());
    assert_eq!(create["actorRole"], "ROLE-ADMIN");
    assert_eq!(create["resourceType"], "users");
    assert_eq!(create["resourceId"], new_id.as_str());
    assert_eq!(create["statusCode"], 201);
    assert_eq!(create["severity"], "info");
    assert_eq!(create["ipAddress"], "127.0.0.1");
    assert_eq!(create["userAgent"], "audit-test/1.0");
    assert!(
        !create["context"].to_string().contains("password123"),
        "secrets must not reach the audit log"
    );

    let failed_login = rows
        .iter()
        .find(|r| r["action"] == "auth.login" && r["statusCode"] == 401)
        .expect("failed login row");
    assert_eq!(failed_login["actor"], "audited@example.test");
    assert_eq!(failed_login["severity"], "warning");

    let filtered = admin.get("/audit?action=users.create").await;
    assert_eq!(filtered.meta()["total"], 1);

    let viewer = app.as_new_user("ROLE-VIEWER").await;
    viewer.get("/audit").await.expect(403);
}
