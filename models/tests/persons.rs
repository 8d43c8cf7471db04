//! CenterNet person detection against human's output on the sample photos.

mod common;

use common::{fixture, sample};
use vigil_models::{CenterNetConfig, PersonDetector};

#[test]
fn centernet_finds_the_five_people_in_sample5() {
    let det = PersonDetector::load(&common::cache()).expect("centernet loads");
    let img = sample(5);
    let got = det.detect(&img).expect("detector runs");
    let r = fixture("centernet", 5);
    let want: Vec<&serde_json::Value> = r["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["label"] == "person")
        .collect();
    assert_eq!(want.len(), 5, "fixture holds five persons");
    assert_eq!(got.len(), 5, "persons found: {got:?}");
    for w in &want {
        let b: Vec<f32> = w["box_xywh_px"]
            .as_array()
            .unwrap()
            .iter()
            .map(common::f)
            .collect();
        // Reference boxes are truncated to integers; compare ours the same way.
        let g = got
            .iter()
            .min_by(|a, c| {
                let da = (a.bbox.x - b[0]).abs() + (a.bbox.y - b[1]).abs();
                let dc = (c.bbox.x - b[0]).abs() + (c.bbox.y - b[1]).abs();
                da.total_cmp(&dc)
            })
            .unwrap();
        let gb = [
            g.bbox.x.trunc(),
            g.bbox.y.trunc(),
            g.bbox.width.trunc(),
            g.bbox.height.trunc(),
        ];
        let err = gb
            .iter()
            .zip(&b)
            .map(|(a, c)| (a - c).abs())
            .fold(0f32, f32::max);
        let score_err = ((100.0 * g.score).trunc() / 100.0 - common::f(&w["score"])).abs();
        println!(
            "person {b:?}: ours {gb:?} (score {:.4}) max err {err}px",
            g.score
        );
        assert!(err <= 2.0, "box {gb:?} vs {b:?}");
        assert!(score_err <= 0.011, "score {} vs {}", g.score, w["score"]);
    }
}

#[test]
fn centernet_other_classes_on_request() {
    let det = PersonDetector::load(&common::cache())
        .expect("centernet loads")
        .with_config(CenterNetConfig {
            classes: None,
            ..CenterNetConfig::default()
        });
    for n in 1..=6 {
        let got = det.detect(&sample(n)).expect("detector runs");
        let r = fixture("centernet", n);
        let want = r["objects"].as_array().unwrap();
        println!(
            "sample{n}: ours {:?} reference {:?}",
            got.iter()
                .map(|d| (d.label.as_str(), d.score))
                .collect::<Vec<_>>(),
            want.iter()
                .map(|o| (
                    o["label"].as_str().unwrap_or(""),
                    o["score"].as_f64().unwrap_or(0.0)
                ))
                .collect::<Vec<_>>()
        );
        assert_eq!(
            got.len(),
            want.len(),
            "sample{n}: detection count (all classes)"
        );
    }
}

/// The people a camera counts (score ≥ 0.3, the cameras' default `minConfidence`) in `img`.
fn counted(det: &PersonDetector, img: &image::RgbImage) -> Vec<vigil_models::Detection> {
    let mut found = det.detect(img).expect("detector runs");
    found.retain(|d| d.score >= 0.3);
    found
}

/// The photo as a 1280×720 camera frame (letterboxed), as the camera benchmark streams it.
fn camera_frame(img: &image::RgbImage) -> image::RgbImage {
    let scale = (1280.0 / img.width() as f32).min(720.0 / img.height() as f32);
    let (w, h) = (
        (img.width() as f32 * scale) as u32,
        (img.height() as f32 * scale) as u32,
    );
    let small = image::imageops::resize(img, w, h, image::imageops::FilterType::Triangle);
    let mut frame = image::RgbImage::new(1280, 720);
    let (ox, oy) = ((1280 - w) / 2, (720 - h) / 2);
    image::imageops::overlay(&mut frame, &small, ox as i64, oy as i64);
    frame
}

/// Counting runs CenterNet on the frame's own shape (512×288 for 720p) instead of the
/// reference's 512×512 stretch. Each sample photo is a group of people, every one showing a
/// face (face-api's faces are the head count); counted at the cameras' default
/// `minConfidence` (0.3) on the photo and on the photo as a 720p camera frame, the aspect-kept
/// input counts at least as close to the truth as the stretched one.
#[test]
fn centernet_keeping_the_aspect_counts_closer_to_the_truth() {
    let square = PersonDetector::load(&common::cache()).expect("centernet loads");
    let aspect = PersonDetector::load(&common::cache())
        .expect("centernet loads")
        .with_config(CenterNetConfig {
            input: vigil_models::CenterNetInput::KeepAspect(512),
            ..CenterNetConfig::default()
        });
    assert_eq!(
        vigil_models::CenterNetInput::KeepAspect(512).size_for(1280, 720),
        (512, 288)
    );
    let (mut error_square, mut error_aspect, mut people) = (0, 0, 0);
    for n in 1..=6 {
        let truth = fixture("faceapi", n)["faces"].as_array().unwrap().len();
        let photo = sample(n);
        let frame = camera_frame(&photo);
        for (what, img) in [("photo", &photo), ("720p frame", &frame)] {
            let sq = counted(&square, img).len();
            let asp = counted(&aspect, img).len();
            println!(
                "sample{n} {what}: {truth} people; square input counts {sq}, keep-aspect {asp}"
            );
            error_square += sq.abs_diff(truth);
            error_aspect += asp.abs_diff(truth);
            people += truth;
        }
    }
    println!(
        "{people} people in 12 pictures: counting error square {error_square}, keep-aspect {error_aspect}"
    );
    assert!(
        error_aspect <= error_square,
        "the aspect-kept input counts worse"
    );
}
