//! Groups packets sent close together (a frame, a burst) and compares
//! consecutive groups: how much later the second arrived than it was sent,
//! relative to the first. A growing difference means a queue is building
//! on the path (libwebrtc's InterArrival).

/// Packets sent within this of a group's first belong to the group.
const GROUP_LENGTH_MS: f64 = 5.0;
/// A packet arriving this soon after the group's last, and earlier than its
/// send time says it should, came in the same burst.
const BURST_DELTA_MS: f64 = 5.0;
/// Arrival and send clocks this far apart mean a reset (a new sender, a
/// long pause).
const RESET_THRESHOLD_MS: f64 = 3_000.0;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Group {
    first_send_ms: f64,
    last_send_ms: f64,
    last_arrival_ms: f64,
    size: u64,
}

impl Group {
    fn starting(send_ms: f64, arrival_ms: f64, size: u64) -> Group {
        Group {
            first_send_ms: send_ms,
            last_send_ms: send_ms,
            last_arrival_ms: arrival_ms,
            size,
        }
    }
}

/// The difference between two consecutive groups.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupDelta {
    pub send_delta_ms: f64,
    pub arrival_delta_ms: f64,
    /// When the later group's last packet arrived.
    pub arrival_ms: f64,
    pub size_delta: i64,
}

#[derive(Debug, Default)]
pub struct InterArrival {
    current: Option<Group>,
    previous: Option<Group>,
}

impl InterArrival {
    pub fn new() -> Self {
        Self::default()
    }

    /// A packet sent at `send_ms` (the sender's clock), arrived at
    /// `arrival_ms` (ours). Returns the delta between the two groups before
    /// it once a new group starts.
    pub fn on_packet(&mut self, send_ms: f64, arrival_ms: f64, size: usize) -> Option<GroupDelta> {
        let size = size as u64;
        let Some(current) = self.current.as_mut() else {
            self.current = Some(Group::starting(send_ms, arrival_ms, size));
            return None;
        };
        if send_ms < current.first_send_ms {
            // Reordered from before this group: says nothing new.
            return None;
        }
        let in_group = send_ms - current.first_send_ms <= GROUP_LENGTH_MS;
        let arrival_delta = arrival_ms - current.last_arrival_ms;
        let propagation_delta = arrival_delta - (send_ms - current.last_send_ms);
        let in_burst = arrival_delta <= BURST_DELTA_MS && propagation_delta < 0.0;
        if in_group || in_burst {
            current.last_send_ms = current.last_send_ms.max(send_ms);
            current.last_arrival_ms = current.last_arrival_ms.max(arrival_ms);
            current.size += size;
            return None;
        }
        let finished = *current;
        let delta = self.previous.and_then(|previous| {
            let delta = GroupDelta {
                send_delta_ms: finished.last_send_ms - previous.last_send_ms,
                arrival_delta_ms: finished.last_arrival_ms - previous.last_arrival_ms,
                arrival_ms: finished.last_arrival_ms,
                size_delta: finished.size as i64 - previous.size as i64,
            };
            let clocks_apart =
                (delta.arrival_delta_ms - delta.send_delta_ms).abs() > RESET_THRESHOLD_MS;
            (!clocks_apart && delta.arrival_delta_ms >= 0.0).then_some(delta)
        });
        self.previous = Some(finished);
        self.current = Some(Group::starting(send_ms, arrival_ms, size));
        delta
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_of_a_frame_form_one_group() {
        let mut groups = InterArrival::new();
        // Frames every 33 ms of 3 packets 1 ms apart, 10 ms of path delay.
        let mut deltas = Vec::new();
        for frame in 0..4 {
            for packet in 0..3 {
                let send = f64::from(frame * 33 + packet);
                if let Some(d) = groups.on_packet(send, send + 10.0, 1000) {
                    deltas.push(d);
                }
            }
        }
        assert_eq!(
            deltas.len(),
            2,
            "frames 0-1 and 1-2, each known when the next starts"
        );
        for d in deltas {
            assert_eq!(d.send_delta_ms, 33.0);
            assert_eq!(d.arrival_delta_ms, 33.0);
            assert_eq!(d.size_delta, 0);
        }
    }

    #[test]
    fn a_growing_queue_shows_as_arrival_deltas_above_send_deltas() {
        let mut groups = InterArrival::new();
        let mut last = None;
        for frame in 0..5 {
            let send = f64::from(frame * 20);
            // Each frame waits 2 ms longer than the one before.
            if let Some(d) = groups.on_packet(send, send + 10.0 + f64::from(frame * 2), 1200) {
                last = Some(d);
            }
        }
        let d = last.unwrap();
        assert_eq!(d.arrival_delta_ms - d.send_delta_ms, 2.0);
    }

    #[test]
    fn a_burst_after_a_stall_joins_the_group() {
        let mut groups = InterArrival::new();
        groups.on_packet(0.0, 100.0, 100);
        // Sent 20 ms later but arrived 1 ms later: queued behind the first.
        assert_eq!(groups.on_packet(20.0, 101.0, 100), None);
        assert!(groups.on_packet(40.0, 140.0, 100).is_none());
        let d = groups.on_packet(60.0, 160.0, 100).unwrap();
        assert_eq!(d.send_delta_ms, 20.0);
    }
}
