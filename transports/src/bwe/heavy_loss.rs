//! A link that drops most of what is sent (a policer, a full buffer) says
//! at once what it carries: what arrived. The loss-based estimate judges
//! once a second and the delay trend needs a queue it can see; meanwhile a
//! stream three times too big went on for half a second (recorded: 18 of
//! 25 packets lost). Reports are gathered for a moment, since a browser's
//! feedback may cover only a packet or two.

/// More than this share lost is heavy loss...
const HEAVY_LOSS: f64 = 0.25;
/// ...judged over at least this many packets, and this much arrival time.
const MIN_PACKETS: u32 = 10;
const MIN_SPAN_MS: f64 = 40.0;
/// Reports older than this are not gathered with newer ones.
const WINDOW_MS: f64 = 500.0;

#[derive(Debug, Default)]
pub struct HeavyLoss {
    started_ms: Option<f64>,
    lost: u32,
    total: u32,
    arrived_bytes: usize,
    /// First and last arrival (the receiver's clock, ms).
    arrivals: Option<(f64, f64)>,
}

impl HeavyLoss {
    /// One report: `lost` of `total` packets, `arrived_bytes` arriving over
    /// `arrivals`. Returns what the link carried (bits per second) once
    /// enough is gathered and most was lost.
    pub fn on_report(
        &mut self,
        now_ms: f64,
        lost: u32,
        total: u32,
        arrived_bytes: usize,
        arrivals: Option<(f64, f64)>,
    ) -> Option<u64> {
        if self.started_ms.is_some_and(|s| now_ms - s > WINDOW_MS) {
            *self = HeavyLoss::default();
        }
        self.started_ms.get_or_insert(now_ms);
        self.lost += lost;
        self.total += total;
        self.arrived_bytes += arrived_bytes;
        if let Some((first, last)) = arrivals {
            self.arrivals = Some(match self.arrivals {
                None => (first, last),
                Some((a, b)) => (a.min(first), b.max(last)),
            });
        }
        if self.total < MIN_PACKETS {
            return None;
        }
        let gathered = std::mem::take(self);
        let heavy = f64::from(gathered.lost) > HEAVY_LOSS * f64::from(gathered.total);
        let (first, last) = gathered.arrivals?;
        (heavy && last - first >= MIN_SPAN_MS)
            .then(|| (gathered.arrived_bytes as f64 * 8_000.0 / (last - first)) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_reports_are_gathered_and_heavy_loss_gives_what_arrived() {
        let mut loss = HeavyLoss::default();
        // Three reports of a few packets, 7 of 11 lost; 4 x 1,250 bytes
        // arrived over 200 ms: 200 kb/s.
        assert_eq!(loss.on_report(0.0, 2, 3, 1_250, Some((0.0, 0.0))), None);
        assert_eq!(
            loss.on_report(60.0, 3, 4, 1_250, Some((100.0, 100.0))),
            None
        );
        assert_eq!(
            loss.on_report(120.0, 2, 4, 2_500, Some((150.0, 200.0))),
            Some(200_000)
        );
        // Light loss says nothing; nor do reports gathered too long ago.
        assert_eq!(
            loss.on_report(200.0, 1, 12, 12_000, Some((300.0, 400.0))),
            None
        );
        assert_eq!(loss.on_report(300.0, 9, 9, 0, None), None);
        assert_eq!(
            loss.on_report(900.0, 1, 2, 1_000, Some((900.0, 950.0))),
            None
        );
    }
}
