//! Which CPU code paths the kernels may take, decided in one place. The machines Vigil runs on
//! differ (AVX2 only, AVX-512 with different speeds, AMX tiles), the crate is compiled for
//! baseline x86-64, and every hand-written kernel picks its build at run time. Keeping the
//! decision here, rather than in the kernel that first needed it, lets the depthwise kernel ask
//! about AVX-512 without depending on the GEMM, and gives tests one switch that turns every
//! AVX-512 path off at once. The precision a thread's convolutions run in (f32, or bf16 on AMX
//! tiles or AVX-512 BF16 dot products) is set here too, per thread, by the networks and their
//! callers.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether the CPU has AVX2 and FMA (checked once; the std macro caches the answer).
#[cfg(target_arch = "x86_64")]
#[inline]
pub fn has_avx2_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// Whether the CPU has AVX-512 BF16 dot products (`vdpbf16ps`).
#[cfg(target_arch = "x86_64")]
#[inline]
pub fn has_avx512_bf16() -> bool {
    std::arch::is_x86_feature_detected!("avx512bf16")
}

#[cfg(not(target_arch = "x86_64"))]
pub fn has_avx512_bf16() -> bool {
    false
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

static BF16_DISABLED: AtomicBool = AtomicBool::new(false);
static AMX_DISABLED: AtomicBool = AtomicBool::new(false);

/// Turns the bf16 GEMM off (process-wide), for tests and benchmarks that compare it with the
/// f32 kernels.
pub fn set_bf16_disabled(off: bool) {
    BF16_DISABLED.store(off, Ordering::Relaxed);
}

/// Keeps the bf16 GEMM off AMX tiles (process-wide), on AVX-512 BF16 dot products where the CPU
/// has them, for tests and benchmarks that compare the two.
pub fn set_amx_disabled(off: bool) {
    AMX_DISABLED.store(off, Ordering::Relaxed);
}

/// Whether the bf16 GEMM ([`super::bf16`]) can run: [`avx512`] is on, the CPU has AMX tiles
/// ([`amx`]) or AVX-512 BF16 dot products, `VIGIL_NO_BF16` is not set and
/// [`set_bf16_disabled`] is off. Which threads use it: [`Precision`].
pub fn bf16() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static USABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        avx512()
            && !BF16_DISABLED.load(Ordering::Relaxed)
            && *USABLE.get_or_init(|| std::env::var_os("VIGIL_NO_BF16").is_none())
            && (amx() || has_avx512_bf16())
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether the bf16 GEMM runs on AMX tiles: [`avx512`] is on, the CPU has AMX-TILE and
/// AMX-BF16, the kernel lets this process use tile data, `VIGIL_NO_AMX` is not set and
/// [`set_amx_disabled`] is off.
pub fn amx() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static USABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        avx512()
            && !AMX_DISABLED.load(Ordering::Relaxed)
            && *USABLE.get_or_init(|| std::env::var_os("VIGIL_NO_AMX").is_none() && amx_usable())
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(target_arch = "x86_64")]
fn amx_usable() -> bool {
    use std::arch::x86_64::__cpuid_count;
    if __cpuid_count(0, 0).eax < 7 {
        return false;
    }
    let edx = __cpuid_count(7, 0).edx;
    const AMX_BF16: u32 = 1 << 22;
    const AMX_TILE: u32 = 1 << 24;
    if edx & (AMX_BF16 | AMX_TILE) != AMX_BF16 | AMX_TILE {
        return false;
    }
    // Linux hands out the 8 KB tile state only on request (per process, all its threads);
    // without it the first tile instruction is a SIGILL. Refused by kernels before 5.16 and
    // by hypervisors that do not pass AMX through.
    const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
    const XFEATURE_XTILEDATA: libc::c_long = 18;
    // SAFETY: arch_prctl with these arguments only changes this process's permissions.
    unsafe {
        libc::syscall(
            libc::SYS_arch_prctl,
            ARCH_REQ_XCOMP_PERM,
            XFEATURE_XTILEDATA,
        ) == 0
    }
}

/// The arithmetic dense convolutions may use. A thread runs in f32 unless a caller asks for
/// bf16 around a call ([`with_precision`]); the detectors follow the caller, the landmark net
/// always runs in f32 and the recognition net always in bf16 (docs/models.md, "Precision").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// f32 throughout: what the parity tests hold every network to.
    F32,
    /// bf16 operands, f32 sums, where [`bf16`] is on (else f32). Detector boxes move by a
    /// fraction of a pixel (docs/models.md, "Precision").
    Bf16,
}

thread_local! {
    static PRECISION: Cell<Precision> = const { Cell::new(Precision::F32) };
}

/// The precision convolutions started on this thread run in.
pub fn precision() -> Precision {
    PRECISION.get()
}

/// Runs `f` with the convolutions it starts on this thread in precision `p` (they decide on
/// the calling thread, before splitting work across the pool; the nets' own pools are handed
/// the caller's precision by `nets::pipeline::Threads::run`).
pub fn with_precision<T>(p: Precision, f: impl FnOnce() -> T) -> T {
    let before = PRECISION.replace(p);
    // Restored on unwind too, so a panicking pass does not leave bf16 on for the next.
    struct Restore(Precision);
    impl Drop for Restore {
        fn drop(&mut self) {
            PRECISION.set(self.0);
        }
    }
    let _restore = Restore(before);
    f()
}

/// Whether a convolution started now on this thread runs in bf16.
pub fn bf16_now() -> bool {
    PRECISION.get() == Precision::Bf16 && bf16()
}
