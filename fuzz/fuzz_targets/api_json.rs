//! The API's JSON request bodies, and the RTP parameter rules a produce
//! request is checked with.
#![no_main]
use libfuzzer_sys::fuzz_target;
use troupe_actors::data_parameters::{DataConsumeRequest, DataProduceRequest, DirectMessage};
use troupe_actors::ortc;
use troupe_actors::rtp_parameters::{MediaKind, RtpCapabilities};
use troupe_actors::transport::{
    ConsumeRequest, PipeTransportOptions, PlainConnectRequest, PlainTransportOptions,
    ProduceRequest, WebRtcConnectRequest, WebRtcTransportOptions,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = serde_json::from_slice::<ProduceRequest>(data) {
        if ortc::validate_rtp_parameters(&request.rtp_parameters, request.kind).is_ok() {
            let Ok(caps) = ortc::generate_router_rtp_capabilities(&ortc::default_media_codecs())
            else {
                return;
            };
            if let Ok(mapping) =
                ortc::get_producer_rtp_parameters_mapping(&request.rtp_parameters, &caps)
            {
                let consumable = ortc::get_consumable_rtp_parameters(
                    request.kind,
                    &request.rtp_parameters,
                    &caps,
                    &mapping,
                );
                let _ = ortc::can_consume(&consumable, &caps);
            }
        }
    }
    let _ = serde_json::from_slice::<ConsumeRequest>(data);
    let _ = serde_json::from_slice::<RtpCapabilities>(data);
    let _ = serde_json::from_slice::<WebRtcTransportOptions>(data);
    let _ = serde_json::from_slice::<PlainTransportOptions>(data);
    let _ = serde_json::from_slice::<PipeTransportOptions>(data);
    let _ = serde_json::from_slice::<WebRtcConnectRequest>(data);
    let _ = serde_json::from_slice::<PlainConnectRequest>(data);
    let _ = serde_json::from_slice::<DataProduceRequest>(data);
    let _ = serde_json::from_slice::<DataConsumeRequest>(data);
    let _ = serde_json::from_slice::<DirectMessage>(data);
    let _ = MediaKind::Audio;
});
