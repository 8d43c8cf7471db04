//! Where to put the match threshold for searching video, measured on the six sample photos
//! (23 faces, all different people): each face enrolled from a tight photo crop, then looked
//! for in a 1280×720 frame of the whole photo after JPEG compression at quality 40 (what a
//! CCTV frame looks like). Prints the genuine and impostor distance distributions and the
//! miss / false-match rates per threshold (run with `--nocapture`); docs/search.md quotes them.

mod common;

use common::{f, fixture, sample};
use image::RgbImage;
use vigil_models::{BBox, FacePipeline};

fn crop(img: &RgbImage, b: &BBox, margin: f32) -> RgbImage {
    let x0 = (b.x - b.width * margin).max(0.0) as u32;
    let y0 = (b.y - b.height * margin).max(0.0) as u32;
    let x1 = ((b.x + b.width * (1.0 + margin)) as u32).min(img.width());
    let y1 = ((b.y + b.height * (1.0 + margin)) as u32).min(img.height());
    image::imageops::crop_imm(img, x0, y0, x1 - x0, y1 - y0).to_image()
}

/// The photo as a video frame: letterboxed into 1280×720 and JPEG-compressed.
fn video_frame(img: &RgbImage) -> (RgbImage, f32) {
    let scale = (1280.0 / img.width() as f32).min(720.0 / img.height() as f32);
    let (w, h) = (
        (img.width() as f32 * scale) as u32,
        (img.height() as f32 * scale) as u32,
    );
    let small = image::imageops::resize(img, w, h, image::imageops::FilterType::Triangle);
    let mut frame = RgbImage::new(1280, 720);
    image::imageops::overlay(
        &mut frame,
        &small,
        ((1280 - w) / 2) as i64,
        ((720 - h) / 2) as i64,
    );
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 40)
        .encode_image(&frame)
        .unwrap();
    let frame = image::load_from_memory(&jpeg).unwrap().to_rgb8();
    (frame, scale)
}

fn iou(a: &BBox, b: &BBox) -> f32 {
    let x0 = a.x.max(b.x);
    let y0 = a.y.max(b.y);
    let x1 = (a.x + a.width).min(b.x + b.width);
    let y1 = (a.y + a.height).min(b.y + b.height);
    let inter = (x1 - x0).max(0.0) * (y1 - y0).max(0.0);
    inter / (a.width * a.height + b.width * b.height - inter)
}

#[test]
fn threshold_separates_people_in_video_frames() {
    let p = FacePipeline::load(&common::cache()).unwrap();
    let mut enrolled: Vec<[f32; 128]> = Vec::new();
    // None: the detector did not find the face in the video frame (a miss at any threshold).
    let mut seen: Vec<Option<[f32; 128]>> = Vec::new();
    let mut skipped = 0;
    for n in 1..=6 {
        let img = sample(n);
        let r = fixture("faceapi", n);
        let (frame, scale) = video_frame(&img);
        let offset_x = (1280.0 - img.width() as f32 * scale) / 2.0;
        let offset_y = (720.0 - img.height() as f32 * scale) / 2.0;
        let in_frame = p.detect_faces(&frame).unwrap();
        for face in r["faces"].as_array().unwrap() {
            let b = &face["box"];
            let b = BBox {
                x: f(&b["x"]),
                y: f(&b["y"]),
                width: f(&b["width"]),
                height: f(&b["height"]),
            };
            let photo = crop(&img, &b, 0.6);
            let faces = p.detect_faces(&photo).unwrap();
            // Faces the detector is unsure of in a crop would not enroll either (Vigil rejects
            // photos whose face scores under 0.7): they are left out, and counted.
            let Some(main) = faces.iter().filter(|f| f.score >= 0.7).max_by(|a, b| {
                (a.bbox.width * a.bbox.height).total_cmp(&(b.bbox.width * b.bbox.height))
            }) else {
                skipped += 1;
                continue;
            };
            let scaled = BBox {
                x: b.x * scale + offset_x,
                y: b.y * scale + offset_y,
                width: b.width * scale,
                height: b.height * scale,
            };
            let found = in_frame
                .iter()
                .max_by(|a, b| iou(&a.bbox, &scaled).total_cmp(&iou(&b.bbox, &scaled)))
                .filter(|f| iou(&f.bbox, &scaled) > 0.4);
            enrolled.push(main.descriptor);
            seen.push(found.map(|f| f.descriptor));
        }
    }
    let d = |a: &[f32; 128], b: &[f32; 128]| vigil_models::gallery::distance(a, b);
    let mut genuine: Vec<f32> = enrolled
        .iter()
        .zip(&seen)
        .map(|(a, b)| b.as_ref().map_or(f32::INFINITY, |b| d(a, b)))
        .collect();
    let undetected = seen.iter().filter(|s| s.is_none()).count();
    let mut impostor: Vec<f32> = Vec::new();
    for (i, a) in enrolled.iter().enumerate() {
        for (j, b) in seen.iter().enumerate() {
            if let (true, Some(b)) = (i != j, b) {
                impostor.push(d(a, b));
            }
        }
    }
    println!(
        "faces enrolled: {} (not enrollable from a crop: {skipped}); not detected in the video frame: {undetected}",
        enrolled.len()
    );
    assert!(enrolled.len() >= 18, "most faces enroll");
    genuine.sort_by(f32::total_cmp);
    impostor.sort_by(f32::total_cmp);
    let pct = |v: &[f32], q: f32| v[((v.len() - 1) as f32 * q).round() as usize];
    println!(
        "genuine (n={}): min {:.3} median {:.3} p95 {:.3} max {:.3}",
        genuine.len(),
        genuine[0],
        pct(&genuine, 0.5),
        pct(&genuine, 0.95),
        genuine[genuine.len() - 1]
    );
    println!(
        "impostor (n={}): min {:.3} p1 {:.3} p5 {:.3} median {:.3}",
        impostor.len(),
        impostor[0],
        pct(&impostor, 0.01),
        pct(&impostor, 0.05),
        pct(&impostor, 0.5)
    );
    println!("threshold  miss rate (incl. undetected)  false-match rate (per frame)");
    for t in [0.30f32, 0.35, 0.40, 0.45, 0.50, 0.55, 0.60] {
        let miss = genuine.iter().filter(|&&g| g > t).count() as f32 / genuine.len() as f32;
        let fm = impostor.iter().filter(|&&i| i <= t).count() as f32 / impostor.len() as f32;
        println!(
            "{t:.2}       {:>6.1} %   {:>6.2} %",
            miss * 100.0,
            fm * 100.0
        );
    }
    let t = vigil_models::gallery::STRICT_THRESHOLD;
    assert!(
        genuine.iter().filter(|g| g.is_finite()).all(|&g| g <= t),
        "a detected person is missed at the default threshold: {genuine:?}"
    );
    assert!(
        impostor.iter().all(|&i| i > t),
        "a stranger matches at the default threshold (closest {:.3})",
        impostor[0]
    );
}

/// Cameras and captures run the detector on the picture's own rows of the padded square
/// (`crop_padding`: 512×288 for a 720p frame instead of 512×512). On each sample photo as a
/// 720p frame it finds the same faces as the square input, boxes within 2 px, and their
/// descriptors stay where they were (< 0.1 apart: a box 1 px off already moves a descriptor
/// by up to ~0.07, the models' own jitter; 0.40 separates people).
#[test]
fn cropping_the_padding_finds_the_same_faces() {
    let square = FacePipeline::load(&common::cache()).unwrap();
    let cropped =
        FacePipeline::load(&common::cache())
            .unwrap()
            .with_config(vigil_models::SsdConfig {
                crop_padding: true,
                ..Default::default()
            });
    let mut faces = 0;
    for n in 1..=6 {
        let (frame, _) = video_frame(&sample(n));
        let want = square.detect_faces(&frame).unwrap();
        let got = cropped.detect_faces(&frame).unwrap();
        assert_eq!(got.len(), want.len(), "sample{n}: faces found");
        for w in &want {
            let g = got
                .iter()
                .max_by(|a, b| iou(&a.bbox, &w.bbox).total_cmp(&iou(&b.bbox, &w.bbox)))
                .unwrap();
            let off = [
                g.bbox.x - w.bbox.x,
                g.bbox.y - w.bbox.y,
                g.bbox.width - w.bbox.width,
                g.bbox.height - w.bbox.height,
            ]
            .iter()
            .fold(0f32, |m, v| m.max(v.abs()));
            let d = vigil_models::gallery::distance(&g.descriptor, &w.descriptor);
            println!(
                "sample{n}: box off by {off:.2} px, descriptor {d:.4}, score {:.3} vs {:.3}",
                g.score, w.score
            );
            assert!(off <= 2.0, "sample{n}: box {:?} vs {:?}", g.bbox, w.bbox);
            assert!(d < 0.1, "sample{n}: descriptor moved {d}");
            faces += 1;
        }
    }
    assert!(faces >= 18, "{faces} faces compared");
}
