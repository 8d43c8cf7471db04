//! TF.js models on Vigil's kernels: reading the weight files ([`weights`]: face-api manifests
//! and graph `model.json`), the TensorFlow conventions their layers assume ([`layers`]: HWIO
//! filters, "SAME" padding, bias + activation folded into the kernels' epilogue), and an
//! executor for graph models ([`graph`], used by CenterNet).
//!
//! `layers` lives here rather than in `kernels` because it is where TF's layout meets the
//! kernels: the kernels then know nothing about TensorFlow, and the dependency runs one way
//! (tfjs → kernels).
//!
//! Not here: fetching the packages that ship these files (`cache`), or what any particular
//! network does with its layers (`nets`).

pub mod graph;
pub mod layers;
pub mod weights;
