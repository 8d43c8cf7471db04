//! What an attacker would try first (the security issue's checklist): uploads from callers
//! without the permission, oversized form fields, password guessing, stream URLs pointing at
//! internal hosts, hostile media; and what the review found after: unbounded status endpoints,
//! export links and CSV formulas, other users' deletes and orphaned objects, NUL bytes, lost
//! dependencies, probes doing work per call, notify lists and progress streams.

mod bounds;
mod deletes;
mod exports;
mod login;
mod media;
mod notify;
mod outages;
mod probes;
mod seed;
mod streams;
mod streams_sse;
mod text_input;
mod uploads;
