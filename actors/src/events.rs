//! Notifications about objects (closes, failures, state changes), fanned out
//! to every `/v1/events` subscriber through a bounded broadcast channel: a
//! subscriber that falls behind loses the oldest notifications and is told
//! how many, instead of holding memory for everyone.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::sync::broadcast;
use utoipa::ToSchema;

use crate::object_kind::ObjectKind;

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// mediasoup's event name: `producerclose`, `transportclose`, `failed`, ...
    pub event: String,
    pub target_kind: ObjectKind,
    pub target_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub router_id: Option<String>,
    pub node_id: String,
    /// Milliseconds since the Unix epoch.
    pub timestamp: u64,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

#[derive(Debug, Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Notification>,
    node_id: String,
}

/// Notifications kept for a subscriber that has not read them yet.
pub const EVENT_BACKLOG: usize = 4096;

impl EventBus {
    pub fn new(node_id: &str) -> Self {
        let (sender, _) = broadcast::channel(EVENT_BACKLOG);
        EventBus {
            sender,
            node_id: node_id.to_string(),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Notification> {
        self.sender.subscribe()
    }

    pub fn emit(
        &self,
        event: &str,
        target_kind: ObjectKind,
        target_id: &str,
        router_id: Option<&str>,
        data: serde_json::Value,
    ) {
        tracing::debug!(event, kind = %target_kind, id = target_id, "notification");
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        // No subscribers is normal: nobody is watching.
        let _ = self.sender.send(Notification {
            event: event.to_string(),
            target_kind,
            target_id: target_id.to_string(),
            router_id: router_id.map(str::to_string),
            node_id: self.node_id.clone(),
            timestamp,
            data,
        });
    }
}
