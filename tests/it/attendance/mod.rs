//! Face attendance end to end, one file per scenario: the people registry (employees and
//! students with enrollment photos), capture devices and their keys, captures recognised by
//! real models, and attendance with reviewer approval.

mod camera_stream;
mod capture_input;
mod captures;
mod devices;
mod digest;
mod people;
mod provider;
mod retention;
mod shifts;
