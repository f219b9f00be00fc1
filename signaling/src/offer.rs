//! An SDP offer (WHIP, WHEP), read into what an answerer needs: the
//! peer's ICE credentials and DTLS fingerprint, and per m-section its MID,
//! direction, codecs, header extensions, SSRCs and simulcast RIDs. The
//! syntax is rtc-sdp's; what it means is read here.

use std::collections::BTreeMap;
use std::io::Cursor;

use sdp::description::common::Attribute;
use sdp::description::media::MediaDescription;
use sdp::description::session::SessionDescription;
use troupe_actors::rtp_parameters::{
    CodecParameters, MediaKind, RtcpFeedback, RtpCodecParameters, RtpHeaderExtensionParameters,
};

use crate::OfferError;

/// The largest offer read: a browser's with three simulcast layers and
/// every codec is about 10 KB.
pub const MAX_OFFER_BYTES: usize = 64 * 1024;
const MAX_MEDIA_SECTIONS: usize = 16;
const MAX_PER_SECTION: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    /// Whether the offerer sends media in this section.
    pub fn offerer_sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }
    /// Whether the offerer wants to receive media in this section.
    pub fn offerer_receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }
}

/// One `a=ssrc:` source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedSsrc {
    pub ssrc: u32,
    pub cname: Option<String>,
}

#[derive(Debug, Clone)]
pub struct OfferedMedia {
    pub mid: String,
    /// `None`: a kind Troupe does not route (data channels, text): the
    /// answer rejects the section.
    pub kind: Option<MediaKind>,
    /// The m-line's media, protocol and formats, for rejecting it in kind.
    pub media: String,
    pub protocol: String,
    pub formats: Vec<String>,
    /// Port 0 without `a=bundle-only`: the offerer rejected the section
    /// (with it, the section rides the bundle: JSEP's max-bundle offers).
    pub disabled: bool,
    pub direction: Direction,
    /// In the offerer's order of preference.
    pub codecs: Vec<RtpCodecParameters>,
    pub header_extensions: Vec<RtpHeaderExtensionParameters>,
    pub ssrcs: Vec<OfferedSsrc>,
    /// `a=ssrc-group:FID media rtx`.
    pub rtx_pairs: Vec<(u32, u32)>,
    /// The RIDs the offerer sends (`a=simulcast:send`, else `a=rid:... send`).
    pub send_rids: Vec<String>,
    pub rtcp_mux: bool,
}

#[derive(Debug, Clone)]
pub struct Offer {
    pub ice_ufrag: String,
    pub ice_pwd: String,
    pub fingerprint_algorithm: String,
    pub fingerprint: String,
    /// `a=setup`: `actpass` (then Troupe takes `passive`), `active`.
    pub setup: String,
    pub media: Vec<OfferedMedia>,
    /// The MIDs of `a=group:BUNDLE`.
    pub bundle: Vec<String>,
}

pub fn parse_offer(text: &str) -> Result<Offer, OfferError> {
    if text.len() > MAX_OFFER_BYTES {
        return Err(OfferError::new(format!(
            "the offer is {} bytes; at most {MAX_OFFER_BYTES}",
            text.len()
        )));
    }
    // rtc-sdp wants CRLF or LF lines ending with a newline.
    let mut normalized = text.trim_end().replace("\r\n", "\n");
    normalized.push('\n');
    let session = SessionDescription::unmarshal(&mut Cursor::new(normalized.as_bytes()))
        .map_err(|e| OfferError::new(format!("not an SDP document: {e}")))?;
    if session.media_descriptions.is_empty() {
        return Err(OfferError::new("the offer has no media section"));
    }
    if session.media_descriptions.len() > MAX_MEDIA_SECTIONS {
        return Err(OfferError::new(format!(
            "the offer has {} media sections; at most {MAX_MEDIA_SECTIONS}",
            session.media_descriptions.len()
        )));
    }
    let session_value = |key: &str| attribute(&session.attributes, key);
    let first_media = &session.media_descriptions[0];
    let value = |key: &str| {
        attribute(&first_media.attributes, key)
            .or_else(|| session_value(key))
            .map(str::to_string)
    };
    let ice_ufrag = value("ice-ufrag").ok_or_else(|| OfferError::new("no a=ice-ufrag"))?;
    let ice_pwd = value("ice-pwd").ok_or_else(|| OfferError::new("no a=ice-pwd"))?;
    let fingerprint = value("fingerprint").ok_or_else(|| OfferError::new("no a=fingerprint"))?;
    let (fingerprint_algorithm, fingerprint) = fingerprint
        .split_once(' ')
        .map(|(a, f)| (a.trim().to_ascii_lowercase(), f.trim().to_string()))
        .ok_or_else(|| OfferError::new(format!("a=fingerprint:{fingerprint} has no algorithm")))?;
    let setup = value("setup").unwrap_or_else(|| "actpass".into());
    if !matches!(setup.as_str(), "actpass" | "active" | "passive") {
        return Err(OfferError::new(format!(
            "a=setup:{setup} is not actpass, active or passive"
        )));
    }
    if setup == "passive" {
        return Err(OfferError::new(
            "a=setup:passive: Troupe is ICE-lite and answers passive; offer actpass or active",
        ));
    }
    let bundle = session_value("group")
        .and_then(|g| g.strip_prefix("BUNDLE"))
        .map(|mids| mids.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let mut media = Vec::with_capacity(session.media_descriptions.len());
    for (index, section) in session.media_descriptions.iter().enumerate() {
        media.push(parse_media(index, section)?);
    }
    let mut mids: Vec<&str> = media.iter().map(|m| m.mid.as_str()).collect();
    mids.sort_unstable();
    if mids.windows(2).any(|w| w[0] == w[1]) {
        return Err(OfferError::new("two media sections share a MID"));
    }
    Ok(Offer {
        ice_ufrag,
        ice_pwd,
        fingerprint_algorithm,
        fingerprint,
        setup,
        media,
        bundle,
    })
}

fn attribute<'a>(attributes: &'a [Attribute], key: &str) -> Option<&'a str> {
    attributes
        .iter()
        .find(|a| a.key == key)
        .map(|a| a.value.as_deref().unwrap_or(""))
}

fn values<'a>(section: &'a MediaDescription, key: &'a str) -> impl Iterator<Item = &'a str> {
    section
        .attributes
        .iter()
        .filter(move |a| a.key == key)
        .filter_map(|a| a.value.as_deref())
}

fn parse_media(index: usize, section: &MediaDescription) -> Result<OfferedMedia, OfferError> {
    let at = |message: String| OfferError::new(format!("media section {index}: {message}"));
    if section.attributes.len() > MAX_PER_SECTION * 4 {
        return Err(at("too many attributes".into()));
    }
    let name = &section.media_name;
    let kind = match name.media.as_str() {
        "audio" => Some(MediaKind::Audio),
        "video" => Some(MediaKind::Video),
        _ => None,
    };
    let mid = match attribute(&section.attributes, "mid") {
        Some(mid) if !mid.is_empty() && mid.len() <= 32 && mid.is_ascii() => mid.to_string(),
        Some(mid) => return Err(at(format!("a=mid:{mid} is not 1-32 ASCII characters"))),
        None => {
            return Err(at(
                "no a=mid (WHIP and WHEP need BUNDLE, which needs MIDs)".into()
            ))
        }
    };
    let direction = if section.has_attribute("inactive") {
        Direction::Inactive
    } else if section.has_attribute("sendonly") {
        Direction::SendOnly
    } else if section.has_attribute("recvonly") {
        Direction::RecvOnly
    } else {
        Direction::SendRecv
    };
    let mut offered = OfferedMedia {
        mid,
        kind,
        media: name.media.clone(),
        protocol: name.protos.join("/"),
        formats: name.formats.iter().take(MAX_PER_SECTION).cloned().collect(),
        disabled: name.port.value == 0 && !section.has_attribute("bundle-only"),
        direction,
        codecs: Vec::new(),
        header_extensions: Vec::new(),
        ssrcs: Vec::new(),
        rtx_pairs: Vec::new(),
        send_rids: Vec::new(),
        rtcp_mux: section.has_attribute("rtcp-mux"),
    };
    let Some(kind) = kind else {
        return Ok(offered);
    };
    offered.codecs = codecs(section, kind).map_err(at)?;
    for extmap in values(section, "extmap").take(MAX_PER_SECTION) {
        // `ID[/direction] URI [attributes]`
        let mut parts = extmap.split_whitespace();
        let id = parts
            .next()
            .and_then(|i| i.split('/').next()?.parse::<u8>().ok());
        match (id, parts.next()) {
            (Some(id @ 1..=255), Some(uri)) => {
                offered
                    .header_extensions
                    .push(RtpHeaderExtensionParameters {
                        uri: uri.to_string(),
                        id,
                        encrypt: false,
                        parameters: CodecParameters::new(),
                    })
            }
            _ => return Err(at(format!("a=extmap:{extmap} is not `ID URI`"))),
        }
    }
    for line in values(section, "ssrc").take(MAX_PER_SECTION) {
        let (ssrc, rest) = line.split_once(' ').unwrap_or((line, ""));
        let ssrc: u32 = ssrc
            .parse()
            .map_err(|_| at(format!("a=ssrc:{line}: not an SSRC")))?;
        let cname = rest.strip_prefix("cname:").map(str::to_string);
        match offered.ssrcs.iter_mut().find(|s| s.ssrc == ssrc) {
            Some(known) => {
                if known.cname.is_none() {
                    known.cname = cname;
                }
            }
            None => offered.ssrcs.push(OfferedSsrc { ssrc, cname }),
        }
    }
    for group in values(section, "ssrc-group").take(MAX_PER_SECTION) {
        let mut parts = group.split_whitespace();
        if parts.next() != Some("FID") {
            continue;
        }
        let pair = (parts.next(), parts.next());
        match pair {
            (Some(media), Some(rtx)) => match (media.parse(), rtx.parse()) {
                (Ok(media), Ok(rtx)) => offered.rtx_pairs.push((media, rtx)),
                _ => return Err(at(format!("a=ssrc-group:{group}: not SSRCs"))),
            },
            _ => return Err(at(format!("a=ssrc-group:{group} needs two SSRCs"))),
        }
    }
    offered.send_rids = send_rids(section);
    Ok(offered)
}

/// The codecs of a section from its formats, `a=rtpmap`, `a=fmtp` and
/// `a=rtcp-fb`, in the m-line's order.
fn codecs(section: &MediaDescription, kind: MediaKind) -> Result<Vec<RtpCodecParameters>, String> {
    let mut rtpmaps: BTreeMap<u8, (String, u32, Option<u8>)> = BTreeMap::new();
    for line in values(section, "rtpmap").take(MAX_PER_SECTION) {
        let (pt, encoding) = line
            .split_once(' ')
            .ok_or_else(|| format!("a=rtpmap:{line} is not `PT NAME/RATE`"))?;
        let pt: u8 = pt
            .parse()
            .ok()
            .filter(|pt| *pt < 128)
            .ok_or_else(|| format!("a=rtpmap:{line}: payload type is not 0-127"))?;
        let mut parts = encoding.trim().split('/');
        let name = parts.next().unwrap_or_default();
        let clock_rate: u32 = parts
            .next()
            .and_then(|r| r.parse().ok())
            .filter(|r| *r > 0)
            .ok_or_else(|| format!("a=rtpmap:{line}: no clock rate"))?;
        let channels = parts.next().and_then(|c| c.parse::<u8>().ok());
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format!("a=rtpmap:{line}: no codec name"));
        }
        rtpmaps.insert(pt, (name.to_string(), clock_rate, channels));
    }
    let mut fmtps: BTreeMap<u8, CodecParameters> = BTreeMap::new();
    for line in values(section, "fmtp").take(MAX_PER_SECTION) {
        let Some((pt, parameters)) = line.split_once(' ') else {
            continue;
        };
        let Ok(pt) = pt.parse::<u8>() else { continue };
        fmtps.insert(pt, fmtp_parameters(parameters));
    }
    let mut feedback: BTreeMap<String, Vec<RtcpFeedback>> = BTreeMap::new();
    for line in values(section, "rtcp-fb").take(MAX_PER_SECTION) {
        let mut parts = line.splitn(3, ' ');
        let (Some(pt), Some(kind)) = (parts.next(), parts.next()) else {
            continue;
        };
        feedback
            .entry(pt.to_string())
            .or_default()
            .push(RtcpFeedback::new(kind, parts.next().unwrap_or("").trim()));
    }
    let prefix = kind.as_str();
    let mut codecs = Vec::new();
    for format in section.media_name.formats.iter().take(MAX_PER_SECTION) {
        let Ok(pt) = format.parse::<u8>() else {
            return Err(format!("format {format:?} is not a payload type"));
        };
        // Static payload types may come without an rtpmap.
        let known = rtpmaps.get(&pt).cloned().or(match pt {
            0 => Some(("PCMU".into(), 8000, Some(1))),
            8 => Some(("PCMA".into(), 8000, Some(1))),
            9 => Some(("G722".into(), 8000, Some(1))),
            _ => None,
        });
        let Some((name, clock_rate, channels)) = known else {
            continue;
        };
        let mut rtcp_feedback = feedback.get(format).cloned().unwrap_or_default();
        rtcp_feedback.extend(feedback.get("*").cloned().unwrap_or_default());
        codecs.push(RtpCodecParameters {
            mime_type: format!("{prefix}/{name}"),
            payload_type: pt,
            clock_rate,
            channels: match kind {
                MediaKind::Audio => Some(channels.unwrap_or(1)),
                MediaKind::Video => None,
            },
            parameters: fmtps.remove(&pt).unwrap_or_default(),
            rtcp_feedback,
        });
    }
    Ok(codecs)
}

/// `key=value;key=value`: numbers where they are numbers, except the
/// values that only look like one (an H264 `profile-level-id` is hex).
fn fmtp_parameters(text: &str) -> CodecParameters {
    let mut parameters = CodecParameters::new();
    for pair in text.split(';').take(MAX_PER_SECTION) {
        let Some((key, value)) = pair.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        let as_text = matches!(key, "profile-level-id" | "sprop-parameter-sets");
        let parsed = match value.parse::<u64>() {
            Ok(n) if !as_text => serde_json::Value::from(n),
            _ => serde_json::Value::from(value),
        };
        parameters.insert(key.to_string(), parsed);
    }
    parameters
}

/// The RIDs the offerer sends, in the order of `a=simulcast:send` (its
/// first choice of each alternative, paused ones included).
fn send_rids(section: &MediaDescription) -> Vec<String> {
    let declared: Vec<&str> = values(section, "rid")
        .take(MAX_PER_SECTION)
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let rid = parts.next()?;
            (parts.next() == Some("send")).then_some(rid)
        })
        .collect();
    let simulcast = attribute(&section.attributes, "simulcast").and_then(|line| {
        let mut parts = line.split_whitespace();
        while let Some(direction) = parts.next() {
            let list = parts.next()?;
            if direction == "send" {
                return Some(list);
            }
        }
        None
    });
    match simulcast {
        Some(list) => list
            .split(';')
            .filter_map(|alternatives| alternatives.split(',').next())
            .map(|rid| rid.trim_start_matches('~'))
            .filter(|rid| declared.contains(rid))
            .map(str::to_string)
            .collect(),
        None => declared.into_iter().map(str::to_string).collect(),
    }
}
