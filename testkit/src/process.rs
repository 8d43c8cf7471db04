//! Vigil processes started as separate OS processes, for tests that kill them (`kill -9`).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use vigil_core::Config;

/// `VIGIL_*` variables that reproduce `config` in another process.
pub fn config_env(config: &Config) -> Vec<(String, String)> {
    let value = serde_json::to_value(config).expect("config serialises");
    let mut out = Vec::new();
    for (key, value) in value.as_object().expect("config is an object") {
        let text = match value {
            serde_json::Value::Null => continue,
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out.push((format!("VIGIL_{}", key.to_uppercase()), text));
    }
    out
}

/// A `vigil worker` process; killed (SIGKILL) when dropped.
pub struct WorkerProcess {
    child: Child,
    pub log: PathBuf,
}

impl WorkerProcess {
    /// Starts `{vigil_bin} worker` with `config`. Integration tests of the root crate pass
    /// `env!("CARGO_BIN_EXE_vigil")`.
    pub fn start(vigil_bin: &str, config: &Config, log: PathBuf) -> Self {
        let stderr = std::fs::File::create(&log).expect("worker log file");
        let child = Command::new(vigil_bin)
            .arg("worker")
            .envs(config_env(config))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            // Logs go to stdout (core::telemetry), panics to stderr: both kept.
            .stdout(stderr.try_clone().expect("worker log file"))
            .stderr(stderr)
            .spawn()
            .expect("start the vigil worker process");
        Self { child, log }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: the process gets no chance to release its jobs.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}
