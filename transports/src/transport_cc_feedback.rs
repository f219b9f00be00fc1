//! The receiving side of transport-wide congestion control
//! (draft-holmer-rmcat-transport-wide-cc-extensions-01): remembers when each
//! transport-wide sequence number arrived and reports it to the sender in
//! feedback packets, from which the sender's congestion controller
//! (Chrome's GoogCC) estimates what the path can carry. Without this
//! feedback Chrome sees no acknowledgements and backs off to its floor.
//!
//! Like libwebrtc's RemoteEstimatorProxy in its periodic mode: every call to
//! `poll` reports everything from the first number not reported yet up to
//! the highest received; a packet that arrives after its number was
//! reported as lost is not reported again.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rtcp::transport_feedbacks::transport_layer_cc::{
    PacketStatusChunk, RecvDelta, RunLengthChunk, StatusChunkTypeTcc, StatusVectorChunk,
    SymbolSizeTypeTcc, SymbolTypeTcc, TransportLayerCc,
};
use shared::marshal::Marshal;

/// How often feedback goes to the sender (mediasoup's and libwebrtc's
/// default cadence).
pub const FEEDBACK_INTERVAL: Duration = Duration::from_millis(100);

/// Arrivals remembered; older ones are forgotten first, so a sender that
/// never lets us report cannot grow this without bound.
const MAX_ARRIVALS: usize = 8_192;

/// Packet statuses in one feedback packet: keeps it well inside one MTU
/// (each received packet costs at most 2 bytes of delta, 7 statuses 2 bytes).
const MAX_STATUSES_PER_FEEDBACK: usize = 400;

/// Receive deltas are in units of 250 µs, the reference time of 64 ms.
const DELTA_TICK_US: i64 = 250;
const TICKS_PER_REFERENCE: i64 = 64_000 / DELTA_TICK_US;

#[derive(Debug)]
pub struct TransportCcFeedback {
    sender_ssrc: u32,
    media_ssrc: u32,
    /// Arrival times are measured from here.
    epoch: Instant,
    /// Unwrapped sequence number → arrival, in 250 µs ticks since `epoch`.
    arrivals: BTreeMap<i64, i64>,
    highest: Option<i64>,
    /// The first sequence number not reported yet, once one feedback went out.
    reported_until: Option<i64>,
    feedback_count: u8,
    last_feedback: Option<Instant>,
}

impl TransportCcFeedback {
    pub fn new(sender_ssrc: u32, now: Instant) -> Self {
        TransportCcFeedback {
            sender_ssrc,
            media_ssrc: 0,
            epoch: now,
            arrivals: BTreeMap::new(),
            highest: None,
            reported_until: None,
            feedback_count: 0,
            last_feedback: None,
        }
    }

    /// A packet carrying transport-wide sequence number `sequence` arrived.
    pub fn on_packet(&mut self, sequence: u16, media_ssrc: u32, arrival: Instant) {
        let unwrapped = match self.highest {
            None => i64::from(sequence),
            Some(highest) => {
                let delta = sequence.wrapping_sub(highest as u16) as i16;
                highest + i64::from(delta)
            }
        };
        if self.reported_until.is_some_and(|until| unwrapped < until) {
            // Already reported as lost; the sender has moved on.
            return;
        }
        self.media_ssrc = media_ssrc;
        self.highest = Some(self.highest.map_or(unwrapped, |h| h.max(unwrapped)));
        let ticks =
            (arrival.saturating_duration_since(self.epoch).as_micros() as i64) / DELTA_TICK_US;
        self.arrivals.entry(unwrapped).or_insert(ticks);
        while self.arrivals.len() > MAX_ARRIVALS {
            if let Some((oldest, _)) = self.arrivals.pop_first() {
                self.reported_until = Some(self.reported_until.unwrap_or(oldest).max(oldest + 1));
            }
        }
    }

    /// Feedback packets due now (empty until `FEEDBACK_INTERVAL` has passed
    /// since the last, or when nothing new arrived).
    pub fn poll(&mut self, now: Instant) -> Vec<Vec<u8>> {
        if self
            .last_feedback
            .is_some_and(|t| now.saturating_duration_since(t) < FEEDBACK_INTERVAL)
        {
            return Vec::new();
        }
        self.last_feedback = Some(now);
        let mut out = Vec::new();
        while let Some(packet) = self.next_feedback() {
            out.push(packet);
        }
        out
    }

    /// One feedback packet from the first number not reported yet, as far
    /// as one can reach.
    fn next_feedback(&mut self) -> Option<Vec<u8>> {
        let highest = self.highest?;
        let (&first_received, &first_arrival) = self.arrivals.first_key_value()?;
        let mut base = self.reported_until.unwrap_or(first_received);
        if first_received - base >= MAX_STATUSES_PER_FEEDBACK as i64 {
            // A long gap says nothing the sender can use; skip to news.
            base = first_received;
        }
        // The reference time comes from the first packet that arrived;
        // numbers before it are reported lost.
        let reference_time = first_arrival.div_euclid(TICKS_PER_REFERENCE);
        let mut previous = reference_time * TICKS_PER_REFERENCE;
        let mut symbols = Vec::new();
        let mut deltas = Vec::new();
        let mut end = base;
        for sequence in base..=highest {
            if symbols.len() == MAX_STATUSES_PER_FEEDBACK {
                break;
            }
            let Some(&arrival) = self.arrivals.get(&sequence) else {
                symbols.push(SymbolTypeTcc::PacketNotReceived);
                end = sequence + 1;
                continue;
            };
            let delta = arrival - previous;
            let symbol = if (0..=255).contains(&delta) {
                SymbolTypeTcc::PacketReceivedSmallDelta
            } else if (i64::from(i16::MIN)..=i64::from(i16::MAX)).contains(&delta) {
                SymbolTypeTcc::PacketReceivedLargeDelta
            } else {
                // Too far from the previous one: it starts the next packet.
                break;
            };
            symbols.push(symbol);
            deltas.push(RecvDelta {
                type_tcc_packet: symbol,
                delta: delta * DELTA_TICK_US,
            });
            previous = arrival;
            end = sequence + 1;
        }
        let feedback = TransportLayerCc {
            sender_ssrc: self.sender_ssrc,
            media_ssrc: self.media_ssrc,
            base_sequence_number: base as u16,
            packet_status_count: symbols.len() as u16,
            // 24 bits on the wire.
            reference_time: (reference_time & 0x00ff_ffff) as u32,
            fb_pkt_count: self.feedback_count,
            packet_chunks: encode_chunks(&symbols),
            recv_deltas: deltas,
        };
        self.feedback_count = self.feedback_count.wrapping_add(1);
        self.reported_until = Some(end);
        self.arrivals = self.arrivals.split_off(&end);
        feedback.marshal().ok().map(|b| b.to_vec())
    }
}

/// Packet status chunks: a run-length chunk where 7 or more statuses repeat,
/// else a two-bit status vector of the next 7.
fn encode_chunks(symbols: &[SymbolTypeTcc]) -> Vec<PacketStatusChunk> {
    const VECTOR_SYMBOLS: usize = 7;
    const MAX_RUN: usize = 0x1fff;
    let mut chunks = Vec::new();
    let mut i = 0;
    while i < symbols.len() {
        let run = symbols[i..]
            .iter()
            .take(MAX_RUN)
            .take_while(|s| **s == symbols[i])
            .count();
        if run >= VECTOR_SYMBOLS {
            chunks.push(PacketStatusChunk::RunLengthChunk(RunLengthChunk {
                type_tcc: StatusChunkTypeTcc::RunLengthChunk,
                packet_status_symbol: symbols[i],
                run_length: run as u16,
            }));
            i += run;
        } else {
            let end = (i + VECTOR_SYMBOLS).min(symbols.len());
            chunks.push(PacketStatusChunk::StatusVectorChunk(StatusVectorChunk {
                type_tcc: StatusChunkTypeTcc::StatusVectorChunk,
                symbol_size: SymbolSizeTypeTcc::TwoBit,
                symbol_list: symbols[i..end].to_vec(),
            }));
            i = end;
        }
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use shared::marshal::Unmarshal;

    fn parse(packet: &[u8]) -> TransportLayerCc {
        TransportLayerCc::unmarshal(&mut Bytes::copy_from_slice(packet)).expect("valid feedback")
    }

    /// (sequence, arrival in µs after the first reference) as the sender
    /// would reconstruct them from a feedback packet.
    fn decode(feedback: &TransportLayerCc) -> Vec<(u16, Option<i64>)> {
        let mut statuses = Vec::new();
        for chunk in &feedback.packet_chunks {
            match chunk {
                PacketStatusChunk::RunLengthChunk(r) => {
                    statuses.extend(std::iter::repeat_n(
                        r.packet_status_symbol,
                        r.run_length as usize,
                    ));
                }
                PacketStatusChunk::StatusVectorChunk(v) => statuses.extend(&v.symbol_list),
            }
        }
        statuses.truncate(feedback.packet_status_count as usize);
        let mut time = i64::from(feedback.reference_time) * 64_000;
        let mut deltas = feedback.recv_deltas.iter();
        statuses
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let sequence = feedback.base_sequence_number.wrapping_add(i as u16);
                if *s == SymbolTypeTcc::PacketNotReceived {
                    (sequence, None)
                } else {
                    time += deltas.next().expect("a delta per received packet").delta;
                    (sequence, Some(time))
                }
            })
            .collect()
    }

    #[test]
    fn every_arrival_is_reported_once_with_its_time() {
        let start = Instant::now();
        let mut feedback = TransportCcFeedback::new(7, start);
        for i in 0..10u16 {
            let at = start + Duration::from_millis(u64::from(i) * 5);
            feedback.on_packet(65_530u16.wrapping_add(i), 99, at);
        }
        let packets = feedback.poll(start + Duration::from_millis(60));
        assert_eq!(packets.len(), 1);
        let parsed = parse(&packets[0]);
        assert_eq!(parsed.sender_ssrc, 7);
        assert_eq!(parsed.media_ssrc, 99);
        assert_eq!(parsed.base_sequence_number, 65_530);
        assert_eq!(parsed.packet_status_count, 10);
        let decoded = decode(&parsed);
        for (i, (sequence, time)) in decoded.iter().enumerate() {
            assert_eq!(*sequence, 65_530u16.wrapping_add(i as u16));
            assert_eq!(*time, Some(i as i64 * 5_000), "packet {i}");
        }
        // Nothing new: nothing to say, even once the interval has passed.
        assert!(feedback.poll(start + Duration::from_millis(200)).is_empty());
    }

    #[test]
    fn losses_are_reported_once_and_late_arrivals_ignored() {
        let start = Instant::now();
        let mut feedback = TransportCcFeedback::new(1, start);
        for sequence in [100u16, 101, 104, 105] {
            feedback.on_packet(
                sequence,
                1,
                start + Duration::from_millis(u64::from(sequence)),
            );
        }
        let parsed = parse(&feedback.poll(start + Duration::from_millis(200))[0]);
        let decoded = decode(&parsed);
        let received: Vec<bool> = decoded.iter().map(|(_, t)| t.is_some()).collect();
        assert_eq!(received, [true, true, false, false, true, true]);
        // 106 never came; 107 did: the next feedback starts at 106, lost.
        feedback.on_packet(107, 1, start + Duration::from_millis(300));
        // 102 arrives late, after being reported lost: not reported again.
        feedback.on_packet(102, 1, start + Duration::from_millis(301));
        let parsed = parse(&feedback.poll(start + Duration::from_millis(400))[0]);
        assert_eq!(parsed.base_sequence_number, 106);
        let decoded = decode(&parsed);
        assert_eq!(decoded, [(106, None), (107, Some(300_000))]);
    }

    #[test]
    fn feedback_waits_for_its_interval() {
        let start = Instant::now();
        let mut feedback = TransportCcFeedback::new(1, start);
        feedback.on_packet(1, 1, start);
        assert_eq!(feedback.poll(start).len(), 1);
        feedback.on_packet(2, 1, start + Duration::from_millis(10));
        assert!(feedback.poll(start + Duration::from_millis(50)).is_empty());
        assert_eq!(feedback.poll(start + FEEDBACK_INTERVAL).len(), 1);
    }

    #[test]
    fn long_runs_and_large_gaps_split_into_valid_packets() {
        let start = Instant::now();
        let mut feedback = TransportCcFeedback::new(1, start);
        // 1,000 packets 1 ms apart, then one 10 s later (beyond a delta).
        for i in 0..1_000u16 {
            feedback.on_packet(i, 1, start + Duration::from_millis(u64::from(i)));
        }
        feedback.on_packet(1_000, 1, start + Duration::from_secs(11));
        let packets = feedback.poll(start + Duration::from_secs(12));
        assert!(packets.len() >= 4, "{} packets", packets.len());
        let mut reported = Vec::new();
        for packet in &packets {
            assert!(packet.len() <= 1_200);
            for (sequence, time) in decode(&parse(packet)) {
                reported.push((sequence, time.expect("all arrived")));
            }
        }
        assert_eq!(reported.len(), 1_001);
        for (i, (sequence, time)) in reported.iter().enumerate().take(1_000) {
            assert_eq!(usize::from(*sequence), i);
            assert_eq!(*time, i as i64 * 1_000);
        }
        assert_eq!(reported[1_000].1, 11_000_000);
    }

    #[test]
    fn reordered_packets_get_negative_deltas() {
        let start = Instant::now();
        let mut feedback = TransportCcFeedback::new(1, start);
        feedback.on_packet(11, 1, start + Duration::from_millis(1));
        feedback.on_packet(10, 1, start + Duration::from_millis(3));
        let decoded = decode(&parse(&feedback.poll(start + Duration::from_millis(5))[0]));
        assert_eq!(decoded, [(10, Some(3_000)), (11, Some(1_000))]);
    }

    #[test]
    fn a_flood_of_numbers_stays_bounded() {
        let start = Instant::now();
        let mut feedback = TransportCcFeedback::new(1, start);
        for i in 0..50_000u32 {
            feedback.on_packet((i * 3) as u16, 1, start);
        }
        assert!(feedback.arrivals.len() <= MAX_ARRIVALS);
        for packet in feedback.poll(start) {
            parse(&packet);
        }
    }
}
