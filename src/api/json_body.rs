//! A JSON request body whose errors name the offending field by its JSON
//! path (`rtpParameters.codecs[0].clockRate`), so a 400 says what to fix.

use std::future::Future;
use std::pin::Pin;

use actix_web::{web, FromRequest, HttpRequest};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::api::body_shape;
use crate::api::error::ApiError;

/// Bodies are parameter objects, never media: 256 KiB is generous.
pub const MAX_BODY: usize = 256 * 1024;

pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let body = web::Bytes::from_request(req, payload);
        let route = req
            .match_pattern()
            .map(|pattern| (pattern, req.method().as_str().to_string()));
        Box::pin(async move {
            let bytes = body
                .await
                .map_err(|e| ApiError::invalid("", format!("cannot read the request body: {e}")))?;
            if bytes.len() > MAX_BODY {
                return Err(ApiError::invalid(
                    "",
                    format!("the body exceeds {MAX_BODY} bytes"),
                ));
            }
            // An absent body means "all defaults" for endpoints whose fields
            // are all optional; required fields then fail by name.
            // Whitespace alone is not an absent body but a JSON text with
            // no value in it, which JSON calls invalid.
            let text: &[u8] = if bytes.is_empty() { b"{}" } else { &bytes };
            parse_for_route(text, route.as_ref().map(|(p, m)| (p.as_str(), m.as_str())))
                .map(JsonBody)
        })
    }
}

pub fn parse<T: DeserializeOwned>(text: &[u8]) -> Result<T, ApiError> {
    parse_for_route(text, None)
}

/// As `parse`, and where the route (pattern, method) is given, values the
/// document calls objects must be objects (`body_shape`).
fn parse_for_route<T: DeserializeOwned>(
    text: &[u8],
    route: Option<(&str, &str)>,
) -> Result<T, ApiError> {
    let mut value: Value = serde_json::from_slice(text)
        .map_err(|e| ApiError::invalid("", format!("not a JSON body: {e}")))?;
    // Every body is an object (serde would take an array for a struct).
    if !value.is_object() {
        return Err(ApiError::invalid("", "the body must be a JSON object"));
    }
    normalize(&mut value, "")?;
    if let Some((pattern, method)) = route {
        body_shape::check(pattern, method, &value)?;
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { String::new() } else { path };
        let inner = e.into_inner();
        ApiError::invalid(field, inner.to_string())
    })
}

/// What JSON Schema says and serde would refuse otherwise: `9.0` is an
/// integer (the OpenAPI document's integers accept it, as its clients
/// send it). And `appData`, wherever it appears, is an object, as
/// mediasoup requires.
fn normalize(value: &mut Value, path: &str) -> Result<(), ApiError> {
    match value {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            if let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0) {
                if (0.0..=u64::MAX as f64).contains(&f) {
                    *value = Value::from(f as u64);
                } else if (i64::MIN as f64..0.0).contains(&f) {
                    *value = Value::from(f as i64);
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                normalize(item, &format!("{path}[{i}]"))?;
            }
        }
        Value::Object(fields) => {
            for (key, field) in fields.iter_mut() {
                let at = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                if key == "appData" && !field.is_object() {
                    return Err(ApiError::invalid(at, "appData must be an object"));
                }
                normalize(field, &at)?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse;
    use troupe_actors::transport::ProduceRequest;

    #[test]
    fn errors_name_the_json_path() {
        let err = parse::<ProduceRequest>(
            br#"{"kind":"video","rtpParameters":{"codecs":[{"mimeType":"video/VP8","payloadType":96,"clockRate":"fast"}]}}"#,
        )
        .err()
        .unwrap();
        assert_eq!(
            err.field.as_deref(),
            Some("rtpParameters.codecs[0].clockRate")
        );
        let err = parse::<ProduceRequest>(br#"{"kind":"smell"}"#)
            .err()
            .unwrap();
        assert_eq!(err.field.as_deref(), Some("kind"));
        let err = parse::<ProduceRequest>(br#"{"kind":"audio"}"#)
            .err()
            .unwrap();
        assert!(err.message.contains("rtpParameters"), "{}", err.message);
        assert!(parse::<ProduceRequest>(b"{not json").is_err());
    }

    #[test]
    fn integral_floats_are_integers_and_app_data_is_an_object() {
        use troupe_actors::transport::WebRtcTransportOptions;
        let options = parse::<WebRtcTransportOptions>(
            br#"{"enableSctp": true, "maxSctpMessageSize": 1024.0, "appData": {"a": 1.5}}"#,
        )
        .unwrap();
        assert_eq!(options.max_sctp_message_size, Some(1024));
        assert!(parse::<WebRtcTransportOptions>(br#"{"maxSctpMessageSize": 1024.5}"#).is_err());
        let err = parse::<WebRtcTransportOptions>(br#"{"appData": "text"}"#)
            .err()
            .unwrap();
        assert_eq!(err.field.as_deref(), Some("appData"));
        assert!(parse::<WebRtcTransportOptions>(br#"{} trailing"#).is_err());
        assert!(parse::<WebRtcTransportOptions>(br#"[null, null]"#).is_err());
    }
}
