//! The SDP answer to a WHIP or WHEP offer: ICE-lite, `a=setup:passive`,
//! every accepted section in one BUNDLE on the node's one UDP and TCP
//! port, each section's codecs and extensions as the producer or consumer
//! made of it has them. Written through rtc-sdp's types.

use sdp::description::common::{Address, ConnectionInformation};
use sdp::description::media::{MediaDescription, MediaName, RangedPort};
use sdp::description::session::SessionDescription;
use troupe_actors::rtp_parameters::{RtpCodecParameters, RtpParameters};

use crate::offer::{Offer, OfferedMedia};

/// What Troupe's side of the transport says about itself.
#[derive(Debug, Clone)]
pub struct LocalTransport {
    pub ice_ufrag: String,
    pub ice_pwd: String,
    /// (algorithm, value), e.g. ("sha-256", "AB:CD:...").
    pub fingerprints: Vec<(String, String)>,
    pub candidates: Vec<LocalCandidate>,
}

#[derive(Debug, Clone)]
pub struct LocalCandidate {
    pub foundation: String,
    pub priority: u32,
    pub address: String,
    pub port: u16,
    /// `udp` or `tcp`.
    pub protocol: String,
    pub tcp_type: Option<String>,
}

impl LocalCandidate {
    /// The value of an `a=candidate:` line.
    pub fn to_sdp(&self) -> String {
        let tcp = self
            .tcp_type
            .as_deref()
            .map(|t| format!(" tcptype {t}"))
            .unwrap_or_default();
        format!(
            "{} 1 {} {} {} {} typ host{tcp}",
            self.foundation, self.protocol, self.priority, self.address, self.port
        )
    }
}

/// What became of each offered section, in the offer's order.
#[derive(Debug, Clone)]
pub enum SectionAnswer {
    /// WHIP: Troupe receives what the producer's parameters say.
    Receiving(RtpParameters),
    /// WHEP: Troupe sends a consumer's stream.
    Sending {
        parameters: RtpParameters,
        /// `a=msid` stream and track ids.
        stream_id: String,
        track_id: String,
    },
    /// Not taken (a kind Troupe does not route, nothing to send); the
    /// reason is for logs.
    Rejected(String),
}

pub fn answer(offer: &Offer, local: &LocalTransport, sections: &[SectionAnswer]) -> String {
    let accepted: Vec<&str> = offer
        .media
        .iter()
        .zip(sections)
        .filter(|(_, s)| !matches!(s, SectionAnswer::Rejected(_)))
        .map(|(m, _)| m.mid.as_str())
        .collect();
    let mut session = SessionDescription::new_jsep_session_description(false)
        .with_property_attribute("ice-lite".into())
        .with_value_attribute("msid-semantic".into(), " WMS *".into());
    if !accepted.is_empty() {
        session =
            session.with_value_attribute("group".into(), format!("BUNDLE {}", accepted.join(" ")));
    }
    for (index, (media, section)) in offer.media.iter().zip(sections).enumerate() {
        session = session.with_media(match section {
            SectionAnswer::Rejected(_) => rejected(media, local),
            SectionAnswer::Receiving(parameters) => {
                let md = accepted_section(media, local, parameters, "recvonly");
                let rids = parameters.encodings.iter().filter_map(|e| e.rid.as_deref());
                let rids: Vec<&str> = rids.collect();
                if rids.is_empty() {
                    md
                } else {
                    let md = rids.iter().fold(md, |md, rid| {
                        md.with_value_attribute("rid".into(), format!("{rid} recv"))
                    });
                    md.with_value_attribute("simulcast".into(), format!("recv {}", rids.join(";")))
                }
            }
            SectionAnswer::Sending {
                parameters,
                stream_id,
                track_id,
            } => {
                let mut md = accepted_section(media, local, parameters, "sendonly")
                    .with_value_attribute("msid".into(), format!("{stream_id} {track_id}"));
                let cname = parameters
                    .rtcp
                    .cname
                    .clone()
                    .unwrap_or_else(|| format!("troupe-{index}"));
                if let Some(encoding) = parameters.encodings.first() {
                    if let (Some(ssrc), Some(rtx)) = (encoding.ssrc, encoding.rtx) {
                        md = md.with_value_attribute(
                            "ssrc-group".into(),
                            format!("FID {ssrc} {}", rtx.ssrc),
                        );
                    }
                    for ssrc in encoding
                        .ssrc
                        .into_iter()
                        .chain(encoding.rtx.map(|r| r.ssrc))
                    {
                        md = md
                            .with_value_attribute("ssrc".into(), format!("{ssrc} cname:{cname}"))
                            .with_value_attribute(
                                "ssrc".into(),
                                format!("{ssrc} msid:{stream_id} {track_id}"),
                            );
                    }
                }
                md
            }
        });
    }
    session.marshal()
}

/// A refused section still names the transport's credentials: some
/// answerers' peers (GStreamer's webrtcbin) refuse an answer with any
/// section lacking a fingerprint.
fn rejected(media: &OfferedMedia, local: &LocalTransport) -> MediaDescription {
    let mut md = MediaDescription::new_jsep_media_description(media.media.clone(), vec![]);
    md.media_name = MediaName {
        media: media.media.clone(),
        port: RangedPort {
            value: 0,
            range: None,
        },
        protos: media.protocol.split('/').map(str::to_string).collect(),
        formats: if media.formats.is_empty() {
            vec!["0".into()]
        } else {
            media.formats.clone()
        },
    };
    md = md.with_ice_credentials(local.ice_ufrag.clone(), local.ice_pwd.clone());
    for (algorithm, value) in &local.fingerprints {
        md = md.with_fingerprint(algorithm.clone(), value.clone());
    }
    md.with_value_attribute("setup".into(), "passive".into())
        .with_value_attribute("mid".into(), media.mid.clone())
        .with_property_attribute("inactive".into())
}

fn accepted_section(
    media: &OfferedMedia,
    local: &LocalTransport,
    parameters: &RtpParameters,
    direction: &str,
) -> MediaDescription {
    let mut md = MediaDescription::new_jsep_media_description(media.media.clone(), vec![]);
    md.media_name.protos = media.protocol.split('/').map(str::to_string).collect();
    md.connection_information = Some(ConnectionInformation {
        network_type: "IN".into(),
        address_type: "IP4".into(),
        address: Some(Address {
            address: "0.0.0.0".into(),
            ttl: None,
            range: None,
        }),
    });
    md = md
        .with_value_attribute("rtcp".into(), "9 IN IP4 0.0.0.0".into())
        .with_ice_credentials(local.ice_ufrag.clone(), local.ice_pwd.clone());
    for (algorithm, value) in &local.fingerprints {
        md = md.with_fingerprint(algorithm.clone(), value.clone());
    }
    md = md
        .with_value_attribute("setup".into(), "passive".into())
        .with_value_attribute("mid".into(), media.mid.clone());
    for extension in &parameters.header_extensions {
        md = md.with_value_attribute(
            "extmap".into(),
            format!("{} {}", extension.id, extension.uri),
        );
    }
    md = md
        .with_property_attribute(direction.into())
        .with_property_attribute("rtcp-mux".into())
        .with_property_attribute("rtcp-rsize".into());
    for codec in &parameters.codecs {
        md = with_codec(md, codec);
    }
    // Every section names the candidates: a client that did not bundle
    // still finds them where it looks.
    for candidate in &local.candidates {
        md = md.with_candidate(candidate.to_sdp());
    }
    md.with_property_attribute("end-of-candidates".into())
}

fn with_codec(md: MediaDescription, codec: &RtpCodecParameters) -> MediaDescription {
    let name = codec
        .mime_type
        .split_once('/')
        .map_or("", |(_, n)| n)
        .to_string();
    let channels = codec.channels.filter(|c| *c > 1).map_or(0, u16::from);
    let fmtp = codec
        .parameters
        .iter()
        .map(|(key, value)| match value {
            serde_json::Value::String(s) => format!("{key}={s}"),
            other => format!("{key}={other}"),
        })
        .collect::<Vec<_>>()
        .join(";");
    let pt = codec.payload_type;
    let md = md.with_codec(pt, name, codec.clock_rate, channels, fmtp);
    codec.rtcp_feedback.iter().fold(md, |md, fb| {
        let value = if fb.parameter.is_empty() {
            format!("{pt} {}", fb.kind)
        } else {
            format!("{pt} {} {}", fb.kind, fb.parameter)
        };
        md.with_value_attribute("rtcp-fb".into(), value)
    })
}
