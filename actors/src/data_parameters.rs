//! The shapes data producers and consumers take and return, as mediasoup's:
//! `sctpStreamParameters`, label, protocol, and the type (`sctp` over a
//! transport's association, `direct` through the API).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use troupe_transports::sctp_link::StreamReliability;

/// An SCTP stream id is below 65535 (RFC 8831 §6.6); mediasoup allows up to
/// the transport's `MIS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SctpStreamParameters {
    #[schema(maximum = 65534)]
    pub stream_id: u16,
    #[serde(default = "ordered_default")]
    pub ordered: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_packet_life_time: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retransmits: Option<u32>,
}

fn ordered_default() -> bool {
    true
}

impl SctpStreamParameters {
    pub fn reliability(&self) -> StreamReliability {
        StreamReliability {
            ordered: self.ordered,
            max_packet_life_time: self.max_packet_life_time,
            max_retransmits: self.max_retransmits,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DataObjectType {
    Sctp,
    Direct,
}

/// `POST /v1/transports/{id}/data-producers`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataProduceRequest {
    /// Pipe transports only (mediasoup's pipeToRouter): the pipe data
    /// producer keeps its origin's id.
    #[serde(default)]
    pub id: Option<String>,
    /// Required on SCTP transports, absent on direct ones.
    #[serde(default)]
    pub sctp_stream_parameters: Option<SctpStreamParameters>,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub protocol: String,
    #[serde(default)]
    pub paused: bool,
    #[serde(default = "crate::app_data::empty")]
    #[schema(value_type = Object)]
    pub app_data: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataProducerCreated {
    pub id: String,
    #[serde(rename = "type")]
    pub data_type: DataObjectType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sctp_stream_parameters: Option<SctpStreamParameters>,
    pub label: String,
    pub protocol: String,
    pub paused: bool,
}

/// `POST /v1/transports/{id}/data-consumers`: reliability not given is the
/// data producer's.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataConsumeRequest {
    pub data_producer_id: String,
    #[serde(default)]
    pub ordered: Option<bool>,
    #[serde(default)]
    pub max_packet_life_time: Option<u32>,
    #[serde(default)]
    pub max_retransmits: Option<u32>,
    #[serde(default)]
    pub paused: bool,
    #[serde(default = "crate::app_data::empty")]
    #[schema(value_type = Object)]
    pub app_data: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataConsumerCreated {
    pub id: String,
    pub data_producer_id: String,
    #[serde(rename = "type")]
    pub data_type: DataObjectType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sctp_stream_parameters: Option<SctpStreamParameters>,
    pub label: String,
    pub protocol: String,
    pub paused: bool,
    pub data_producer_paused: bool,
}

/// mediasoup's DataProducer / DataConsumer stats entry.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataStats {
    #[serde(rename = "type")]
    pub stats_type: String,
    pub timestamp: u64,
    pub label: String,
    pub protocol: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages_received: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_received: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages_sent: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_sent: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buffered_amount: Option<u64>,
}

/// `POST /v1/data-producers/{id}/send`: a message from the server side
/// into a direct data producer.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DirectMessage {
    /// Text, or base64 when `binary` is true.
    pub message: String,
    #[serde(default)]
    pub binary: bool,
}
