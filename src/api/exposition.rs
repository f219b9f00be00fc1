//! `/metrics` in both exposition formats. prometheus-client writes
//! OpenMetrics, which Prometheus asks for; other scrapers and `promtool
//! check metrics` expect the classic text format (0.0.4), where a counter's
//! HELP and TYPE name the `_total` series and there is no `# EOF`.

pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Whether the scraper's Accept header asks for OpenMetrics.
pub fn wants_openmetrics(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| a.contains("application/openmetrics-text"))
}

/// Rewrites OpenMetrics text as the classic Prometheus text format.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len() + 256);
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        match renamed {
            Some(line) => out.push_str(&line),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_described_under_their_total_name() {
        let text = "# HELP troupe_rtp_packets RTP packets.\n# TYPE troupe_rtp_packets counter\n\
                    troupe_rtp_packets_total{direction=\"in\"} 3\n# HELP troupe_objects Alive.\n\
                    # TYPE troupe_objects gauge\ntroupe_objects{kind=\"router\"} 1\n# EOF";
        let converted = to_prometheus_text(text);
        assert_eq!(
            converted,
            "# HELP troupe_rtp_packets_total RTP packets.\n# TYPE troupe_rtp_packets_total counter\n\
             troupe_rtp_packets_total{direction=\"in\"} 3\n# HELP troupe_objects Alive.\n\
             # TYPE troupe_objects gauge\ntroupe_objects{kind=\"router\"} 1\n"
        );
    }

    #[test]
    fn prometheus_gets_openmetrics_when_it_asks() {
        assert!(wants_openmetrics(Some(
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
        )));
        assert!(!wants_openmetrics(Some("text/plain")));
        assert!(!wants_openmetrics(None));
    }
}
