use std::time::Duration;

use vigil_core::email::{Email, Mailer};
use vigil_testkit::{Services, TestApp, wait_for_mail};

#[tokio::test(flavor = "multi_thread")]
async fn email_is_received_by_the_smtp_server() {
    let app = TestApp::spawn().await;
    let subject = format!("Vigil test {}", uuid::Uuid::new_v4());
    app.ctx
        .mailer
        .send(&Email {
            to: vec!["reviewer@example.test".into()],
            subject: subject.clone(),
            text: "A person was found at 00:04 in video 1.".into(),
            html: Some("<p>A person was found.</p>".into()),
        })
        .await
        .expect("send");
    let message = wait_for_mail(&subject, Duration::from_secs(10))
        .await
        .expect("message stored by the SMTP server");
    assert!(message.contains("reviewer@example.test"));
    assert!(message.contains("A person was found at 00:04"));
    app.ctx.mailer.check().await.expect("NOOP");
}

#[tokio::test(flavor = "multi_thread")]
async fn email_errors_are_clear() {
    let mailer = Mailer::new(Some(&Services::smtp_url()), "Vigil <vigil@example.test>").unwrap();
    let bad = Email {
        to: vec!["not an address".into()],
        subject: "x".into(),
        text: "x".into(),
        html: None,
    };
    assert!(matches!(
        mailer.send(&bad).await,
        Err(vigil_core::Error::Validation { .. })
    ));

    let down = Mailer::new(Some("smtp://127.0.0.1:1"), "Vigil <vigil@example.test>").unwrap();
    let ok = Email {
        to: vec!["a@example.test".into()],
        subject: "x".into(),
        text: "x".into(),
        html: None,
    };
    assert!(matches!(
        down.send(&ok).await,
        Err(vigil_core::Error::Unavailable {
            service: "smtp",
            ..
        })
    ));

    let unconfigured = Mailer::new(None, "Vigil <vigil@example.test>").unwrap();
    let err = unconfigured.send(&ok).await.unwrap_err();
    assert!(err.to_string().contains("VIGIL_SMTP_URL"), "{err}");
    assert!(Mailer::new(None, "not a mailbox").is_err());
}
