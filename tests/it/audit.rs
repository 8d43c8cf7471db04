use serde_json::{Value, json};
use vigil_testkit::TestApp;

#[tokio::test(flavor = "multi_thread")]
async fn every_mutation_is_audited_and_only_admins_read_it() {
    let app = TestApp::spawn().await;
    let (admin_email, admin_password) = app.create_user("ROLE-ADMIN").await;
    let admin = app.login(&admin_email, &admin_password).await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let resp = app
        .client
        .post(app.url("/api/v1/users"))
        .bearer_auth(&admin)
        .header("user-agent", "audit-test/1.0")
        .json(&json!({ "name": "Audited", "email": "audited@example.test", "roleId": "ROLE-VIEWER", "password": "password123" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.unwrap();
    let new_id = created["data"]["id"].as_str().unwrap().to_string();
    let failed = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "username": "audited@example.test", "password": "nope-nope" }))
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 401);

    let body: Value = app
        .client
        .get(app.url("/api/v1/audit?pageSize=100"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rows = body["data"].as_array().unwrap();
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

    let filtered: Value = app
        .client
        .get(app.url("/api/v1/audit?action=users.create"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(filtered["meta"]["total"], 1);

    let viewer = app.token_for("ROLE-VIEWER").await;
    let resp = app
        .client
        .get(app.url("/api/v1/audit"))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
}
