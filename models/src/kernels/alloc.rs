//! glibc allocator tuning for inference. Every layer allocates its output (4–16 MB for the
//! 512×512 detectors); with glibc's defaults those blocks are mmap'd and returned to the kernel
//! on free, so each forward pass re-faults and re-zeroes every page — ~20 ms of kernel time per
//! SSD pass on the 2-core reference machine. Raising the mmap and trim thresholds keeps freed
//! blocks in the process for reuse; resident memory then stays at its high-water mark, which
//! inference reaches on the first pass anyway.

use std::sync::Once;

/// Applies the tuning once per process (called by the model loaders). A no-op outside
/// glibc, or when `VIGIL_NO_MALLOC_TUNING` is set.
pub fn tune_allocator() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("VIGIL_NO_MALLOC_TUNING").is_some() {
            return;
        }
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        {
            unsafe extern "C" {
                fn mallopt(param: i32, value: i32) -> i32;
            }
            const M_TRIM_THRESHOLD: i32 = -1;
            const M_TOP_PAD: i32 = -2;
            const M_MMAP_THRESHOLD: i32 = -3;
            // SAFETY: mallopt only adjusts glibc's tunables; these are valid values for them.
            unsafe {
                // 32 MiB is glibc's maximum mmap threshold on 64-bit targets.
                mallopt(M_MMAP_THRESHOLD, 32 << 20);
                mallopt(M_TRIM_THRESHOLD, 1 << 30);
                mallopt(M_TOP_PAD, 64 << 20);
            }
        }
    });
}
