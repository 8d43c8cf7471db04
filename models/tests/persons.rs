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
