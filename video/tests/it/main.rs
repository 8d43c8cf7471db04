//! Integration tests against real FFmpeg; clips are generated with the `ffmpeg` tool at
//! test time into cargo's scratch directory.

mod common;
mod damaged;
mod live;
mod pixels;
mod policy;
mod probe;
mod sampler;
