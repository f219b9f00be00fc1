//! The OpenAPI document, assembled from the handlers' annotations and the
//! request/response types themselves, so it cannot drift from the code.

use utoipa::OpenApi;

use crate::api::{
    cluster, consumers, data, error, events, producers, recordings, room_socket, rooms, routers,
    rtp_observers, system, transports, whip,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "Troupe API", description = "A clustered WebRTC SFU with mediasoup's object model. \
        Authorization: `Bearer <token>` when the server has an API token."),
    paths(
        system::health, system::ready, system::metrics, system::openapi, cluster::cluster,
        routers::create_router, routers::get_router, routers::delete_router,
        routers::create_webrtc_transport, routers::create_plain_transport, routers::create_pipe_transport, routers::create_direct_transport,
        transports::get_transport, transports::delete_transport, transports::connect,
        transports::produce, transports::consume, transports::stats, transports::restart_ice, transports::set_max_incoming_bitrate, transports::set_max_outgoing_bitrate, transports::set_min_outgoing_bitrate,
        producers::get_producer, producers::delete_producer, producers::pause, producers::resume, producers::stats,
        consumers::get_consumer, consumers::delete_consumer, consumers::pause, consumers::resume,
        consumers::request_key_frame, consumers::preferred_layers, consumers::priority, consumers::stats,
        data::produce_data, data::consume_data, data::get_data_producer, data::delete_data_producer,
        data::pause_data_producer, data::resume_data_producer, data::data_producer_stats, data::send,
        data::get_data_consumer, data::delete_data_consumer, data::pause_data_consumer,
        data::resume_data_consumer, data::data_consumer_stats,
        rtp_observers::create_audio_level_observer, rtp_observers::create_active_speaker_observer,
        rtp_observers::get_observer, rtp_observers::delete_observer, rtp_observers::add_producer,
        rtp_observers::remove_producer, rtp_observers::pause, rtp_observers::resume,
        recordings::create_recording, recordings::get_recording, recordings::delete_recording,
        events::events,
        rooms::open_room, rooms::list_rooms, rooms::get_room, rooms::close_room, rooms::issue_token, room_socket::room_socket,
        whip::whip, whip::whep, whip::patch_whip, whip::patch_whep, whip::end_whip, whip::end_whep,
    ),
    components(schemas(error::ErrorBody, error::ErrorDetail, troupe_actors::Notification)),
    modifiers(&OptionalBodies),
    tags(
        (name = "system"), (name = "routers"), (name = "transports"), (name = "producers"),
        (name = "consumers"), (name = "data"), (name = "observers"), (name = "recordings"), (name = "events"),
        (name = "rooms"), (name = "whip-whep"),
    )
)]
pub struct ApiDoc;

/// A body whose fields are all optional may be left out (the handlers take
/// it as `{}`), so the document must not call it required.
struct OptionalBodies;

impl utoipa::Modify for OptionalBodies {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{RefOr, Required, Schema};
        let all_optional: std::collections::BTreeSet<String> = openapi
            .components
            .as_ref()
            .map(|c| {
                c.schemas
                    .iter()
                    .filter(|(_, schema)| {
                        matches!(schema, RefOr::T(Schema::Object(o)) if o.required.is_empty())
                    })
                    .map(|(name, _)| format!("#/components/schemas/{name}"))
                    .collect()
            })
            .unwrap_or_default();
        for item in openapi.paths.paths.values_mut() {
            for operation in [&mut item.post, &mut item.put, &mut item.patch]
                .into_iter()
                .flatten()
            {
                let Some(RefOr::T(body)) = operation.request_body.as_mut() else {
                    continue;
                };
                let optional = body.content.values().all(|content| {
                    matches!(content, RefOr::T(c) if matches!(&c.schema, Some(RefOr::Ref(r)) if all_optional.contains(&r.ref_location)))
                });
                if optional {
                    body.required = Some(Required::False);
                }
            }
        }
    }
}
