//! [`Error`] to `tonic::Status`: the right code, a `google.rpc.ErrorInfo`
//! with a stable reason and domain `neo-support`, `google.rpc.BadRequest`
//! field violations for bad fields. Internal causes are logged here and
//! answered with a generic message.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::error::{Error, Reason};

/// The ErrorInfo domain of every refusal.
pub const ERROR_DOMAIN: &str = "neo-support";

fn status(code: Code, reason: &str, message: String, field: Option<(&str, &str)>) -> Status {
    let mut details = ErrorDetails::with_error_info(reason, ERROR_DOMAIN, HashMap::new());
    if let Some((field, description)) = field {
        details.add_bad_request_violation(field, description);
    }
    Status::with_error_details(code, message, details)
}

/// Turns a library error into the status a client sees.
pub fn to_status(error: Error) -> Status {
    match error {
        Error::InvalidArgument { field, message } => status(
            Code::InvalidArgument,
            Reason::InvalidArgument.as_str(),
            format!("{field}: {message}"),
            Some((&field, &message)),
        ),
        Error::InvalidField {
            field,
            reason,
            message,
        } => status(
            Code::InvalidArgument,
            reason,
            format!("{field}: {message}"),
            Some((&field, &message)),
        ),
        Error::OutOfRange { field, message } => status(
            Code::OutOfRange,
            Reason::DateOutOfRange.as_str(),
            format!("{field}: {message}"),
            Some((&field, &message)),
        ),
        Error::NotFound { reason, message } => status(Code::NotFound, reason, message, None),
        Error::AlreadyExists { reason, message } => {
            status(Code::AlreadyExists, reason, message, None)
        }
        Error::FailedPrecondition { reason, message } => {
            status(Code::FailedPrecondition, reason, message, None)
        }
        Error::Unauthenticated { reason, message } => {
            status(Code::Unauthenticated, reason, message, None)
        }
        Error::PermissionDenied { reason, message } => {
            status(Code::PermissionDenied, reason, message, None)
        }
        Error::RateLimited {
            message,
            retry_after,
        } => {
            let mut details = ErrorDetails::with_error_info(
                Reason::RateLimited.as_str(),
                ERROR_DOMAIN,
                HashMap::new(),
            );
            if let Some(delay) = retry_after {
                details.set_retry_info(Some(delay));
            }
            Status::with_error_details(Code::ResourceExhausted, message, details)
        }
        Error::DatabaseUnavailable(source) => {
            tracing::warn!(error = %source, "database unavailable");
            status(
                Code::Unavailable,
                Reason::DatabaseUnavailable.as_str(),
                "the database is unavailable; try again shortly".into(),
                None,
            )
        }
        Error::Internal(source) => {
            tracing::error!(error = %source, "internal error");
            status(
                Code::Internal,
                Reason::Internal.as_str(),
                "internal error".into(),
                None,
            )
        }
    }
}
