//! Rules across the fields of one body, which the derived schemas cannot
//! state, written into the OpenAPI document as JSON Schema (3.1 takes
//! `not`, `if` and `then`), so a client or a generator reading the document
//! knows what the server refuses before it asks.

use std::sync::OnceLock;

use serde_json::{json, Value};
use utoipa::OpenApi;

use crate::api::openapi::ApiDoc;

/// The document the server serves: derived, then the rules added.
pub fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut document = serde_json::to_value(ApiDoc::openapi()).unwrap_or_else(|_| json!({}));
        add_rules(&mut document);
        document
    })
}

fn add_rules(document: &mut Value) {
    let rules = [
        (
            "WebRtcTransportOptions",
            // The router's check: both false leaves the transport no way in.
            json!({"not": {
                "required": ["enableUdp", "enableTcp"],
                "properties": {"enableUdp": {"const": false}, "enableTcp": {"const": false}}
            }}),
        ),
        (
            "PlainTransportOptions",
            // On the shared port a transport is known by its peer's address
            // (so not learnt with comedia) and has that one port (so RTCP
            // muxed with RTP).
            json!({
                "if": {"required": ["sharedPort"], "properties": {"sharedPort": {"const": true}}},
                "then": {"properties": {
                    "rtcpMux": {"not": {"const": false}},
                    "comedia": {"not": {"const": true}}
                }}
            }),
        ),
    ];
    for (name, rule) in rules {
        let Some(Value::Object(schema)) =
            document.pointer_mut(&format!("/components/schemas/{name}"))
        else {
            continue;
        };
        if let Value::Object(rule) = rule {
            schema.extend(rule);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::document;

    #[test]
    fn the_rules_land_on_the_schemas_they_name() {
        let schemas = &document()["components"]["schemas"];
        let webrtc = &schemas["WebRtcTransportOptions"]["not"]["required"];
        assert_eq!(webrtc, &serde_json::json!(["enableUdp", "enableTcp"]));
        let plain = &schemas["PlainTransportOptions"];
        assert_eq!(plain["if"]["properties"]["sharedPort"]["const"], true);
        assert_eq!(
            plain["then"]["properties"]["rtcpMux"]["not"]["const"],
            false
        );
    }
}
