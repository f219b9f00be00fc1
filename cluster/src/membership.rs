use serde::Serialize;

/// What a node tells the cluster about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeRecord {
    pub id: String,
    pub region: String,
    pub api_url: String,
}

/// The set of live nodes. Standalone it holds this node alone; with etcd it
/// is kept from leases and a prefix watch.
pub trait Membership: Send + Sync {
    fn members(&self) -> Vec<NodeRecord>;
    /// Whether this node is currently registered (its lease is alive).
    fn is_registered(&self) -> bool;
}

/// The in-process membership of a standalone node.
pub struct LocalMembership {
    this: NodeRecord,
}

impl LocalMembership {
    pub fn new(this: NodeRecord) -> Self {
        LocalMembership { this }
    }
}

impl Membership for LocalMembership {
    fn members(&self) -> Vec<NodeRecord> {
        vec![self.this.clone()]
    }
    fn is_registered(&self) -> bool {
        true
    }
}
