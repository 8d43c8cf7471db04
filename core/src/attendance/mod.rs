//! Face attendance: photos from capture devices recognised against the people registry
//! (`captures`), sightings of people reviewed when the recognizer is unsure (`events`), and
//! one log per person and day built from the approved sightings (`logs`). How a recognition
//! becomes a decision is a pure rule (`decision`); rejected matches become negative examples
//! (`negatives`) so the same confusion is not approved automatically again.

pub mod calendar;
pub mod captures;
pub mod decision;
pub mod digest;
pub mod events;
pub mod logs;
pub mod negatives;
pub mod overview;
pub mod shifts;

use crate::db::text_enum::text_enum;

text_enum! {
    /// Where an attendance event stands with reviewers.
    pub enum EventStatus {
        Pending = "pending",
        Approved = "approved",
        Rejected = "rejected",
    }
}

text_enum! {
    /// What saw the person.
    pub enum EventSource {
        Capture = "capture",
        Manual = "manual",
        Camera = "camera",
    }
}

text_enum! {
    /// A day's attendance against the person's shift (`present` without shifts).
    pub enum LogStatus {
        Present = "present",
        Late = "late",
        Missed = "missed",
    }
}

text_enum! {
    /// Whether the log reached Odoo (the sync follows in its own feature).
    pub enum OdooStatus {
        Pending = "pending",
        Synced = "synced",
        Failed = "failed",
    }
}

text_enum! {
    /// Where a person is now, from their last approved sighting.
    pub enum Presence {
        OnSite = "on-site",
        OffSite = "off-site",
    }
}

text_enum! {
    /// What a reviewer does with an attendance event.
    pub enum ReviewAction {
        Approve = "approve",
        Reject = "reject",
        /// It is another person: approve it as them (`personId`).
        Correct = "correct",
    }
}
