//! From an offer's m-section to mediasoup's objects: the `rtpParameters` of
//! the producer a WHIP section becomes, and the `rtpCapabilities` a WHEP
//! section receives with. Numbers (payload types, extension ids) stay the
//! offerer's: it sends and expects to receive with them.

use troupe_actors::ortc::match_codecs;
use troupe_actors::rtp_parameters::{
    MediaKind, RtcpFeedback, RtcpParameters, RtpCapabilities, RtpCodecCapability,
    RtpEncodingParameters, RtpHeaderExtension, RtpHeaderExtensionDirection, RtpParameters,
    RtxParameters,
};

use crate::offer::OfferedMedia;
use crate::OfferError;

/// The first codec of the offerer's preference the router routes, with its
/// RTX; feedback and header extensions those both know.
pub fn producer_parameters(
    media: &OfferedMedia,
    router: &RtpCapabilities,
    fallback_cname: &str,
) -> Result<(MediaKind, RtpParameters), OfferError> {
    let kind = media
        .kind
        .ok_or_else(|| OfferError::new(format!("mid {}: not audio or video", media.mid)))?;
    let chosen = media
        .codecs
        .iter()
        .filter(|c| !c.is_rtx())
        .find_map(|offered| {
            let routed = router.codecs.iter().find(|r| {
                r.kind == kind && !r.is_rtx() && match_codecs((*r).into(), offered.into(), true)
            })?;
            Some((offered, routed))
        });
    let Some((offered, routed)) = chosen else {
        let names: Vec<&str> = media.codecs.iter().map(|c| c.mime_type.as_str()).collect();
        return Err(OfferError::new(format!(
            "mid {}: none of the offered codecs ({}) is one of the room's",
            media.mid,
            names.join(", ")
        )));
    };
    let mut codec = offered.clone();
    codec.rtcp_feedback = known_feedback(&offered.rtcp_feedback, &routed.rtcp_feedback);
    let mut codecs = vec![codec];
    let rtx = media
        .codecs
        .iter()
        .find(|c| c.is_rtx() && c.apt() == Some(offered.payload_type));
    if let Some(rtx) = rtx {
        let mut rtx = rtx.clone();
        rtx.rtcp_feedback.clear();
        codecs.push(rtx);
    }
    let header_extensions = media
        .header_extensions
        .iter()
        .filter(|e| {
            router
                .header_extensions
                .iter()
                .any(|r| r.kind == kind && r.uri == e.uri)
        })
        .cloned()
        .collect();
    let encodings = if !media.send_rids.is_empty() {
        media
            .send_rids
            .iter()
            .map(|rid| RtpEncodingParameters {
                rid: Some(rid.clone()),
                ..Default::default()
            })
            .collect()
    } else {
        let is_rtx = |ssrc: u32| media.rtx_pairs.iter().any(|(_, rtx)| *rtx == ssrc);
        let ssrc = media
            .ssrcs
            .iter()
            .map(|s| s.ssrc)
            .find(|s| !is_rtx(*s))
            .ok_or_else(|| {
                OfferError::new(format!(
                    "mid {}: neither a=ssrc nor simulcast RIDs: nothing says which stream is which",
                    media.mid
                ))
            })?;
        let rtx_ssrc = media
            .rtx_pairs
            .iter()
            .find(|(m, _)| *m == ssrc)
            .map(|(_, rtx)| *rtx);
        vec![RtpEncodingParameters {
            ssrc: Some(ssrc),
            rtx: rtx_ssrc
                .filter(|_| rtx.is_some())
                .map(|ssrc| RtxParameters { ssrc }),
            ..Default::default()
        }]
    };
    let cname = media
        .ssrcs
        .iter()
        .find_map(|s| s.cname.clone())
        .unwrap_or_else(|| fallback_cname.to_string());
    Ok((
        kind,
        RtpParameters {
            mid: Some(media.mid.clone()),
            codecs,
            header_extensions,
            encodings,
            rtcp: RtcpParameters {
                cname: Some(cname),
                reduced_size: true,
                mux: Some(true),
            },
        },
    ))
}

/// Feedback both sides know (the offerer's, where the router's codec has it).
fn known_feedback(offered: &[RtcpFeedback], routed: &[RtcpFeedback]) -> Vec<RtcpFeedback> {
    offered
        .iter()
        .filter(|fb| routed.contains(fb))
        .cloned()
        .collect()
}

/// What a receiving section takes, as mediasoup's `rtpCapabilities` with
/// the offerer's own payload types and extension ids.
pub fn receiver_capabilities(media: &OfferedMedia) -> RtpCapabilities {
    let Some(kind) = media.kind else {
        return RtpCapabilities::default();
    };
    RtpCapabilities {
        codecs: media
            .codecs
            .iter()
            .map(|c| RtpCodecCapability {
                kind,
                mime_type: c.mime_type.clone(),
                preferred_payload_type: Some(c.payload_type),
                clock_rate: c.clock_rate,
                channels: c.channels,
                parameters: c.parameters.clone(),
                rtcp_feedback: c.rtcp_feedback.clone(),
            })
            .collect(),
        header_extensions: media
            .header_extensions
            .iter()
            .map(|e| RtpHeaderExtension {
                kind,
                uri: e.uri.clone(),
                preferred_id: e.id,
                preferred_encrypt: false,
                direction: RtpHeaderExtensionDirection::Sendrecv,
            })
            .collect(),
    }
}
