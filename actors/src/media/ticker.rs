//! Transports' timed work, woken together. Each transport's timer task
//! sleeps the pause its last tick asked for; its deadline is then moved
//! later onto a grid a fifth of that pause wide, shared by every transport
//! of the process, so transports with the same pause wake in the same
//! instants rather than each at its own millisecond. At 500 consumer-only
//! transports (then a tick each every 250 ms) that was 20 wake-ups a second
//! instead of up to 2,000, each of which cost a runtime thread a park and
//! an unpark (measured at N=500: epoll and futex calls were 5 % of Troupe's
//! time at 50,000 forwarded packets/s).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// How much later than asked a tick may run, as a share of its pause.
const LATENESS_SHARE: u32 = 5;

/// Runs a transport's timed work: `tick` is called after each pause, or
/// at once when `due` is notified, and returns the next pause, or `None`
/// once the transport has closed. The task holds the transport weakly, so
/// it ends when the transport is dropped.
pub fn spawn_ticker<T: Send + Sync + 'static>(
    transport: &Arc<T>,
    first_pause: Duration,
    due: Arc<Notify>,
    tick: fn(&T) -> Option<Duration>,
) {
    let weak = Arc::downgrade(transport);
    tokio::spawn(async move {
        let mut pause = first_pause;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(grid_deadline(Instant::now(), pause)) => {}
                _ = due.notified() => {}
            }
            let Some(transport) = weak.upgrade() else {
                break;
            };
            match tick(&transport) {
                Some(next) => pause = next,
                None => break,
            }
        }
    });
}

fn grid_deadline(now: Instant, pause: Duration) -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    let since_epoch = now.saturating_duration_since(epoch);
    epoch + on_grid(since_epoch + pause, pause / LATENESS_SHARE)
}

/// `at`, moved later to the next multiple of `grain` (itself if on one).
fn on_grid(at: Duration, grain: Duration) -> Duration {
    let grain_nanos = grain.as_nanos();
    if grain_nanos == 0 {
        return at;
    }
    let nanos = at.as_nanos().div_ceil(grain_nanos) * grain_nanos;
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    #[tokio::test]
    async fn a_notified_ticker_ticks_before_its_pause_ends() {
        let ticks = Arc::new(AtomicUsize::new(0));
        let due = Arc::new(Notify::new());
        spawn_ticker(&ticks, Duration::from_secs(60), due.clone(), |ticks| {
            ticks.fetch_add(1, Relaxed);
            Some(Duration::from_secs(60))
        });
        due.notify_one();
        let waited = tokio::time::timeout(Duration::from_secs(5), async {
            while ticks.load(Relaxed) == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        assert!(waited.is_ok(), "no tick within 5 s of the notification");
    }

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_deadline_moves_later_onto_the_grid_never_earlier() {
        assert_eq!(on_grid(MS * 251, MS * 50), MS * 300);
        assert_eq!(on_grid(MS * 300, MS * 50), MS * 300);
        assert_eq!(on_grid(MS * 299, MS * 50), MS * 300);
        assert_eq!(on_grid(MS * 7, Duration::ZERO), MS * 7);
    }

    #[test]
    fn transports_with_the_same_pause_wake_together() {
        let pause = MS * 250;
        // Started at different moments within one grain (1251..=1300 ms).
        let deadlines: std::collections::HashSet<_> = (1..=50)
            .map(|started| on_grid(MS * (1000 + started) + pause, pause / LATENESS_SHARE))
            .collect();
        assert_eq!(deadlines.len(), 1);
        // And at most one grain late.
        for started in 0..50 {
            let asked = MS * (1000 + started) + pause;
            let got = on_grid(asked, pause / LATENESS_SHARE);
            assert!(got >= asked && got - asked <= pause / LATENESS_SHARE);
        }
    }
}
