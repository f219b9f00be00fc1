//! mediasoup's RTP parameter objects, with mediasoup's field names (camelCase)
//! so mediasoup-client apps pass them straight through.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Audio,
    Video,
}

impl MediaKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
        }
    }
}

/// Codec-specific parameters (`apt`, `packetization-mode`, `profile-level-id`,
/// ...): numbers or strings, as in SDP fmtp lines.
pub type CodecParameters = BTreeMap<String, serde_json::Value>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RtcpFeedback {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub parameter: String,
}

impl RtcpFeedback {
    pub fn new(kind: &str, parameter: &str) -> Self {
        RtcpFeedback {
            kind: kind.into(),
            parameter: parameter.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RtpCodecCapability {
    pub kind: MediaKind,
    pub mime_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(maximum = 127)]
    pub preferred_payload_type: Option<u8>,
    pub clock_rate: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(maximum = 255)]
    pub channels: Option<u8>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub parameters: CodecParameters,
    #[serde(default)]
    pub rtcp_feedback: Vec<RtcpFeedback>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RtpHeaderExtensionDirection {
    Sendrecv,
    Sendonly,
    Recvonly,
    Inactive,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RtpHeaderExtension {
    pub kind: MediaKind,
    pub uri: String,
    #[schema(maximum = 255)]
    pub preferred_id: u8,
    #[serde(default)]
    pub preferred_encrypt: bool,
    pub direction: RtpHeaderExtensionDirection,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RtpCapabilities {
    #[serde(default)]
    pub codecs: Vec<RtpCodecCapability>,
    #[serde(default)]
    pub header_extensions: Vec<RtpHeaderExtension>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RtpCodecParameters {
    pub mime_type: String,
    #[schema(maximum = 127)]
    pub payload_type: u8,
    pub clock_rate: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(maximum = 255)]
    pub channels: Option<u8>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub parameters: CodecParameters,
    #[serde(default)]
    pub rtcp_feedback: Vec<RtcpFeedback>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RtpHeaderExtensionParameters {
    pub uri: String,
    #[schema(maximum = 255)]
    pub id: u8,
    #[serde(default)]
    pub encrypt: bool,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub parameters: CodecParameters,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RtxParameters {
    pub ssrc: u32,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RtpEncodingParameters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssrc: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(maximum = 127)]
    pub codec_payload_type: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtx: Option<RtxParameters>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dtx: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scalability_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_resolution_down_by: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bitrate: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RtcpParameters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cname: Option<String>,
    #[serde(default = "reduced_size_default")]
    pub reduced_size: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mux: Option<bool>,
}

fn reduced_size_default() -> bool {
    true
}

impl Default for RtcpParameters {
    fn default() -> Self {
        RtcpParameters {
            cname: None,
            reduced_size: true,
            mux: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RtpParameters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mid: Option<String>,
    pub codecs: Vec<RtpCodecParameters>,
    #[serde(default)]
    pub header_extensions: Vec<RtpHeaderExtensionParameters>,
    #[serde(default)]
    pub encodings: Vec<RtpEncodingParameters>,
    #[serde(default)]
    pub rtcp: RtcpParameters,
}

/// How a producer's payload types and SSRCs map to the router's.
#[derive(Debug, Clone, PartialEq, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RtpMapping {
    pub codecs: Vec<CodecMapping>,
    pub encodings: Vec<EncodingMapping>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CodecMapping {
    pub payload_type: u8,
    pub mapped_payload_type: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EncodingMapping {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssrc: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scalability_mode: Option<String>,
    pub mapped_ssrc: u32,
}

pub fn is_rtx_mime(mime_type: &str) -> bool {
    mime_type
        .split_once('/')
        .is_some_and(|(_, name)| name.eq_ignore_ascii_case("rtx"))
}

/// The kind a MIME type names (`audio/opus` → audio), if it is well formed.
pub fn kind_of_mime(mime_type: &str) -> Option<MediaKind> {
    let (kind, name) = mime_type.split_once('/')?;
    if name.is_empty() {
        return None;
    }
    match kind.to_ascii_lowercase().as_str() {
        "audio" => Some(MediaKind::Audio),
        "video" => Some(MediaKind::Video),
        _ => None,
    }
}

impl RtpCodecParameters {
    pub fn is_rtx(&self) -> bool {
        is_rtx_mime(&self.mime_type)
    }
    /// The `apt` parameter of an RTX codec: the payload type it repairs.
    pub fn apt(&self) -> Option<u8> {
        param_u8(&self.parameters, "apt")
    }
}

impl RtpCodecCapability {
    pub fn is_rtx(&self) -> bool {
        is_rtx_mime(&self.mime_type)
    }
    pub fn apt(&self) -> Option<u8> {
        param_u8(&self.parameters, "apt")
    }
}

fn param_u8(parameters: &CodecParameters, name: &str) -> Option<u8> {
    match parameters.get(name)? {
        serde_json::Value::Number(n) => n.as_u64().and_then(|v| u8::try_from(v).ok()),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }
}
