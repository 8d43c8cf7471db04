//! The error type of the core. The API maps each variant to an HTTP status and an error code.

use std::borrow::Cow;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    NotFound(Cow<'static, str>),
    #[error("{0}")]
    Conflict(Cow<'static, str>),
    /// Input that is well-formed but not acceptable (422 at the API).
    #[error("{message}")]
    Validation {
        message: Cow<'static, str>,
        field: Option<&'static str>,
    },
    #[error("{0}")]
    Unauthorized(Cow<'static, str>),
    #[error("{0}")]
    Forbidden(Cow<'static, str>),
    /// A dependency (database, Redis, storage, SMTP) is unreachable or failing.
    #[error("{service} unavailable: {message}")]
    Unavailable {
        service: &'static str,
        message: String,
    },
    #[error("configuration error: {0}")]
    Config(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Error {
    pub fn not_found(what: impl Into<Cow<'static, str>>) -> Self {
        Self::NotFound(what.into())
    }

    pub fn conflict(what: impl Into<Cow<'static, str>>) -> Self {
        Self::Conflict(what.into())
    }

    pub fn validation(field: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::Validation {
            message: message.into(),
            field: Some(field),
        }
    }

    pub fn unavailable(service: &'static str, err: impl std::fmt::Display) -> Self {
        Self::Unavailable {
            service,
            message: err.to_string(),
        }
    }
}

impl From<diesel::result::Error> for Error {
    fn from(err: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error as D};
        match err {
            D::NotFound => Error::not_found("not found"),
            D::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                Error::conflict(format!("already exists ({})", info.message()))
            }
            D::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info) => Error::Validation {
                message: format!(
                    "refers to something that does not exist ({})",
                    info.message()
                )
                .into(),
                field: None,
            },
            D::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                info,
            ) => Error::unavailable("postgres", info.message()),
            D::DatabaseError(DatabaseErrorKind::Unknown, info) if is_outage(info.message()) => {
                Error::unavailable("postgres", info.message())
            }
            other => Error::Internal(anyhow::Error::new(other).context("database query failed")),
        }
    }
}

/// Whether a server error means PostgreSQL cannot serve right now (it is shutting down or
/// restarting, dropped the connection, is out of connections, or a statement ran past
/// `statement_timeout` because it is overloaded or blocked) rather than that the query was
/// wrong. diesel exposes only the message of such errors, not their SQLSTATE (classes 08 and
/// 57, 53300), so the server's own wording of them is matched.
fn is_outage(message: &str) -> bool {
    const OUTAGE: [&str; 7] = [
        "canceling statement due to statement timeout",
        "terminating connection",
        "the database system is",
        "sorry, too many clients",
        "server closed the connection",
        "connection to server",
        "could not receive data from",
    ];
    OUTAGE.iter().any(|m| message.contains(m))
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for Error {
    fn from(err: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        Error::unavailable("postgres", err)
    }
}
