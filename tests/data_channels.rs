//! Data channels end to end: mediasoup-client's produceData / consumeData
//! in headless Chromium against a `troupe` process, and direct transports
//! driven through the API with messages read from `/v1/events`.

mod common;

use std::time::{Duration, Instant};

use common::cluster::{eventually, EventLog};
use common::data_client::DataClient;
use common::{assert_error, config, TestServer};
use serde_json::{json, Value};
use troupe_transports::sctp_link::{SctpLink, SctpOptions, PPID_BINARY, PPID_STRING};

#[test]
fn browsers_exchange_ordered_unordered_large_and_empty_messages() {
    let troupe = common::browser::DemoServer::start();
    let report = common::browser::run_scenario(&troupe.url, "data-channels", None);
    for watcher in report["results"].as_array().unwrap() {
        assert_eq!(watcher["count"], 303, "{watcher:#}");
        assert_eq!(watcher["inOrder"], true);
        assert_eq!(watcher["binaries"][0]["length"], 200 * 1024);
        // The data consumer's stream is the server's choice, not the producer's.
        assert!(watcher["consumed"][0]["sctpStreamParameters"]["streamId"].is_u64());
        assert_eq!(
            watcher["consumed"][1]["sctpStreamParameters"]["ordered"],
            false
        );
        assert_eq!(
            watcher["consumed"][1]["sctpStreamParameters"]["maxRetransmits"],
            0
        );
    }
    assert_eq!(report["lossyStats"][0]["messagesReceived"], 50);
}

fn router(server: &TestServer) -> String {
    let (status, body) = server.call("POST", "/v1/routers", Some(json!({})));
    assert_eq!(status, 200);
    body["id"].as_str().unwrap().to_string()
}

use common::webrtc_client::post;

#[test]
fn a_direct_data_producer_broadcasts_to_direct_consumers_through_the_api() {
    let server = TestServer::start(config(&[]));
    let events = EventLog::subscribe_to(server.addr, None);
    let router = router(&server);
    let direct = post(
        &server,
        &format!("/v1/routers/{router}/direct-transports"),
        json!({}),
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    let producer = post(
        &server,
        &format!("/v1/transports/{direct}/data-producers"),
        json!({"label": "announcements", "protocol": "json"}),
    );
    assert_eq!(producer["type"], "direct");
    let producer_id = producer["id"].as_str().unwrap();
    let listener = post(
        &server,
        &format!("/v1/routers/{router}/direct-transports"),
        json!({}),
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    let consumer = post(
        &server,
        &format!("/v1/transports/{listener}/data-consumers"),
        json!({"dataProducerId": producer_id}),
    );
    assert_eq!(consumer["label"], "announcements");
    let consumer_id = consumer["id"].as_str().unwrap().to_string();
    let send = |body: Value| {
        server.call(
            "POST",
            &format!("/v1/data-producers/{producer_id}/send"),
            Some(body),
        )
    };
    assert_eq!(send(json!({"message": "hello room"})).0, 204);
    assert_eq!(send(json!({"message": "AAEC", "binary": true})).0, 204);
    assert_error(
        &send(json!({"message": "not base64!", "binary": true})),
        400,
        "invalid_parameter",
    );
    eventually(Duration::from_secs(5), "two messages", || {
        events.data_of("message", &consumer_id).len() == 2
    });
    let messages = events.data_of("message", &consumer_id);
    assert_eq!(messages[0]["message"], "hello room");
    assert_eq!(messages[0]["binary"], false);
    assert_eq!(messages[1]["message"], "AAEC");
    assert_eq!(messages[1]["binary"], true);
    // Paused: nothing reaches the consumer, which is told.
    assert_eq!(
        server
            .call(
                "POST",
                &format!("/v1/data-producers/{producer_id}/pause"),
                None
            )
            .0,
        204
    );
    eventually(Duration::from_secs(5), "dataproducerpause", || {
        events.saw("dataproducerpause", &consumer_id)
    });
    assert_eq!(send(json!({"message": "dropped"})).0, 204);
    let stats = server
        .call(
            "GET",
            &format!("/v1/data-producers/{producer_id}/stats"),
            None,
        )
        .1;
    assert_eq!(stats[0]["messagesReceived"], 3);
    let stats = server
        .call(
            "GET",
            &format!("/v1/data-consumers/{consumer_id}/stats"),
            None,
        )
        .1;
    assert_eq!(stats[0]["messagesSent"], 2);
    // Closing the producer closes the consumer with dataproducerclose.
    assert_eq!(
        server
            .call("DELETE", &format!("/v1/data-producers/{producer_id}"), None)
            .0,
        204
    );
    eventually(Duration::from_secs(5), "dataproducerclose", || {
        events.saw("dataproducerclose", &consumer_id)
    });
    assert_eq!(
        server
            .call("GET", &format!("/v1/data-consumers/{consumer_id}"), None)
            .0,
        404
    );
    // A direct transport carries no RTP.
    let produce = server.call(
        "POST",
        &format!("/v1/transports/{direct}/producers"),
        Some(json!({"kind": "audio", "rtpParameters": {"codecs": [{"mimeType": "audio/opus", "payloadType": 111, "clockRate": 48000, "channels": 2}], "encodings": [{"ssrc": 1}]}})),
    );
    assert_error(&produce, 409, "wrong_state");
}

#[test]
fn data_producer_parameters_are_checked_as_mediasoup_does() {
    let server = TestServer::start(config(&[]));
    let router = router(&server);
    let sctp = post(
        &server,
        &format!("/v1/routers/{router}/webrtc-transports"),
        json!({"enableSctp": true, "numSctpStreams": {"OS": 8, "MIS": 8}}),
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    let plain_webrtc = post(
        &server,
        &format!("/v1/routers/{router}/webrtc-transports"),
        json!({}),
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    let produce = |transport: &str, body: Value| {
        server.call(
            "POST",
            &format!("/v1/transports/{transport}/data-producers"),
            Some(body),
        )
    };
    let stream = |id: u16| json!({"sctpStreamParameters": {"streamId": id}, "label": "l"});
    let first = produce(&sctp, stream(1));
    assert_eq!(first.0, 200, "{}", first.1);
    assert_eq!(first.1["sctpStreamParameters"]["ordered"], true);
    assert_eq!(first.1["type"], "sctp");
    assert_error(&produce(&sctp, stream(1)), 400, "invalid_parameter");
    assert_error(&produce(&sctp, stream(8)), 400, "invalid_parameter");
    assert_error(
        &produce(
            &sctp,
            json!({"sctpStreamParameters": {"streamId": 2, "maxRetransmits": 1, "maxPacketLifeTime": 100}}),
        ),
        400,
        "invalid_parameter",
    );
    assert_error(
        &produce(&sctp, json!({"label": "no stream"})),
        400,
        "invalid_parameter",
    );
    assert_error(&produce(&plain_webrtc, stream(1)), 409, "wrong_state");
    // Data consumers take the lowest free stream; the producer's own
    // transport can consume it too.
    let producer_id = first.1["id"].as_str().unwrap();
    let mut streams = Vec::new();
    for _ in 0..8 {
        let c = post(
            &server,
            &format!("/v1/transports/{sctp}/data-consumers"),
            json!({"dataProducerId": producer_id}),
        );
        streams.push(c["sctpStreamParameters"]["streamId"].as_u64().unwrap());
    }
    assert_eq!(streams, (0..8).collect::<Vec<u64>>());
    let full = server.call(
        "POST",
        &format!("/v1/transports/{sctp}/data-consumers"),
        Some(json!({"dataProducerId": producer_id})),
    );
    assert_error(&full, 409, "wrong_state");
    let dump = server
        .call("GET", &format!("/v1/transports/{sctp}"), None)
        .1;
    assert_eq!(dump["dataProducerIds"].as_array().unwrap().len(), 1);
    assert_eq!(dump["dataConsumerIds"].as_array().unwrap().len(), 8);
    assert_eq!(dump["sctpState"], "new");
    assert_eq!(dump["sctpParameters"]["MIS"], 8);
    // Closing the transport closes its data producer and consumers.
    assert_eq!(
        server
            .call("DELETE", &format!("/v1/transports/{sctp}"), None)
            .0,
        204
    );
    assert_eq!(
        server
            .call("GET", &format!("/v1/data-producers/{producer_id}"), None)
            .0,
        404
    );
}

#[test]
fn bad_sctp_input_is_counted_and_changes_nothing_else() {
    let server = TestServer::start(config(&[]));
    let router = router(&server);
    let mut sender = DataClient::connect(&server, &router, json!({"maxSctpMessageSize": 4096}));
    let producer = post(
        &server,
        &format!("/v1/transports/{}/data-producers", sender.transport_id),
        json!({"sctpStreamParameters": {"streamId": 1}, "label": "chat"}),
    );
    let mut receiver = DataClient::connect(&server, &router, json!({}));
    let consumer = post(
        &server,
        &format!("/v1/transports/{}/data-consumers", receiver.transport_id),
        json!({"dataProducerId": producer["id"]}),
    );
    let stream = consumer["sctpStreamParameters"]["streamId"]
        .as_u64()
        .unwrap() as u16;
    sender.send(1, PPID_STRING, b"before");
    assert_eq!(receiver.wait_for(1)[0].payload, &b"before"[..]);
    assert_eq!(receiver.received[0].stream_id, stream);

    // Junk that is not SCTP, SCTP with a bad checksum, an INIT storm, a
    // message on a stream nobody produces on, a message over the limit.
    for i in 0..50u8 {
        sender.send_application_data(&[i; 40]);
    }
    let mut bad_checksum = vec![0x13, 0x88, 0x13, 0x88, 1, 2, 3, 4, 0, 0, 0, 0];
    bad_checksum.extend_from_slice(&[0, 0, 0, 8, 0, 0, 0, 0]);
    sender.send_application_data(&bad_checksum);
    for _ in 0..200 {
        let mut stranger = SctpLink::connecting(SctpOptions::default(), Instant::now());
        for init in stranger.poll_transmit(Instant::now()) {
            sender.send_application_data(&init);
        }
    }
    sender.send(9, PPID_STRING, b"nobody listens");
    sender.send(1, PPID_BINARY, &vec![7u8; 16 * 1024]);
    sender.pump(Duration::from_millis(300));
    eventually(Duration::from_secs(5), "the bad input is counted", || {
        server.dropped("sctp_unexpected_packet") >= 200
            && server.dropped("sctp_unknown_stream") >= 1
            && server.dropped("sctp_message_too_large") >= 1
    });

    // Nothing else changed: the channel carries on, in order.
    sender.send(1, PPID_STRING, b"after");
    let got = receiver.wait_for(2);
    assert_eq!(got[1].payload, &b"after"[..]);
    let dump = server
        .call(
            "GET",
            &format!("/v1/transports/{}", sender.transport_id),
            None,
        )
        .1;
    assert_eq!(dump["sctpState"], "connected");
    // A data consumer closed on the server resets its stream at the client.
    assert_eq!(
        server
            .call(
                "DELETE",
                &format!("/v1/data-consumers/{}", consumer["id"].as_str().unwrap()),
                None
            )
            .0,
        204
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while !receiver.closed_streams.contains(&stream) {
        assert!(Instant::now() < deadline, "the stream was not reset");
        receiver.pump(Duration::from_millis(20));
    }
}

#[test]
fn messages_cross_a_pair_of_pipe_transports_with_sctp() {
    let server = TestServer::start(config(&[]));
    let router = router(&server);
    let mut sender = DataClient::connect(&server, &router, json!({}));
    let producer = post(
        &server,
        &format!("/v1/transports/{}/data-producers", sender.transport_id),
        json!({"sctpStreamParameters": {"streamId": 3, "ordered": true}, "label": "chat", "protocol": "p"}),
    );
    let pipe = |body: Value| {
        post(
            &server,
            &format!("/v1/routers/{router}/pipe-transports"),
            body,
        )
    };
    let a = pipe(json!({"enableSctp": true}));
    let b = pipe(json!({"enableSctp": true}));
    assert_eq!(a["sctpParameters"]["port"], 5000);
    let connect = |from: &Value, to: &Value| {
        let (status, body) = server.call(
            "POST",
            &format!("/v1/transports/{}/connect", from["id"].as_str().unwrap()),
            Some(json!({"ip": "127.0.0.1", "port": to["tuple"]["localPort"]})),
        );
        assert_eq!(status, 204, "{body}");
    };
    connect(&a, &b);
    connect(&b, &a);
    let piped_out = post(
        &server,
        &format!(
            "/v1/transports/{}/data-consumers",
            a["id"].as_str().unwrap()
        ),
        json!({"dataProducerId": producer["id"]}),
    );
    let piped_in = post(
        &server,
        &format!(
            "/v1/transports/{}/data-producers",
            b["id"].as_str().unwrap()
        ),
        json!({"sctpStreamParameters": piped_out["sctpStreamParameters"], "label": "chat"}),
    );
    let mut receiver = DataClient::connect(&server, &router, json!({}));
    post(
        &server,
        &format!("/v1/transports/{}/data-consumers", receiver.transport_id),
        json!({"dataProducerId": piped_in["id"]}),
    );
    eventually(Duration::from_secs(5), "both pipe ends connect", || {
        [&a, &b].iter().all(|t| {
            server
                .call(
                    "GET",
                    &format!("/v1/transports/{}", t["id"].as_str().unwrap()),
                    None,
                )
                .1["sctpState"]
                == "connected"
        })
    });
    for i in 0..20 {
        sender.send(3, PPID_STRING, format!("piped {i}").as_bytes());
    }
    let got = receiver.wait_for(20);
    assert_eq!(got[19].payload, &b"piped 19"[..]);
    // Closing the origin closes the piped data producer at the far end.
    let events = EventLog::subscribe_to(server.addr, None);
    assert_eq!(
        server
            .call(
                "DELETE",
                &format!("/v1/data-producers/{}", producer["id"].as_str().unwrap()),
                None
            )
            .0,
        204
    );
    let piped_in_id = piped_in["id"].as_str().unwrap().to_string();
    eventually(
        Duration::from_secs(5),
        "the piped data producer closes",
        || events.saw("close", &piped_in_id),
    );
}

#[test]
fn a_receiver_that_does_not_read_fills_a_bounded_buffer_not_the_node() {
    let server = TestServer::start(config(&[]));
    let events = EventLog::subscribe_to(server.addr, None);
    let router = router(&server);
    let mut sender = DataClient::connect(&server, &router, json!({}));
    let producer = post(
        &server,
        &format!("/v1/transports/{}/data-producers", sender.transport_id),
        json!({"sctpStreamParameters": {"streamId": 1}}),
    );
    // Connected, then never reads (nor acknowledges) again.
    let receiver = DataClient::connect(&server, &router, json!({"sctpSendBufferSize": 65536}));
    let consumer = post(
        &server,
        &format!("/v1/transports/{}/data-consumers", receiver.transport_id),
        json!({"dataProducerId": producer["id"]}),
    );
    let consumer_id = consumer["id"].as_str().unwrap().to_string();
    let chunk = vec![5u8; 8 * 1024];
    for _ in 0..64 {
        sender.send(1, PPID_BINARY, &chunk);
        sender.pump(Duration::from_millis(5));
    }
    eventually(Duration::from_secs(10), "sctpsendbufferfull", || {
        events.saw("sctpsendbufferfull", &consumer_id)
    });
    assert!(server.dropped("sctp_send_buffer_full") > 0);
    let stats = server
        .call(
            "GET",
            &format!("/v1/data-consumers/{consumer_id}/stats"),
            None,
        )
        .1;
    assert!(
        stats[0]["bufferedAmount"].as_u64().unwrap() <= 65536,
        "{stats}"
    );
    assert!(stats[0]["messagesSent"].as_u64().unwrap() < 64, "{stats}");
    drop(receiver);
}
