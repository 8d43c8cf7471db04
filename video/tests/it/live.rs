use std::sync::mpsc;
use std::time::{Duration, Instant};

use vigil_video::synth::{self, ClipBuilder, LiveServer, Motion};
use vigil_video::{FrameSampler, Input, SampleOptions, VideoError};

use crate::common::{clip, photo};

const READ_TIMEOUT: Duration = Duration::from_secs(3);

fn server() -> LiveServer {
    let clip = clip(
        &ClipBuilder::new(640, 360, 25.0)
            .colour("gray", 1.0)
            .still(photo(), 3.0)
            .motion(Motion::Pan)
            .keyint(25)
            .audio(true),
    );
    synth::serve_live(clip, 0).expect("start live server")
}

/// The server as the worker opens a camera: the URL the egress policy checked (an IP
/// literal) plus the `Host` header it keeps.
fn stream(server: &LiveServer) -> Input {
    Input::stream(server.url(), &[("headers", "Host: cam.example\r\n")]).expect("checked form")
}

fn live_options() -> SampleOptions {
    SampleOptions {
        read_timeout: READ_TIMEOUT,
        open_timeout: Duration::from_secs(10),
        ..SampleOptions::live()
    }
}

/// Takes `n` frames and checks their wall-clock timestamps rise on the 2 fps grid.
fn take_frames(sampler: &mut FrameSampler, n: usize) {
    let mut last: Option<(u64, f64)> = None;
    for _ in 0..n {
        let frame = sampler.next().expect("a frame").expect("no error");
        assert_eq!((frame.width(), frame.height()), (640, 360));
        if let Some((index, t)) = last {
            assert!(frame.sample_index > index);
            assert!(frame.timestamp_secs > t);
        }
        assert!(frame.timestamp_secs >= frame.sample_index as f64 / 2.0);
        last = Some((frame.sample_index, frame.timestamp_secs));
    }
    let (_, t) = last.unwrap();
    // n frames at 2 fps span about (n-1)/2 s of wall time.
    assert!(
        t > (n as f64 - 2.0) / 2.0 && t < n as f64,
        "last timestamp {t}"
    );
}

/// Drains the sampler until it fails; returns the error and when it came.
fn wait_for_error(mut sampler: FrameSampler) -> (VideoError, Instant) {
    loop {
        match sampler.next() {
            Some(Ok(_)) => continue,
            Some(Err(e)) => return (e, Instant::now()),
            None => panic!("a live sampler must not just end"),
        }
    }
}

#[test]
fn live_stream_yields_frames_with_rising_timestamps() {
    let server = server();
    let mut sampler = FrameSampler::open(stream(&server), live_options()).expect("open live");
    assert_eq!(sampler.info().container, "mpegts");
    take_frames(&mut sampler, 6);
}

#[test]
fn a_killed_server_ends_the_stream_with_an_error() {
    let mut server = server();
    let mut sampler = FrameSampler::open(stream(&server), live_options()).expect("open live");
    take_frames(&mut sampler, 3);
    server.kill().unwrap();
    let killed = Instant::now();
    let (err, at) = wait_for_error(sampler);
    assert!(
        matches!(err, VideoError::StreamEnded(_) | VideoError::Timeout { .. }),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert!(
        at - killed <= READ_TIMEOUT + Duration::from_secs(1),
        "{:?}",
        at - killed
    );
}

#[test]
fn a_stalled_server_times_out() {
    let server = server();
    let mut sampler = FrameSampler::open(stream(&server), live_options()).expect("open live");
    take_frames(&mut sampler, 3);
    server.pause().unwrap();
    let paused = Instant::now();
    let (err, at) = wait_for_error(sampler);
    assert!(matches!(err, VideoError::Timeout { .. }), "{err:?}");
    // Data already in socket buffers may still decode for a moment after the pause.
    let waited = at - paused;
    assert!(
        waited >= READ_TIMEOUT && waited <= READ_TIMEOUT + Duration::from_secs(3),
        "{waited:?}"
    );
}

#[test]
fn cancel_interrupts_a_blocked_read() {
    let server = server();
    let mut sampler = FrameSampler::open(stream(&server), live_options()).expect("open live");
    take_frames(&mut sampler, 2);
    server.pause().unwrap();
    let cancel = sampler.cancel_handle();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let (err, at) = wait_for_error(sampler);
        tx.send((err.to_string(), at)).unwrap();
    });
    std::thread::sleep(Duration::from_millis(1500));
    let cancelled = Instant::now();
    cancel.cancel();
    let (message, at) = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("reader returned");
    assert_eq!(message, "cancelled");
    assert!(
        at - cancelled < Duration::from_millis(500),
        "{:?}",
        at - cancelled
    );
    reader.join().unwrap();
}
