//! Object storage, both backends: streaming small and multipart-sized objects, signed download
//! links (and refusing tampered or expired ones), bad keys, and clear S3 credential errors.

use std::time::Duration;

use tokio::io::AsyncReadExt;
use vigil_core::Config;
use vigil_core::auth::Secrets;
use vigil_core::storage::{self, ByteStream, Storage};
use vigil_testkit::{Caller, TestApp, use_s3};

/// A deterministic pseudo-random body of `len` bytes, streamed in small reads so nothing holds
/// it whole.
fn body(len: usize, seed: u8) -> (Vec<u8>, ByteStream) {
    let data: Vec<u8> = (0..len)
        .map(|i| (i as u32).wrapping_mul(2654435761).to_le_bytes()[0] ^ seed)
        .collect();
    let reader = std::io::Cursor::new(data.clone());
    (
        data,
        Box::pin(tokio::io::BufReader::with_capacity(64 * 1024, reader)),
    )
}

async fn exercise(storage: &dyn Storage, anonymous: &Caller) {
    // Small object.
    let (small, stream) = body(1000, 1);
    assert_eq!(
        storage
            .put("faces/p1/img-1.jpg", stream, "image/jpeg")
            .await
            .unwrap(),
        1000
    );
    assert_eq!(
        storage.get_bytes("faces/p1/img-1.jpg").await.unwrap(),
        small
    );
    let head = storage.head("faces/p1/img-1.jpg").await.unwrap().unwrap();
    assert_eq!(head.size, 1000);
    assert_eq!(head.content_type, "image/jpeg");

    // Large object: more than one multipart part on S3.
    let (large, stream) = body(19 * 1024 * 1024 + 123, 7);
    assert_eq!(
        storage
            .put("videos/v1/source.mp4", stream, "video/mp4")
            .await
            .unwrap(),
        large.len() as u64
    );
    let mut object = storage.get("videos/v1/source.mp4").await.unwrap();
    assert_eq!(object.info.size, large.len() as u64);
    let mut read = Vec::new();
    object.body.read_to_end(&mut read).await.unwrap();
    assert!(read == large, "large object round trip differs");

    // Download URL works without credentials and returns the bytes.
    let url = storage
        .download_url("faces/p1/img-1.jpg", Duration::from_secs(60))
        .await
        .unwrap();
    let resp = anonymous.get(&url).await.expect(200);
    assert_eq!(resp.bytes(), small);
    // A tampered link is refused.
    let tampered = url.replace("img-1.jpg", "img-2.jpg");
    let resp = anonymous.get(&tampered).await;
    assert!(
        resp.status() == 403 || resp.status() == 404,
        "tampered link gave {}",
        resp.status()
    );

    // Missing objects and bad keys.
    assert!(matches!(
        storage.get("faces/none.jpg").await,
        Err(vigil_core::Error::NotFound(_))
    ));
    assert!(storage.head("faces/none.jpg").await.unwrap().is_none());
    assert!(storage.get("../etc/passwd").await.is_err());
    let (_, stream) = body(10, 0);
    assert!(
        storage
            .put("a/../../b", stream, "text/plain")
            .await
            .is_err()
    );

    storage.delete("faces/p1/img-1.jpg").await.unwrap();
    storage.delete("faces/p1/img-1.jpg").await.unwrap();
    assert!(storage.head("faces/p1/img-1.jpg").await.unwrap().is_none());
    storage.check().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn local_storage_streams_and_serves_signed_links() {
    let app = TestApp::spawn().await;
    assert_eq!(app.ctx.storage.backend(), "local");
    exercise(app.ctx.storage.as_ref(), &app.anonymous()).await;

    // An expired link is refused by the files route.
    let (_, stream) = body(10, 3);
    app.ctx
        .storage
        .put("exports/x.csv", stream, "text/csv")
        .await
        .unwrap();
    let url = app
        .ctx
        .storage
        .download_url("exports/x.csv", Duration::from_secs(0))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    app.anonymous().get(&url).await.expect(403);
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_storage_against_a_signature_checking_server() {
    let app = TestApp::spawn_with(use_s3).await;
    assert_eq!(app.ctx.storage.backend(), "s3");
    exercise(app.ctx.storage.as_ref(), &app.anonymous()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_with_wrong_credentials_fails_clearly() {
    let dir = tempfile_dir();
    let mut config = vigil_testkit::test_config(&dir);
    use_s3(&mut config);
    config.s3_secret_access_key = Some("wrong-secret".into());
    let secrets = Secrets::from_secret("a test secret that is long enough!!");
    let storage = storage::from_config(&config, &secrets).await.unwrap();
    let (_, stream) = body(10, 0);
    let err = storage
        .put("faces/x.jpg", stream, "image/jpeg")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            vigil_core::Error::Unavailable {
                service: "storage",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(storage.check().await.is_err());
    let _: Config = config;
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("vigil-it-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
