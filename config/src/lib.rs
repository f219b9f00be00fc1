//! Troupe's configuration: one schema, a default for every field, and three
//! layers applied in order — a TOML or YAML file, `TROUPE_*` environment
//! variables, then command-line flags. Every error names the field it is
//! about, so an operator can fix it from one line.

mod error;
mod fields;
mod layers;
mod schema;

pub use error::ConfigError;
pub use fields::{FieldSpec, FIELDS};
pub use layers::{Layer, RawValue};
pub use schema::{Config, OtlpProtocol, PortRange};

use std::path::Path;

/// Where the effective configuration comes from, lowest precedence first.
#[derive(Debug, Default)]
pub struct Sources {
    pub file: Option<std::path::PathBuf>,
    pub env: Vec<(String, String)>,
    pub flags: Layer,
}

impl Sources {
    /// The process environment's `TROUPE_*` variables, plus a file and flags.
    pub fn from_process(file: Option<std::path::PathBuf>, flags: Layer) -> Self {
        Sources {
            file,
            env: std::env::vars()
                .filter(|(k, _)| k.starts_with("TROUPE_"))
                .collect(),
            flags,
        }
    }
}

/// Loads and validates the configuration from its sources.
pub fn load(sources: &Sources) -> Result<Config, ConfigError> {
    let mut merged = Layer::default();
    if let Some(path) = &sources.file {
        merged.extend(layers::from_file(path)?);
    }
    merged.extend(layers::from_env(&sources.env));
    merged.extend(sources.flags.clone());
    Config::from_layer(&merged)
}

/// Loads a configuration from a file alone (defaults for the rest).
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    load(&Sources {
        file: Some(path.to_path_buf()),
        ..Default::default()
    })
}
