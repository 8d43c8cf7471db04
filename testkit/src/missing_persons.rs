//! Missing persons and their enrollment photos through the API: creating a person and
//! enrolling a face, which every search (and any feature matching faces) starts from.

use std::time::Duration;

use serde_json::{Value, json};

use crate::client::file_part;
use crate::{Caller, Response};
use reqwest::multipart::Form;

/// Creates a missing person named `name` and returns its id.
pub async fn create_person(caller: &Caller, name: &str) -> String {
    caller
        .post_json(
            "/missing-persons",
            json!({ "name": name, "age": 30, "lastSeenLocation": "Main station" }),
        )
        .await
        .expect(201)
        .id()
}

/// Uploads `photos` (file name, bytes) for enrollment; the answer is left to the caller.
pub async fn upload_photos(
    caller: &Caller,
    person: &str,
    photos: Vec<(&str, Vec<u8>)>,
) -> Response {
    let form = photos.into_iter().fold(Form::new(), |form, (name, bytes)| {
        form.part("photos", file_part(name, None, bytes))
    });
    caller
        .multipart(format!("/missing-persons/{person}/photos"), form)
        .await
}

/// Polls the person's photos until none is pending (2 minutes at most), and returns them.
pub async fn wait_photos_processed(caller: &Caller, person: &str) -> Vec<Value> {
    let photos = caller
        .wait_for(
            format!("/missing-persons/{person}/photos"),
            Duration::from_secs(120),
            Duration::from_millis(200),
            |photos| {
                photos
                    .as_array()
                    .is_some_and(|all| all.iter().all(|p| p["status"] != "pending"))
            },
        )
        .await;
    photos.as_array().unwrap().clone()
}

/// A person named `name` with `photo` enrolled (checked), ready to be searched for.
pub async fn enroll(caller: &Caller, name: &str, photo: Vec<u8>) -> String {
    let person = create_person(caller, name).await;
    upload_photos(caller, &person, vec![("ada.png", photo)])
        .await
        .expect(202);
    let photos = wait_photos_processed(caller, &person).await;
    assert_eq!(photos[0]["status"], "enrolled", "{photos:?}");
    person
}
