//! BlazeFace against human 3.3.6 on the sample photos (fixtures written by tfjs 4.22's cpu
//! backend running `blazeface.json`, byte-identical weights to `blazeface-back`; how they were
//! made: `tests/fixtures/blazeface/README.md`).

mod common;

use common::{f, fixture, sample};
use vigil_models::blazeface::{self, BlazeFace};
use vigil_models::image_ops::{Normalize, resize_chw};

fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array().expect("array").iter().map(f).collect()
}

#[test]
fn raw_outputs_and_detections_match_human() {
    let det = BlazeFace::load(&common::cache()).expect("blazeface loads");
    for n in 1..=6 {
        let img = sample(n);
        let r = fixture("blazeface", n);
        let mut input = vec![0f32; 3 * 256 * 256];
        resize_chw(&img, 256, 256, Normalize::SSD, &mut input);
        let rows = det.raw(input).expect("graph runs");
        assert_eq!(rows.len(), blazeface::ANCHORS);

        // The first anchors' every output, and per column sums over all 896 anchors.
        for (k, want) in r["raw_head"].as_array().unwrap().iter().enumerate() {
            for (c, w) in floats(want).iter().enumerate() {
                let tol = 2e-3 * w.abs().max(1.0);
                assert!(
                    (rows[k][c] - w).abs() <= tol,
                    "sample{n} row {k} col {c}: {} vs {w}",
                    rows[k][c]
                );
            }
        }
        for (c, s) in r["raw_stats"].as_array().unwrap().iter().enumerate() {
            let sum: f32 = rows.iter().map(|row| row[c]).sum();
            let abs: f32 = rows.iter().map(|row| row[c].abs()).sum();
            let (ws, wa) = (f(&s["sum"]), f(&s["abs_sum"]));
            assert!(
                (abs - wa).abs() <= 1e-3 * wa.max(1.0),
                "sample{n} col {c}: |sum| {abs} vs {wa}"
            );
            assert!(
                (sum - ws).abs() <= 1e-3 * wa.max(1.0),
                "sample{n} col {c}: sum {sum} vs {ws}"
            );
        }

        // Same faces after NMS, boxes within half a pixel of the 256 input, same scores.
        det_matches(&det, &img, &r, n);
    }
}

fn det_matches(det: &BlazeFace, img: &image::RgbImage, r: &serde_json::Value, n: usize) {
    let nms = &r["nms"];
    assert_eq!(f(&nms["iouThreshold"]), det.config.iou_threshold);
    assert_eq!(f(&nms["minConfidence"]), det.config.min_confidence);
    let got = det.detect(img).expect("detector runs");
    let want = r["detections"].as_array().unwrap();
    assert_eq!(got.len(), want.len(), "sample{n}: {got:?}");
    let (sx, sy) = (img.width() as f32 / 256.0, img.height() as f32 / 256.0);
    for (g, w) in got.iter().zip(want) {
        let b = floats(&w["box_img"]);
        let ours = [g.x, g.y, g.x + g.width, g.y + g.height];
        for k in 0..4 {
            let tol = 0.5 * if k % 2 == 0 { sx } else { sy };
            assert!(
                (ours[k] - b[k]).abs() <= tol,
                "sample{n}: box {ours:?} vs {b:?}"
            );
        }
        assert!((g.score - f(&w["score"])).abs() < 2e-3, "sample{n}: score");
    }
}

#[test]
fn blazeface_boxes_map_onto_the_ssds() {
    let cache = common::cache();
    let det = BlazeFace::load(&cache).expect("blazeface loads");
    let pipe = vigil_models::FacePipeline::load(&cache).expect("face models load");
    let mut overlaps = Vec::new();
    for n in 1..=6 {
        let img = sample(n);
        let whole = vigil_models::image_ops::Rect {
            x: 0,
            y: 0,
            width: img.width(),
            height: img.height(),
        };
        let found = det.detect_region(&img, whole).expect("detector runs");
        for s in pipe.detect_boxes(&img).expect("ssd runs") {
            // The best overlap among BlazeFace's faces, mapped to the SSD's box shape.
            let best = found
                .iter()
                .map(|b| iou(&BlazeFace::ssd_like(b), &s))
                .fold(0f32, f32::max);
            // Measured: 0.51 at worst (a face BlazeFace boxes lower and narrower), 0.77 mean.
            assert!(best >= 0.5, "sample{n}: SSD box {s:?} overlaps {best}");
            overlaps.push(best);
        }
    }
    assert_eq!(overlaps.len(), 22, "every face of the sample photos");
    let mean = overlaps.iter().sum::<f32>() / overlaps.len() as f32;
    assert!(mean >= 0.75, "mean overlap {mean}");
}

fn iou(a: &vigil_models::FaceBox, b: &vigil_models::FaceBox) -> f32 {
    let iw = ((a.x + a.width).min(b.x + b.width) - a.x.max(b.x)).max(0.0);
    let ih = ((a.y + a.height).min(b.y + b.height) - a.y.max(b.y)).max(0.0);
    let inter = iw * ih;
    inter / (a.width * a.height + b.width * b.height - inter)
}
