//! The networks and what is built directly on their outputs: the SSD face detector, the
//! 68-point landmark net, the dlib/ResNet-34 face recogniser, BlazeFace (a cheaper face
//! detector for small-face tiles), CenterNet person detection, the
//! face pipeline that chains the first three with face-api's semantics, and the gallery that
//! matches descriptors. Each file reproduces one JavaScript model's pre- and post-processing
//! so its outputs match the reference run.
//!
//! Not here: the kernels they run on (`kernels`), reading weight files and TF layer
//! conventions (`tfjs`), getting the weights (`cache`), or turning files into images
//! (`decode`): networks take an `RgbImage` and never see bytes from a user.

pub mod blazeface;
pub mod centernet;
pub mod gallery;
pub mod landmarks;
pub mod pipeline;
pub mod recognition;
pub mod ssd;
