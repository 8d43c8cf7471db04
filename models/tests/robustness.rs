//! Bad and unusual input never panics; embedding distances behave as a matcher needs.

mod common;

use std::sync::OnceLock;

use common::sample;
use image::{DynamicImage, GrayImage, Rgb, RgbImage, RgbaImage};
use vigil_models::gallery::{Gallery, STRICT_THRESHOLD, distance};
use vigil_models::{FacePipeline, PersonDetector};

fn pipeline() -> &'static FacePipeline {
    static P: OnceLock<FacePipeline> = OnceLock::new();
    P.get_or_init(|| FacePipeline::load(&common::cache()).expect("face models load"))
}

fn vm_hwm_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn degenerate_images_give_empty_results() {
    let p = pipeline();
    let persons = PersonDetector::load(&common::cache()).expect("centernet loads");
    for (w, h) in [(0, 0), (0, 10), (1, 1), (2, 7), (3000, 1)] {
        let img = RgbImage::new(w, h);
        let faces = p.detect_faces(&img).expect("no error on tiny input");
        assert!(faces.is_empty(), "{w}x{h}: {faces:?}");
        let people = persons.detect(&img).expect("no error on tiny input");
        assert!(people.is_empty(), "{w}x{h}: {people:?}");
    }
    let gray = RgbImage::from_pixel(640, 480, Rgb([128, 128, 128]));
    assert!(
        p.detect_faces(&gray).unwrap().is_empty(),
        "a flat image has no face"
    );
    let batch = p
        .detect_faces_batch(&[&RgbImage::new(0, 0), &gray])
        .unwrap();
    assert_eq!(batch.len(), 2);
}

#[test]
fn grayscale_and_rgba_inputs_are_converted() {
    let p = pipeline();
    let rgb = sample(1);
    let want = p.detect_faces(&rgb).unwrap().len();
    let rgba: RgbaImage = DynamicImage::ImageRgb8(rgb.clone()).to_rgba8();
    let from_rgba = DynamicImage::ImageRgba8(rgba).to_rgb8();
    assert_eq!(p.detect_faces(&from_rgba).unwrap().len(), want);
    let gray: GrayImage = DynamicImage::ImageRgb8(rgb).to_luma8();
    let from_gray = DynamicImage::ImageLuma8(gray).to_rgb8();
    let faces = p.detect_faces(&from_gray).unwrap();
    println!("grayscale sample1: {} faces (colour: {want})", faces.len());
    assert!(!faces.is_empty() && faces.len() <= want + 1);
}

#[test]
fn huge_image_runs_in_bounded_memory() {
    let p = pipeline();
    let src = sample(2);
    let big = image::imageops::resize(&src, 8000, 6000, image::imageops::FilterType::Nearest);
    let before = vm_hwm_kb().unwrap_or(0);
    let faces = p.detect_faces(&big).expect("8000x6000 runs");
    let after = vm_hwm_kb().unwrap_or(0);
    println!(
        "8000x6000: {} faces, VmHWM {} MB -> {} MB (image itself {} MB)",
        faces.len(),
        before / 1024,
        after / 1024,
        big.as_raw().len() / (1 << 20)
    );
    assert!(!faces.is_empty());
    // The network input is 512x512 whatever the image size; no full-size float copy is made.
    assert!(
        after.saturating_sub(before) < 1_000_000,
        "peak grew by {} MB",
        (after - before) / 1024
    );
}

#[test]
fn same_face_at_two_crops_and_scales_is_close() {
    let p = pipeline();
    let img = sample(1);
    let faces = p.detect_faces(&img).unwrap();
    let f = &faces[0];
    // Crop A: a generous region around the face; crop B: a different region, scaled by 0.6.
    let (cx, cy) = (
        f.bbox.x + f.bbox.width / 2.0,
        f.bbox.y + f.bbox.height / 2.0,
    );
    let crop = |half: f32| {
        let x = (cx - half).max(0.0) as u32;
        let y = (cy - half).max(0.0) as u32;
        let s = (2.0 * half) as u32;
        image::imageops::crop_imm(&img, x, y, s.min(img.width() - x), s.min(img.height() - y))
            .to_image()
    };
    let a = crop(f.bbox.height * 1.2);
    let b0 = crop(f.bbox.height * 2.0);
    let b = image::imageops::resize(
        &b0,
        b0.width() * 6 / 10,
        b0.height() * 6 / 10,
        image::imageops::FilterType::Triangle,
    );
    let fa = p.detect_faces(&a).unwrap();
    let fb = p.detect_faces(&b).unwrap();
    assert!(!fa.is_empty() && !fb.is_empty(), "face found in both crops");
    let best = |v: &[vigil_models::Face]| {
        v.iter()
            .map(|x| distance(&x.descriptor, &f.descriptor))
            .fold(f32::INFINITY, f32::min)
    };
    let (da, db) = (best(&fa), best(&fb));
    let dab = distance(&fa[0].descriptor, &fb[0].descriptor);
    println!("same face: full→cropA {da:.4}, full→cropB(0.6x) {db:.4}, A↔B {dab:.4}");
    assert!(da < 0.25 && db < 0.25 && dab < 0.25);
}

#[test]
fn different_people_distance_distribution() {
    let p = pipeline();
    let mut within = Vec::new();
    let mut all = Vec::new();
    for n in 1..=6 {
        let faces = p.detect_faces(&sample(n)).unwrap();
        for (i, a) in faces.iter().enumerate() {
            for b in &faces[i + 1..] {
                within.push(distance(&a.descriptor, &b.descriptor));
            }
            all.push((n, a.descriptor));
        }
    }
    within.sort_by(f32::total_cmp);
    let pct = |q: f32| within[((within.len() - 1) as f32 * q).round() as usize];
    println!(
        "different people (same photo, {} pairs): min {:.3} p10 {:.3} median {:.3} p90 {:.3} max {:.3}",
        within.len(),
        within[0],
        pct(0.1),
        pct(0.5),
        pct(0.9),
        within[within.len() - 1]
    );
    let hist: Vec<usize> = (0..10)
        .map(|b| {
            within
                .iter()
                .filter(|&&d| d >= b as f32 * 0.1 && d < (b + 1) as f32 * 0.1)
                .count()
        })
        .collect();
    println!("histogram by 0.1 bins from 0.0: {hist:?}");
    let mut across: Vec<f32> = Vec::new();
    for (i, (na, a)) in all.iter().enumerate() {
        for (nb, b) in &all[i + 1..] {
            if na != nb {
                across.push(distance(a, b));
            }
        }
    }
    across.sort_by(f32::total_cmp);
    println!(
        "faces of different photos ({} pairs, identities unlabelled): min {:.3}, {} pairs under 0.6, {} under {STRICT_THRESHOLD}",
        across.len(),
        across[0],
        across.iter().filter(|&&d| d < 0.6).count(),
        across.iter().filter(|&&d| d < STRICT_THRESHOLD).count()
    );
    assert!(
        within[0] > STRICT_THRESHOLD,
        "two different people closer than the strict threshold"
    );
    // Gallery: every face matches itself and, under the strict threshold, nobody else in its photo.
    let mut g = Gallery::new(STRICT_THRESHOLD);
    for (k, (n, d)) in all.iter().enumerate() {
        g.enroll(format!("s{n}f{k}"), d, None).unwrap();
    }
    let queries: Vec<[f32; 128]> = all.iter().map(|(_, d)| *d).collect();
    let best = g.best_k(&queries, 2).unwrap();
    for (k, m) in best.iter().enumerate() {
        assert_eq!(m[0].index, k);
        assert!(m[0].is_match);
        if all[m[1].index].0 == all[k].0 {
            assert!(
                !m[1].is_match,
                "{} matched a different person in its photo",
                m[0].id
            );
        }
    }
}

#[test]
fn small_faces_fade_out_gracefully() {
    // Documents the small-face limit. The detector always sees the image at 512 px, so what
    // matters is a face's size relative to the frame: sample1 is shrunk onto a fixed
    // 1920×1280 grey canvas, and its faces (~180 px at full size) shrink in the 512-px input.
    let p = pipeline();
    let img = sample(1);
    let mut found = Vec::new();
    for div in [1u32, 2, 3, 4, 5, 6, 8] {
        let small = image::imageops::resize(
            &img,
            img.width() / div,
            img.height() / div,
            image::imageops::FilterType::Triangle,
        );
        let mut canvas = RgbImage::from_pixel(1920, 1280, Rgb([128, 128, 128]));
        image::imageops::replace(&mut canvas, &small, 0, 0);
        let faces = p.detect_faces(&canvas).unwrap();
        let in_net: Vec<u32> = faces
            .iter()
            .map(|f| (f.bbox.width * 512.0 / 1920.0) as u32)
            .collect();
        println!(
            "faces ~{} px in the frame (~{} px in the 512 input): {} found, input widths {in_net:?}",
            180 / div,
            48 / div,
            faces.len()
        );
        found.push(faces.len());
    }
    assert_eq!(found[0], 3);
}
