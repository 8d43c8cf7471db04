//! Attendance jobs: recognising photos from capture devices.

pub mod recognize;
