//! mediasoup's "ORTC" rules, written for Troupe: what a router can route, how
//! a producer's parameters map onto the router's, and what a consumer gets.

mod codec_match;
mod renumbering;
mod supported;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashSet};

use thiserror::Error;

pub use codec_match::{h264_profile, match_codecs, CodecView, H264Profile};
pub use renumbering::Renumbering;
pub use supported::*;

use crate::rtp_parameters::{
    kind_of_mime, CodecMapping, EncodingMapping, MediaKind, RtcpParameters, RtpCapabilities,
    RtpCodecCapability, RtpCodecParameters, RtpEncodingParameters, RtpHeaderExtensionDirection,
    RtpHeaderExtensionParameters, RtpMapping, RtpParameters, RtxParameters,
};

/// A parameter object that breaks the rules; `field` is the JSON path of the
/// offending value, so the API can name it in a 400.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{field}: {message}")]
pub struct OrtcError {
    pub field: String,
    pub message: String,
}

fn err(field: impl Into<String>, message: impl Into<String>) -> OrtcError {
    OrtcError {
        field: field.into(),
        message: message.into(),
    }
}

/// Dynamic payload types in the order mediasoup hands them out.
fn dynamic_payload_types() -> impl Iterator<Item = u8> {
    (100..=127).chain(96..=99)
}

/// Builds a router's `rtpCapabilities` from its `mediaCodecs`.
pub fn generate_router_rtp_capabilities(
    media_codecs: &[RtpCodecCapability],
) -> Result<RtpCapabilities, OrtcError> {
    if media_codecs.is_empty() {
        return Err(err("mediaCodecs", "at least one codec is required"));
    }
    let supported = supported_codecs();
    let mut used: HashSet<u8> = HashSet::new();
    let mut codecs = Vec::new();
    // Payload types asked for explicitly are reserved first so that automatic
    // assignment never takes them.
    for (i, codec) in media_codecs.iter().enumerate() {
        if let Some(pt) = codec.preferred_payload_type {
            if !used.insert(pt) {
                return Err(err(
                    format!("mediaCodecs[{i}].preferredPayloadType"),
                    format!("payload type {pt} is used twice"),
                ));
            }
        }
    }
    let next_free = |used: &mut HashSet<u8>| {
        let pt = dynamic_payload_types().find(|pt| !used.contains(pt));
        if let Some(pt) = pt {
            used.insert(pt);
        }
        pt
    };
    for (i, codec) in media_codecs.iter().enumerate() {
        let field = format!("mediaCodecs[{i}]");
        validate_codec_capability(codec, &field)?;
        if codec.is_rtx() {
            return Err(err(
                format!("{field}.mimeType"),
                "rtx is added by the router, do not list it",
            ));
        }
        let matched = supported
            .iter()
            .find(|s| s.kind == codec.kind && match_codecs((*s).into(), codec.into(), false))
            .ok_or_else(|| {
                err(
                    format!("{field}.mimeType"),
                    format!("unsupported codec {}", codec.mime_type),
                )
            })?;
        let payload_type = match codec.preferred_payload_type {
            Some(pt) => pt,
            None => {
                next_free(&mut used).ok_or_else(|| err(&field, "no dynamic payload type left"))?
            }
        };
        let mut parameters = matched.parameters.clone();
        parameters.extend(codec.parameters.clone());
        codecs.push(RtpCodecCapability {
            kind: codec.kind,
            mime_type: matched.mime_type.clone(),
            preferred_payload_type: Some(payload_type),
            clock_rate: codec.clock_rate,
            channels: match codec.kind {
                MediaKind::Audio => Some(codec.channels.unwrap_or(1)),
                MediaKind::Video => None,
            },
            parameters,
            rtcp_feedback: matched.rtcp_feedback.clone(),
        });
        if codec.kind == MediaKind::Video {
            let rtx_pt = next_free(&mut used)
                .ok_or_else(|| err(&field, "no dynamic payload type left for rtx"))?;
            codecs.push(RtpCodecCapability {
                kind: MediaKind::Video,
                mime_type: "video/rtx".into(),
                preferred_payload_type: Some(rtx_pt),
                clock_rate: codec.clock_rate,
                channels: None,
                parameters: BTreeMap::from([("apt".to_string(), payload_type.into())]),
                rtcp_feedback: vec![],
            });
        }
    }
    Ok(RtpCapabilities {
        codecs,
        header_extensions: supported_header_extensions(),
    })
}

fn validate_codec_capability(codec: &RtpCodecCapability, field: &str) -> Result<(), OrtcError> {
    match kind_of_mime(&codec.mime_type) {
        None => Err(err(
            format!("{field}.mimeType"),
            format!("{:?} is not a media MIME type", codec.mime_type),
        )),
        Some(kind) if kind != codec.kind => Err(err(
            format!("{field}.kind"),
            format!(
                "{} does not match mimeType {}",
                codec.kind.as_str(),
                codec.mime_type
            ),
        )),
        Some(_) if codec.clock_rate == 0 => {
            Err(err(format!("{field}.clockRate"), "must be positive"))
        }
        Some(_) => Ok(()),
    }
}

/// Checks a producer's `rtpParameters` for internal consistency.
pub fn validate_rtp_parameters(params: &RtpParameters, kind: MediaKind) -> Result<(), OrtcError> {
    if let Some(mid) = &params.mid {
        if mid.is_empty() || mid.len() > 32 {
            return Err(err("rtpParameters.mid", "must be 1-32 characters"));
        }
    }
    if params.codecs.is_empty() {
        return Err(err(
            "rtpParameters.codecs",
            "at least one codec is required",
        ));
    }
    let mut payload_types = HashSet::new();
    for (i, codec) in params.codecs.iter().enumerate() {
        let field = format!("rtpParameters.codecs[{i}]");
        match kind_of_mime(&codec.mime_type) {
            Some(k) if k == kind => {}
            Some(_) => {
                return Err(err(
                    format!("{field}.mimeType"),
                    format!("{} is not a {} codec", codec.mime_type, kind.as_str()),
                ))
            }
            None => {
                return Err(err(
                    format!("{field}.mimeType"),
                    format!("{:?} is not a media MIME type", codec.mime_type),
                ))
            }
        }
        if codec.payload_type > 127 {
            return Err(err(format!("{field}.payloadType"), "must be 0-127"));
        }
        if !payload_types.insert(codec.payload_type) {
            return Err(err(
                format!("{field}.payloadType"),
                format!("{} is used twice", codec.payload_type),
            ));
        }
        if codec.clock_rate == 0 {
            return Err(err(format!("{field}.clockRate"), "must be positive"));
        }
    }
    for (i, codec) in params.codecs.iter().enumerate() {
        if codec.is_rtx() {
            let apt = codec.apt().ok_or_else(|| {
                err(
                    format!("rtpParameters.codecs[{i}].parameters.apt"),
                    "rtx needs apt",
                )
            })?;
            if !params
                .codecs
                .iter()
                .any(|c| !c.is_rtx() && c.payload_type == apt)
            {
                return Err(err(
                    format!("rtpParameters.codecs[{i}].parameters.apt"),
                    format!("no media codec with payload type {apt}"),
                ));
            }
        }
    }
    if params.codecs[0].is_rtx() {
        return Err(err(
            "rtpParameters.codecs[0]",
            "the first codec must be a media codec",
        ));
    }
    let mut ids = HashSet::new();
    for (i, ext) in params.header_extensions.iter().enumerate() {
        if ext.id == 0 || ext.id > 14 && ext.id < 16 {
            return Err(err(
                format!("rtpParameters.headerExtensions[{i}].id"),
                "must be 1-14 or 16-255",
            ));
        }
        if !ids.insert(ext.id) {
            return Err(err(
                format!("rtpParameters.headerExtensions[{i}].id"),
                format!("{} is used twice", ext.id),
            ));
        }
    }
    if params.encodings.is_empty() {
        return Err(err(
            "rtpParameters.encodings",
            "at least one encoding is required",
        ));
    }
    for (i, encoding) in params.encodings.iter().enumerate() {
        if encoding.ssrc.is_none() && encoding.rid.is_none() {
            return Err(err(
                format!("rtpParameters.encodings[{i}]"),
                "needs an ssrc or a rid",
            ));
        }
        if let Some(pt) = encoding.codec_payload_type {
            if !params
                .codecs
                .iter()
                .any(|c| c.payload_type == pt && !c.is_rtx())
            {
                return Err(err(
                    format!("rtpParameters.encodings[{i}].codecPayloadType"),
                    format!("no media codec with payload type {pt}"),
                ));
            }
        }
    }
    Ok(())
}

/// A random SSRC in mediasoup's range, so logs look familiar.
pub fn random_ssrc() -> u32 {
    rand::random_range(100_000_000..=999_999_999)
}

/// Maps a producer's payload types onto the router's and gives each encoding
/// the SSRC consumers will see it under.
pub fn get_producer_rtp_parameters_mapping(
    params: &RtpParameters,
    caps: &RtpCapabilities,
) -> Result<RtpMapping, OrtcError> {
    let mut mapping = RtpMapping::default();
    let mut media_matches: Vec<(u8, &RtpCodecCapability)> = Vec::new();
    for (i, codec) in params
        .codecs
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.is_rtx())
    {
        let matched = caps
            .codecs
            .iter()
            .find(|c| !c.is_rtx() && match_codecs((*c).into(), codec.into(), true))
            .ok_or_else(|| {
                err(
                    format!("rtpParameters.codecs[{i}]"),
                    format!(
                        "{} (payload type {}) is not among the router's codecs",
                        codec.mime_type, codec.payload_type
                    ),
                )
            })?;
        let mapped = matched.preferred_payload_type.unwrap_or(codec.payload_type);
        mapping.codecs.push(CodecMapping {
            payload_type: codec.payload_type,
            mapped_payload_type: mapped,
        });
        media_matches.push((codec.payload_type, matched));
    }
    for (i, codec) in params.codecs.iter().enumerate().filter(|(_, c)| c.is_rtx()) {
        let apt = codec.apt().unwrap_or_default();
        let mapped_apt = media_matches
            .iter()
            .find(|(pt, _)| *pt == apt)
            .and_then(|(_, m)| m.preferred_payload_type);
        let matched = caps
            .codecs
            .iter()
            .find(|c| c.is_rtx() && c.apt().is_some() && c.apt() == mapped_apt)
            .ok_or_else(|| {
                err(
                    format!("rtpParameters.codecs[{i}]"),
                    format!("no rtx in the router for payload type {apt}"),
                )
            })?;
        mapping.codecs.push(CodecMapping {
            payload_type: codec.payload_type,
            mapped_payload_type: matched.preferred_payload_type.unwrap_or(codec.payload_type),
        });
    }
    let mut used_ssrcs = HashSet::new();
    for encoding in &params.encodings {
        let mut mapped_ssrc = random_ssrc();
        while !used_ssrcs.insert(mapped_ssrc) {
            mapped_ssrc = random_ssrc();
        }
        mapping.encodings.push(EncodingMapping {
            ssrc: encoding.ssrc,
            rid: encoding.rid.clone(),
            scalability_mode: encoding.scalability_mode.clone(),
            mapped_ssrc,
        });
    }
    Ok(mapping)
}

/// Maps a producer's header extension ids onto the router's, by URI. Pairs
/// of (producer id, router id); extensions the router lacks are dropped.
pub fn map_header_extension_ids(
    params: &RtpParameters,
    caps: &RtpCapabilities,
    kind: MediaKind,
) -> Vec<(u8, u8)> {
    params
        .header_extensions
        .iter()
        .filter_map(|ext| {
            caps.header_extensions
                .iter()
                .find(|c| c.kind == kind && c.uri == ext.uri)
                .map(|c| (ext.id, c.preferred_id))
        })
        .collect()
}

/// The parameters of a producer as the router sees it: router payload types,
/// router extension ids, mapped SSRCs. Consumers are built from these.
pub fn get_consumable_rtp_parameters(
    kind: MediaKind,
    params: &RtpParameters,
    caps: &RtpCapabilities,
    mapping: &RtpMapping,
) -> RtpParameters {
    let mut codecs = Vec::new();
    for codec in params.codecs.iter().filter(|c| !c.is_rtx()) {
        let Some(mapped_pt) = mapping
            .codecs
            .iter()
            .find(|m| m.payload_type == codec.payload_type)
            .map(|m| m.mapped_payload_type)
        else {
            continue;
        };
        let Some(matched) = caps
            .codecs
            .iter()
            .find(|c| c.preferred_payload_type == Some(mapped_pt))
        else {
            continue;
        };
        codecs.push(RtpCodecParameters {
            mime_type: matched.mime_type.clone(),
            payload_type: mapped_pt,
            clock_rate: matched.clock_rate,
            channels: matched.channels,
            parameters: codec.parameters.clone(),
            rtcp_feedback: matched.rtcp_feedback.clone(),
        });
        if let Some(rtx) = caps
            .codecs
            .iter()
            .find(|c| c.is_rtx() && c.apt() == Some(mapped_pt))
        {
            codecs.push(RtpCodecParameters {
                mime_type: rtx.mime_type.clone(),
                payload_type: rtx.preferred_payload_type.unwrap_or_default(),
                clock_rate: rtx.clock_rate,
                channels: None,
                parameters: rtx.parameters.clone(),
                rtcp_feedback: rtx.rtcp_feedback.clone(),
            });
        }
    }
    let header_extensions = caps
        .header_extensions
        .iter()
        .filter(|e| {
            e.kind == kind
                && matches!(
                    e.direction,
                    RtpHeaderExtensionDirection::Sendrecv | RtpHeaderExtensionDirection::Sendonly
                )
        })
        .map(|e| RtpHeaderExtensionParameters {
            uri: e.uri.clone(),
            id: e.preferred_id,
            encrypt: e.preferred_encrypt,
            parameters: Default::default(),
        })
        .collect();
    let encodings = params
        .encodings
        .iter()
        .zip(&mapping.encodings)
        .map(|(encoding, m)| RtpEncodingParameters {
            ssrc: Some(m.mapped_ssrc),
            rid: None,
            codec_payload_type: None,
            rtx: None,
            ..encoding.clone()
        })
        .collect();
    RtpParameters {
        mid: None,
        codecs,
        header_extensions,
        encodings,
        rtcp: RtcpParameters {
            cname: params.rtcp.cname.clone(),
            reduced_size: true,
            mux: Some(true),
        },
    }
}

/// Whether an endpoint with `caps` can receive a producer.
pub fn can_consume(consumable: &RtpParameters, caps: &RtpCapabilities) -> bool {
    let first_match = consumable.codecs.iter().find(|codec| {
        caps.codecs
            .iter()
            .any(|c| match_codecs(c.into(), (*codec).into(), true))
    });
    first_match.is_some_and(|c| !c.is_rtx())
}

/// A consumer's `rtpParameters`: the producer's consumable parameters reduced
/// to what the consuming endpoint supports, with fresh SSRCs. Payload types
/// and header extension ids are the endpoint's own where its capabilities
/// name them (a WHEP offer's numbers; mediasoup-client's are the router's),
/// so the consumer sends what the endpoint expects to receive.
pub fn get_consumer_rtp_parameters(
    consumable: &RtpParameters,
    caps: &RtpCapabilities,
    enable_rtx: bool,
) -> Result<RtpParameters, OrtcError> {
    let mut codecs: Vec<RtpCodecParameters> = Vec::new();
    // Router payload type -> the endpoint's, for the RTX codecs' `apt`.
    let mut renumbered: BTreeMap<u8, u8> = BTreeMap::new();
    for codec in consumable.codecs.iter().filter(|c| !c.is_rtx()) {
        let Some(matched) = caps
            .codecs
            .iter()
            .find(|c| !c.is_rtx() && match_codecs((*c).into(), codec.into(), true))
        else {
            continue;
        };
        let mut codec = codec.clone();
        let payload_type = matched.preferred_payload_type.unwrap_or(codec.payload_type);
        renumbered.insert(codec.payload_type, payload_type);
        codec.payload_type = payload_type;
        codec.rtcp_feedback = matched
            .rtcp_feedback
            .iter()
            .filter(|fb| enable_rtx || fb.kind != "nack" || !fb.parameter.is_empty())
            .cloned()
            .collect();
        codecs.push(codec);
    }
    if enable_rtx {
        for rtx in consumable.codecs.iter().filter(|c| c.is_rtx()) {
            let Some(apt) = rtx.apt().and_then(|apt| renumbered.get(&apt).copied()) else {
                continue;
            };
            let caps_rtx = |with_apt: bool| {
                caps.codecs.iter().find(|c| {
                    c.is_rtx()
                        && c.clock_rate == rtx.clock_rate
                        && (!with_apt || c.apt() == Some(apt))
                })
            };
            // An endpoint that names no `apt` takes the router's numbering.
            let Some(matched) = caps_rtx(true).or_else(|| caps_rtx(false)) else {
                continue;
            };
            let mut rtx = rtx.clone();
            if matched.apt() == Some(apt) {
                rtx.payload_type = matched.preferred_payload_type.unwrap_or(rtx.payload_type);
                rtx.parameters.insert("apt".into(), apt.into());
            }
            codecs.push(rtx);
        }
    }
    // Media codecs first, each RTX after: consumers take the first as theirs.
    codecs.sort_by_key(|c| c.is_rtx());
    let rtx_supported = codecs.iter().any(|c| c.is_rtx());
    if codecs.first().is_none_or(|c| c.is_rtx()) {
        return Err(err(
            "rtpCapabilities.codecs",
            "no codec in common with the producer",
        ));
    }
    let kind = codecs.first().and_then(|c| kind_of_mime(&c.mime_type));
    let header_extensions: Vec<RtpHeaderExtensionParameters> = consumable
        .header_extensions
        .iter()
        .filter_map(|e| {
            let matched = caps
                .header_extensions
                .iter()
                .find(|c| c.uri == e.uri && Some(c.kind) == kind)?;
            Some(RtpHeaderExtensionParameters {
                id: matched.preferred_id,
                ..e.clone()
            })
        })
        .collect();
    // Use transport-cc feedback if negotiated, REMB with abs-send-time, else neither.
    let has = |uri: &str| header_extensions.iter().any(|e| e.uri == uri);
    let dropped: &[&str] = if has(TRANSPORT_CC_URI) {
        &["goog-remb"]
    } else if has(ABS_SEND_TIME_URI) {
        &["transport-cc"]
    } else {
        &["transport-cc", "goog-remb"]
    };
    for codec in &mut codecs {
        codec
            .rtcp_feedback
            .retain(|fb| !dropped.contains(&fb.kind.as_str()));
    }
    let ssrc = random_ssrc();
    let mut encoding = RtpEncodingParameters {
        ssrc: Some(ssrc),
        rtx: rtx_supported.then(|| RtxParameters {
            ssrc: ssrc.wrapping_add(1),
        }),
        ..Default::default()
    };
    encoding.scalability_mode = consumable
        .encodings
        .iter()
        .find_map(|e| e.scalability_mode.clone());
    if consumable.encodings.len() > 1 {
        // Simulcast becomes one stream with as many spatial layers.
        let temporal = encoding
            .scalability_mode
            .as_deref()
            .and_then(|m| m.split_once('T'))
            .and_then(|(_, t)| t.get(..1)?.parse::<u8>().ok())
            .unwrap_or(1);
        encoding.scalability_mode = Some(format!("L{}T{}", consumable.encodings.len(), temporal));
    }
    encoding.max_bitrate = consumable
        .encodings
        .iter()
        .filter_map(|e| e.max_bitrate)
        .max();
    Ok(RtpParameters {
        mid: None,
        codecs,
        header_extensions,
        encodings: vec![encoding],
        rtcp: consumable.rtcp.clone(),
    })
}
