//! Who a search may email about its appearances besides reviewers. Those emails carry face
//! thumbnails of whoever was found, so the list is short (`VIGIL_NOTIFY_MAX_RECIPIENTS`) and,
//! when the deployment names its domains (`VIGIL_NOTIFY_ALLOWED_DOMAINS`), stays inside them:
//! a user cannot send biometric pictures to any number of outside addresses.

use crate::config::Config;
use crate::error::{Error, Result};

/// The recipient rules of a deployment.
#[derive(Debug, Clone)]
pub struct NotifyPolicy {
    pub max_recipients: usize,
    /// Lower-case domains; empty = any.
    pub domains: Vec<String>,
}

impl NotifyPolicy {
    pub fn from_config(config: &Config) -> Self {
        Self {
            max_recipients: config.notify_max_recipients,
            domains: config
                .notify_allowed_domains
                .split(',')
                .map(|d| d.trim().trim_start_matches('@').to_ascii_lowercase())
                .filter(|d| !d.is_empty())
                .collect(),
        }
    }

    /// The addresses, trimmed and without duplicates (compared case-insensitively), when
    /// there are few enough and each is in an allowed domain (or a subdomain of one).
    pub fn check(&self, notify: &[String]) -> Result<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        for address in notify {
            let address = address.trim();
            if !out.iter().any(|a| a.eq_ignore_ascii_case(address)) {
                out.push(address.to_string());
            }
        }
        if out.len() > self.max_recipients {
            return Err(Error::validation(
                "notify",
                format!("at most {} addresses", self.max_recipients),
            ));
        }
        if self.domains.is_empty() {
            return Ok(out);
        }
        for address in &out {
            let domain = address
                .rsplit_once('@')
                .map(|(_, d)| d.trim_end_matches('>').to_ascii_lowercase())
                .unwrap_or_default();
            let allowed = self
                .domains
                .iter()
                .any(|d| domain == *d || domain.ends_with(&format!(".{d}")));
            if !allowed {
                return Err(Error::validation(
                    "notify",
                    format!(
                        "{address} is outside the domains this deployment emails ({})",
                        self.domains.join(", ")
                    ),
                ));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(max: usize, domains: &str) -> NotifyPolicy {
        NotifyPolicy::from_config(&Config {
            notify_max_recipients: max,
            notify_allowed_domains: domains.into(),
            ..Config::default()
        })
    }

    fn list(addresses: &[&str]) -> Vec<String> {
        addresses.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn counts_distinct_addresses() {
        let p = policy(2, "");
        let ok = p
            .check(&list(&["a@x.test", " A@x.test", "b@y.test"]))
            .unwrap();
        assert_eq!(ok, ["a@x.test", "b@y.test"]);
        assert!(
            p.check(&list(&["a@x.test", "b@x.test", "c@x.test"]))
                .is_err()
        );
    }

    #[test]
    fn keeps_to_the_allowed_domains_and_their_subdomains() {
        let p = policy(5, "police.example, @ngo.example");
        assert!(p.check(&list(&["duty@police.example"])).is_ok());
        assert!(p.check(&list(&["Desk@Unit.POLICE.example"])).is_ok());
        assert!(p.check(&list(&["Team <team@ngo.example>"])).is_ok());
        for bad in [
            "x@evil.example",
            "x@police.example.evil.example",
            "x@notpolice.example",
        ] {
            assert!(p.check(&list(&[bad])).is_err(), "{bad}");
        }
    }
}
