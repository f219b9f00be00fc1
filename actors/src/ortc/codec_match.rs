//! When two codec descriptions name the same codec (mediasoup's matchCodecs).

use crate::rtp_parameters::{CodecParameters, RtpCodecCapability, RtpCodecParameters};

/// The fields codec matching looks at, common to capabilities and parameters.
#[derive(Debug, Clone, Copy)]
pub struct CodecView<'a> {
    pub mime_type: &'a str,
    pub clock_rate: u32,
    pub channels: Option<u8>,
    pub parameters: &'a CodecParameters,
}

impl<'a> From<&'a RtpCodecCapability> for CodecView<'a> {
    fn from(c: &'a RtpCodecCapability) -> Self {
        CodecView {
            mime_type: &c.mime_type,
            clock_rate: c.clock_rate,
            channels: c.channels,
            parameters: &c.parameters,
        }
    }
}

impl<'a> From<&'a RtpCodecParameters> for CodecView<'a> {
    fn from(c: &'a RtpCodecParameters) -> Self {
        CodecView {
            mime_type: &c.mime_type,
            clock_rate: c.clock_rate,
            channels: c.channels,
            parameters: &c.parameters,
        }
    }
}

fn text_param(parameters: &CodecParameters, name: &str) -> Option<String> {
    match parameters.get(name)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn number_param(parameters: &CodecParameters, name: &str, default: u64) -> u64 {
    match parameters.get(name) {
        Some(serde_json::Value::Number(n)) => n.as_u64().unwrap_or(u64::MAX),
        Some(serde_json::Value::String(s)) => s.parse().unwrap_or(u64::MAX),
        _ => default,
    }
}

/// `strict` also compares the codec-specific settings that make two streams
/// incompatible (H264 packetization mode and profile, VP9 profile), as when
/// mapping a producer or building a consumer.
pub fn match_codecs(a: CodecView<'_>, b: CodecView<'_>, strict: bool) -> bool {
    if !a.mime_type.eq_ignore_ascii_case(b.mime_type) || a.clock_rate != b.clock_rate {
        return false;
    }
    let is_audio = a.mime_type.len() >= 6 && a.mime_type[..6].eq_ignore_ascii_case("audio/");
    if is_audio && a.channels.unwrap_or(1) != b.channels.unwrap_or(1) {
        return false;
    }
    let name = a.mime_type.split_once('/').map(|(_, n)| n).unwrap_or("");
    if name.eq_ignore_ascii_case("H264") && strict {
        if number_param(a.parameters, "packetization-mode", 0)
            != number_param(b.parameters, "packetization-mode", 0)
        {
            return false;
        }
        let profile = |p: &CodecParameters| {
            h264_profile(&text_param(p, "profile-level-id").unwrap_or_else(|| "42e01f".into()))
        };
        match (profile(a.parameters), profile(b.parameters)) {
            (Some(pa), Some(pb)) if pa == pb => {}
            _ => return false,
        }
    } else if name.eq_ignore_ascii_case("VP9")
        && strict
        && number_param(a.parameters, "profile-id", 0)
            != number_param(b.parameters, "profile-id", 0)
    {
        return false;
    }
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum H264Profile {
    ConstrainedBaseline,
    Baseline,
    Main,
    ConstrainedHigh,
    High,
    PredictiveHigh444,
}

/// The profile of an H264 `profile-level-id` (RFC 6184 §8.1): the profile_idc
/// byte and the constraint flags in profile_iop, matched against the patterns
/// WebRTC implementations use ('x' = any bit).
pub fn h264_profile(profile_level_id: &str) -> Option<H264Profile> {
    use H264Profile::*;
    if profile_level_id.len() != 6 || !profile_level_id.is_ascii() {
        return None;
    }
    let idc = u8::from_str_radix(&profile_level_id[0..2], 16).ok()?;
    let iop = u8::from_str_radix(&profile_level_id[2..4], 16).ok()?;
    u8::from_str_radix(&profile_level_id[4..6], 16).ok()?;
    const PATTERNS: &[(u8, &str, H264Profile)] = &[
        (0x42, "x1xx0000", ConstrainedBaseline),
        (0x4d, "1xxx0000", ConstrainedBaseline),
        (0x58, "11xx0000", ConstrainedBaseline),
        (0x42, "x0xx0000", Baseline),
        (0x58, "10xx0000", Baseline),
        (0x4d, "0x0x0000", Main),
        (0x64, "00000000", High),
        (0x64, "00001100", ConstrainedHigh),
        (0xf4, "00000000", PredictiveHigh444),
    ];
    PATTERNS.iter().find_map(|(pattern_idc, bits, profile)| {
        let (mask, value) = bits.bytes().fold((0u8, 0u8), |(m, v), b| match b {
            b'1' => ((m << 1) | 1, (v << 1) | 1),
            b'0' => ((m << 1) | 1, v << 1),
            _ => (m << 1, v << 1),
        });
        (idc == *pattern_idc && iop & mask == value).then_some(*profile)
    })
}
