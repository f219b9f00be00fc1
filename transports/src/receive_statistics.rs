//! What a receiver knows about an incoming RTP stream (RFC 3550 §6.4.1,
//! A.3, A.8): extended highest sequence number, loss, jitter — for receiver
//! reports, stats and NACKs.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Extends 16-bit sequence numbers with a cycle count.
#[derive(Debug, Default, Clone)]
struct Extender {
    highest: Option<u32>,
}

impl Extender {
    /// The extended number of `seq`, placed nearest the highest seen.
    fn extend(&self, seq: u16) -> u32 {
        let Some(highest) = self.highest else {
            return u32::from(seq);
        };
        let cycles = highest & 0xffff_0000;
        let candidates = [
            cycles.wrapping_sub(0x1_0000),
            cycles,
            cycles.wrapping_add(0x1_0000),
        ];
        candidates
            .iter()
            .map(|c| c | u32::from(seq))
            .min_by_key(|e| (i64::from(*e) - i64::from(highest)).unsigned_abs())
            .unwrap_or(u32::from(seq))
    }
}

/// One NACK entry: a missing packet and how often it was asked for.
#[derive(Debug, Clone)]
struct Missing {
    retries: u8,
    last_sent: Option<Instant>,
}

#[derive(Debug, Clone)]
pub struct ReceiveStatistics {
    clock_rate: u32,
    extender: Extender,
    base: Option<u32>,
    received: u64,
    /// For the fraction lost of the next report.
    expected_prior: u64,
    received_prior: u64,
    jitter: f64,
    last_transit: Option<i64>,
    started_at: Option<Instant>,
    missing: BTreeMap<u32, Missing>,
    pub nack_enabled: bool,
}

/// Give up on a packet after this many NACKs.
const MAX_NACK_RETRIES: u8 = 10;
/// At most this many packets are tracked as missing; older ones are dropped.
const MAX_MISSING: usize = 512;
/// Ask again after this long without the packet.
const NACK_INTERVAL: Duration = Duration::from_millis(40);

/// Report block values for a receiver report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportBlock {
    pub fraction_lost: u8,
    pub total_lost: u32,
    pub extended_highest: u32,
    pub jitter: u32,
}

impl ReceiveStatistics {
    pub fn new(clock_rate: u32, nack_enabled: bool) -> Self {
        ReceiveStatistics {
            clock_rate: clock_rate.max(1),
            extender: Extender::default(),
            base: None,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            jitter: 0.0,
            last_transit: None,
            started_at: None,
            missing: BTreeMap::new(),
            nack_enabled,
        }
    }

    /// Records a packet; returns false for a duplicate or a packet too old
    /// to matter.
    pub fn on_packet(&mut self, seq: u16, rtp_timestamp: u32, now: Instant) -> bool {
        let extended = self.extender.extend(seq);
        let Some(highest) = self.extender.highest else {
            self.extender.highest = Some(extended);
            self.base = Some(extended);
            self.received = 1;
            self.started_at = Some(now);
            self.update_jitter(rtp_timestamp, now);
            return true;
        };
        if extended > highest {
            if self.nack_enabled {
                for lost in highest + 1..extended {
                    self.missing.insert(
                        lost,
                        Missing {
                            retries: 0,
                            last_sent: None,
                        },
                    );
                }
                while self.missing.len() > MAX_MISSING {
                    self.missing.pop_first();
                }
            }
            self.extender.highest = Some(extended);
        } else if self.missing.remove(&extended).is_none() {
            // Neither new nor a packet we were missing: a duplicate.
            if highest - extended < 0x8000 {
                return false;
            }
        }
        self.received += 1;
        self.update_jitter(rtp_timestamp, now);
        true
    }

    fn update_jitter(&mut self, rtp_timestamp: u32, now: Instant) {
        let Some(start) = self.started_at else { return };
        let arrival = (now.duration_since(start).as_secs_f64() * f64::from(self.clock_rate)) as i64;
        let transit = arrival - i64::from(rtp_timestamp);
        if let Some(last) = self.last_transit {
            let d = (transit - last).unsigned_abs() as f64;
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.last_transit = Some(transit);
    }

    pub fn expected(&self) -> u64 {
        match (self.base, self.extender.highest) {
            (Some(b), Some(h)) => u64::from(h - b) + 1,
            _ => 0,
        }
    }

    pub fn lost(&self) -> u64 {
        self.expected().saturating_sub(self.received)
    }

    pub fn received(&self) -> u64 {
        self.received
    }

    /// Values for the next report block; starts a new reporting interval.
    pub fn report(&mut self) -> ReportBlock {
        let expected = self.expected();
        let expected_interval = expected - self.expected_prior;
        let received_interval = self.received - self.received_prior;
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = expected_interval.saturating_sub(received_interval);
        let fraction_lost = (lost_interval << 8)
            .checked_div(expected_interval)
            .map_or(0, |f| f.min(255) as u8);
        ReportBlock {
            fraction_lost,
            total_lost: self.lost().min(0x7f_ffff) as u32,
            extended_highest: self.extender.highest.unwrap_or_default(),
            jitter: self.jitter as u32,
        }
    }

    /// Sequence numbers to NACK now; each is asked for again after an
    /// interval, up to a limit.
    pub fn nacks_due(&mut self, now: Instant) -> Vec<u16> {
        let mut due = Vec::new();
        self.missing.retain(|seq, missing| {
            if missing.retries >= MAX_NACK_RETRIES {
                return false;
            }
            if missing
                .last_sent
                .is_none_or(|t| now.duration_since(t) >= NACK_INTERVAL)
            {
                missing.retries += 1;
                missing.last_sent = Some(now);
                due.push(*seq as u16);
            }
            true
        });
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_is_counted_and_reported_per_interval() {
        let now = Instant::now();
        let mut s = ReceiveStatistics::new(90_000, false);
        for seq in [10u16, 11, 12, 14, 15] {
            assert!(s.on_packet(seq, 0, now));
        }
        assert_eq!(s.expected(), 6);
        assert_eq!(s.lost(), 1);
        let r = s.report();
        assert_eq!((r.total_lost, r.extended_highest), (1, 15));
        assert_eq!(r.fraction_lost, (256 / 6) as u8);
        s.on_packet(16, 0, now);
        assert_eq!(s.report().fraction_lost, 0);
        assert!(!s.on_packet(15, 0, now), "duplicate");
    }

    #[test]
    fn wraparound_extends_the_sequence_number() {
        let now = Instant::now();
        let mut s = ReceiveStatistics::new(48_000, false);
        s.on_packet(65_534, 0, now);
        s.on_packet(65_535, 0, now);
        s.on_packet(0, 0, now);
        s.on_packet(1, 0, now);
        assert_eq!(s.report().extended_highest, 0x1_0001);
        assert_eq!(s.lost(), 0);
    }

    #[test]
    fn missing_packets_are_nacked_until_they_arrive() {
        let start = Instant::now();
        let mut s = ReceiveStatistics::new(90_000, true);
        s.on_packet(1, 0, start);
        s.on_packet(4, 0, start);
        assert_eq!(s.nacks_due(start), vec![2, 3]);
        assert!(s.nacks_due(start + Duration::from_millis(10)).is_empty());
        s.on_packet(2, 0, start);
        assert_eq!(s.nacks_due(start + NACK_INTERVAL), vec![3]);
        assert_eq!(s.lost(), 1);
        let mut later = start;
        for _ in 0..20 {
            later += NACK_INTERVAL;
            s.nacks_due(later);
        }
        assert!(
            s.nacks_due(later + NACK_INTERVAL).is_empty(),
            "given up after the retry limit"
        );
    }
}
