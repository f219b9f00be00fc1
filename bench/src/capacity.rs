//! A fan-out's capacity, and its latency under load. The capacity is the
//! highest input rate whose copies all arrive (at least `FULL_DELIVERY` of
//! them over the window): rates climb by a quarter until delivery falls
//! short, then the last step is halved twice. Latency is then measured at
//! `LOAD_SHARE` of the forwarded rate at capacity, where a production SFU
//! is run, not at its edge.

use crate::Report;

/// What counts as forwarding everything: the odd packet lost to the load
/// generator's own scheduling on shared cores is not a limit of Troupe's.
pub const FULL_DELIVERY: f64 = 99.9;

/// The share of capacity latency is measured at.
pub const LOAD_SHARE: f64 = 0.8;

/// Each step up multiplies the rate by this.
const STEP: f64 = 1.25;

/// Rates above this are not tried (a runaway search on a fast machine).
const MAX_RATE: u32 = 1_000_000;

pub struct Capacity {
    /// The highest rate forwarded in full, and its run.
    pub rate: u32,
    pub report: Report,
    /// Every run of the search, in order.
    pub steps: Vec<Report>,
}

/// Searches from `start` (packets/s in) with `probe`, which runs one
/// fan-out at a rate. Fails if even `start` is not forwarded in full.
pub fn find_capacity(
    start: u32,
    mut probe: impl FnMut(u32) -> Result<Report, String>,
) -> Result<Capacity, String> {
    let mut steps = Vec::new();
    let mut good: Option<(u32, Report)> = None;
    let mut bad: Option<u32> = None;
    let mut rate = start.max(1);
    while bad.is_none() && rate <= MAX_RATE {
        let report = probe(rate)?;
        steps.push(report.clone());
        if report.delivery_percent >= FULL_DELIVERY {
            good = Some((rate, report));
            rate = (f64::from(rate) * STEP).ceil() as u32;
        } else {
            bad = Some(rate);
        }
    }
    let Some((mut good_rate, mut good_report)) = good else {
        return Err(format!(
            "{start} packets/s in was not forwarded in full: no capacity to measure from"
        ));
    };
    if let Some(mut bad_rate) = bad {
        for _ in 0..2 {
            let middle = good_rate + (bad_rate - good_rate) / 2;
            if middle == good_rate {
                break;
            }
            let report = probe(middle)?;
            steps.push(report.clone());
            if report.delivery_percent >= FULL_DELIVERY {
                (good_rate, good_report) = (middle, report);
            } else {
                bad_rate = middle;
            }
        }
    }
    Ok(Capacity {
        rate: good_rate,
        report: good_report,
        steps,
    })
}

/// The input rate that loads the fan-out to `LOAD_SHARE` of capacity.
pub fn loaded_rate(capacity: &Capacity) -> u32 {
    ((f64::from(capacity.rate) * LOAD_SHARE).round() as u32).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fan-out that forwards everything up to `limit` packets/s in.
    fn limited_at(limit: u32) -> impl FnMut(u32) -> Result<Report, String> {
        move |rate| {
            Ok(Report::example(
                rate,
                if rate <= limit { 100.0 } else { 80.0 },
            ))
        }
    }

    #[test]
    fn climbs_until_delivery_falls_short_then_halves_the_last_step_twice() {
        let capacity = find_capacity(1000, limited_at(2600)).unwrap();
        let rates: Vec<u32> = capacity.steps.iter().map(|r| r.rate).collect();
        // 1000, 1250, 1563, 1954, 2443, 3054 (short), then 2748 (short), 2595.
        assert_eq!(rates, [1000, 1250, 1563, 1954, 2443, 3054, 2748, 2595]);
        assert_eq!(capacity.rate, 2595);
        assert_eq!(capacity.report.rate, 2595);
        assert_eq!(loaded_rate(&capacity), 2076);
    }

    #[test]
    fn a_start_not_forwarded_in_full_is_an_error() {
        assert!(find_capacity(5000, limited_at(2600)).is_err());
    }

    #[test]
    fn a_failed_run_ends_the_search_with_its_error() {
        let mut runs = 0;
        let result = find_capacity(1000, |rate| {
            runs += 1;
            if runs == 3 {
                Err("troupe exited".into())
            } else {
                Ok(Report::example(rate, 100.0))
            }
        });
        assert_eq!(result.err().as_deref(), Some("troupe exited"));
    }
}
