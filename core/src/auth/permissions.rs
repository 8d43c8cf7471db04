//! Permission strings (`resource:action`) carried by roles; `*` grants everything and
//! `resource:*` every action on one resource.

#[derive(Debug, Clone, Default)]
pub struct Permissions(Vec<String>);

impl Permissions {
    pub fn new(list: Vec<String>) -> Self {
        Self(list)
    }

    pub fn allows(&self, wanted: &str) -> bool {
        let resource = wanted.split(':').next().unwrap_or(wanted);
        self.0.iter().any(|p| {
            p == "*"
                || p == wanted
                || p.strip_suffix(":*")
                    .is_some_and(|prefix| prefix == resource)
        })
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_rules() {
        let admin = Permissions::new(vec!["*".into()]);
        assert!(admin.allows("users:write"));
        let ops = Permissions::new(vec!["cameras:*".into(), "jobs:read".into()]);
        assert!(ops.allows("cameras:delete"));
        assert!(ops.allows("jobs:read"));
        assert!(!ops.allows("jobs:write"));
        assert!(!ops.allows("users:read"));
    }
}
