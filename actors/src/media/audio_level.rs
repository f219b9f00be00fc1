//! What an audio producer's packets say of its loudness: the
//! `ssrc-audio-level` header extension (RFC 6464: bit 7 voice activity,
//! bits 0-6 the level in -dBov, 127 silence), gathered per window for the
//! router's audio observers. Atomics only: it is written on the packet path
//! and read by an observer every few hundred milliseconds.
//!
//! A window's level is the mean of the packets' power, not of their dB
//! figures: a syllable (or Chromium's fake microphone, a 20 ms beep every
//! 500 ms) between silent packets still reads as someone talking, and a
//! muted track (all 127) as silence.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

/// The quietest level RFC 6464 expresses: digital silence.
pub const SILENCE_DBOV: i8 = -127;

/// Power of 0 dBov in the fixed-point sum (1e12 keeps 127 dB of range).
const FULL_SCALE: f64 = 1e12;

#[derive(Debug, Default)]
pub struct AudioLevelMeter {
    power: AtomicU64,
    packets: AtomicU64,
}

/// A window's mean level, in dBov (−127 .. 0), and how many packets it saw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AudioLevel {
    pub dbov: f64,
    pub packets: u64,
}

impl AudioLevelMeter {
    /// One packet's extension value; anything but one byte is ignored.
    pub fn record(&self, value: &[u8]) {
        let [byte] = value else {
            return;
        };
        let level = f64::from(byte & 0x7f);
        let power = FULL_SCALE * 10f64.powf(-level / 10.0);
        self.power.fetch_add(power as u64, Relaxed);
        self.packets.fetch_add(1, Relaxed);
    }

    /// The window since the last take; none if no packet carried a level.
    pub fn take(&self) -> Option<AudioLevel> {
        let packets = self.packets.swap(0, Relaxed);
        let power = self.power.swap(0, Relaxed);
        if packets == 0 {
            return None;
        }
        let mean = power as f64 / packets as f64 / FULL_SCALE;
        let dbov = if mean > 0.0 {
            (10.0 * mean.log10()).max(f64::from(SILENCE_DBOV))
        } else {
            f64::from(SILENCE_DBOV)
        };
        Some(AudioLevel { dbov, packets })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_is_the_mean_power_and_starts_again() {
        let meter = AudioLevelMeter::default();
        assert_eq!(meter.take(), None);
        meter.record(&[0x80 | 20]);
        meter.record(&[20]);
        meter.record(&[1, 2]);
        let level = meter.take().unwrap();
        assert_eq!(level.packets, 2);
        assert!((level.dbov + 20.0).abs() < 0.01, "{level:?}");
        assert_eq!(meter.take(), None);
        // One loud packet in 25 silent ones is someone talking; all silent
        // is silence.
        meter.record(&[20]);
        for _ in 0..24 {
            meter.record(&[127]);
        }
        let beep = meter.take().unwrap().dbov;
        assert!((-36.0..-32.0).contains(&beep), "{beep}");
        for _ in 0..25 {
            meter.record(&[127]);
        }
        assert!(meter.take().unwrap().dbov <= -110.0);
    }
}
