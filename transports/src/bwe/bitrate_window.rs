//! The bitrate of what passed over the last second (libwebrtc's
//! RateStatistics), from byte counts at times.

use std::collections::VecDeque;

const WINDOW_MS: f64 = 1_000.0;
/// Less than this much history gives no rate yet.
const MIN_SPAN_MS: f64 = 500.0;
/// Entries kept at most (a packet every 0.1 ms for a second): bounded
/// however fast packets come.
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Default)]
pub struct BitrateWindow {
    entries: VecDeque<(f64, u64)>,
    bytes: u64,
    first_ms: Option<f64>,
}

impl BitrateWindow {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, now_ms: f64, bytes: usize) {
        self.first_ms.get_or_insert(now_ms);
        self.entries.push_back((now_ms, bytes as u64));
        self.bytes += bytes as u64;
        if self.entries.len() > MAX_ENTRIES {
            if let Some((_, old)) = self.entries.pop_front() {
                self.bytes -= old;
            }
        }
        self.expire(now_ms);
    }

    fn expire(&mut self, now_ms: f64) {
        while let Some(&(at, bytes)) = self.entries.front() {
            if now_ms - at <= WINDOW_MS {
                break;
            }
            self.entries.pop_front();
            self.bytes -= bytes;
        }
    }

    /// Bits per second over the last second, once half a second was seen.
    pub fn rate(&mut self, now_ms: f64) -> Option<u64> {
        self.expire(now_ms);
        let span = now_ms - self.first_ms?;
        if span < MIN_SPAN_MS {
            return None;
        }
        Some((self.bytes as f64 * 8_000.0 / span.min(WINDOW_MS)) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_the_last_second() {
        let mut window = BitrateWindow::new();
        // 1,250 bytes every 10 ms: 1 Mb/s.
        for i in 0..300 {
            window.add(f64::from(i) * 10.0, 1_250);
        }
        let rate = window.rate(2_990.0).unwrap();
        assert!((990_000..=1_010_000).contains(&rate), "{rate}");
        // Silence empties it.
        assert_eq!(window.rate(5_000.0), Some(0));
    }

    #[test]
    fn no_rate_from_too_little_history() {
        let mut window = BitrateWindow::new();
        window.add(0.0, 100);
        assert_eq!(window.rate(100.0), None);
    }
}
