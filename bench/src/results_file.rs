//! Appending a run's results to a Markdown file (`--append
//! docs/benchmarks.md`): a dated section with the command, the machine and
//! the table, so figures are recorded as measured rather than retyped.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// The section for one invocation: heading with the UTC time, the command
/// line, the machine, then `table` (header and rows, as printed).
pub fn section(command: &str, table: &str, now: SystemTime) -> String {
    format!(
        "\n## Run of {}\n\nCommand: `{command}`\n\nMachine: {}\n\n{table}\n",
        utc_minute(now),
        machine()
    )
}

pub fn append(path: &str, section: &str) -> Result<(), String> {
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .and_then(|mut file| file.write_all(section.as_bytes()))
        .map_err(|e| format!("cannot append to {path}: {e}"))
}

/// `2026-11-22 09:41 UTC`, from days since the epoch (Howard Hinnant's
/// civil-from-days), so no date crate is needed for one line.
pub fn utc_minute(now: SystemTime) -> String {
    let seconds = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let days = (seconds / 86_400) as i64;
    let minute_of_day = (seconds % 86_400) / 60;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        minute_of_day / 60,
        minute_of_day % 60
    )
}

/// Cores, CPU model, memory and kernel, from /proc.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, m)| m.trim())
        .to_string();
    let memory_gib = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{cores} cores ({model}), {memory_gib:.1} GiB, Linux {}, loopback",
        kernel.trim()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_are_civil_utc() {
        let at = |s: u64| utc_minute(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01 00:00 UTC");
        // 2000-02-29 12:34 UTC: a leap day in a century leap year.
        assert_eq!(at(951_827_640), "2000-02-29 12:34 UTC");
        // 2026-11-22 09:41 UTC.
        assert_eq!(at(1_795_340_460), "2026-11-22 09:41 UTC");
    }

    #[test]
    fn a_section_names_command_machine_and_table() {
        let text = section("troupe-bench 100:1000", "| N |\n|---|\n| 100 |", UNIX_EPOCH);
        assert!(text.starts_with("\n## Run of 1970-01-01 00:00 UTC\n"));
        assert!(text.contains("Command: `troupe-bench 100:1000`"));
        assert!(text.contains("cores ("));
        assert!(text.ends_with("| 100 |\n"));
    }
}
