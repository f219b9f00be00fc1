use thiserror::Error;

use crate::object_kind::ObjectKind;

/// Why an operation on the actor tree failed. The API maps each variant to
/// one HTTP status.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ActorError {
    #[error("{kind} {id} not found")]
    NotFound { kind: ObjectKind, id: String },
    #[error("{field}: {message}")]
    InvalidParameter { field: String, message: String },
    #[error("{0}")]
    WrongState(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    NotImplemented(String),
    /// A dependency of the request (ffmpeg, a port) is not available.
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ActorError {
    pub fn not_found(kind: ObjectKind, id: &str) -> Self {
        ActorError::NotFound {
            kind,
            id: id.to_string(),
        }
    }
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ActorError::InvalidParameter {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<crate::ortc::OrtcError> for ActorError {
    fn from(e: crate::ortc::OrtcError) -> Self {
        ActorError::InvalidParameter {
            field: e.field,
            message: e.message,
        }
    }
}

pub type ActorResult<T> = Result<T, ActorError>;
