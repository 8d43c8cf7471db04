//! What an attacker would try first (the security issue's checklist): uploads from callers
//! without the permission, oversized form fields, password guessing, stream URLs pointing at
//! internal hosts, hostile media.

mod login;
mod media;
mod streams;
mod uploads;
