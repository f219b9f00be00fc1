//! Room events for the room WebSocket: who joined or left, which producers
//! and data producers came or went, anywhere in the cluster. One watcher per
//! room per node, while a socket of that room is open here: it compares
//! the room's view (every node's part) every half second and tells the
//! room's sockets on this node what changed. Polling keeps one code path
//! for local and remote changes; half a second is what a join costs.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::broadcast;
use troupe_cluster::RoomRecord;

use crate::api::rooms::{cluster_view, RoomDetail};
use crate::api::AppState;

const TICK: Duration = Duration::from_millis(500);
/// Events kept for a socket that is slow to read them.
const BACKLOG: usize = 256;

#[derive(Default)]
pub struct RoomWatches {
    rooms: Mutex<HashMap<String, broadcast::Sender<Value>>>,
}

impl RoomWatches {
    /// The room's events from now on; starts its watcher when none runs.
    pub fn subscribe(
        &self,
        state: Arc<AppState>,
        record: &RoomRecord,
        first: RoomDetail,
    ) -> broadcast::Receiver<Value> {
        let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sender) = rooms.get(&record.name) {
            return sender.subscribe();
        }
        let (sender, receiver) = broadcast::channel(BACKLOG);
        rooms.insert(record.name.clone(), sender.clone());
        tokio::spawn(watch(state, record.clone(), first, sender));
        receiver
    }

    fn stop_if_unwatched(&self, room: &str) -> bool {
        let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        match rooms.get(room) {
            Some(sender) if sender.receiver_count() == 0 => {
                rooms.remove(room);
                true
            }
            Some(_) => false,
            None => true,
        }
    }
}

async fn watch(
    state: Arc<AppState>,
    record: RoomRecord,
    mut last: RoomDetail,
    sender: broadcast::Sender<Value>,
) {
    let authorization = state.api_token.as_ref().map(|t| format!("Bearer {t}"));
    loop {
        tokio::time::sleep(TICK).await;
        if state.room_watches.stop_if_unwatched(&record.name) {
            return;
        }
        let now = cluster_view(&state, &record, authorization.clone()).await;
        for event in changes(&last, &now) {
            let _ = sender.send(event);
        }
        last = now;
    }
}

/// What changed between two views of a room, as notifications.
pub fn changes(before: &RoomDetail, after: &RoomDetail) -> Vec<Value> {
    let mut events = Vec::new();
    let diff = |a: BTreeMap<&str, Value>, b: BTreeMap<&str, Value>, came: &str, went: &str| {
        let mut out = Vec::new();
        for (id, value) in &b {
            if !a.contains_key(id) {
                out.push(json!({"notification": came, "data": value}));
            }
        }
        for id in a.keys() {
            if !b.contains_key(id) {
                out.push(json!({"notification": went, "data": {"id": id}}));
            }
        }
        out
    };
    events.extend(diff(
        by_id(&before.participants, |p| &p.id),
        by_id(&after.participants, |p| &p.id),
        "peerJoined",
        "peerLeft",
    ));
    events.extend(diff(
        by_id(&before.producers, |p| &p.id),
        by_id(&after.producers, |p| &p.id),
        "newProducer",
        "producerClosed",
    ));
    events.extend(diff(
        by_id(&before.data_producers, |p| &p.id),
        by_id(&after.data_producers, |p| &p.id),
        "newDataProducer",
        "dataProducerClosed",
    ));
    events
}

fn by_id<'a, T: serde::Serialize>(
    items: &'a [T],
    id: impl Fn(&'a T) -> &'a String,
) -> BTreeMap<&'a str, Value> {
    items
        .iter()
        .map(|item| {
            (
                id(item).as_str(),
                serde_json::to_value(item).unwrap_or_default(),
            )
        })
        .collect()
}
