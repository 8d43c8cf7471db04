//! Permissions (`resource:action`), in one list. Roles store them as text (with `*` granting
//! everything and `resource:*` every action on one resource); code names them by constant, so
//! a typo is a compile error rather than a silent 403.

use crate::db::text_enum::text_enum;

text_enum! {
    /// One thing a role may do.
    pub enum Permission {
        UsersRead = "users:read",
        UsersWrite = "users:write",
        RolesRead = "roles:read",
        AuditRead = "audit:read",
        JobsRead = "jobs:read",
        JobsWrite = "jobs:write",
        /// Retry dead letters, submit canaries, see every job.
        JobsAdmin = "jobs:admin",
        QueuesManage = "queues:manage",
        MailSend = "mail:send",
        ExportsWrite = "exports:write",
        SystemRead = "system:read",
        FacesRead = "faces:read",
        FacesWrite = "faces:write",
        VideosRead = "videos:read",
        VideosWrite = "videos:write",
        SearchesRead = "searches:read",
        SearchesWrite = "searches:write",
        /// Confirm or dismiss search hits; notified of new appearances.
        SearchesReview = "searches:review",
        CamerasRead = "cameras:read",
        CamerasWrite = "cameras:write",
        CountsRead = "counts:read",
        AttendanceRead = "attendance:read",
        AttendanceReview = "attendance:review",
        /// Enter attendance by hand (pending review unless entered by a reviewer).
        AttendanceWrite = "attendance:write",
        /// Create, change and delete shift schedules.
        ShiftsWrite = "shifts:write",
        RecordingsRead = "recordings:read",
        RecordingsWrite = "recordings:write",
        AlertsRead = "alerts:read",
        DevicesRead = "devices:read",
        DevicesWrite = "devices:write",
        /// Live face detections of cameras, the provider's state, its call log.
        DetectionsRead = "detections:read",
        /// Send a camera's frame for detection.
        DetectionsWrite = "detections:write",
        /// Configure and test the detection provider.
        DetectionsManage = "detections:manage",
    }
}

impl Permission {
    pub fn resource(self) -> &'static str {
        self.as_str().split(':').next().unwrap_or_default()
    }

    /// The grants that give this permission: itself, its resource's wildcard and `*`.
    pub fn grants(self) -> [String; 3] {
        [
            self.as_str().to_string(),
            format!("{}:*", self.resource()),
            "*".to_string(),
        ]
    }
}

/// What a role grants, as stored.
#[derive(Debug, Clone, Default)]
pub struct Permissions(Vec<String>);

impl Permissions {
    pub fn new(list: Vec<String>) -> Self {
        Self(list)
    }

    pub fn allows(&self, wanted: Permission) -> bool {
        let grants = wanted.grants();
        self.0.iter().any(|p| grants.contains(p))
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
        assert!(admin.allows(Permission::UsersWrite));
        let ops = Permissions::new(vec!["cameras:*".into(), "jobs:read".into()]);
        assert!(ops.allows(Permission::CamerasWrite));
        assert!(ops.allows(Permission::JobsRead));
        assert!(!ops.allows(Permission::JobsWrite));
        assert!(!ops.allows(Permission::UsersRead));
    }

    #[test]
    fn every_builtin_role_permission_is_known() {
        // The roles the first migration creates name only permissions this list knows.
        let sql = include_str!("../../../migrations/2026-11-21-000001_foundation/up.sql");
        let roles = &sql[sql.find("INSERT INTO roles").unwrap()..];
        let roles = &roles[..roles.find(";").unwrap()];
        for quoted in roles.split('\'').skip(1).step_by(2) {
            if quoted.contains(':') {
                assert!(
                    Permission::parse(quoted).is_some(),
                    "{quoted} is not a known permission"
                );
            }
        }
    }
}
