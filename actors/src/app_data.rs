//! `appData` left out of a request is an empty object, as in mediasoup, so
//! every dump and event carries an object, as the document says.

pub fn empty() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}
