//! Membership through etcd: this node holds a lease and writes
//! `/<cluster>/nodes/<id>` under it; every node watches the prefix. A lease
//! that lapses takes its node's key with it, which is how the others learn
//! a node is gone. While etcd is unreachable the last known members stay
//! (media keeps flowing on existing pipes) and this node reports itself
//! unregistered; when etcd is back it registers again and re-reads the
//! whole prefix.

use std::sync::Arc;
use std::time::Duration;

use etcd_client::{
    Client, ConnectOptions, EventType, GetOptions, PutOptions, WatchOptions, WatchResponse,
};

use crate::membership::{MemberTable, NodeRecord};

/// How often the node's record (its load) is rewritten when it changed.
const RECORD_REFRESH: Duration = Duration::from_secs(5);

pub struct EtcdSettings {
    pub endpoints: Vec<String>,
    pub cluster: String,
    pub lease_ttl: Duration,
}

impl EtcdSettings {
    fn prefix(&self) -> String {
        format!("/{}/nodes/", self.cluster)
    }
}

/// Runs the registration and the watch until the task is dropped; `record`
/// is asked afresh each time the node (re)writes its key.
pub fn spawn(
    settings: EtcdSettings,
    table: Arc<MemberTable>,
    record: impl Fn() -> NodeRecord + Send + Sync + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut lease: Option<i64> = None;
        loop {
            match session(&settings, &table, &record, &mut lease).await {
                Ok(()) => return,
                Err(e) => {
                    if table.is_registered() {
                        tracing::warn!(error = %e, "etcd unreachable: this node is unregistered until it is back");
                    } else {
                        tracing::debug!(error = %e, "etcd still unreachable");
                    }
                    table.set_registered(false);
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    })
}

/// One connection's worth of registration and watching; returns an error
/// when etcd stops answering.
async fn session(
    settings: &EtcdSettings,
    table: &MemberTable,
    record: &(impl Fn() -> NodeRecord + Send + Sync),
    lease: &mut Option<i64>,
) -> Result<(), etcd_client::Error> {
    let ttl = settings.lease_ttl;
    let options = ConnectOptions::new()
        .with_connect_timeout(ttl)
        .with_timeout(ttl);
    let mut client = Client::connect(&settings.endpoints, Some(options)).await?;
    // A lease that survived an etcd outage is kept; one that lapsed is
    // replaced.
    let lease_id = match *lease {
        Some(id) if lease_alive(&mut client, id).await? => id,
        _ => {
            let id = client.lease_grant(ttl.as_secs() as i64, None).await?.id();
            *lease = Some(id);
            id
        }
    };
    let (mut keeper, mut keep_alive_answers) = client.lease_keep_alive(lease_id).await?;
    let mut written = record();
    let key = format!("{}{}", settings.prefix(), written.id);
    let put_options = || Some(PutOptions::new().with_lease(lease_id));
    let value = serde_json::to_vec(&written).unwrap_or_default();
    client.put(key.clone(), value, put_options()).await?;
    let listing = client
        .get(settings.prefix(), Some(GetOptions::new().with_prefix()))
        .await?;
    let revision = listing.header().map(|h| h.revision()).unwrap_or(0);
    table.replace_all(
        listing
            .kvs()
            .iter()
            .filter_map(|kv| serde_json::from_slice(kv.value()).ok())
            .collect(),
    );
    let mut watch = client
        .watch(
            settings.prefix(),
            Some(
                WatchOptions::new()
                    .with_prefix()
                    .with_start_revision(revision + 1),
            ),
        )
        .await?;
    table.set_registered(true);
    table.heard_from_etcd();
    tracing::info!(key, lease = lease_id, "registered in etcd");
    let mut tick = tokio::time::interval(ttl / 3);
    let mut refresh = tokio::time::interval(RECORD_REFRESH);
    let mut last_answer = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if last_answer.elapsed() > ttl {
                    return Err(etcd_client::Error::LeaseKeepAliveError("no keep-alive answer within the lease TTL".into()));
                }
                keeper.keep_alive().await?;
            }
            answer = keep_alive_answers.message() => {
                match answer? {
                    Some(a) if a.ttl() > 0 => {
                        last_answer = tokio::time::Instant::now();
                        table.heard_from_etcd();
                    }
                    // TTL 0: the lease is gone (etcd expired it).
                    Some(_) => {
                        *lease = None;
                        return Err(etcd_client::Error::LeaseKeepAliveError("lease expired".into()));
                    }
                    None => return Err(etcd_client::Error::LeaseKeepAliveError("keep-alive stream ended".into())),
                }
            }
            _ = refresh.tick() => {
                let now = record();
                if now != written {
                    let value = serde_json::to_vec(&now).unwrap_or_default();
                    client.put(key.clone(), value, put_options()).await?;
                    written = now;
                }
            }
            event = watch.message() => {
                match event? {
                    Some(response) => {
                        table.heard_from_etcd();
                        apply(table, &settings.prefix(), &response);
                    }
                    None => return Err(etcd_client::Error::WatchError("watch stream ended".into())),
                }
            }
        }
    }
}

async fn lease_alive(client: &mut Client, id: i64) -> Result<bool, etcd_client::Error> {
    let answer = client.lease_time_to_live(id, None).await?;
    Ok(answer.ttl() > 0)
}

fn apply(table: &MemberTable, prefix: &str, response: &WatchResponse) {
    for event in response.events() {
        let Some(kv) = event.kv() else { continue };
        match event.event_type() {
            EventType::Put => match serde_json::from_slice::<NodeRecord>(kv.value()) {
                Ok(record) => table.upsert(record),
                Err(e) => tracing::warn!(error = %e, "ignoring a node record that does not parse"),
            },
            EventType::Delete => {
                if let Some(id) = kv.key_str().ok().and_then(|k| k.strip_prefix(prefix)) {
                    table.remove(id);
                }
            }
        }
    }
}

/// Deletes this node's key so the others see it leave at once; best
/// effort, bounded in time (the lease lapses anyway).
pub async fn deregister(settings: &EtcdSettings, node_id: &str) {
    let key = format!("{}{node_id}", settings.prefix());
    let attempt = async {
        let options = ConnectOptions::new().with_connect_timeout(Duration::from_secs(1));
        let mut client = Client::connect(&settings.endpoints, Some(options)).await?;
        client.delete(key, None).await
    };
    match tokio::time::timeout(Duration::from_secs(2), attempt).await {
        Ok(Ok(_)) => tracing::info!("left the cluster"),
        Ok(Err(e)) => tracing::warn!(error = %e, "cannot leave the cluster cleanly"),
        Err(_) => tracing::warn!("etcd did not answer in time when leaving the cluster"),
    }
}
