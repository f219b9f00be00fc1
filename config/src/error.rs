use thiserror::Error;

/// A configuration error. `field` is the file key; the message also names the
/// environment variable so operators using either find it.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ConfigError {
    #[error("invalid config field `{field}` ({env}): {message}")]
    Field {
        field: String,
        env: String,
        message: String,
    },
    #[error("unknown config field `{field}` in {source_name}")]
    UnknownField { field: String, source_name: String },
    #[error("cannot read config file {path}: {message}")]
    File { path: String, message: String },
}

impl ConfigError {
    pub(crate) fn field(field: &str, message: impl Into<String>) -> Self {
        ConfigError::Field {
            field: field.to_string(),
            env: crate::fields::env_name(field),
            message: message.into(),
        }
    }

    /// The field this error is about, when it is about one.
    pub fn field_name(&self) -> Option<&str> {
        match self {
            ConfigError::Field { field, .. } | ConfigError::UnknownField { field, .. } => {
                Some(field)
            }
            ConfigError::File { .. } => None,
        }
    }
}
