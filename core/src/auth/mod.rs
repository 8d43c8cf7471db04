//! Authentication primitives: password hashing, access tokens, refresh tokens, permissions.
//! HTTP concerns (headers, extractors) live in the API crate.

pub mod ownership;
pub mod password;
pub mod permissions;
pub mod refresh;
pub mod sealed;
pub mod secrets;
pub mod throttle;
pub mod tokens;

pub use ownership::authorize_owner;
pub use permissions::{Permission, Permissions};
pub use sealed::Sealer;
pub use secrets::Secrets;
pub use tokens::AccessClaims;
