//! Rooms by name: a name resolves to one router id on every node. With etcd
//! the record is `/<cluster>/rooms/<name>`, written only if absent (an etcd
//! transaction), so two nodes that open the same new room at once agree on
//! one router; standalone it is a map in this process.
//!
//! A record outlives neither its router nor the router's node: a record
//! whose router's home node has left the cluster, or whose router was
//! closed on this node, is stale, and the next open replaces it.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use etcd_client::{Client, Compare, CompareOp, ConnectOptions, GetOptions, Txn, TxnOp};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// What `/<cluster>/rooms/<name>` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomRecord {
    pub name: String,
    pub router_id: String,
}

#[derive(Debug, Error)]
pub enum RoomError {
    #[error("room name {0:?}: 1 to 64 letters, digits, '-', '_' or '.', not starting with '.'")]
    BadName(String),
    #[error("the room directory (etcd) is unreachable: {0}")]
    Unreachable(String),
}

/// A room name is a path segment and an etcd key segment.
pub fn check_room_name(name: &str) -> Result<(), RoomError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        // Not `.` or `..`, which a URL path would swallow.
        && !name.starts_with('.');
    if valid {
        Ok(())
    } else {
        Err(RoomError::BadName(name.to_string()))
    }
}

const ETCD_DEADLINE: Duration = Duration::from_secs(3);

// One per node: the size of its variants does not matter.
#[allow(clippy::large_enum_variant)]
pub(crate) enum RoomDirectory {
    InProcess(Mutex<BTreeMap<String, RoomRecord>>),
    Etcd {
        endpoints: Vec<String>,
        prefix: String,
        client: tokio::sync::Mutex<Option<Client>>,
    },
}

impl RoomDirectory {
    pub fn in_process() -> RoomDirectory {
        RoomDirectory::InProcess(Mutex::new(BTreeMap::new()))
    }

    pub fn etcd(endpoints: Vec<String>, cluster: &str) -> RoomDirectory {
        RoomDirectory::Etcd {
            endpoints,
            prefix: format!("/{cluster}/rooms/"),
            client: tokio::sync::Mutex::new(None),
        }
    }

    pub async fn get(&self, name: &str) -> Result<Option<RoomRecord>, RoomError> {
        match self {
            RoomDirectory::InProcess(map) => Ok(lock(map).get(name).cloned()),
            RoomDirectory::Etcd { prefix, .. } => {
                let key = format!("{prefix}{name}");
                let answer = self
                    .with_client(|mut c| async move { c.get(key, None).await })
                    .await?;
                Ok(answer
                    .kvs()
                    .first()
                    .and_then(|kv| serde_json::from_slice(kv.value()).ok()))
            }
        }
    }

    pub async fn list(&self) -> Result<Vec<RoomRecord>, RoomError> {
        match self {
            RoomDirectory::InProcess(map) => Ok(lock(map).values().cloned().collect()),
            RoomDirectory::Etcd { prefix, .. } => {
                let prefix = prefix.clone();
                let answer = self
                    .with_client(|mut c| async move {
                        c.get(prefix, Some(GetOptions::new().with_prefix())).await
                    })
                    .await?;
                Ok(answer
                    .kvs()
                    .iter()
                    .filter_map(|kv| serde_json::from_slice(kv.value()).ok())
                    .collect())
            }
        }
    }

    /// Records `record` if the room has no record, or still has `stale`;
    /// returns the record that holds afterwards (another node's, when it
    /// got there first).
    pub async fn put_unless_taken(
        &self,
        record: &RoomRecord,
        stale: Option<&RoomRecord>,
    ) -> Result<RoomRecord, RoomError> {
        match self {
            RoomDirectory::InProcess(map) => {
                let mut map = lock(map);
                let current = map.get(&record.name);
                if current.is_none() || current == stale {
                    map.insert(record.name.clone(), record.clone());
                    return Ok(record.clone());
                }
                Ok(current.cloned().unwrap_or_else(|| record.clone()))
            }
            RoomDirectory::Etcd { prefix, .. } => {
                let key = format!("{prefix}{}", record.name);
                let value = serde_json::to_vec(record).unwrap_or_default();
                let condition = match stale {
                    None => Compare::create_revision(key.clone(), CompareOp::Equal, 0),
                    Some(stale) => Compare::value(
                        key.clone(),
                        CompareOp::Equal,
                        serde_json::to_vec(stale).unwrap_or_default(),
                    ),
                };
                let txn = Txn::new()
                    .when(vec![condition])
                    .and_then(vec![TxnOp::put(key.clone(), value, None)])
                    .or_else(vec![TxnOp::get(key, None)]);
                let answer = self
                    .with_client(|mut c| {
                        let txn = txn.clone();
                        async move { c.txn(txn).await }
                    })
                    .await?;
                if answer.succeeded() {
                    return Ok(record.clone());
                }
                let winner = answer.op_responses().into_iter().find_map(|op| match op {
                    etcd_client::TxnOpResponse::Get(get) => get
                        .kvs()
                        .first()
                        .and_then(|kv| serde_json::from_slice(kv.value()).ok()),
                    _ => None,
                });
                // Deleted between the compare and the get: try again later.
                winner.ok_or_else(|| {
                    RoomError::Unreachable(format!("room {} changed while opening it", record.name))
                })
            }
        }
    }

    pub async fn remove(&self, name: &str) -> Result<(), RoomError> {
        match self {
            RoomDirectory::InProcess(map) => {
                lock(map).remove(name);
                Ok(())
            }
            RoomDirectory::Etcd { prefix, .. } => {
                let key = format!("{prefix}{name}");
                self.with_client(|mut c| async move { c.delete(key, None).await })
                    .await?;
                Ok(())
            }
        }
    }

    /// Runs one etcd call on a kept connection, connecting when there is
    /// none; a failed call drops the connection so the next one reconnects.
    async fn with_client<T, F, Fut>(&self, call: F) -> Result<T, RoomError>
    where
        F: FnOnce(Client) -> Fut,
        Fut: std::future::Future<Output = Result<T, etcd_client::Error>>,
    {
        let RoomDirectory::Etcd {
            endpoints, client, ..
        } = self
        else {
            return Err(RoomError::Unreachable("not an etcd directory".into()));
        };
        let mut kept = client.lock().await;
        let connected = match kept.as_ref() {
            Some(c) => c.clone(),
            None => {
                let options = ConnectOptions::new()
                    .with_connect_timeout(ETCD_DEADLINE)
                    .with_timeout(ETCD_DEADLINE);
                let c =
                    tokio::time::timeout(ETCD_DEADLINE, Client::connect(endpoints, Some(options)))
                        .await
                        .map_err(|_| RoomError::Unreachable("connect timed out".into()))?
                        .map_err(|e| RoomError::Unreachable(e.to_string()))?;
                *kept = Some(c.clone());
                c
            }
        };
        drop(kept);
        match tokio::time::timeout(ETCD_DEADLINE, call(connected)).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => {
                *client.lock().await = None;
                Err(RoomError::Unreachable(e.to_string()))
            }
            Err(_) => {
                *client.lock().await = None;
                Err(RoomError::Unreachable("etcd did not answer in time".into()))
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_path_and_key_safe() {
        for good in ["lobby", "team-7", "a.b_c", &"x".repeat(64)] {
            assert!(check_room_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            ".hidden",
            "a/b",
            "a b",
            "é",
            &"x".repeat(65),
            "a?b",
        ] {
            assert!(check_room_name(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn the_first_record_holds_until_it_is_stale() {
        let directory = RoomDirectory::in_process();
        let first = RoomRecord {
            name: "lobby".into(),
            router_id: "n1-a".into(),
        };
        let second = RoomRecord {
            router_id: "n2-b".into(),
            ..first.clone()
        };
        assert_eq!(
            directory.put_unless_taken(&first, None).await.unwrap(),
            first
        );
        assert_eq!(
            directory.put_unless_taken(&second, None).await.unwrap(),
            first
        );
        assert_eq!(
            directory
                .put_unless_taken(&second, Some(&first))
                .await
                .unwrap(),
            second
        );
        directory.remove("lobby").await.unwrap();
        assert_eq!(directory.get("lobby").await.unwrap(), None);
    }
}
