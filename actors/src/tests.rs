//! The actor tree's behaviour: mediasoup's close cascade and the containment
//! of faults, driven through `NodeHandle` as the API drives it. Faults are
//! injected with `Panic` messages that exist only in test builds.

use std::time::Duration;

use prometheus_client::registry::Registry;
use serde_json::json;
use tokio::sync::broadcast;

use crate::events::Notification;
use crate::media::MediaConfig;
use crate::rtp_parameters::{MediaKind, RtpCapabilities, RtpParameters};
use crate::transport::{ConsumeRequest, ProduceRequest, WebRtcTransportOptions};
use crate::{ActorError, ActorMetrics, NodeHandle, ObjectKind};

struct Room {
    node: NodeHandle,
    router: String,
    caps: RtpCapabilities,
}

async fn room() -> Room {
    let metrics = ActorMetrics::register(&mut Registry::default());
    let node = NodeHandle::start(
        "node-test",
        "default",
        metrics,
        Some(MediaConfig::loopback_any_port()),
    )
    .await
    .unwrap();
    let created = node.create_router(None, None, json!({})).await.unwrap();
    Room {
        node,
        router: created.id,
        caps: created.rtp_capabilities,
    }
}

fn vp8(ssrc: u32) -> ProduceRequest {
    let rtp_parameters: RtpParameters = serde_json::from_value(json!({
        "mid": format!("m{ssrc}"),
        "codecs": [
            {"mimeType": "video/VP8", "payloadType": 96, "clockRate": 90000},
            {"mimeType": "video/rtx", "payloadType": 97, "clockRate": 90000, "parameters": {"apt": 96}}
        ],
        "headerExtensions": [{"uri": "urn:ietf:params:rtp-hdrext:sdes:mid", "id": 9}],
        "encodings": [{"ssrc": ssrc, "rtx": {"ssrc": ssrc + 1}}],
        "rtcp": {"cname": "c", "reducedSize": true}
    }))
    .unwrap();
    ProduceRequest {
        id: None,
        kind: MediaKind::Video,
        rtp_parameters,
        paused: false,
        app_data: json!({}),
    }
}

impl Room {
    async fn transport(&self) -> String {
        self.node
            .create_webrtc_transport(&self.router, WebRtcTransportOptions::default())
            .await
            .unwrap()
            .id
    }
    async fn produce(&self, transport: &str, ssrc: u32) -> String {
        self.node.produce(transport, vp8(ssrc)).await.unwrap().id
    }
    fn consume_request(&self, producer: &str) -> ConsumeRequest {
        ConsumeRequest {
            producer_id: producer.to_string(),
            rtp_capabilities: self.caps.clone(),
            paused: false,
            preferred_layers: None,
            enable_rtx: None,
            app_data: json!({}),
            mid: None,
        }
    }

    async fn consume(&self, transport: &str, producer: &str) -> String {
        self.node
            .consume(transport, self.consume_request(producer))
            .await
            .unwrap()
            .id
    }
}

/// Collects notifications until `count` have arrived whose event is in `events`.
async fn wait_for(
    rx: &mut broadcast::Receiver<Notification>,
    events: &[&str],
    count: usize,
) -> Vec<Notification> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while seen.len() < count {
        let n = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out; saw {seen:?}"))
            .unwrap();
        if events.contains(&n.event.as_str()) {
            seen.push(n);
        }
    }
    seen
}

fn targets(notifications: &[Notification], event: &str) -> Vec<String> {
    let mut ids: Vec<String> = notifications
        .iter()
        .filter(|n| n.event == event)
        .map(|n| n.target_id.clone())
        .collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

#[tokio::test]
async fn closing_a_producer_closes_its_consumers_with_producerclose() {
    let r = room().await;
    let (t1, t2) = (r.transport().await, r.transport().await);
    let p = r.produce(&t1, 1000).await;
    let c1 = r.consume(&t2, &p).await;
    let c2 = r.consume(&t2, &p).await;
    let mut rx = r.node.events().subscribe();
    r.node.close(ObjectKind::Producer, &p).unwrap();
    let seen = wait_for(&mut rx, &["producerclose", "close"], 3).await;
    assert_eq!(
        targets(&seen, "producerclose"),
        sorted(vec![c1.clone(), c2])
    );
    assert_eq!(targets(&seen, "close"), vec![p.clone()]);
    assert!(matches!(
        r.node.consumer_dump(&c1).await,
        Err(ActorError::NotFound { .. })
    ));
    // The transports are untouched.
    assert!(r
        .node
        .transport_dump(&t2)
        .await
        .unwrap()
        .consumer_ids
        .is_empty());
    assert_eq!(r.node.metrics().alive("consumer"), 0);
    assert_eq!(r.node.metrics().alive("webrtc_transport"), 2);
}

#[tokio::test]
async fn closing_a_transport_closes_what_it_carries_and_remote_consumers_of_its_producers() {
    let r = room().await;
    let (t1, t2) = (r.transport().await, r.transport().await);
    let p1 = r.produce(&t1, 1000).await;
    let p2 = r.produce(&t2, 2000).await;
    let c_of_p2_on_t1 = r.consume(&t1, &p2).await;
    let c_of_p1_on_t2 = r.consume(&t2, &p1).await;
    let mut rx = r.node.events().subscribe();
    r.node.close(ObjectKind::Transport, &t1).unwrap();
    let seen = wait_for(&mut rx, &["transportclose", "producerclose", "close"], 4).await;
    assert_eq!(
        targets(&seen, "transportclose"),
        sorted(vec![p1.clone(), c_of_p2_on_t1])
    );
    assert_eq!(targets(&seen, "producerclose"), vec![c_of_p1_on_t2]);
    assert_eq!(targets(&seen, "close"), vec![t1.clone()]);
    // The other transport and its producer are untouched.
    assert!(r
        .node
        .producer_dump(&p2)
        .await
        .unwrap()
        .consumer_ids
        .is_empty());
    assert_eq!(
        r.node.transport_dump(&t2).await.unwrap().producer_ids,
        vec![p2]
    );
}

#[tokio::test]
async fn closing_a_router_closes_everything_in_it() {
    let r = room().await;
    let other = r
        .node
        .create_router(None, None, json!({}))
        .await
        .unwrap()
        .id;
    let t1 = r.transport().await;
    let p = r.produce(&t1, 1000).await;
    let c = r.consume(&t1, &p).await;
    let mut rx = r.node.events().subscribe();
    r.node.close(ObjectKind::Router, &r.router).unwrap();
    let seen = wait_for(
        &mut rx,
        &["routerclose", "transportclose", "producerclose", "close"],
        4,
    )
    .await;
    assert_eq!(targets(&seen, "routerclose"), vec![t1]);
    assert_eq!(targets(&seen, "transportclose"), sorted(vec![p, c]));
    assert_eq!(targets(&seen, "close"), vec![r.router.clone()]);
    assert!(matches!(
        r.node.router_dump(&r.router).await,
        Err(ActorError::NotFound { .. })
    ));
    assert!(r.node.router_dump(&other).await.is_ok());
    assert_eq!(r.node.metrics().alive("producer"), 0);
    // Closing twice is a not-found, not a second cascade.
    assert!(r.node.close(ObjectKind::Router, &r.router).is_err());
}

#[tokio::test]
async fn a_panicking_producer_is_closed_alone() {
    let r = room().await;
    let (t1, t2) = (r.transport().await, r.transport().await);
    let faulty = r.produce(&t1, 1000).await;
    let sibling = r.produce(&t1, 2000).await;
    let c_faulty = r.consume(&t2, &faulty).await;
    let c_sibling = r.consume(&t2, &sibling).await;
    let mut rx = r.node.events().subscribe();
    let actor = r.node.topology().producer(&faulty).unwrap().actor;
    actor.cast(crate::producer::ProducerMsg::Panic).unwrap();
    let seen = wait_for(&mut rx, &["failed", "producerclose"], 2).await;
    assert_eq!(targets(&seen, "failed"), vec![faulty.clone()]);
    assert!(seen.iter().any(|n| n.event == "failed"
        && n.data["reason"]
            .as_str()
            .unwrap()
            .contains("injected producer fault")));
    assert_eq!(targets(&seen, "producerclose"), vec![c_faulty]);
    assert_eq!(r.node.metrics().failures_of("producer", "failed"), 1);
    // The sibling, its consumer, the transports and the router carry on.
    r.node.producer_pause(&sibling, true).await.unwrap();
    assert!(r.node.consumer_dump(&c_sibling).await.is_ok());
    assert_eq!(
        r.node.transport_dump(&t1).await.unwrap().producer_ids,
        vec![sibling]
    );
    let t3 = r.transport().await;
    assert!(r.node.transport_dump(&t3).await.is_ok());
}

#[tokio::test]
async fn a_panicking_transport_takes_only_its_dependents() {
    let r = room().await;
    let (faulty, healthy) = (r.transport().await, r.transport().await);
    let p_on_faulty = r.produce(&faulty, 1000).await;
    let p_on_healthy = r.produce(&healthy, 2000).await;
    let c_on_faulty = r.consume(&faulty, &p_on_healthy).await;
    let c_of_faulty_producer = r.consume(&healthy, &p_on_faulty).await;
    let c_healthy = r.consume(&healthy, &p_on_healthy).await;
    let mut rx = r.node.events().subscribe();
    let actor = r.node.topology().transport(&faulty).unwrap().actor;
    actor.cast(crate::transport::TransportMsg::Panic).unwrap();
    let seen = wait_for(&mut rx, &["failed", "transportclose", "producerclose"], 4).await;
    assert_eq!(targets(&seen, "failed"), vec![faulty.clone()]);
    assert_eq!(
        targets(&seen, "transportclose"),
        sorted(vec![p_on_faulty, c_on_faulty])
    );
    assert_eq!(targets(&seen, "producerclose"), vec![c_of_faulty_producer]);
    assert_eq!(r.node.metrics().failures_of("transport", "failed"), 1);
    assert_eq!(r.node.metrics().alive("webrtc_transport"), 1);
    let dump = r.node.transport_dump(&healthy).await.unwrap();
    assert_eq!(dump.consumer_ids, vec![c_healthy]);
    assert_eq!(dump.producer_ids, vec![p_on_healthy]);
}

#[tokio::test]
async fn a_panicking_consumer_or_router_is_contained() {
    let r = room().await;
    let t = r.transport().await;
    let p = r.produce(&t, 1000).await;
    let faulty = r.consume(&t, &p).await;
    let sibling = r.consume(&t, &p).await;
    let mut rx = r.node.events().subscribe();
    r.node
        .topology()
        .consumer(&faulty)
        .unwrap()
        .actor
        .cast(crate::consumer::ConsumerMsg::Panic)
        .unwrap();
    let seen = wait_for(&mut rx, &["failed"], 1).await;
    assert_eq!(seen[0].target_id, faulty);
    assert_eq!(
        r.node.producer_dump(&p).await.unwrap().consumer_ids,
        vec![sibling]
    );

    let other = r
        .node
        .create_router(None, None, json!({}))
        .await
        .unwrap()
        .id;
    r.node
        .topology()
        .router(&r.router)
        .unwrap()
        .actor
        .cast(crate::router::RouterMsg::Panic)
        .unwrap();
    let seen = wait_for(&mut rx, &["failed"], 1).await;
    assert_eq!(seen[0].target_id, r.router);
    assert!(r.node.producer_dump(&p).await.is_err());
    assert!(r.node.router_dump(&other).await.is_ok());
    assert!(r.node.is_alive());
    assert_eq!(r.node.metrics().failures_of("router", "failed"), 1);
}

#[tokio::test]
async fn producer_pause_reaches_consumers_as_events() {
    let r = room().await;
    let t = r.transport().await;
    let p = r.produce(&t, 1000).await;
    let c = r.consume(&t, &p).await;
    let mut rx = r.node.events().subscribe();
    r.node.producer_pause(&p, true).await.unwrap();
    let seen = wait_for(&mut rx, &["producerpause"], 1).await;
    assert_eq!(seen[0].target_id, c);
    assert!(r.node.consumer_dump(&c).await.unwrap().producer_paused);
    // A consumer created while the producer is paused knows it.
    let created = r.node.consume(&t, r.consume_request(&p)).await.unwrap();
    assert!(created.producer_paused);
    r.node.producer_pause(&p, false).await.unwrap();
    let seen = wait_for(&mut rx, &["producerresume"], 2).await;
    assert_eq!(
        targets(&seen, "producerresume"),
        sorted(vec![c, created.id])
    );
}

#[tokio::test]
async fn rtp_listener_refuses_a_second_producer_with_the_same_ssrc() {
    let r = room().await;
    let t = r.transport().await;
    r.produce(&t, 1000).await;
    let mut again = vp8(1000);
    again.rtp_parameters.mid = Some("other".into());
    let err = r.node.produce(&t, again).await.unwrap_err();
    assert!(
        matches!(err, ActorError::InvalidParameter { ref field, .. } if field == "rtpParameters.encodings[0].ssrc"),
        "{err:?}"
    );
    // Consumers get distinct mids on a WebRTC transport.
    let p = r.produce(&t, 3000).await;
    let a = r.node.consume(&t, r.consume_request(&p)).await.unwrap();
    let b = r.node.consume(&t, r.consume_request(&p)).await.unwrap();
    assert_ne!(a.rtp_parameters.mid, b.rtp_parameters.mid);
}
