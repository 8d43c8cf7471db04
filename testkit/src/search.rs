//! Searches through the API: starting one and following its status until it gets somewhere.

use std::time::Duration;

use serde_json::Value;

use crate::{Caller, Response};

/// POSTs `/searches` with `body`; the answer (202 or a refusal) is left to the caller.
pub async fn start_search(caller: &Caller, body: Value) -> Response {
    caller.post_json("/searches", body).await
}

/// Starts a search that must be accepted (202), and returns its id.
pub async fn submit_search(caller: &Caller, body: Value) -> String {
    start_search(caller, body).await.expect(202).id()
}

/// Polls `/searches/{id}/status` until `done` accepts it or `timeout` passes; returns it.
pub async fn wait_search(
    caller: &Caller,
    id: &str,
    timeout: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let every = Duration::from_millis(250);
    caller
        .wait_for(format!("/searches/{id}/status"), timeout, every, done)
        .await
}

/// Controls a search — `action` is `pause`, `resume`, `cancel` or `stop` — and returns it.
pub async fn control(caller: &Caller, id: &str, action: &str) -> Value {
    let path = format!("/searches/{id}/{action}");
    caller.put(path).await.expect(200).data()
}

/// The frame pipeline's time per stage, summed over the "segment scanned" lines of worker
/// logs (`worker/src/frames/scan.rs`, `StageTimes`), in seconds of each stage's thread.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct ScanStages {
    pub segments: u32,
    pub decode: f64,
    pub detect: f64,
    pub describe: f64,
    pub matching: f64,
    pub thumbnails: f64,
}

impl ScanStages {
    /// Sums the stage fields of every "segment scanned" line in `log` (plain or ANSI-coloured).
    pub fn from_log(log: &str) -> ScanStages {
        let mut out = ScanStages::default();
        for line in log.lines().filter(|l| l.contains("segment scanned")) {
            let line = strip_ansi(line);
            let ms = |key: &str| -> f64 {
                line.split_once(&format!("{key}="))
                    .map(|(_, rest)| {
                        let digits: String =
                            rest.chars().take_while(|c| c.is_ascii_digit()).collect();
                        digits.parse::<f64>().unwrap_or(0.0) / 1e3
                    })
                    .unwrap_or(0.0)
            };
            out.segments += 1;
            out.decode += ms("decode_ms");
            out.detect += ms("detect_ms");
            out.describe += ms("describe_ms");
            out.matching += ms("matching_ms");
            out.thumbnails += ms("thumbnails_ms");
        }
        out
    }

    /// What was added since `before` (a log read earlier).
    pub fn since(self, before: ScanStages) -> ScanStages {
        ScanStages {
            segments: self.segments - before.segments,
            decode: self.decode - before.decode,
            detect: self.detect - before.detect,
            describe: self.describe - before.describe,
            matching: self.matching - before.matching,
            thumbnails: self.thumbnails - before.thumbnails,
        }
    }
}

impl std::fmt::Display for ScanStages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} segments; thread time: decode {:.1} s (own thread), detect {:.1} s, describe {:.1} s, match {:.1} s, thumbnails {:.1} s",
            self.segments, self.decode, self.detect, self.describe, self.matching, self.thumbnails
        )
    }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-byte.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_add_up_plain_and_coloured_lines() {
        let log = "2026-12-01 INFO segment scanned video=x decode_ms=1500 detect_ms=2000 describe_ms=250 matching_ms=5 thumbnails_ms=40\n\
                   other line detect_ms=9999\n\
                   INFO segment scanned \u{1b}[3mdecode_ms\u{1b}[0m\u{1b}[2m=\u{1b}[0m500 \u{1b}[3mdetect_ms\u{1b}[0m\u{1b}[2m=\u{1b}[0m1000";
        let s = ScanStages::from_log(log);
        assert_eq!(s.segments, 2);
        assert_eq!((s.decode, s.detect, s.describe), (2.0, 3.0, 0.25));
        assert_eq!(s.since(s), ScanStages::default());
    }
}
