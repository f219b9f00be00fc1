use std::collections::BTreeMap;
use std::path::Path;

use crate::error::ConfigError;
use crate::fields::{key_for_env, FIELDS};

/// A value as it came from a source: text from env and flags, structured
/// values from a file.
#[derive(Debug, Clone, PartialEq)]
pub enum RawValue {
    Text(String),
    Structured(serde_json::Value),
}

/// One source's settings, keyed by file key.
#[derive(Debug, Clone, Default)]
pub struct Layer(pub BTreeMap<&'static str, RawValue>);

impl Layer {
    pub fn extend(&mut self, other: Layer) {
        self.0.extend(other.0);
    }

    /// Sets `key` from text. Unknown keys are an error naming them.
    pub fn set_text(&mut self, key: &str, value: impl Into<String>) -> Result<(), ConfigError> {
        let spec =
            FIELDS
                .iter()
                .find(|f| f.key == key)
                .ok_or_else(|| ConfigError::UnknownField {
                    field: key.to_string(),
                    source_name: "flags".to_string(),
                })?;
        self.0.insert(spec.key, RawValue::Text(value.into()));
        Ok(())
    }

    pub fn get(&self, key: &str) -> Option<&RawValue> {
        self.0.get(key)
    }
}

pub(crate) fn from_file(path: &Path) -> Result<Layer, ConfigError> {
    let file_error = |message: String| ConfigError::File {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let value: serde_json::Value = match extension {
        "toml" => toml::from_str(&text).map_err(|e| file_error(e.to_string()))?,
        "yaml" | "yml" => serde_norway::from_str(&text).map_err(|e| file_error(e.to_string()))?,
        other => {
            return Err(file_error(format!(
                "unsupported extension {other:?}: use .toml, .yaml or .yml"
            )))
        }
    };
    let map = match value {
        serde_json::Value::Object(map) => map,
        serde_json::Value::Null => Default::default(),
        _ => {
            return Err(file_error(
                "the top level must be a table of settings".into(),
            ))
        }
    };
    let mut layer = Layer::default();
    for (key, value) in map {
        let spec =
            FIELDS
                .iter()
                .find(|f| f.key == key)
                .ok_or_else(|| ConfigError::UnknownField {
                    field: key.clone(),
                    source_name: path.display().to_string(),
                })?;
        layer.0.insert(spec.key, RawValue::Structured(value));
    }
    Ok(layer)
}

pub(crate) fn from_env(vars: &[(String, String)]) -> Layer {
    let mut layer = Layer::default();
    for (name, value) in vars {
        if !name.starts_with("TROUPE_") {
            continue;
        }
        // Unknown TROUPE_* names are skipped, not refused: Kubernetes injects
        // TROUPE_SERVICE_HOST and friends for a Service named "troupe".
        if let Some(key) = key_for_env(name) {
            layer.0.insert(key, RawValue::Text(value.clone()));
        }
    }
    layer
}
