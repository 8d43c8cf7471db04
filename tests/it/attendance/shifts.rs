//! Shift schedules: CRUD with validation and versions; a day's log is `present` up to the
//! shift's start plus grace and `late` after; a person of the shift nobody saw gets a
//! `missed` log once the shift is over (the scheduler's attendance task), which a later
//! approved sighting turns back into attendance; today's compliance counts the people seen;
//! the logs export to CSV and PDF; the overview sums the day up.

use chrono::{Duration, Utc};
use serde_json::json;
use vigil_testkit::TestApp;
use vigil_testkit::attendance::register_face;
use vigil_testkit::jobs::{accepted, wait_succeeded};

#[tokio::test(flavor = "multi_thread")]
async fn shifts_make_days_late_or_missed() {
    let mut app = TestApp::spawn_with(|c| c.schedule_attendance = "* * * * * *".into()).await;
    app.start_worker();
    let admin = app.as_user(&app.admin().await);
    let reviewer = app.as_new_user("ROLE-REVIEWER").await;
    let operator = app.as_new_user("ROLE-OPERATOR").await;
    for (name, number, department) in [
        ("Ada", "EMP-1", "Factory"),
        ("Bo", "EMP-2", "Factory"),
        ("Cy", "EMP-3", "Office"),
    ] {
        register_face(
            &admin,
            &[
                ("name", name),
                ("employeeId", number),
                ("department", department),
            ],
            vec![],
        )
        .await
        .expect(201);
    }

    // Validation, defaults, versions.
    admin
        .post_json(
            "/shifts",
            json!({ "name": "Bad", "startTime": "25:00", "endTime": "14:00" }),
        )
        .await
        .expect_error(422, "VALIDATION_ERROR");
    admin
        .post_json(
            "/shifts",
            json!({ "name": "Bad", "startTime": "06:00", "endTime": "14:00", "days": [0] }),
        )
        .await
        .expect_error(422, "VALIDATION_ERROR");
    operator
        .post_json(
            "/shifts",
            json!({ "name": "Early", "startTime": "06:00", "endTime": "14:00" }),
        )
        .await
        .expect(403);
    // Every day of the week, so the test runs any day: the factory's early shift, 06:00–14:00
    // with 10 minutes' grace (the test deployment's timezone is UTC).
    let early = admin
        .post_json(
            "/shifts",
            json!({
                "name": "Early", "startTime": "06:00", "endTime": "14:00",
                "days": [1, 2, 3, 4, 5, 6, 7], "departments": ["Factory"],
                "expectedHeadcount": 2, "location": "Plant 1"
            }),
        )
        .await
        .expect(201)
        .data();
    assert_eq!(early["id"], "SHIFT-01");
    assert_eq!(early["graceMinutes"], 10);
    assert_eq!(early["startTime"], "06:00");
    let renamed = admin
        .put_json(
            "/shifts/SHIFT-01",
            json!({ "name": "Early shift", "version": 1 }),
        )
        .await
        .expect(200)
        .data();
    assert_eq!(renamed["version"], 2);
    assert_eq!(renamed["endTime"], "14:00");
    admin
        .put_json("/shifts/SHIFT-01", json!({ "name": "Stale", "version": 1 }))
        .await
        .expect(409);
    reviewer.get("/shifts").await.expect(200);

    // A past Monday: Ada on time, Bo a second past the grace, Cy has no shift (Office).
    let day = "2026-11-02";
    for (number, time) in [
        ("EMP-1", "06:10:00"),
        ("EMP-2", "06:10:01"),
        ("EMP-3", "11:00:00"),
    ] {
        reviewer
            .post_json(
                "/attendance/manual",
                json!({ "employeeId": number, "timestamp": format!("{day}T{time}Z") }),
            )
            .await
            .expect(201);
    }
    let logs = reviewer
        .get("/attendance/logs")
        .query(&[("dateFrom", day), ("dateTo", day)])
        .await
        .expect(200)
        .items();
    let status = |number: &str| {
        logs.iter()
            .find(|l| l["employeeId"] == number)
            .map(|l| (l["status"].clone(), l["shiftId"].clone()))
            .unwrap()
    };
    assert_eq!(status("EMP-1"), (json!("present"), json!("SHIFT-01")));
    assert_eq!(status("EMP-2"), (json!("late"), json!("SHIFT-01")));
    assert_eq!(status("EMP-3"), (json!("present"), json!(null)));

    // The day's logs exported: CSV rows as the list shows them, and a PDF.
    let export = |format: &str| {
        reviewer.post_json(
            "/attendance/export",
            json!({ "format": format, "dateFrom": day, "dateTo": day }),
        )
    };
    let job = accepted(export("csv").await);
    let job = wait_succeeded(
        &reviewer,
        job["id"].as_str().unwrap(),
        Duration::seconds(30).to_std().unwrap(),
    )
    .await;
    assert_eq!(job["result"]["rows"], 3, "{job}");
    let csv = app
        .anonymous()
        .get(job["result"]["downloadUrl"].as_str().unwrap())
        .await
        .text();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(reader.headers().unwrap().get(4), Some("status"));
    let mut rows: Vec<(String, String, String)> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[1].to_string(), r[4].to_string(), r[5].to_string())
        })
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        [
            ("EMP-1".into(), "present".into(), "06:10:00".into()),
            ("EMP-2".into(), "late".into(), "06:10:01".into()),
            ("EMP-3".into(), "present".into(), "11:00:00".into()),
        ]
    );
    let job = accepted(export("pdf").await);
    let job = wait_succeeded(
        &reviewer,
        job["id"].as_str().unwrap(),
        Duration::seconds(30).to_std().unwrap(),
    )
    .await;
    assert_eq!(job["result"]["pages"], 1, "{job}");
    let pdf = app
        .anonymous()
        .get(job["result"]["downloadUrl"].as_str().unwrap())
        .await;
    assert!(pdf.bytes().starts_with(b"%PDF"));
    reviewer
        .post_json("/attendance/export", json!({ "format": "xls" }))
        .await
        .expect_error(422, "VALIDATION_ERROR");

    // A shift that ended 20 minutes ago with nobody seen: once the scheduler's attendance task
    // runs, Ada and Bo have `missed` logs without times; Cy (no shift) has none. (Yesterday's
    // shift is over too and missed as well; near midnight the shift runs overnight and its
    // day is yesterday.)
    let started = Utc::now() - Duration::minutes(80);
    let missed_day = started.date_naive().to_string();
    admin
        .put_json(
            "/shifts/SHIFT-01",
            json!({
                "startTime": started.format("%H:%M").to_string(),
                "endTime": (Utc::now() - Duration::minutes(20)).format("%H:%M").to_string(),
            }),
        )
        .await
        .expect(200);
    app.start_scheduler();
    let missed = reviewer
        .wait_for(
            format!("/attendance/logs?status=missed&dateFrom={missed_day}&dateTo={missed_day}"),
            std::time::Duration::from_secs(20),
            std::time::Duration::from_millis(300),
            |l| l.as_array().is_some_and(|a| a.len() == 2),
        )
        .await;
    for log in missed.as_array().unwrap() {
        assert!(
            log["timeIn"].is_null() && log["timeInAt"].is_null(),
            "{log}"
        );
        assert_eq!(log["events"], 0);
        assert_ne!(log["employeeId"], "EMP-3");
    }
    let stats = reviewer
        .get(format!(
            "/attendance/statistics?dateFrom={missed_day}&dateTo={missed_day}"
        ))
        .await
        .expect(200)
        .data();
    assert_eq!(stats["missed"], 2, "{stats}");
    assert_eq!(stats["logs"], 0, "{stats}");

    // Ada did come, half an hour late: her day becomes attendance (late), and the shift's
    // compliance counts her. (Skipped in the half hour after midnight, when that sighting
    // would fall on the next day.)
    let came = started + Duration::minutes(30);
    if came.date_naive() != started.date_naive() {
        return;
    }
    reviewer
        .post_json(
            "/attendance/manual",
            json!({
                "employeeId": "EMP-1",
                "timestamp": came.to_rfc3339(),
            }),
        )
        .await
        .expect(201);
    let ada = reviewer
        .get("/attendance/logs")
        .query(&[
            ("search", "EMP-1"),
            ("dateFrom", &missed_day),
            ("dateTo", &missed_day),
        ])
        .await
        .expect(200)
        .items();
    assert_eq!(ada[0]["status"], "late", "{ada:?}");
    assert!(ada[0]["timeIn"].is_string());
    // The day at a glance: two expected (the factory), Ada late, Bo missed.
    let overview = reviewer
        .get_data(format!("/attendance/overview?date={missed_day}"))
        .await;
    assert_eq!(
        (
            &overview["people"],
            &overview["expected"],
            &overview["present"],
            &overview["late"],
            &overview["missed"]
        ),
        (&json!(3), &json!(2), &json!(0), &json!(1), &json!(1)),
        "{overview}"
    );
    assert_eq!(overview["attendanceRate"], 50.0, "{overview}");
    assert_eq!(overview["shifts"][0]["id"], "SHIFT-01");
    assert_eq!(overview["shifts"][0]["compliance"], 50.0, "{overview}");
    if missed_day == Utc::now().date_naive().to_string() {
        let shift = reviewer.get_data("/shifts/SHIFT-01").await;
        assert_eq!(shift["presentToday"], 1, "{shift}");
        assert_eq!(shift["compliance"], 50.0, "{shift}");
    }

    admin.delete("/shifts/SHIFT-01").await.expect(204);
    admin.delete("/shifts/SHIFT-01").await.expect(404);
}
