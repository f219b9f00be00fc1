//! WHIP/WHEP SDP: the offer parser, what its sections become (producer
//! parameters, consumer capabilities, the consumer parameters those give
//! with the renumbering a consumer sends with), the answer written back,
//! and trickle-ICE fragments.
#![no_main]
use libfuzzer_sys::fuzz_target;
use troupe_actors::ortc;
use troupe_signaling::{LocalTransport, SectionAnswer};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = troupe_signaling::parse_fragment(text);
    let Ok(offer) = troupe_signaling::parse_offer(text) else {
        return;
    };
    let Ok(router) = ortc::generate_router_rtp_capabilities(&ortc::default_media_codecs()) else {
        return;
    };
    let mut sections = Vec::new();
    for media in &offer.media {
        let caps = troupe_signaling::receiver_capabilities(media);
        match troupe_signaling::producer_parameters(media, &router, "fuzz") {
            Ok((kind, parameters)) => {
                if ortc::validate_rtp_parameters(&parameters, kind).is_ok() {
                    if let Ok(mapping) =
                        ortc::get_producer_rtp_parameters_mapping(&parameters, &router)
                    {
                        let consumable = ortc::get_consumable_rtp_parameters(
                            kind, &parameters, &router, &mapping,
                        );
                        if let Ok(consumer) =
                            ortc::get_consumer_rtp_parameters(&consumable, &caps, true)
                        {
                            if let Some(r) = ortc::Renumbering::between(&consumable, &consumer) {
                                let _ = r.client_payload_type(consumable.codecs[0].payload_type);
                            }
                        }
                    }
                }
                sections.push(SectionAnswer::Receiving(parameters));
            }
            Err(e) => sections.push(SectionAnswer::Rejected(e.0)),
        }
    }
    let local = LocalTransport {
        ice_ufrag: "u".into(),
        ice_pwd: "p".into(),
        fingerprints: vec![("sha-256".into(), "00".into())],
        candidates: Vec::new(),
    };
    let _ = troupe_signaling::answer(&offer, &local, &sections);
});
