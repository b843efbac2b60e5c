//! The library's one error type and its stable reason codes
//! ([`Reason`]). Only `grpc` turns an error into a `tonic::Status`;
//! internal causes are logged there and never sent.

pub mod reason;

pub use reason::Reason;

/// Result with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in a request, by what the caller should
/// understand from it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field of the request is malformed.
    #[error("{field}: {message}")]
    InvalidArgument {
        /// The request field, in proto naming (`date`, `closure.name`).
        field: String,
        /// What is wrong with it, for the client.
        message: String,
    },
    /// A field is well-formed but a rule refuses its value, with a reason
    /// of its own (INVALID_ARGUMENT, e.g. `REPLY_TO_NOT_ALLOWED`).
    #[error("{field}: {message}")]
    InvalidField {
        /// The request field, in proto naming.
        field: String,
        /// Stable UPPER_SNAKE reason.
        reason: &'static str,
        /// What is wrong with it, for the client.
        message: String,
    },
    /// A field is well-formed but outside what the service supports (a year
    /// before 1949 or after 2099).
    #[error("{field}: {message}")]
    OutOfRange {
        /// The request field.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// The thing asked for does not exist (or the caller may not see it).
    #[error("{message}")]
    NotFound {
        /// Stable UPPER_SNAKE reason, e.g. `CLOSURE_NOT_FOUND`.
        reason: &'static str,
        /// Human-readable explanation.
        message: String,
    },
    /// The thing to create exists already.
    #[error("{message}")]
    AlreadyExists {
        /// Stable reason.
        reason: &'static str,
        /// Human-readable explanation.
        message: String,
    },
    /// A business rule refuses the request.
    #[error("{message}")]
    FailedPrecondition {
        /// Stable reason, e.g. `SUPPORT_EXPIRED`.
        reason: &'static str,
        /// Human-readable explanation.
        message: String,
    },
    /// No token, or a token the server does not know, has revoked, or that
    /// has expired.
    #[error("{message}")]
    Unauthenticated {
        /// `TOKEN_MISSING`, `TOKEN_INVALID` or `TOKEN_EXPIRED`.
        reason: &'static str,
        /// Human-readable explanation.
        message: String,
    },
    /// The token is valid but may not do this.
    #[error("{message}")]
    PermissionDenied {
        /// Stable reason, e.g. `STAFF_ONLY`.
        reason: &'static str,
        /// Human-readable explanation.
        message: String,
    },
    /// Too many calls or too much of something in a time: the caller should
    /// wait (RESOURCE_EXHAUSTED, reason `RATE_LIMITED`).
    #[error("{message}")]
    RateLimited {
        /// Human-readable explanation.
        message: String,
        /// How long to wait before trying again, when known; sent as a
        /// `google.rpc.RetryInfo` detail.
        retry_after: Option<std::time::Duration>,
    },
    /// The database cannot be reached.
    #[error("the database is unavailable")]
    DatabaseUnavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Anything else: a bug or an unexpected failure. Logged, never sent.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    /// A malformed field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A field outside the supported range.
    pub fn out_of_range(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::OutOfRange {
            field: field.into(),
            message: message.into(),
        }
    }

    /// An unexpected failure, kept for the log.
    pub fn internal(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(source.into())
    }

    /// Refuses a call that needs a staff token.
    pub fn staff_only() -> Self {
        Self::PermissionDenied {
            reason: Reason::StaffOnly.as_str(),
            message: "this call needs a staff token".into(),
        }
    }
}
