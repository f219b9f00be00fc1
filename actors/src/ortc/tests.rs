use serde_json::json;

use super::*;
use crate::rtp_parameters::RtpParameters;

/// What Chromium + mediasoup-client 3.18 send in `produce` for the fake
/// camera (measured, see PEERS.md).
fn chromium_vp8() -> RtpParameters {
    serde_json::from_value(json!({
        "mid": "0",
        "codecs": [
            {"mimeType": "video/VP8", "payloadType": 96, "clockRate": 90000, "parameters": {},
             "rtcpFeedback": [{"type": "goog-remb", "parameter": ""}, {"type": "transport-cc", "parameter": ""},
                              {"type": "ccm", "parameter": "fir"}, {"type": "nack", "parameter": ""},
                              {"type": "nack", "parameter": "pli"}]},
            {"mimeType": "video/rtx", "payloadType": 97, "clockRate": 90000, "parameters": {"apt": 96}, "rtcpFeedback": []}
        ],
        "headerExtensions": [
            {"uri": "urn:ietf:params:rtp-hdrext:sdes:mid", "id": 9, "encrypt": false, "parameters": {}},
            {"uri": "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id", "id": 10, "encrypt": false, "parameters": {}},
            {"uri": "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id", "id": 11, "encrypt": false, "parameters": {}},
            {"uri": "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time", "id": 2, "encrypt": false, "parameters": {}},
            {"uri": "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01", "id": 4, "encrypt": false, "parameters": {}},
            {"uri": "urn:3gpp:video-orientation", "id": 3, "encrypt": false, "parameters": {}}
        ],
        "encodings": [{"active": true, "scalabilityMode": "L1T3", "ssrc": 2_029_412_633u32, "rtx": {"ssrc": 1_137_381_532u32}}],
        "rtcp": {"cname": "kWx0bA8ms5bFMJ2u", "reducedSize": true}
    }))
    .unwrap()
}

fn chromium_opus() -> RtpParameters {
    serde_json::from_value(json!({
        "mid": "1",
        "codecs": [
            {"mimeType": "audio/opus", "payloadType": 111, "clockRate": 48000, "channels": 2,
             "parameters": {"minptime": 10, "useinbandfec": 1},
             "rtcpFeedback": [{"type": "transport-cc", "parameter": ""}]}
        ],
        "headerExtensions": [
            {"uri": "urn:ietf:params:rtp-hdrext:sdes:mid", "id": 9, "encrypt": false, "parameters": {}},
            {"uri": "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time", "id": 2, "encrypt": false, "parameters": {}},
            {"uri": "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01", "id": 4, "encrypt": false, "parameters": {}},
            {"uri": "urn:ietf:params:rtp-hdrext:ssrc-audio-level", "id": 14, "encrypt": false, "parameters": {}}
        ],
        "encodings": [{"ssrc": 3_456_789_012u32, "dtx": false}],
        "rtcp": {"cname": "kWx0bA8ms5bFMJ2u", "reducedSize": true}
    }))
    .unwrap()
}

fn router_caps() -> RtpCapabilities {
    generate_router_rtp_capabilities(&default_media_codecs()).unwrap()
}

fn pt_of(caps: &RtpCapabilities, mime: &str) -> u8 {
    caps.codecs
        .iter()
        .find(|c| c.mime_type == mime)
        .unwrap()
        .preferred_payload_type
        .unwrap()
}

#[test]
fn router_capabilities_have_mediasoup_shape() {
    let caps = router_caps();
    let value = serde_json::to_value(&caps).unwrap();
    let opus = &value["codecs"][0];
    assert_eq!(opus["kind"], "audio");
    assert_eq!(opus["mimeType"], "audio/opus");
    assert_eq!(opus["preferredPayloadType"], 100);
    assert_eq!(opus["clockRate"], 48000);
    assert_eq!(opus["channels"], 2);
    assert_eq!(
        opus["rtcpFeedback"][0],
        json!({"type": "nack", "parameter": ""})
    );
    let vp8 = &value["codecs"][1];
    assert_eq!(vp8["mimeType"], "video/VP8");
    assert_eq!(vp8["preferredPayloadType"], 101);
    let rtx = &value["codecs"][2];
    assert_eq!(rtx["mimeType"], "video/rtx");
    assert_eq!(rtx["parameters"]["apt"], 101);
    // Every video codec is followed by its rtx.
    let mimes: Vec<&str> = caps.codecs.iter().map(|c| c.mime_type.as_str()).collect();
    assert_eq!(
        mimes,
        [
            "audio/opus",
            "video/VP8",
            "video/rtx",
            "video/VP9",
            "video/rtx",
            "video/H264",
            "video/rtx"
        ]
    );
    let uris: HashSet<&str> = caps
        .header_extensions
        .iter()
        .map(|e| e.uri.as_str())
        .collect();
    for uri in [
        MID_URI,
        RID_URI,
        RRID_URI,
        ABS_SEND_TIME_URI,
        TRANSPORT_CC_URI,
        AUDIO_LEVEL_URI,
        VIDEO_ORIENTATION_URI,
    ] {
        assert!(uris.contains(uri), "{uri}");
    }
    assert_eq!(value["headerExtensions"][0]["preferredId"], 1);
    assert_eq!(value["headerExtensions"][0]["direction"], "sendrecv");
}

#[test]
fn explicit_payload_types_are_kept_and_never_reused() {
    let mut codecs = default_media_codecs();
    codecs[1].preferred_payload_type = Some(101);
    codecs[0].preferred_payload_type = Some(100);
    let caps = generate_router_rtp_capabilities(&codecs).unwrap();
    let pts: Vec<u8> = caps
        .codecs
        .iter()
        .map(|c| c.preferred_payload_type.unwrap())
        .collect();
    let unique: HashSet<u8> = pts.iter().copied().collect();
    assert_eq!(unique.len(), pts.len());
    assert_eq!(pt_of(&caps, "video/VP8"), 101);
}

#[test]
fn bad_media_codecs_name_the_field() {
    let mut codecs = default_media_codecs();
    codecs[2].mime_type = "video/Theora".into();
    assert_eq!(
        generate_router_rtp_capabilities(&codecs).unwrap_err().field,
        "mediaCodecs[2].mimeType"
    );
    let mut codecs = default_media_codecs();
    codecs[0].kind = MediaKind::Video;
    assert_eq!(
        generate_router_rtp_capabilities(&codecs).unwrap_err().field,
        "mediaCodecs[0].kind"
    );
    assert_eq!(
        generate_router_rtp_capabilities(&[]).unwrap_err().field,
        "mediaCodecs"
    );
}

#[test]
fn chromium_vp8_maps_to_router_payload_types_and_extension_ids() {
    let caps = router_caps();
    let params = chromium_vp8();
    validate_rtp_parameters(&params, MediaKind::Video).unwrap();
    let mapping = get_producer_rtp_parameters_mapping(&params, &caps).unwrap();
    let vp8 = pt_of(&caps, "video/VP8");
    let rtx = caps
        .codecs
        .iter()
        .find(|c| c.is_rtx() && c.apt() == Some(vp8))
        .unwrap();
    assert_eq!(
        mapping.codecs,
        vec![
            CodecMapping {
                payload_type: 96,
                mapped_payload_type: vp8
            },
            CodecMapping {
                payload_type: 97,
                mapped_payload_type: rtx.preferred_payload_type.unwrap()
            },
        ]
    );
    assert_eq!(mapping.encodings.len(), 1);
    assert_eq!(mapping.encodings[0].ssrc, Some(2_029_412_633));
    assert_ne!(mapping.encodings[0].mapped_ssrc, 2_029_412_633);

    let ids = map_header_extension_ids(&params, &caps, MediaKind::Video);
    assert!(ids.contains(&(9, 1)), "mid 9 → 1: {ids:?}");
    assert!(ids.contains(&(10, 2)), "rid 10 → 2");
    assert!(ids.contains(&(11, 3)), "rrid 11 → 3");
    assert!(ids.contains(&(2, 4)), "abs-send-time 2 → 4");
    assert!(ids.contains(&(4, 5)), "transport-cc 4 → 5");
    assert!(ids.contains(&(3, 11)), "video-orientation 3 → 11");

    let consumable = get_consumable_rtp_parameters(MediaKind::Video, &params, &caps, &mapping);
    assert_eq!(consumable.codecs[0].payload_type, vp8);
    assert_eq!(consumable.codecs[1].mime_type, "video/rtx");
    assert_eq!(
        consumable.encodings[0].ssrc,
        Some(mapping.encodings[0].mapped_ssrc)
    );
    assert_eq!(
        consumable.encodings[0].scalability_mode.as_deref(),
        Some("L1T3")
    );
    assert_eq!(consumable.encodings[0].rtx, None);
    assert_eq!(consumable.rtcp.cname.as_deref(), Some("kWx0bA8ms5bFMJ2u"));
    // Receive-only extensions (rid, rrid) are not sent to consumers.
    assert!(!consumable
        .header_extensions
        .iter()
        .any(|e| e.uri == RID_URI));
}

#[test]
fn chromium_opus_maps_and_keeps_its_parameters() {
    let caps = router_caps();
    let params = chromium_opus();
    validate_rtp_parameters(&params, MediaKind::Audio).unwrap();
    let mapping = get_producer_rtp_parameters_mapping(&params, &caps).unwrap();
    assert_eq!(
        mapping.codecs,
        vec![CodecMapping {
            payload_type: 111,
            mapped_payload_type: 100
        }]
    );
    let ids = map_header_extension_ids(&params, &caps, MediaKind::Audio);
    assert!(ids.contains(&(14, 10)), "audio-level 14 → 10: {ids:?}");
    assert!(ids.contains(&(9, 1)));
    let consumable = get_consumable_rtp_parameters(MediaKind::Audio, &params, &caps, &mapping);
    assert_eq!(consumable.codecs.len(), 1);
    assert_eq!(consumable.codecs[0].parameters["useinbandfec"], 1);
}

#[test]
fn consumer_parameters_follow_the_consuming_device() {
    let caps = router_caps();
    let params = chromium_vp8();
    let mapping = get_producer_rtp_parameters_mapping(&params, &caps).unwrap();
    let consumable = get_consumable_rtp_parameters(MediaKind::Video, &params, &caps, &mapping);

    // A browser's device capabilities are the router's it supports.
    assert!(can_consume(&consumable, &caps));
    let consumer = get_consumer_rtp_parameters(&consumable, &caps, true).unwrap();
    assert_eq!(consumer.codecs.len(), 2);
    let encoding = &consumer.encodings[0];
    let ssrc = encoding.ssrc.unwrap();
    assert_ne!(ssrc, mapping.encodings[0].mapped_ssrc);
    assert_eq!(encoding.rtx, Some(RtxParameters { ssrc: ssrc + 1 }));
    // transport-cc negotiated: no REMB feedback.
    assert!(consumer.codecs[0]
        .rtcp_feedback
        .iter()
        .all(|fb| fb.kind != "goog-remb"));
    assert!(consumer.codecs[0]
        .rtcp_feedback
        .iter()
        .any(|fb| fb.kind == "transport-cc"));

    // Without rtx the consumer gets no rtx codec, no rtx ssrc, no plain NACK.
    let consumer = get_consumer_rtp_parameters(&consumable, &caps, false).unwrap();
    assert_eq!(consumer.codecs.len(), 1);
    assert_eq!(consumer.encodings[0].rtx, None);
    assert!(consumer.codecs[0]
        .rtcp_feedback
        .iter()
        .all(|fb| !(fb.kind == "nack" && fb.parameter.is_empty())));

    // A device without VP8 cannot consume it.
    let mut no_vp8 = caps.clone();
    no_vp8.codecs.retain(|c| c.mime_type != "video/VP8");
    assert!(!can_consume(&consumable, &no_vp8));
    assert_eq!(
        get_consumer_rtp_parameters(&consumable, &no_vp8, true)
            .unwrap_err()
            .field,
        "rtpCapabilities.codecs"
    );
}

#[test]
fn simulcast_encodings_become_spatial_layers() {
    let caps = router_caps();
    let mut params = chromium_vp8();
    params.encodings = (0..3)
        .map(|i| RtpEncodingParameters {
            rid: Some(format!("r{i}")),
            scalability_mode: Some("L1T3".into()),
            ..Default::default()
        })
        .collect();
    validate_rtp_parameters(&params, MediaKind::Video).unwrap();
    let mapping = get_producer_rtp_parameters_mapping(&params, &caps).unwrap();
    assert_eq!(mapping.encodings.len(), 3);
    let consumable = get_consumable_rtp_parameters(MediaKind::Video, &params, &caps, &mapping);
    let consumer = get_consumer_rtp_parameters(&consumable, &caps, true).unwrap();
    assert_eq!(
        consumer.encodings[0].scalability_mode.as_deref(),
        Some("L3T3")
    );
}

#[test]
fn invalid_producer_parameters_name_the_field() {
    let mut p = chromium_vp8();
    p.codecs[1].parameters.insert("apt".into(), json!(50));
    assert_eq!(
        validate_rtp_parameters(&p, MediaKind::Video)
            .unwrap_err()
            .field,
        "rtpParameters.codecs[1].parameters.apt"
    );
    let mut p = chromium_vp8();
    p.codecs[1].payload_type = 96;
    assert_eq!(
        validate_rtp_parameters(&p, MediaKind::Video)
            .unwrap_err()
            .field,
        "rtpParameters.codecs[1].payloadType"
    );
    let mut p = chromium_vp8();
    p.encodings.clear();
    assert_eq!(
        validate_rtp_parameters(&p, MediaKind::Video)
            .unwrap_err()
            .field,
        "rtpParameters.encodings"
    );
    let p = chromium_vp8();
    assert_eq!(
        validate_rtp_parameters(&p, MediaKind::Audio)
            .unwrap_err()
            .field,
        "rtpParameters.codecs[0].mimeType"
    );
    let mut p = chromium_vp8();
    p.header_extensions[1].id = 9;
    assert_eq!(
        validate_rtp_parameters(&p, MediaKind::Video)
            .unwrap_err()
            .field,
        "rtpParameters.headerExtensions[1].id"
    );
    // A codec the router lacks.
    let mut p = chromium_vp8();
    p.codecs[0].mime_type = "video/AV1".into();
    assert_eq!(
        get_producer_rtp_parameters_mapping(&p, &router_caps())
            .unwrap_err()
            .field,
        "rtpParameters.codecs[0]"
    );
}

#[test]
fn h264_profiles_must_match_strictly() {
    assert_eq!(
        h264_profile("42e01f"),
        Some(H264Profile::ConstrainedBaseline)
    );
    assert_eq!(h264_profile("4d001f"), Some(H264Profile::Main));
    assert_eq!(h264_profile("640c1f"), Some(H264Profile::ConstrainedHigh));
    assert_eq!(h264_profile("zz"), None);
    let caps = router_caps();
    let h264 = |profile: &str, mode: u8| -> RtpParameters {
        serde_json::from_value(json!({
            "codecs": [{"mimeType": "video/H264", "payloadType": 102, "clockRate": 90000,
                        "parameters": {"packetization-mode": mode, "profile-level-id": profile}}],
            "encodings": [{"ssrc": 1}]
        }))
        .unwrap()
    };
    assert!(get_producer_rtp_parameters_mapping(&h264("42e01f", 1), &caps).is_ok());
    // Constrained baseline at another level is the same profile.
    assert!(get_producer_rtp_parameters_mapping(&h264("42e034", 1), &caps).is_ok());
    assert!(get_producer_rtp_parameters_mapping(&h264("640c1f", 1), &caps).is_err());
    assert!(get_producer_rtp_parameters_mapping(&h264("42e01f", 0), &caps).is_err());
}

#[test]
fn a_player_that_numbers_its_own_codecs_gets_them() {
    let caps = router_caps();
    let params = chromium_vp8();
    let mapping = get_producer_rtp_parameters_mapping(&params, &caps).unwrap();
    let consumable = get_consumable_rtp_parameters(MediaKind::Video, &params, &caps, &mapping);
    // mediasoup-client's capabilities are the router's: nothing to renumber.
    let consumer = get_consumer_rtp_parameters(&consumable, &caps, true).unwrap();
    assert_eq!(Renumbering::between(&consumable, &consumer), None);

    // A WHEP offer: VP8 on 96, its RTX on 97, its own extension ids.
    let mut player = caps.clone();
    for codec in &mut player.codecs {
        if codec.mime_type == "video/VP8" {
            codec.preferred_payload_type = Some(96);
        }
    }
    let router_vp8 = consumable.codecs[0].payload_type;
    for codec in &mut player.codecs {
        if codec.is_rtx() && codec.apt() == Some(router_vp8) {
            codec.preferred_payload_type = Some(97);
            codec.parameters.insert("apt".into(), 96.into());
        }
    }
    for extension in &mut player.header_extensions {
        extension.preferred_id += 20;
    }
    let consumer = get_consumer_rtp_parameters(&consumable, &player, true).unwrap();
    assert_eq!(consumer.codecs[0].payload_type, 96);
    assert_eq!(consumer.codecs[1].payload_type, 97);
    assert_eq!(consumer.codecs[1].apt(), Some(96));
    let renumbering = Renumbering::between(&consumable, &consumer).unwrap();
    assert_eq!(renumbering.client_payload_type(router_vp8), 96);
    assert_eq!(
        renumbering.client_payload_type(consumable.codecs[1].payload_type),
        97
    );
    assert_eq!(renumbering.router_payload_type(96), router_vp8);
    let router_mid = consumable
        .header_extensions
        .iter()
        .find(|e| e.uri == MID_URI)
        .unwrap()
        .id;
    assert_eq!(renumbering.client_extension_id(router_mid), router_mid + 20);
    assert_eq!(renumbering.router_extension_id(router_mid + 20), router_mid);
}
