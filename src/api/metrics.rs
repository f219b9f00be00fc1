//! API metrics: requests by route pattern (never the raw path, which holds
//! ids), method and status, with a latency histogram.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use troupe_config::Config;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub method: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
    pub method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NodeInfoLabels {
    node: String,
    region: String,
    version: String,
}

#[derive(Clone)]
pub struct ApiMetrics {
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram>,
    /// Tasks alive in the node's runtime, read at each scrape: a leak of
    /// tasks (one per connection or transport left behind) shows here.
    pub runtime_tasks: Gauge,
    /// Room tokens refused: expired, foreign, garbled.
    pub refused_tokens: Counter,
    /// SDP offers (WHIP, WHEP) refused as malformed or unanswerable.
    pub refused_offers: Counter,
}

impl ApiMetrics {
    pub fn register(registry: &mut Registry, config: &Config) -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            // 100 µs .. ~3 s
            Histogram::new(exponential_buckets(0.0001, 2.0, 16))
        });
        registry.register(
            "troupe_api_requests",
            "API requests by route, method and status",
            requests.clone(),
        );
        registry.register(
            "troupe_api_request_duration_seconds",
            "API request latency",
            latency.clone(),
        );
        let info = Family::<NodeInfoLabels, Gauge>::default();
        info.get_or_create(&NodeInfoLabels {
            node: config.node_id.clone(),
            region: config.region.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        })
        .set(1);
        registry.register(
            "troupe_node_info",
            "This node's id, region and version",
            info,
        );
        let runtime_tasks = Gauge::default();
        registry.register(
            "troupe_runtime_tasks",
            "Tasks alive in the node's async runtime",
            runtime_tasks.clone(),
        );
        let refused_tokens = Counter::default();
        registry.register(
            "troupe_api_refused_room_tokens",
            "Room tokens refused (expired, wrong signature, malformed)",
            refused_tokens.clone(),
        );
        let refused_offers = Counter::default();
        registry.register(
            "troupe_api_refused_sdp_offers",
            "WHIP/WHEP SDP offers refused (malformed, nothing in common)",
            refused_offers.clone(),
        );
        ApiMetrics {
            requests,
            latency,
            runtime_tasks,
            refused_tokens,
            refused_offers,
        }
    }
}
