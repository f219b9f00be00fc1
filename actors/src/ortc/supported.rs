//! What a Troupe router can route: codecs and RTP header extensions, with
//! mediasoup's preferred payload types and extension ids.

use serde_json::json;

use crate::rtp_parameters::{
    CodecParameters, MediaKind, RtcpFeedback, RtpCodecCapability, RtpHeaderExtension,
    RtpHeaderExtensionDirection,
};

fn params(value: serde_json::Value) -> CodecParameters {
    match value {
        serde_json::Value::Object(map) => map.into_iter().collect(),
        _ => CodecParameters::new(),
    }
}

fn codec(
    kind: MediaKind,
    mime_type: &str,
    clock_rate: u32,
    channels: Option<u8>,
    parameters: serde_json::Value,
) -> RtpCodecCapability {
    let feedback: &[(&str, &str)] = match kind {
        MediaKind::Audio => &[("nack", ""), ("transport-cc", "")],
        MediaKind::Video => &[
            ("nack", ""),
            ("nack", "pli"),
            ("ccm", "fir"),
            ("goog-remb", ""),
            ("transport-cc", ""),
        ],
    };
    RtpCodecCapability {
        kind,
        mime_type: mime_type.into(),
        preferred_payload_type: None,
        clock_rate,
        channels,
        parameters: params(parameters),
        rtcp_feedback: feedback
            .iter()
            .map(|(k, p)| RtcpFeedback::new(k, p))
            .collect(),
    }
}

/// Every codec a router accepts in its `mediaCodecs`.
pub fn supported_codecs() -> Vec<RtpCodecCapability> {
    use MediaKind::*;
    vec![
        codec(Audio, "audio/opus", 48000, Some(2), json!({})),
        codec(Audio, "audio/PCMU", 8000, Some(1), json!({})),
        codec(Audio, "audio/PCMA", 8000, Some(1), json!({})),
        codec(Audio, "audio/G722", 8000, Some(1), json!({})),
        codec(Video, "video/VP8", 90000, None, json!({})),
        codec(Video, "video/VP9", 90000, None, json!({})),
        codec(Video, "video/H264", 90000, None, json!({})),
        codec(Video, "video/H265", 90000, None, json!({})),
        codec(Video, "video/AV1", 90000, None, json!({})),
    ]
}

/// The router's codecs when `POST /v1/routers` names none.
pub fn default_media_codecs() -> Vec<RtpCodecCapability> {
    use MediaKind::*;
    let mut codecs = vec![
        codec(Audio, "audio/opus", 48000, Some(2), json!({})),
        codec(Video, "video/VP8", 90000, None, json!({})),
        codec(Video, "video/VP9", 90000, None, json!({"profile-id": 0})),
        codec(
            Video,
            "video/H264",
            90000,
            None,
            json!({"packetization-mode": 1, "profile-level-id": "42e01f", "level-asymmetry-allowed": 1}),
        ),
    ];
    // mediaCodecs given by an app carry no feedback: the router adds its own.
    for c in &mut codecs {
        c.rtcp_feedback.clear();
    }
    codecs
}

pub const MID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:mid";
pub const RID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id";
pub const RRID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id";
pub const ABS_SEND_TIME_URI: &str = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time";
pub const TRANSPORT_CC_URI: &str =
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
pub const AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
pub const VIDEO_ORIENTATION_URI: &str = "urn:3gpp:video-orientation";
pub const TOFFSET_URI: &str = "urn:ietf:params:rtp-hdrext:toffset";

/// The header extensions every router offers, with mediasoup's ids.
pub fn supported_header_extensions() -> Vec<RtpHeaderExtension> {
    use MediaKind::*;
    use RtpHeaderExtensionDirection::*;
    let ext = |kind, uri: &str, preferred_id, direction| RtpHeaderExtension {
        kind,
        uri: uri.into(),
        preferred_id,
        preferred_encrypt: false,
        direction,
    };
    vec![
        ext(Audio, MID_URI, 1, Sendrecv),
        ext(Video, MID_URI, 1, Sendrecv),
        ext(Video, RID_URI, 2, Recvonly),
        ext(Video, RRID_URI, 3, Recvonly),
        ext(Audio, ABS_SEND_TIME_URI, 4, Sendrecv),
        ext(Video, ABS_SEND_TIME_URI, 4, Sendrecv),
        ext(Audio, TRANSPORT_CC_URI, 5, Recvonly),
        ext(Video, TRANSPORT_CC_URI, 5, Sendrecv),
        ext(Audio, AUDIO_LEVEL_URI, 10, Sendrecv),
        ext(Video, VIDEO_ORIENTATION_URI, 11, Sendrecv),
        ext(Video, TOFFSET_URI, 12, Sendrecv),
    ]
}
