//! Every metric a Grafana dashboard in `k8s/dashboards` queries is one a
//! Troupe node exports on `/metrics`.

mod common;

use std::collections::BTreeSet;

use common::{config, TestServer};

/// `troupe_*` names in a PromQL expression, without histogram suffixes.
fn metric_names(expression: &str) -> Vec<String> {
    let mut names = Vec::new();
    let bytes = expression.as_bytes();
    let mut i = 0;
    while let Some(found) = expression[i..].find("troupe_") {
        let start = i + found;
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        let name = &expression[start..end];
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name);
        names.push(base.to_string());
        i = end;
    }
    names
}

fn expressions(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("expr" | "query", serde_json::Value::String(s)) => out.push(s.clone()),
                    _ => expressions(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| expressions(v, out)),
        _ => {}
    }
}

/// Series that exist only once a node has a pipe to a peer (their label is
/// the peer): tests/cluster.rs checks them on a real cluster.
const SERIES_PER_PEER: &[&str] = &["troupe_pipes"];

#[test]
fn dashboards_query_only_exported_metrics() {
    let server = TestServer::start(config(&[]));
    // API series appear with the first request.
    assert_eq!(server.call("GET", "/v1/health", None).0, 200);
    let (_, text) = server.text("/metrics");
    // Names as exposed: counters get `_total` in samples, the family is
    // declared without it.
    let exported: BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .flat_map(|name| [name.to_string(), format!("{name}_total")])
        .collect();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("k8s/dashboards");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let dashboard: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut exprs = Vec::new();
        expressions(&dashboard, &mut exprs);
        for expression in exprs {
            for name in metric_names(&expression) {
                if SERIES_PER_PEER.contains(&name.as_str()) {
                    continue;
                }
                assert!(
                    exported.contains(&name),
                    "{}: {name} is not exported (in {expression})",
                    path.display()
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 9, "the dashboards query troupe metrics");
}
