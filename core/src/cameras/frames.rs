//! A watched camera's current frame, handed over through Redis. Many cameras take only a few
//! stream sessions, and the watcher holds one already: a job that wants the camera's current
//! frame (`detections.frame`) asks the watcher for it rather than opening a second session.
//! The asker raises a short-lived flag; the watcher sees it at its next tick, JPEG-encodes its
//! next analysed frame and stores it for a few seconds.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::redis::Redis;

/// How long a request stays up when no watcher answers it.
const WANTED_TTL_SECS: u64 = 30;
/// How long a handed-over frame stays current.
const FRAME_TTL_SECS: u64 = 10;

fn wanted_key(redis: &Redis, camera: &str) -> String {
    redis.key(&format!("camera:{camera}:frame-wanted"))
}

fn frame_key(redis: &Redis, camera: &str) -> String {
    redis.key(&format!("camera:{camera}:frame"))
}

fn unavailable(e: redis::RedisError) -> Error {
    Error::unavailable("redis", e)
}

/// Asks the camera's watcher for its current frame (dropping any older one).
pub async fn request(redis: &Redis, camera: &str) -> Result<()> {
    let mut conn = redis.conn();
    redis::pipe()
        .del(frame_key(redis, camera))
        .cmd("SET")
        .arg(wanted_key(redis, camera))
        .arg(1)
        .arg("EX")
        .arg(WANTED_TTL_SECS)
        .query_async::<()>(&mut conn)
        .await
        .map_err(unavailable)
}

/// Whether someone wants the camera's current frame (asked by the watcher at each tick).
pub async fn wanted(redis: &Redis, camera: &str) -> Result<bool> {
    let mut conn = redis.conn();
    redis::cmd("EXISTS")
        .arg(wanted_key(redis, camera))
        .query_async::<bool>(&mut conn)
        .await
        .map_err(unavailable)
}

/// The watcher's answer: the frame as JPEG.
pub async fn put(redis: &Redis, camera: &str, jpeg: &[u8]) -> Result<()> {
    let mut conn = redis.conn();
    redis::pipe()
        .del(wanted_key(redis, camera))
        .cmd("SET")
        .arg(frame_key(redis, camera))
        .arg(jpeg)
        .arg("EX")
        .arg(FRAME_TTL_SECS)
        .query_async::<()>(&mut conn)
        .await
        .map_err(unavailable)
}

/// Waits up to `wait` for the watcher's answer to [`request`].
pub async fn wait(redis: &Redis, camera: &str, wait: Duration) -> Result<Option<Vec<u8>>> {
    let deadline = tokio::time::Instant::now() + wait;
    let key = frame_key(redis, camera);
    loop {
        let mut conn = redis.conn();
        let frame: Option<Vec<u8>> = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        if frame.is_some() || tokio::time::Instant::now() >= deadline {
            return Ok(frame);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
