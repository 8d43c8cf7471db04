//! Which CPU code paths the kernels may take, decided in one place. The machines Vigil runs on
//! differ (AVX2 only, or AVX-512 with different speeds), the crate is compiled for baseline
//! x86-64, and every hand-written kernel picks its build at run time. Keeping the decision
//! here, rather than in the kernel that first needed it, lets the depthwise kernel ask about
//! AVX-512 without depending on the GEMM, and gives tests one switch that turns every AVX-512
//! path off at once.

use std::sync::atomic::{AtomicBool, Ordering};

/// Whether the CPU has AVX2 and FMA (checked once; the std macro caches the answer).
#[cfg(target_arch = "x86_64")]
#[inline]
pub fn has_avx2_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

static AVX512_DISABLED: AtomicBool = AtomicBool::new(false);

/// Turns the AVX-512 paths off (process-wide) so tests and benchmarks can compare them with
/// the portable `gemm`-crate / AVX2 paths.
pub fn set_avx512_disabled(off: bool) {
    AVX512_DISABLED.store(off, Ordering::Relaxed);
}

/// Whether the AVX-512 kernels run: the CPU has AVX-512F, `VIGIL_NO_AVX512` is not set in
/// the environment and [`set_avx512_disabled`] is off.
pub fn avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static USABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        !AVX512_DISABLED.load(Ordering::Relaxed)
            && *USABLE.get_or_init(|| {
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::env::var_os("VIGIL_NO_AVX512").is_none()
            })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}
