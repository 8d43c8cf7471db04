//! Per-stage timings of the vision models on the six face-api sample photos.
//!
//! `CARGO_TARGET_DIR=/work/target-models cargo bench -p vigil-models --bench vision`
//! Options (env): `VIGIL_BENCH_RUNS` (default 5 timed runs after one warm-up),
//! `VIGIL_THREADS` (default: rayon's global pool = all cores).

use std::time::Instant;

use image::RgbImage;
use vigil_models::cache::fetch;
use vigil_models::kernels::image_ops::Rect;
use vigil_models::tfjs::layers::Depthwise;
use vigil_models::{FacePipeline, PersonDetector, default_cache_dir, fetch_models};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn time_ms<T>(runs: usize, mut f: impl FnMut() -> T) -> f64 {
    std::hint::black_box(f());
    let v = (0..runs)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    median(v)
}

fn vm_hwm_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let l = s.lines().find(|l| l.starts_with("VmHWM:"))?.to_owned();
            l.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn main() -> vigil_models::Result<()> {
    let runs: usize = std::env::var("VIGIL_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let threads: usize = std::env::var("VIGIL_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    // Profiling aid: VIGIL_BENCH_ONLY=ssd|ssd-bf16|landmarks|descriptor|centernet loops on one
    // stage.
    if let Ok(stage) = std::env::var("VIGIL_BENCH_ONLY") {
        if stage == "conv" {
            return conv_layers(runs.max(1) * 20, threads);
        }
        return profile_stage(&stage, runs.max(1) * 10, threads);
    }
    let cache = default_cache_dir();
    fetch_models(&cache)?;
    let mut pipe = FacePipeline::load(&cache)?.with_threads(threads)?;
    let mut persons = PersonDetector::load(&cache)?.with_threads(threads)?;
    let pool = vigil_models::nets::pipeline::Threads::new(threads)?;
    let images: Vec<RgbImage> = (1..=6)
        .map(|n| vigil_models::load_rgb(&fetch::paths::sample_image(&cache, n)))
        .collect::<Result<_, _>>()?;
    println!(
        "vision bench: {} timed runs (median), threads = {}",
        runs,
        if threads == 0 {
            "all cores".to_string()
        } else {
            threads.to_string()
        }
    );

    let (mut ssd, mut lm1, mut lmb, mut de1, mut deb, mut cn, mut full) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for (n, img) in images.iter().enumerate() {
        let t_ssd = time_ms(runs, || pipe.ssd.detect_batch(&[img]).unwrap());
        let boxes = pipe.ssd.detect_batch(&[img])?;
        let marked = pipe.landmarks_for(&[img], &boxes)?;
        let faces = &marked[0].1;
        let lm_crops: Vec<(&RgbImage, Rect)> =
            faces.iter().map(|f| (img, f.landmark_crop)).collect();
        let de_crops: Vec<(&RgbImage, Rect)> = faces
            .iter()
            .filter_map(|f| f.descriptor_crop.map(|r| (img, r)))
            .collect();
        let nf = faces.len().max(1) as f64;
        let t_lm1: Vec<f64> = lm_crops
            .iter()
            .map(|c| {
                time_ms(runs, || {
                    pool.run(|| {
                        pipe.landmarks
                            .detect_crops(std::slice::from_ref(c))
                            .unwrap()
                    })
                })
            })
            .collect();
        let t_lmb = time_ms(runs, || {
            pool.run(|| pipe.landmarks.detect_crops(&lm_crops).unwrap())
        }) / nf;
        let t_de1: Vec<f64> = de_crops
            .iter()
            .map(|c| {
                time_ms(runs, || {
                    pool.run(|| {
                        pipe.recognition
                            .describe_crops(std::slice::from_ref(c))
                            .unwrap()
                    })
                })
            })
            .collect();
        let t_deb = time_ms(runs, || {
            pool.run(|| pipe.recognition.describe_crops(&de_crops).unwrap())
        }) / nf;
        let t_cn = time_ms(runs, || persons.detect(img).unwrap());
        let t_full = time_ms(runs.min(3), || pipe.detect_faces(img).unwrap());
        println!(
            "sample{}: {}x{} faces {} | ssd {:.1} ms | landmarks {:.2} ms/face (batched {:.2}) | descriptor {:.2} ms/face (batched {:.2}) | centernet {:.1} ms | full face pipeline {:.1} ms",
            n + 1,
            img.width(),
            img.height(),
            faces.len(),
            t_ssd,
            median(t_lm1.clone()),
            t_lmb,
            median(t_de1.clone()),
            t_deb,
            t_cn,
            t_full
        );
        ssd.push(t_ssd);
        lm1.extend(t_lm1);
        lmb.push(t_lmb);
        de1.extend(t_de1);
        deb.push(t_deb);
        cn.push(t_cn);
        full.push(t_full);
    }
    // Batched frames: all six images through each detector in one forward pass.
    let refs: Vec<&RgbImage> = images.iter().collect();
    pipe.ssd.config.frames_per_pass = refs.len();
    persons.config.frames_per_pass = refs.len();
    let t_ssd_batch =
        time_ms(runs.min(3), || pipe.ssd.detect_batch(&refs).unwrap()) / refs.len() as f64;
    let t_cn_batch =
        time_ms(runs.min(3), || persons.detect_batch(&refs).unwrap()) / refs.len() as f64;
    pipe.ssd.config.frames_per_pass = 1;
    persons.config.frames_per_pass = 1;

    println!("\nmedians over the six images / all faces:");
    println!(
        "  SSD face detector        {:8.1} ms/image (incl. resize + NMS); 6 frames in one pass: {:.1} ms/image",
        median(ssd),
        t_ssd_batch
    );
    println!(
        "  68-point landmarks       {:8.2} ms/face single, {:.2} ms/face batched per image",
        median(lm1),
        median(lmb)
    );
    println!(
        "  recognition descriptor   {:8.2} ms/face single, {:.2} ms/face batched per image",
        median(de1),
        median(deb)
    );
    println!(
        "  CenterNet persons        {:8.1} ms/image; 6 frames in one pass: {:.1} ms/image",
        median(cn),
        t_cn_batch
    );
    println!("  full face pipeline       {:8.1} ms/image", median(full));

    // Depthwise kernel before/after on the layer DESIGN §6 quotes (32 groups, 32×150×150).
    let w = vigil_models::tfjs::weights::RawTensor {
        shape: vec![3, 3, 32, 1],
        data: vigil_models::tfjs::weights::TensorData::F32(
            (0..288).map(|i| (i % 7) as f32 * 0.1 - 0.3).collect(),
        ),
    };
    let dw = Depthwise::from_tf(
        &w,
        1,
        vigil_models::tfjs::layers::Padding::Same,
        vigil_models::kernels::epilogue::ChannelAffine::bias(
            vec![0.0; 32],
            vigil_models::kernels::epilogue::Act::None,
        ),
    )?;
    let x = candle_core::Tensor::randn(0f32, 1.0, (1, 32, 150, 150), &candle_core::Device::Cpu)?;
    let t_candle = time_ms(runs, || pool.run(|| dw.forward_candle(&x).unwrap()));
    let t_ours = time_ms(runs, || pool.run(|| dw.forward(&x).unwrap()));
    println!(
        "\ndepthwise 3x3, 32 groups, 1x32x150x150: candle grouped conv2d {t_candle:.2} ms, vigil kernel {t_ours:.3} ms ({:.0}x)",
        t_candle / t_ours
    );
    vigil_models::kernels::depthwise::set_use_candle_grouped(true);
    let t_ssd_candle = time_ms(runs.min(3), || {
        pipe.ssd.detect_batch(&[&images[0]]).unwrap()
    });
    let t_cn_candle = time_ms(runs.min(3), || persons.detect(&images[0]).unwrap());
    vigil_models::kernels::depthwise::set_use_candle_grouped(false);
    println!(
        "SSD on sample1 with candle grouped conv2d for depthwise layers: {t_ssd_candle:.1} ms (vigil kernel: see above)"
    );
    println!(
        "CenterNet on sample1 with candle grouped conv2d for depthwise layers: {t_cn_candle:.1} ms"
    );
    println!("\npeak RSS (VmHWM): {:.0} MB", vm_hwm_mb());
    Ok(())
}

fn profile_stage(stage: &str, iters: usize, threads: usize) -> vigil_models::Result<()> {
    let cache = default_cache_dir();
    let pipe = FacePipeline::load(&cache)?.with_threads(threads)?;
    let persons = PersonDetector::load(&cache)?.with_threads(threads)?;
    let pool = vigil_models::nets::pipeline::Threads::new(threads)?;
    let img = vigil_models::load_rgb(&fetch::paths::sample_image(&cache, 5))?;
    let boxes = pipe.ssd.detect_batch(&[&img])?;
    let marked = pipe.landmarks_for(&[&img], &boxes)?;
    let faces = &marked[0].1;
    let lm: Vec<(&RgbImage, Rect)> = faces.iter().map(|f| (&img, f.landmark_crop)).collect();
    let de: Vec<(&RgbImage, Rect)> = faces
        .iter()
        .filter_map(|f| f.descriptor_crop.map(|r| (&img, r)))
        .collect();
    let (t, cpu0) = (Instant::now(), cpu_ns());
    // Batches of 10: the fastest batch is the figure least disturbed by other jobs.
    let mut best = f64::INFINITY;
    for _ in 0..iters.div_ceil(10) {
        let tb = Instant::now();
        for _ in 0..10 {
            match stage {
                "ssd" => drop(pipe.ssd.detect_batch(&[&img])?),
                "ssd-bf16" => drop(vigil_models::with_precision(
                    vigil_models::Precision::Bf16,
                    || pipe.ssd.detect_batch(&[&img]),
                )?),
                "landmarks" => drop(pool.run(|| pipe.landmarks.detect_crops(&lm[..1]))?),
                "descriptor" => drop(pool.run(|| pipe.recognition.describe_crops(&de[..1]))?),
                "centernet" => drop(persons.detect(&img)?),
                other => return Err(vigil_models::Error::Input(format!("unknown stage {other}"))),
            }
        }
        best = best.min(tb.elapsed().as_secs_f64() * 1e3 / 10.0);
    }
    let n = (iters.div_ceil(10) * 10) as f64;
    println!(
        "{stage}: {:.2} ms/iter wall (best batch {best:.2}), {:.2} ms/iter CPU (all threads)",
        t.elapsed().as_secs_f64() * 1e3 / n,
        (cpu_ns() - cpu0) as f64 / 1e6 / n
    );
    Ok(())
}

/// CPU time of all this process's threads (ns), from the scheduler's per-thread accounting:
/// unlike wall time it does not grow while another job holds the core.
fn cpu_ns() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    dir.filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// Per-layer throughput of the dense convolutions at the recognition net's shapes, on both GEMM
/// paths (`VIGIL_BENCH_ONLY=conv`).
fn conv_layers(iters: usize, threads: usize) -> vigil_models::Result<()> {
    use vigil_models::kernels::epilogue::{Act, ChannelAffine};
    use vigil_models::tfjs::layers::{Conv2d, Padding};
    let pool = vigil_models::nets::pipeline::Threads::new(threads)?;
    let dev = candle_core::Device::Cpu;
    let only: Option<usize> = std::env::var("VIGIL_CONV_ONLY")
        .ok()
        .and_then(|s| s.parse().ok());
    for (li, (ci, co, k, s, hw, pad)) in [
        (3, 32, 7, 2, 150, Padding::Valid),
        (32, 32, 3, 1, 35, Padding::Same),
        (64, 64, 3, 1, 17, Padding::Same),
        (128, 128, 3, 1, 8, Padding::Same),
        (256, 256, 3, 1, 4, Padding::Same),
        (32, 32, 1, 1, 56, Padding::Same),
        (256, 256, 1, 1, 7, Padding::Same),
        // SSD-MobileNetV1 pointwise layers at 512×512 input.
        (32, 64, 1, 1, 256, Padding::Same),
        (128, 128, 1, 1, 128, Padding::Same),
        (256, 256, 1, 1, 64, Padding::Same),
        (512, 512, 1, 1, 32, Padding::Same),
        (1024, 1024, 1, 1, 16, Padding::Same),
        (3, 32, 3, 2, 512, Padding::Same),
    ]
    .into_iter()
    .enumerate()
    {
        if only.is_some_and(|o| o != li) {
            continue;
        }
        let w = vigil_models::tfjs::weights::RawTensor {
            shape: vec![k, k, ci, co],
            data: vigil_models::tfjs::weights::TensorData::F32(
                (0..k * k * ci * co)
                    .map(|i| (i % 13) as f32 * 0.01 - 0.06)
                    .collect(),
            ),
        };
        let conv = Conv2d::from_hwio(&w, s, pad, ChannelAffine::bias(vec![0.1; co], Act::Relu))?;
        let x = candle_core::Tensor::randn(0f32, 1.0, (1, ci, hw, hw), &dev)?;
        let (_, _, oh, ow) = conv.forward(&x)?.dims4()?;
        let macs = (co * ci * k * k * oh * ow) as f64;
        let mut line = format!("conv {ci:>3}->{co:<3} {k}x{k}/{s} on {hw:>3}x{hw:<3}:");
        // Best of 15 short batches per path, the paths interleaved: the minimum is what
        // survives other jobs on a shared machine.
        // Paths: f32 AVX-512, f32 `gemm` crate, and bf16 on AMX tiles and/or AVX-512 BF16 dot
        // products, whichever the CPU has.
        use vigil_models::kernels::cpu;
        let mut paths = vec!["avx512", "gemm"];
        if cpu::amx() {
            paths.push("amx-bf16");
        }
        if cpu::bf16() && cpu::has_avx512_bf16() {
            paths.push("dot-bf16");
        }
        let mut best = vec![f64::INFINITY; paths.len()];
        for _ in 0..15 {
            for (path, best) in paths.iter().zip(best.iter_mut()) {
                cpu::set_avx512_disabled(*path == "gemm");
                cpu::set_amx_disabled(*path == "dot-bf16");
                let precision = if path.ends_with("bf16") {
                    vigil_models::Precision::Bf16
                } else {
                    vigil_models::Precision::F32
                };
                let run = || vigil_models::with_precision(precision, || conv.forward(&x).unwrap());
                pool.run(run);
                let t = Instant::now();
                for _ in 0..iters.div_ceil(15) {
                    pool.run(|| std::hint::black_box(run()));
                }
                *best = best.min(t.elapsed().as_secs_f64() / iters.div_ceil(15) as f64);
            }
        }
        for (name, t) in paths.iter().zip(best) {
            line += &format!(" | {name} {:7.1} us {:6.1} GMAC/s", t * 1e6, macs / t / 1e9);
        }
        cpu::set_amx_disabled(false);
        cpu::set_avx512_disabled(false);
        println!("{line}");
    }
    Ok(())
}
