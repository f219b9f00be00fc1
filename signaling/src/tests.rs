//! Offers Chromium 156 made (`fixtures/`), answered as Troupe answers them.

use troupe_actors::ortc::{
    default_media_codecs, generate_router_rtp_capabilities, get_consumable_rtp_parameters,
    get_consumer_rtp_parameters, get_producer_rtp_parameters_mapping, validate_rtp_parameters,
    Renumbering, MID_URI, TRANSPORT_CC_URI,
};
use troupe_actors::rtp_parameters::{MediaKind, RtpCapabilities};

use crate::*;

const WHIP: &str = include_str!("../fixtures/chromium-whip.sdp");
const WHIP_SIMULCAST: &str = include_str!("../fixtures/chromium-whip-simulcast.sdp");
const WHEP: &str = include_str!("../fixtures/chromium-whep.sdp");

fn router() -> RtpCapabilities {
    generate_router_rtp_capabilities(&default_media_codecs()).unwrap()
}

fn local() -> LocalTransport {
    LocalTransport {
        ice_ufrag: "troupeufrag".into(),
        ice_pwd: "troupepassword0123456789".into(),
        fingerprints: vec![("sha-256".into(), "AB:CD".into())],
        candidates: vec![
            LocalCandidate {
                foundation: "udpcandidate".into(),
                priority: 1076302079,
                address: "192.0.2.1".into(),
                port: 40000,
                protocol: "udp".into(),
                tcp_type: None,
            },
            LocalCandidate {
                foundation: "tcpcandidate".into(),
                priority: 1076276479,
                address: "192.0.2.1".into(),
                port: 40000,
                protocol: "tcp".into(),
                tcp_type: Some("passive".into()),
            },
        ],
    }
}

#[test]
fn a_browser_publish_offer_becomes_two_producers() {
    let offer = parse_offer(WHIP).unwrap();
    assert_eq!(offer.setup, "actpass");
    assert_eq!(offer.fingerprint_algorithm, "sha-256");
    assert_eq!(offer.bundle, vec!["0", "1"]);
    assert_eq!(offer.media.len(), 2);
    let router = router();
    let (kind, audio) = producer_parameters(&offer.media[0], &router, "fallback").unwrap();
    assert_eq!(kind, MediaKind::Audio);
    assert_eq!(audio.codecs[0].mime_type, "audio/opus");
    assert_eq!(audio.codecs[0].payload_type, 111);
    assert_eq!(audio.mid.as_deref(), Some("0"));
    assert!(audio.encodings[0].ssrc.is_some());
    let (kind, video) = producer_parameters(&offer.media[1], &router, "fallback").unwrap();
    assert_eq!(kind, MediaKind::Video);
    assert_eq!(video.codecs[0].mime_type, "video/VP8");
    assert!(video.codecs[1].is_rtx());
    assert_eq!(video.codecs[1].apt(), Some(video.codecs[0].payload_type));
    let encoding = &video.encodings[0];
    assert!(encoding.ssrc.is_some() && encoding.rtx.is_some());
    assert_ne!(video.rtcp.cname.as_deref(), Some("fallback"));
    assert!(video
        .header_extensions
        .iter()
        .any(|e| e.uri == TRANSPORT_CC_URI));
    // Extensions the router does not route (playout-delay, color-space) go.
    assert!(!video
        .header_extensions
        .iter()
        .any(|e| e.uri.contains("playout-delay")));
    // mediasoup's own rules accept what the offer became.
    validate_rtp_parameters(&audio, MediaKind::Audio).unwrap();
    validate_rtp_parameters(&video, MediaKind::Video).unwrap();
    get_producer_rtp_parameters_mapping(&video, &router).unwrap();
}

#[test]
fn a_simulcast_offer_becomes_one_producer_of_three_rids() {
    let offer = parse_offer(WHIP_SIMULCAST).unwrap();
    assert_eq!(offer.media[1].send_rids, vec!["q", "h", "f"]);
    let (_, video) = producer_parameters(&offer.media[1], &router(), "fallback").unwrap();
    let rids: Vec<_> = video
        .encodings
        .iter()
        .map(|e| e.rid.clone().unwrap())
        .collect();
    assert_eq!(rids, vec!["q", "h", "f"]);
    validate_rtp_parameters(&video, MediaKind::Video).unwrap();
    let answer_text = answer(
        &offer,
        &local(),
        &[
            SectionAnswer::Receiving(
                producer_parameters(&offer.media[0], &router(), "x")
                    .unwrap()
                    .1,
            ),
            SectionAnswer::Receiving(video),
        ],
    );
    assert!(
        answer_text.contains("a=simulcast:recv q;h;f"),
        "{answer_text}"
    );
    assert!(answer_text.contains("a=rid:q recv"));
}

#[test]
fn the_answer_is_ice_lite_passive_bundled_and_parses_again() {
    let offer = parse_offer(WHIP).unwrap();
    let router = router();
    let sections: Vec<SectionAnswer> = offer
        .media
        .iter()
        .map(|m| SectionAnswer::Receiving(producer_parameters(m, &router, "x").unwrap().1))
        .collect();
    let text = answer(&offer, &local(), &sections);
    for line in [
        "a=ice-lite",
        "a=group:BUNDLE 0 1",
        "a=setup:passive",
        "a=recvonly",
        "a=rtcp-mux",
        "a=ice-ufrag:troupeufrag",
        "a=fingerprint:sha-256 AB:CD",
        "a=candidate:udpcandidate 1 udp 1076302079 192.0.2.1 40000 typ host",
        "a=candidate:tcpcandidate 1 tcp 1076276479 192.0.2.1 40000 typ host tcptype passive",
        "a=rtpmap:111 opus/48000/2",
        "a=rtpmap:96 VP8/90000",
        "a=fmtp:97 apt=96",
    ] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }
    // Our own parser reads it back (ICE and DTLS included).
    let again = parse_offer(&text.replace("setup:passive", "setup:actpass")).unwrap();
    assert_eq!(again.media.len(), 2);
    assert_eq!(again.ice_ufrag, "troupeufrag");
}

#[test]
fn a_playback_offer_is_answered_with_the_players_own_numbers() {
    let offer = parse_offer(WHEP).unwrap();
    assert!(offer
        .media
        .iter()
        .all(|m| m.direction == Direction::RecvOnly));
    let router = router();
    // What a Chromium publisher made of its VP8 becomes a consumable
    // stream in the router ...
    let publisher = parse_offer(WHIP).unwrap();
    let (_, produced) = producer_parameters(&publisher.media[1], &router, "x").unwrap();
    let mapping = get_producer_rtp_parameters_mapping(&produced, &router).unwrap();
    let consumable = get_consumable_rtp_parameters(MediaKind::Video, &produced, &router, &mapping);
    // ... which the player receives with its numbers.
    let player = receiver_capabilities(&offer.media[1]);
    let consumer = get_consumer_rtp_parameters(&consumable, &player, true).unwrap();
    let offered_vp8 = offer.media[1]
        .codecs
        .iter()
        .find(|c| c.mime_type == "video/VP8")
        .unwrap();
    assert_eq!(consumer.codecs[0].payload_type, offered_vp8.payload_type);
    let offered_mid_id = offer.media[1]
        .header_extensions
        .iter()
        .find(|e| e.uri == MID_URI)
        .unwrap()
        .id;
    let consumer_mid_id = consumer
        .header_extensions
        .iter()
        .find(|e| e.uri == MID_URI)
        .unwrap()
        .id;
    assert_eq!(consumer_mid_id, offered_mid_id);
    // The router's VP8 is 101 and the player's 96: the consumer renumbers.
    if consumable.codecs[0].payload_type != offered_vp8.payload_type {
        assert!(Renumbering::between(&consumable, &consumer).is_some());
    }
    let text = answer(
        &offer,
        &local(),
        &[
            SectionAnswer::Rejected("no audio".into()),
            SectionAnswer::Sending {
                parameters: consumer.clone(),
                stream_id: "room".into(),
                track_id: "video".into(),
            },
        ],
    );
    assert!(text.contains("a=sendonly"));
    assert!(text.contains("a=msid:room video"));
    assert!(text.contains("m=audio 0 "), "{text}");
    assert!(text.contains("a=group:BUNDLE 1"));
    let ssrc = consumer.encodings[0].ssrc.unwrap();
    assert!(text.contains(&format!("a=ssrc:{ssrc} cname:")));
}

#[test]
fn broken_offers_say_what_is_wrong() {
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "not an SDP"),
        (WHIP[..WHIP.len() / 3].to_string(), ""),
        (strip(WHIP, "a=fingerprint"), "fingerprint"),
        (strip(WHIP, "a=ice-ufrag"), "ice-ufrag"),
        (strip(WHIP, "a=mid"), "a=mid"),
        (
            WHIP.replace("a=setup:actpass", "a=setup:passive"),
            "passive",
        ),
        ("x".repeat(70_000), "bytes"),
    ];
    for (text, expected) in cases {
        match parse_offer(&text) {
            Err(e) => assert!(e.0.contains(expected), "{expected:?} not in {e}"),
            // A truncated offer may still parse; it must then be answered or
            // refused by mapping, never panic.
            Ok(offer) => {
                for media in &offer.media {
                    let _ = producer_parameters(media, &router(), "x");
                }
            }
        }
    }
    // Only codecs the room does not route.
    let offer = parse_offer(WHIP).unwrap();
    let only_opus = generate_router_rtp_capabilities(&default_media_codecs()[..1]).unwrap();
    let error = producer_parameters(&offer.media[1], &only_opus, "x").unwrap_err();
    assert!(error.0.contains("none of the offered codecs"), "{error}");
}

#[test]
fn ice_fragments_trickle_or_restart() {
    let trickle = parse_fragment(
        "a=ice-ufrag:abcd\r\na=ice-pwd:0123456789012345678901\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=candidate:1 1 udp 2122260223 192.0.2.5 50000 typ host\r\n",
    )
    .unwrap();
    assert!(!trickle.is_restart("abcd"));
    assert!(trickle.is_restart("older"));
    assert_eq!(trickle.candidates.len(), 1);
    assert!(parse_fragment("a=ice-ufrag:only\r\n").is_err());
    assert!(parse_fragment("v=0\r\n").is_err());
    let answer = restart_answer("new", "pwd", "0", &local().candidates);
    assert!(answer.contains("a=ice-ufrag:new") && answer.contains("a=candidate:udpcandidate"));
}

fn strip(text: &str, prefix: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with(prefix))
        .collect::<Vec<_>>()
        .join("\r\n")
}

#[test]
fn a_max_bundle_offer_rides_its_port_zero_sections_on_the_bundle() {
    // GStreamer's webrtcbin (max-bundle): the audio section has port 0
    // and a=bundle-only, and is as much a part of the offer as the video.
    let offer = parse_offer(include_str!("../fixtures/gstreamer-whip.sdp")).unwrap();
    assert_eq!(offer.media.len(), 2);
    assert!(offer.media.iter().all(|m| !m.disabled));
    let router = router();
    let (_, audio) = producer_parameters(&offer.media[1], &router, "x").unwrap();
    assert_eq!(audio.codecs[0].mime_type.to_ascii_lowercase(), "audio/opus");
    assert_eq!(
        audio.rtcp.cname.as_deref().map(|c| c.contains('@')),
        Some(true)
    );
}
