//! The face pipeline against the original face-api outputs on the six sample photos.

mod common;

use std::sync::OnceLock;

use common::{f, fixture, l2, sample};
use vigil_models::FacePipeline;

fn pipeline() -> &'static FacePipeline {
    static P: OnceLock<FacePipeline> = OnceLock::new();
    P.get_or_init(|| FacePipeline::load(&common::cache()).expect("face models load"))
}

#[test]
fn decoded_samples_match_reference_pixels() {
    for n in 1..=6 {
        let img = sample(n);
        let r = fixture("faceapi", n);
        assert_eq!(img.width() as u64, r["width"].as_u64().unwrap());
        assert_eq!(img.height() as u64, r["height"].as_u64().unwrap());
        let sum: u64 = img.as_raw().iter().map(|&v| v as u64).sum();
        let want = r["rgb_byte_sum"].as_u64().unwrap();
        assert_eq!(sum, want, "sample{n}: decoded pixels differ from jpeg-js's");
    }
}

#[test]
fn faces_match_reference_on_all_samples() {
    let p = pipeline();
    let mut worst = (0f32, 0f32, 0f32, 0f32);
    for n in 1..=6 {
        let img = sample(n);
        let r = fixture("faceapi", n);
        let want = r["faces"].as_array().unwrap();
        let got = p.detect_faces(&img).expect("pipeline runs");
        assert_eq!(got.len(), want.len(), "sample{n}: face count");
        for (k, w) in want.iter().enumerate() {
            let wb = &w["box"];
            let (wx, wy, ww, wh) = (f(&wb["x"]), f(&wb["y"]), f(&wb["width"]), f(&wb["height"]));
            // Match by box position, not rank: two faces with near-equal scores may swap.
            let g = got
                .iter()
                .min_by(|a, b| {
                    let da = (a.bbox.x - wx).abs() + (a.bbox.y - wy).abs();
                    let db = (b.bbox.x - wx).abs() + (b.bbox.y - wy).abs();
                    da.total_cmp(&db)
                })
                .unwrap();
            let box_err = [
                g.bbox.x - wx,
                g.bbox.y - wy,
                g.bbox.width - ww,
                g.bbox.height - wh,
            ]
            .iter()
            .fold(0f32, |m, d| m.max(d.abs()));
            let score_err = (g.score - f(&w["score"])).abs();
            let lm_err = w["landmarks_68"]
                .as_array()
                .unwrap()
                .iter()
                .zip(&g.landmarks)
                .map(|(wp, gp)| (gp[0] - f(&wp[0])).abs().max((gp[1] - f(&wp[1])).abs()))
                .fold(0f32, f32::max);
            let wd: Vec<f32> = w["descriptor"].as_array().unwrap().iter().map(f).collect();
            let desc_err = l2(&wd, &g.descriptor);
            println!(
                "sample{n} face{k}: box err {box_err:.4}px score err {score_err:.5} landmarks err {lm_err:.4}px descriptor dist {desc_err:.5}"
            );
            worst = (
                worst.0.max(box_err),
                worst.1.max(score_err),
                worst.2.max(lm_err),
                worst.3.max(desc_err),
            );
            assert!(box_err <= 1.0, "sample{n} face{k}: box off by {box_err}px");
            assert!(
                score_err <= 0.01,
                "sample{n} face{k}: score off by {score_err}"
            );
            assert!(
                lm_err <= 1.0,
                "sample{n} face{k}: landmark off by {lm_err}px"
            );
            assert!(
                desc_err < 0.01,
                "sample{n} face{k}: descriptor distance {desc_err}"
            );
        }
    }
    println!(
        "worst: box {:.4}px score {:.5} landmarks {:.4}px descriptor {:.5}",
        worst.0, worst.1, worst.2, worst.3
    );
}
