//! What a `troupe` process holds, read from its metrics and from /proc:
//! the figures a churn test compares before and after.

use std::time::Duration;

use super::cluster::eventually;
use super::TestServer;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Footprint {
    pub objects: i64,
    pub tasks: i64,
    pub fds: i64,
    pub threads: i64,
    pub rss_kib: i64,
}

/// The sum of a metric's series on `/metrics`.
pub fn metric(api: &TestServer, name: &str) -> i64 {
    let (_, text) = api.text("/metrics");
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .map(|v| v as i64)
        .sum()
}

/// Objects, runtime tasks, file descriptors, threads, RSS (KiB).
pub fn footprint(api: &TestServer, pid: u32) -> Footprint {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |key: &str| -> i64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    Footprint {
        objects: metric(api, "troupe_objects{"),
        tasks: metric(api, "troupe_runtime_tasks"),
        fds: std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .count() as i64,
        threads: field("Threads:"),
        rss_kib: field("VmRSS:"),
    }
}

/// The footprint once objects, tasks and descriptors are down to `target`
/// (within 15 s: connections of the last API calls close a moment after
/// their answer, more so on a busy machine).
pub fn settle(api: &TestServer, pid: u32, what: &str, target: &Footprint) -> Footprint {
    let mut reached = None;
    eventually(Duration::from_secs(15), what, || {
        let now = footprint(api, pid);
        let done =
            now.objects <= target.objects && now.tasks <= target.tasks && now.fds <= target.fds;
        if done {
            reached = Some(now);
        }
        done
    });
    reached.expect("settled")
}

/// Everything back where it was; RSS grown by no more than `rss_slack_kib`,
/// what the allocator keeps for reuse.
pub fn assert_returned(before: &Footprint, after: &Footprint, rss_slack_kib: i64) {
    assert_eq!(after.objects, 0);
    assert!(
        after.tasks <= before.tasks,
        "tasks {} → {}",
        before.tasks,
        after.tasks
    );
    assert!(
        after.fds <= before.fds,
        "file descriptors {} → {}",
        before.fds,
        after.fds
    );
    assert!(
        after.threads <= before.threads + 2,
        "threads {} → {}",
        before.threads,
        after.threads
    );
    assert!(
        after.rss_kib - before.rss_kib <= rss_slack_kib,
        "RSS grew {} KiB",
        after.rss_kib - before.rss_kib
    );
}
