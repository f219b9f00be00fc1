//! API errors: a status and `{"error": {"code", "message", "field"?}}`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use troupe_actors::ActorError;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code: `invalid_parameter`, `not_found`,
    /// `wrong_state`, `unauthorized`, `not_implemented`, `draining`, `internal`.
    pub code: String,
    pub message: String,
    /// The JSON path of the offending request field, for 400s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        let message = message.into();
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_parameter",
            message: if field.is_empty() {
                message
            } else {
                format!("{field}: {message}")
            },
            field: (!field.is_empty()).then_some(field),
        }
    }
    pub fn not_implemented(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_IMPLEMENTED, "not_implemented", message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    pub fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid `Authorization: Bearer <token>` header is required",
        )
    }
    pub fn draining() -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "draining",
            "this node is shutting down and takes no new work",
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }
    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status).json(ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message.clone(),
                field: self.field.clone(),
            },
        })
    }
}

impl From<troupe_cluster::CascadeError> for ApiError {
    fn from(e: troupe_cluster::CascadeError) -> Self {
        use troupe_cluster::{CascadeError, LinkError};
        match e {
            CascadeError::Actor(e) => e.into(),
            CascadeError::Link(LinkError::Remote(remote)) => ApiError::new(
                StatusCode::from_u16(remote.status).unwrap_or(StatusCode::BAD_GATEWAY),
                remote_code(&remote.code),
                remote.message,
            ),
            CascadeError::Link(e @ LinkError::Timeout { .. }) => {
                ApiError::new(StatusCode::GATEWAY_TIMEOUT, "remote_timeout", e.to_string())
            }
            CascadeError::Link(e) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "node_unavailable",
                e.to_string(),
            ),
            CascadeError::Room(e @ troupe_cluster::RoomError::BadName(_)) => {
                ApiError::invalid("name", e.to_string())
            }
            CascadeError::Room(e) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                e.to_string(),
            ),
        }
    }
}

/// The error codes another node may answer with, as this API's own.
fn remote_code(code: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "not_found",
        "invalid_parameter",
        "wrong_state",
        "unsupported",
        "not_implemented",
        "unavailable",
        "internal",
        "remote_timeout",
        "node_unavailable",
    ];
    KNOWN
        .iter()
        .find(|known| **known == code)
        .copied()
        .unwrap_or("remote_error")
}

impl From<ActorError> for ApiError {
    fn from(e: ActorError) -> Self {
        match e {
            ActorError::NotFound { .. } => ApiError::not_found(e.to_string()),
            ActorError::InvalidParameter { field, message } => ApiError::invalid(field, message),
            ActorError::WrongState(m) => ApiError::new(StatusCode::CONFLICT, "wrong_state", m),
            ActorError::Unsupported(m) => ApiError::new(StatusCode::BAD_REQUEST, "unsupported", m),
            ActorError::NotImplemented(m) => ApiError::not_implemented(m),
            ActorError::Unavailable(m) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", m)
            }
            ActorError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", m)
            }
        }
    }
}
