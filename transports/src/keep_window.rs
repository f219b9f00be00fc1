//! How long packets are kept for NACKs, and the rule that sizes the rings
//! keeping them. mediasoup keeps the last 2 s of a video stream; a ring of
//! a fixed size keeps 0.5 s of a 1,000-packet/s stream but 25 s of a
//! 20-packet/s simulcast layer. So a ring starts small and doubles, up to
//! its limit, whenever it would overwrite a packet younger than `KEEP_FOR`:
//! it settles at the size the stream's rate needs, after a few doublings
//! in its first two seconds.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long a packet is kept at least (if its ring may grow to hold it).
pub const KEEP_FOR: Duration = Duration::from_millis(2000);

/// Slots a ring starts with (at most its limit).
pub const FIRST_SLOTS: usize = 64;

/// The first ring's making: no time a ring is given is before it.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Milliseconds since `epoch`, wrapping every 49 days: only differences
/// of a few seconds are taken.
pub fn millis(now: Instant) -> u32 {
    now.saturating_duration_since(epoch()).as_millis() as u32
}

/// Whether a ring of `slots` (limit `limit`) should double rather than
/// overwrite a packet kept at `kept_at` (`millis`) with one kept at `now`.
pub fn should_grow(kept_at: u32, now: u32, slots: usize, limit: usize) -> bool {
    slots < limit && u128::from(now.wrapping_sub(kept_at)) < KEEP_FOR.as_millis()
}

/// The most slots a ring asked for at most `limit` grows to: a power of
/// two (sequence numbers are masked into it) well inside the 16-bit
/// sequence space. Starts the clock, so that no time a ring is given
/// comes before it.
pub fn ring_limit(limit: usize) -> usize {
    epoch();
    limit.clamp(1, 1 << 15).next_power_of_two()
}

/// The size a ring of at most `limit` slots starts at (a power of two).
pub fn first_slots(limit: usize) -> usize {
    FIRST_SLOTS.min(limit.max(1).next_power_of_two())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ring_grows_only_for_young_packets_and_below_its_limit() {
        assert!(should_grow(1_000, 2_999, 64, 512));
        assert!(!should_grow(1_000, 3_000, 64, 512), "2 s old: overwritten");
        assert!(!should_grow(1_000, 1_001, 512, 512), "at the limit");
        // Across the wrap of the millisecond count.
        assert!(should_grow(u32::MAX - 5, 10, 64, 512));
    }

    #[test]
    fn a_ring_limit_is_a_power_of_two_inside_the_sequence_space() {
        assert_eq!(ring_limit(500), 512);
        assert_eq!(ring_limit(0), 1);
        assert_eq!(ring_limit(usize::MAX), 1 << 15);
    }

    #[test]
    fn a_ring_starts_at_its_first_size_or_its_limit() {
        assert_eq!(first_slots(512), FIRST_SLOTS);
        assert_eq!(first_slots(3), 4);
        assert_eq!(first_slots(0), 1);
    }
}
