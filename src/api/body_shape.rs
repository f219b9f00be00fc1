//! Objects where the OpenAPI document says object. serde reads a struct
//! from an array of its fields in order too (`"grants": [true, false]`),
//! which the document does not allow; so before a body is deserialized,
//! every value the document's schema for that operation calls an object is
//! checked to be one, and the first that is not is named in the 400.

use serde_json::Value;

use crate::api::error::ApiError;
use crate::api::openapi_rules;

/// Checks `body` against the request body schema of `method` on the route
/// `pattern` (as the router matched it). A route the document does not
/// describe is not checked.
pub fn check(pattern: &str, method: &str, body: &Value) -> Result<(), ApiError> {
    let document = openapi_rules::document();
    let method = method.to_ascii_lowercase();
    let schema = document
        .get("paths")
        .and_then(|paths| paths.get(pattern))
        .and_then(|item| item.get(method.as_str()))
        .and_then(|operation| operation.pointer("/requestBody/content/application~1json/schema"));
    match schema {
        Some(schema) => walk(document, schema, body, ""),
        None => Ok(()),
    }
}

fn walk(document: &Value, schema: &Value, value: &Value, path: &str) -> Result<(), ApiError> {
    let schema = resolve(document, schema);
    // `oneOf`/`anyOf` (utoipa's Option<T> is `oneOf: [T, null]`): the
    // branches that take the value's JSON type judge it.
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(Value::Array(branches)) = schema.get(key) {
            for branch in branches {
                let branch = resolve(document, branch);
                if key == "allOf" || admits_type(branch, value) {
                    walk(document, branch, value, path)?;
                }
            }
        }
    }
    match value {
        Value::Array(items) => {
            if says_object(schema) && !says_type(schema, "array") {
                let field = if path.is_empty() { "" } else { path };
                return Err(ApiError::invalid(
                    field,
                    "must be a JSON object, not an array",
                ));
            }
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    walk(document, item_schema, item, &format!("{path}[{i}]"))?;
                }
            }
        }
        Value::Object(fields) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            for (key, field) in fields {
                let at = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                if let Some(field_schema) = properties.and_then(|p| p.get(key)).or(additional) {
                    walk(document, field_schema, field, &at)?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// A `$ref` followed (within the document), else the schema itself.
fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    let mut schema = schema;
    // References chain rarely; a bound keeps a cycle from looping.
    for _ in 0..8 {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(reference) => match reference
                .strip_prefix('#')
                .and_then(|pointer| document.pointer(pointer))
            {
                Some(target) => schema = target,
                None => break,
            },
            None => break,
        }
    }
    schema
}

fn says_type(schema: &Value, name: &str) -> bool {
    match schema.get("type") {
        Some(Value::String(t)) => t == name,
        Some(Value::Array(types)) => types.iter().any(|t| t == name),
        _ => false,
    }
}

fn says_object(schema: &Value) -> bool {
    says_type(schema, "object")
        || (schema.get("type").is_none() && schema.get("properties").is_some())
}

/// Whether a branch of a `oneOf` could take a value of this JSON type (a
/// branch without `type` could).
fn admits_type(schema: &Value, value: &Value) -> bool {
    if schema.get("type").is_none() {
        return true;
    }
    match value {
        Value::Null => says_type(schema, "null"),
        Value::Bool(_) => says_type(schema, "boolean"),
        Value::Number(_) => says_type(schema, "number") || says_type(schema, "integer"),
        Value::String(_) => says_type(schema, "string"),
        Value::Array(_) => says_type(schema, "array") || says_object(schema),
        Value::Object(_) => says_object(schema),
    }
}

#[cfg(test)]
mod tests {
    use super::check;
    use serde_json::json;

    #[test]
    fn an_array_where_the_document_says_object_is_named() {
        let body = json!({"identity": "a", "room": "r", "grants": [true, false, false, false]});
        let err = check("/v1/tokens", "POST", &body).expect_err("grants is an object");
        assert_eq!(err.field.as_deref(), Some("grants"));
        let nested = json!({"kind": "audio", "rtpParameters": {
            "codecs": [{"mimeType": "audio/opus", "payloadType": 100, "clockRate": 48000}],
            "rtcp": ["cname", true]
        }});
        let err = check("/v1/transports/{id}/producers", "POST", &nested).expect_err("rtcp");
        assert_eq!(err.field.as_deref(), Some("rtpParameters.rtcp"));
        let streams = json!({"enableSctp": true, "numSctpStreams": [1024, 1024]});
        let err =
            check("/v1/routers/{id}/webrtc-transports", "POST", &streams).expect_err("streams");
        assert_eq!(err.field.as_deref(), Some("numSctpStreams"));
    }

    #[test]
    fn objects_nulls_and_arrays_where_allowed_pass() {
        let body = json!({"identity": "a", "room": "r", "grants": {"publish": true}});
        assert!(check("/v1/tokens", "POST", &body).is_ok());
        let streams = json!({"enableSctp": true, "numSctpStreams": null, "appData": {"x": [1]}});
        assert!(check("/v1/routers/{id}/webrtc-transports", "POST", &streams).is_ok());
        assert!(check("/v1/not-a-route", "POST", &json!({"a": [1]})).is_ok());
    }
}
