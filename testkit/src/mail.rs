//! The test SMTP server's Maildir: what Vigil really sent. It is shared by every test, so
//! tests look for text of their own (a unique subject or name).

use crate::Services;

/// Reads every message the test SMTP server has stored.
pub fn received_mail() -> Vec<String> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        if let Ok(entries) = std::fs::read_dir(Services::maildir().join(sub)) {
            for entry in entries.flatten() {
                if let Ok(text) = std::fs::read_to_string(entry.path()) {
                    out.push(text);
                }
            }
        }
    }
    out
}

/// Waits up to `timeout` for a stored message containing `needle`.
pub async fn wait_for_mail(needle: &str, timeout: std::time::Duration) -> Option<String> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(m) = received_mail().into_iter().find(|m| m.contains(needle)) {
            return Some(m);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
