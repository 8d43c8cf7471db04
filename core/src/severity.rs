//! How much an event matters, shared by the audit log (a refused or failed request is a
//! warning, a server error critical) and alerts.

use crate::db::text_enum::text_enum;

text_enum! {
    pub enum Severity {
        Info = "info",
        Warning = "warning",
        Critical = "critical",
    }
}
