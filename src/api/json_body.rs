//! A JSON request body whose errors name the offending field by its JSON
//! path (`rtpParameters.codecs[0].clockRate`), so a 400 says what to fix.

use std::future::Future;
use std::pin::Pin;

use actix_web::{web, FromRequest, HttpRequest};
use serde::de::DeserializeOwned;

use crate::api::error::ApiError;

/// Bodies are parameter objects, never media: 256 KiB is generous.
pub const MAX_BODY: usize = 256 * 1024;

pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let body = web::Bytes::from_request(req, payload);
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
            let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
                b"{}"
            } else {
                &bytes
            };
            parse(text).map(JsonBody)
        })
    }
}

pub fn parse<T: DeserializeOwned>(text: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { String::new() } else { path };
        let inner = e.into_inner();
        ApiError::invalid(field, inner.to_string())
    })?;
    deserializer
        .end()
        .map_err(|e| ApiError::invalid("", format!("trailing data after the JSON body: {e}")))?;
    Ok(value)
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
}
