//! The packet path without sockets: one producer's packets through the
//! fan-out (split over helper threads from `SPLIT_AT` consumers on, at a
//! high enough rate) into
//! transports that keep what they are given.

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use prometheus_client::registry::Registry;
use serde_json::json;
use troupe_transports::rtp_packet::RtpHeader;

use crate::media::consumer_media::ConsumerMedia;
use crate::media::fan_out::FanOutPool;
use crate::media::fan_out_list::FanOutList;
use crate::media::fan_out_load::{SPLIT_AT, WINDOW_MS};
use crate::media::media_events::{MediaContext, MediaEvents};
use crate::media::producer_media::ProducerMedia;
use crate::media::producer_shared::{ProducerShared, ProducerType};
use crate::media::transport_core::{MediaTransport, TransportCore};
use crate::metrics::ActorMetrics;
use crate::object_kind::{CloseCause, ObjectKind};
use crate::rtp_parameters::{CodecMapping, MediaKind, RtpMapping, RtpParameters};
use crate::stats::StreamCounters;

const PRODUCER_SSRC: u32 = 1111;
const PRODUCER_PAYLOAD_TYPE: u8 = 101;
const ROUTER_PAYLOAD_TYPE: u8 = 96;

/// A transport that keeps every RTP packet it is asked to send.
struct KeepingTransport {
    core: TransportCore,
    sent: Mutex<Vec<Vec<u8>>>,
}

impl MediaTransport for KeepingTransport {
    fn core(&self) -> &TransportCore {
        &self.core
    }

    fn send_rtp(&self, packet: &[u8]) -> bool {
        self.sent.lock().unwrap().push(packet.to_vec());
        true
    }

    fn send_rtcp(&self, _packet: &[u8]) -> bool {
        true
    }
}

fn vp8_parameters(ssrc: u32, payload_type: u8) -> RtpParameters {
    serde_json::from_value(json!({
        "codecs": [{"mimeType": "video/VP8", "payloadType": payload_type, "clockRate": 90000}],
        "encodings": [{"ssrc": ssrc}],
    }))
    .unwrap()
}

/// The fan-out has nothing to report here.
struct NoEvents;

impl MediaEvents for NoEvents {
    fn emit(&self, _: &str, _: ObjectKind, _: &str, _: Option<&str>, _: serde_json::Value) {}
    fn close(&self, _: ObjectKind, _: &str, _: CloseCause) {}
}

struct Room {
    producer: Arc<ProducerMedia>,
    consumers: Vec<(Arc<ConsumerMedia>, Arc<KeepingTransport>)>,
}

fn room(consumer_count: usize) -> Room {
    room_of(
        consumer_count,
        vp8_parameters(PRODUCER_SSRC, ROUTER_PAYLOAD_TYPE),
    )
}

/// Consumers that answer NACKs (generic NACK feedback, no RTX).
fn room_answering_nacks(consumer_count: usize) -> Room {
    let mut parameters = vp8_parameters(PRODUCER_SSRC, ROUTER_PAYLOAD_TYPE);
    parameters.codecs[0].rtcp_feedback =
        serde_json::from_value(json!([{"type": "nack", "parameter": ""}])).unwrap();
    room_of(consumer_count, parameters)
}

/// `consumer_parameters` with each consumer's own SSRC.
fn room_of(consumer_count: usize, consumer_parameters: RtpParameters) -> Room {
    let ctx = MediaContext {
        events: Arc::new(NoEvents),
        metrics: ActorMetrics::register(&mut Registry::default()),
    };
    let shared = Arc::new(ProducerShared {
        id: "producer".into(),
        kind: MediaKind::Video,
        producer_type: ProducerType::Simple,
        rtp_parameters: vp8_parameters(PRODUCER_SSRC, PRODUCER_PAYLOAD_TYPE),
        consumable_rtp_parameters: vp8_parameters(PRODUCER_SSRC, ROUTER_PAYLOAD_TYPE),
        rtp_mapping: RtpMapping {
            codecs: vec![CodecMapping {
                payload_type: PRODUCER_PAYLOAD_TYPE,
                mapped_payload_type: ROUTER_PAYLOAD_TYPE,
            }],
            encodings: Vec::new(),
        },
        counters: vec![StreamCounters::default()],
    });
    let producer = ProducerMedia::new(shared, None, &[], ctx.metrics.clone(), false);
    let consumers = (0..consumer_count)
        .map(|i| {
            let transport = Arc::new(KeepingTransport {
                core: TransportCore::new(ctx.clone(), &format!("transport-{i}"), "router"),
                sent: Mutex::new(Vec::new()),
            });
            let endpoint: Arc<dyn MediaTransport> = transport.clone();
            let endpoint: Weak<dyn MediaTransport> = Arc::downgrade(&endpoint);
            let mut parameters = consumer_parameters.clone();
            parameters.encodings[0].ssrc = Some(50_000 + i as u32);
            let consumer = ConsumerMedia::new(
                &format!("consumer-{i}"),
                &parameters,
                MediaKind::Video,
                &producer,
                endpoint,
                false,
                false,
                None,
            );
            producer.add_consumer(consumer.clone());
            (consumer, transport)
        })
        .collect();
    Room {
        producer,
        consumers,
    }
}

/// A VP8 key-frame packet whose payload carries its index.
fn key_frame_packet(sequence: u16) -> Vec<u8> {
    let mut packet = vec![0x80, PRODUCER_PAYLOAD_TYPE];
    packet.extend_from_slice(&sequence.to_be_bytes());
    packet.extend_from_slice(&(u32::from(sequence) * 3000).to_be_bytes());
    packet.extend_from_slice(&PRODUCER_SSRC.to_be_bytes());
    // VP8 descriptor (start of partition) and a key frame's tag (P bit 0).
    packet.extend_from_slice(&[0x10, 0x00]);
    packet.extend_from_slice(&sequence.to_be_bytes());
    packet.extend_from_slice(&[7; 100]);
    packet
}

/// `packets` packets, `spacing` apart as the producer sees them.
fn send(room: &Room, packets: u16, spacing: Duration) {
    let start = Instant::now();
    for (i, sequence) in (1000..1000 + packets).enumerate() {
        let packet = key_frame_packet(sequence);
        let header = RtpHeader::parse(&packet).unwrap();
        room.producer
            .receive(&packet, header, 0, start + spacing * i as u32);
    }
}

/// Waits for the helper threads to finish their shares.
fn wait_for_all(room: &Room, packets: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let done = room
            .consumers
            .iter()
            .all(|(_, t)| t.sent.lock().unwrap().len() >= packets);
        if done {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Every consumer got every packet once, in order, rewritten for it.
fn assert_each_consumer_got_the_stream(room: &Room, packets: u16) {
    for (consumer, transport) in &room.consumers {
        let sent = transport.sent.lock().unwrap();
        assert_eq!(sent.len(), usize::from(packets), "{}", consumer.id);
        let first = RtpHeader::parse(&sent[0]).unwrap();
        for (i, packet) in sent.iter().enumerate() {
            let header = RtpHeader::parse(packet).unwrap();
            assert_eq!(header.ssrc, consumer.ssrc);
            assert_eq!(header.payload_type, ROUTER_PAYLOAD_TYPE);
            assert_eq!(
                header.sequence_number,
                first.sequence_number.wrapping_add(i as u16),
                "{}: copies in order, without gaps",
                consumer.id
            );
            assert_eq!(
                header.timestamp,
                first.timestamp.wrapping_add(i as u32 * 3000)
            );
            let payload = header.payload(packet);
            assert_eq!(&payload[2..4], &(1000 + i as u16).to_be_bytes());
            assert_eq!(payload.len(), 104);
        }
    }
}

#[test]
fn a_small_fan_out_runs_on_the_receiving_thread() {
    let room = room(5);
    send(&room, 400, Duration::from_millis(1));
    // No helper involved: everything is there when `receive` returns.
    assert!(!room.producer.fan_out_load.is_split());
    assert_each_consumer_got_the_stream(&room, 400);
}

#[test]
fn a_large_fan_out_at_a_low_rate_runs_on_the_receiving_thread() {
    // 250 consumers at 100 packets/s: 25,000 copies/s.
    let room = room(SPLIT_AT + 50);
    send(&room, 60, Duration::from_millis(10));
    assert!(!room.producer.fan_out_load.is_split());
    assert_each_consumer_got_the_stream(&room, 60);
}

#[test]
fn a_split_fan_out_gives_every_consumer_each_packet_once_in_order() {
    // 250 consumers at 1,000 packets/s: 250,000 copies/s, split once a
    // window has been counted; every packet after that is split.
    let room = room(SPLIT_AT + 50);
    let packets = 3 * WINDOW_MS as u16;
    send(&room, packets, Duration::from_millis(1));
    assert!(room.producer.fan_out_load.is_split());
    wait_for_all(&room, usize::from(packets));
    assert_each_consumer_got_the_stream(&room, packets);
}

#[test]
fn a_nacked_copy_is_sent_again_byte_for_byte_from_the_producers_kept_packet() {
    let room = room_answering_nacks(3);
    send(&room, 20, Duration::from_millis(1));
    for (consumer, transport) in &room.consumers {
        let first = transport.sent.lock().unwrap().clone();
        assert_eq!(first.len(), 20);
        let lost = RtpHeader::parse(&first[7]).unwrap().sequence_number;
        // Its header only: the payload is the producer's, kept once.
        assert_eq!(consumer.kept_bytes(lost), Some(12), "{}", consumer.id);
        consumer.on_nack(&[lost]);
        let sent = transport.sent.lock().unwrap();
        assert_eq!(sent.len(), 21, "{}: one copy again", consumer.id);
        assert_eq!(sent[20], first[7], "{}", consumer.id);
    }
}

#[test]
fn a_fan_out_knows_where_each_consumers_next_copy_will_be_kept() {
    // The slot is prefetched a few consumers ahead; a stale address would
    // cost nothing visible but the miss it was to save.
    let answering = room_answering_nacks(2);
    send(&answering, 5, Duration::from_millis(1));
    for (consumer, transport) in &answering.consumers {
        let last = RtpHeader::parse(transport.sent.lock().unwrap().last().unwrap())
            .unwrap()
            .sequence_number;
        assert!(consumer.next_kept_slot_is(last.wrapping_add(1)));
    }
    let not_answering = room(1);
    send(&not_answering, 5, Duration::from_millis(1));
    assert!(!not_answering.consumers[0].0.keeps_copies());
}

#[test]
fn a_copy_older_than_the_producers_history_is_not_sent_again() {
    let room = room_answering_nacks(1);
    let packets = crate::media::producer_media::HISTORY_PACKETS as u16 + 20;
    send(&room, packets, Duration::from_millis(1));
    let (consumer, transport) = &room.consumers[0];
    let first = RtpHeader::parse(&transport.sent.lock().unwrap()[0])
        .unwrap()
        .sequence_number;
    consumer.on_nack(&[first]);
    assert_eq!(transport.sent.lock().unwrap().len(), usize::from(packets));
}

#[test]
fn shares_are_stable_and_cover_every_consumer() {
    let room = room(64);
    for shares in 1..=8 {
        let mut seen = vec![0usize; shares];
        for (consumer, _) in &room.consumers {
            let share = consumer.share(shares);
            assert!(share < shares);
            assert_eq!(share, consumer.share(shares), "the same every time");
            seen[share] += 1;
        }
        assert_eq!(seen.iter().sum::<usize>(), 64);
    }
}

#[test]
fn a_share_without_a_helper_is_handed_back_to_do_inline() {
    let room = room(1);
    let pool = FanOutPool::get();
    let job = crate::media::fan_out::Job {
        producer: room.producer.clone(),
        packet: key_frame_packet(1),
        encoding: 0,
        now: Instant::now(),
        share: 9,
    };
    let returned = pool.submit(job).expect_err("share 9 has no helper");
    assert_eq!(returned.share, 9);
}

#[test]
fn each_consumer_is_in_the_list_of_its_share_until_removed() {
    let room = room(64);
    let mut list = FanOutList::new(3);
    for (consumer, _) in &room.consumers {
        list.push(consumer.clone());
    }
    assert_eq!(list.len(), 64);
    for share in 0..3 {
        assert!(list.share(share).iter().all(|c| c.share(3) == share));
    }
    let total: usize = (0..3).map(|s| list.share(s).len()).sum();
    assert_eq!(total, 64, "every consumer in exactly one list");
    for (consumer, _) in &room.consumers {
        list.remove(consumer);
    }
    assert!(list.is_empty());
    assert!((0..3).all(|s| list.share(s).is_empty()));
}
