//! Troupe's metrics over OTLP as well as on `/metrics`: one registry
//! (prometheus-client) is the source; an OpenTelemetry observable
//! instrument per metric family reads it when the periodic reader collects.
//! Counters become monotonic sums, gauges gauges, histograms their `_count`
//! and `_sum` sums (OpenTelemetry has no observable histogram).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry::metrics::Meter;
use opentelemetry::KeyValue;
use prometheus_client::registry::Registry;

/// One sample of the text exposition: `name{label="value",...} value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Families (name → kind) and samples of an OpenMetrics text.
pub fn parse(text: &str) -> (Vec<(String, Kind)>, Vec<Sample>) {
    let mut families = Vec::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
                continue;
            };
            let kind = match kind {
                "counter" => Kind::Counter,
                "gauge" => Kind::Gauge,
                "histogram" => Kind::Histogram,
                _ => continue,
            };
            families.push((name.to_string(), kind));
        } else if !line.starts_with('#') && !line.is_empty() {
            if let Some(sample) = parse_sample(line) {
                samples.push(sample);
            }
        }
    }
    (families, samples)
}

fn parse_sample(line: &str) -> Option<Sample> {
    let (series, value) = line.rsplit_once(' ')?;
    let value: f64 = value.parse().ok()?;
    let (name, labels) = match series.split_once('{') {
        None => (series, Vec::new()),
        Some((name, rest)) => (name, parse_labels(rest.strip_suffix('}')?)?),
    };
    Some(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// `a="x",b="y \"quoted\""` → pairs, with escapes undone.
fn parse_labels(text: &str) -> Option<Vec<(String, String)>> {
    let mut labels = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next()? {
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                (i, '"') => break i,
                (_, c) => value.push(c),
            }
        };
        labels.push((key.trim_start_matches(',').to_string(), value));
        rest = after[end + 1..].trim_start_matches(',');
    }
    Some(labels)
}

/// The registry's samples, encoded at most once per collection.
struct Snapshot {
    registry: Arc<Registry>,
    taken: Mutex<Option<(Instant, Arc<Vec<Sample>>)>>,
}

impl Snapshot {
    fn samples(&self) -> Arc<Vec<Sample>> {
        let mut taken = self.taken.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, samples)) = taken.as_ref() {
            if at.elapsed() < Duration::from_millis(500) {
                return samples.clone();
            }
        }
        let mut text = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        let samples = Arc::new(parse(&text).1);
        *taken = Some((Instant::now(), samples.clone()));
        samples
    }
}

fn attributes(labels: &[(String, String)]) -> Vec<KeyValue> {
    labels
        .iter()
        .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
        .collect()
}

/// The OpenTelemetry side of the registry: an instrument per series name,
/// added as families appear (some, like the API's, appear with their first
/// request).
pub struct MetricsBridge {
    meter: Meter,
    snapshot: Arc<Snapshot>,
    known: Mutex<HashMap<String, Box<dyn std::any::Any + Send + Sync>>>,
}

impl MetricsBridge {
    pub fn new(meter: Meter, registry: Arc<Registry>) -> Self {
        let bridge = MetricsBridge {
            meter,
            snapshot: Arc::new(Snapshot {
                registry,
                taken: Mutex::new(None),
            }),
            known: Mutex::new(HashMap::new()),
        };
        bridge.refresh();
        bridge
    }

    /// Adds instruments for the families that appeared since the last call.
    pub fn refresh(&self) {
        let mut text = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.snapshot.registry);
        let (families, _) = parse(&text);
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        for (family, kind) in families {
            let series = match kind {
                Kind::Counter => vec![(format!("{family}_total"), Kind::Counter)],
                Kind::Gauge => vec![(family, Kind::Gauge)],
                Kind::Histogram => vec![
                    (format!("{family}_count"), Kind::Counter),
                    (format!("{family}_sum"), Kind::Counter),
                ],
            };
            for (name, kind) in series {
                if known.contains_key(&name) {
                    continue;
                }
                let instrument = self.instrument(&name, kind);
                known.insert(name, instrument);
            }
        }
    }

    fn instrument(&self, name: &str, kind: Kind) -> Box<dyn std::any::Any + Send + Sync> {
        let source = self.snapshot.clone();
        let wanted = name.to_string();
        let observe = move |report: &dyn Fn(f64, &[KeyValue])| {
            for sample in source.samples().iter().filter(|s| s.name == wanted) {
                report(sample.value, &attributes(&sample.labels));
            }
        };
        match kind {
            Kind::Counter => Box::new(
                self.meter
                    .f64_observable_counter(name.to_string())
                    .with_callback(move |o| observe(&|v, a| o.observe(v, a)))
                    .build(),
            ),
            _ => Box::new(
                self.meter
                    .f64_observable_gauge(name.to_string())
                    .with_callback(move |o| observe(&|v, a| o.observe(v, a)))
                    .build(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_parses_into_families_and_samples() {
        let text = "# HELP troupe_rtp_packets RTP.\n# TYPE troupe_rtp_packets counter\n\
                    troupe_rtp_packets_total{direction=\"in\"} 3\n\
                    # TYPE troupe_node info\ntroupe_node_info{node=\"a \\\"b\\\"\",region=\"eu\"} 1\n\
                    # TYPE troupe_x histogram\ntroupe_x_bucket{le=\"0.5\"} 2\ntroupe_x_count 2\n# EOF\n";
        let (families, samples) = parse(text);
        assert_eq!(
            families,
            [
                ("troupe_rtp_packets".to_string(), Kind::Counter),
                ("troupe_x".to_string(), Kind::Histogram)
            ]
        );
        assert_eq!(samples[0].name, "troupe_rtp_packets_total");
        assert_eq!(samples[0].labels, [("direction".into(), "in".into())]);
        assert_eq!(samples[0].value, 3.0);
        assert_eq!(
            samples[1].labels,
            [
                ("node".to_string(), "a \"b\"".to_string()),
                ("region".to_string(), "eu".to_string())
            ]
        );
        assert_eq!(samples.len(), 4);
    }

    #[test]
    fn broken_lines_are_skipped_not_fatal() {
        let (_, samples) = parse("troupe_a{x=\"1\" 2\ntroupe_b nope\ntroupe_c 1\n");
        assert_eq!(samples.len(), 1);
        assert_eq!(samples[0].name, "troupe_c");
    }
}
