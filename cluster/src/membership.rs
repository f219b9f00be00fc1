//! Who the nodes of the cluster are. Standalone it is this node alone; with
//! etcd it is kept from leases and a prefix watch (`etcd_membership`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// What a node tells the cluster about itself (the value of
/// `/<cluster>/nodes/<id>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeRecord {
    pub id: String,
    pub region: String,
    pub api_url: String,
    /// SHA-256 of the HTTPS certificate, when the API is served over TLS:
    /// other nodes relay to it pinning this.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_cert_fingerprint: String,
    /// Where the node-to-node control link listens.
    pub control_address: String,
    /// SHA-256 of the control link's TLS certificate: peers accept only it.
    #[serde(default)]
    pub control_cert_fingerprint: String,
    /// The address pipe transports of this node are reached on.
    pub pipe_address: String,
    /// Objects alive on the node, for placement decisions and dashboards.
    pub load: u64,
}

#[derive(Debug, Clone)]
pub enum MembershipChange {
    Joined(NodeRecord),
    Left(String),
}

/// The live members as last seen, shared by both backends.
pub struct MemberTable {
    members: RwLock<BTreeMap<String, NodeRecord>>,
    registered: AtomicBool,
    changes: broadcast::Sender<MembershipChange>,
    /// When etcd last answered (keep-alive or watch); `None` standalone.
    last_contact: std::sync::Mutex<Option<std::time::Instant>>,
}

/// Membership changes kept for a slow listener.
const CHANGE_BACKLOG: usize = 256;

impl MemberTable {
    pub fn new() -> Arc<Self> {
        Arc::new(MemberTable {
            members: RwLock::new(BTreeMap::new()),
            registered: AtomicBool::new(false),
            changes: broadcast::channel(CHANGE_BACKLOG).0,
            last_contact: std::sync::Mutex::new(None),
        })
    }

    pub fn members(&self) -> Vec<NodeRecord> {
        self.read().values().cloned().collect()
    }

    pub fn member(&self, id: &str) -> Option<NodeRecord> {
        self.read().get(id).cloned()
    }

    pub fn is_registered(&self) -> bool {
        self.registered.load(Ordering::Relaxed)
    }

    pub fn set_registered(&self, registered: bool) {
        self.registered.store(registered, Ordering::Relaxed);
    }

    pub fn heard_from_etcd(&self) {
        *self.last_contact.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(std::time::Instant::now());
    }

    /// Seconds since etcd last answered: how stale the member list may be.
    pub fn seconds_since_contact(&self) -> f64 {
        self.last_contact
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map_or(0.0, |t| t.elapsed().as_secs_f64())
    }

    pub fn subscribe(&self) -> broadcast::Receiver<MembershipChange> {
        self.changes.subscribe()
    }

    /// A node was put (joined, or its record changed).
    pub fn upsert(&self, record: NodeRecord) {
        let joined = {
            let mut members = self.write();
            let known = members.contains_key(&record.id);
            members.insert(record.id.clone(), record.clone());
            !known
        };
        if joined {
            tracing::info!(node = %record.id, region = %record.region, "node joined");
            let _ = self.changes.send(MembershipChange::Joined(record));
        }
    }

    pub fn remove(&self, id: &str) {
        if self.write().remove(id).is_some() {
            tracing::warn!(node = %id, "node left");
            let _ = self.changes.send(MembershipChange::Left(id.to_string()));
        }
    }

    /// Replaces the table with a full listing (after a reconnect), telling
    /// listeners about every difference.
    pub fn replace_all(&self, records: Vec<NodeRecord>) {
        let gone: Vec<String> = {
            let members = self.read();
            members
                .keys()
                .filter(|id| !records.iter().any(|r| &r.id == *id))
                .cloned()
                .collect()
        };
        for id in gone {
            self.remove(&id);
        }
        for record in records {
            self.upsert(record);
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, NodeRecord>> {
        self.members.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, NodeRecord>> {
        self.members.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// The in-process membership of a standalone node: this node, always
/// registered.
pub fn standalone(this: NodeRecord) -> Arc<MemberTable> {
    let table = MemberTable::new();
    table.upsert(this);
    table.set_registered(true);
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> NodeRecord {
        NodeRecord {
            id: id.into(),
            region: "eu".into(),
            api_cert_fingerprint: String::new(),
            api_url: String::new(),
            control_address: String::new(),
            control_cert_fingerprint: String::new(),
            pipe_address: String::new(),
            load: 0,
        }
    }

    #[test]
    fn a_full_listing_reports_who_left_and_who_joined() {
        let table = MemberTable::new();
        table.upsert(record("a"));
        table.upsert(record("b"));
        let mut changes = table.subscribe();
        table.replace_all(vec![record("b"), record("c")]);
        let mut seen = Vec::new();
        while let Ok(change) = changes.try_recv() {
            seen.push(match change {
                MembershipChange::Joined(r) => format!("+{}", r.id),
                MembershipChange::Left(id) => format!("-{id}"),
            });
        }
        assert_eq!(seen, ["-a", "+c"]);
        assert_eq!(table.members().len(), 2);
    }

    #[test]
    fn a_changed_record_is_not_a_join() {
        let table = MemberTable::new();
        table.upsert(record("a"));
        let mut changes = table.subscribe();
        let mut loaded = record("a");
        loaded.load = 7;
        table.upsert(loaded);
        assert!(changes.try_recv().is_err());
        assert_eq!(table.member("a").map(|r| r.load), Some(7));
    }
}
