//! Hand-written CPU compute the networks run on: the convolutions (depthwise, im2col + the
//! `gemm` crate, an AVX-512 GEMM, a bf16 GEMM on AMX tiles or AVX-512 BF16), the per-channel
//! epilogue they share, max pooling, the resizes that turn an image into a network input, and
//! the allocator tuning that keeps their buffers warm. They exist because candle 0.11's generic ops were measured several times slower on
//! these small MobileNet/ResNet layers (`docs/models.md`, "Performance notes").
//!
//! Not here: anything about TensorFlow conventions or weight files (`tfjs`, which builds layers
//! out of these kernels), any particular network (`nets`), or decoding image files (`decode`).
//! Kernels depend only on each other, candle, rayon and `gemm`; the CPU feature checks that
//! choose between their builds sit in [`cpu`] so no kernel has to ask another.

pub mod alloc;
pub mod bf16;
pub mod conv;
pub mod cpu;
pub mod depthwise;
pub mod epilogue;
pub mod image_ops;
pub mod pool;
pub mod sgemm;
