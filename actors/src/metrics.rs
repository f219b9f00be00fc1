//! The actor tree's metrics: objects alive and failures contained, by kind.
//! Labels stay low-cardinality — never an object id.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    pub kind: String,
    pub reason: String,
}

#[derive(Clone, Debug, Default)]
pub struct ActorMetrics {
    pub objects: Family<KindLabel, Gauge>,
    pub failures: Family<FailureLabels, Counter>,
}

impl ActorMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = ActorMetrics::default();
        registry.register(
            "troupe_objects",
            "Objects alive on this node, by kind",
            metrics.objects.clone(),
        );
        registry.register(
            "troupe_actor_failures",
            "Actor failures contained by a supervisor (the object was closed, its siblings kept running)",
            metrics.failures.clone(),
        );
        metrics
    }

    pub fn object_opened(&self, kind: &str) {
        self.objects
            .get_or_create(&KindLabel { kind: kind.into() })
            .inc();
    }

    pub fn object_closed(&self, kind: &str) {
        self.objects
            .get_or_create(&KindLabel { kind: kind.into() })
            .dec();
    }

    pub fn failure(&self, kind: &str, reason: &str) {
        self.failures
            .get_or_create(&FailureLabels {
                kind: kind.into(),
                reason: reason.into(),
            })
            .inc();
    }

    pub fn alive(&self, kind: &str) -> i64 {
        self.objects
            .get_or_create(&KindLabel { kind: kind.into() })
            .get()
    }

    pub fn failures_of(&self, kind: &str, reason: &str) -> u64 {
        self.failures
            .get_or_create(&FailureLabels {
                kind: kind.into(),
                reason: reason.into(),
            })
            .get()
    }
}
