use std::time::Instant;
use vigil_models::blazeface::BlazeFace;
fn main() {
    let cache = vigil_models::default_cache_dir();
    let threads: usize = std::env::var("T").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let bf = BlazeFace::load(&cache).unwrap().with_threads(threads).unwrap();
    let input = vec![0.1f32; 3 * 256 * 256];
    for _ in 0..5 { bf.raw(input.clone()).unwrap(); }
    let mut v = vec![];
    for _ in 0..30 { let t = Instant::now(); bf.raw(input.clone()).unwrap(); v.push(t.elapsed().as_secs_f64()*1e3); }
    v.sort_by(f64::total_cmp);
    println!("raw pass: min {:.2} median {:.2} ms", v[0], v[15]);
}
