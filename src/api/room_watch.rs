//! Room events for the room WebSocket: who joined or left, which producers
//! and data producers came or went, anywhere in the cluster. One watcher per
//! room per node, while a socket of that room is open here: it compares
//! the room's view (every node's part) every half second and tells the
//! room's sockets on this node what changed. Polling keeps one code path
//! for local and remote changes; half a second is what a join costs.
//!
//! The watcher also runs an ActiveSpeakerObserver on this node's router of
//! the room, over the audio producers made here; each node's latest
//! dominant speaker is part of its view, and the newest across the cluster
//! is the room's (each node compares only its own producers' levels).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::broadcast;
use troupe_cluster::RoomRecord;

use troupe_actors::rtp_observer::ActiveSpeakerObserverOptions;
use troupe_actors::rtp_parameters::MediaKind;
use troupe_actors::ObjectKind;

use crate::api::room_book::unix_ms;
use crate::api::rooms::{cluster_view, ActiveSpeaker, RoomDetail};
use crate::api::AppState;

const TICK: Duration = Duration::from_millis(500);
/// Events kept for a socket that is slow to read them.
const BACKLOG: usize = 256;

#[derive(Default)]
pub struct RoomWatches {
    rooms: Mutex<HashMap<String, broadcast::Sender<Value>>>,
    /// Each watched room's dominant speaker among this node's producers.
    speakers: Mutex<HashMap<String, ActiveSpeaker>>,
}

impl RoomWatches {
    /// The room's events from now on; starts its watcher when none runs.
    pub fn subscribe(
        &self,
        state: Arc<AppState>,
        record: &RoomRecord,
        first: RoomDetail,
    ) -> broadcast::Receiver<Value> {
        let mut rooms = lock(&self.rooms);
        if let Some(sender) = rooms.get(&record.name) {
            return sender.subscribe();
        }
        let (sender, receiver) = broadcast::channel(BACKLOG);
        rooms.insert(record.name.clone(), sender.clone());
        tokio::spawn(watch(state, record.clone(), first, sender));
        receiver
    }

    /// This node's dominant speaker of a room, while a socket watches it.
    pub fn speaker(&self, room: &str) -> Option<ActiveSpeaker> {
        lock(&self.speakers).get(room).cloned()
    }

    fn stop_if_unwatched(&self, room: &str) -> bool {
        let mut rooms = lock(&self.rooms);
        match rooms.get(room) {
            Some(sender) if sender.receiver_count() == 0 => {
                rooms.remove(room);
                lock(&self.speakers).remove(room);
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
    let node = state.node();
    let observer = node
        .create_active_speaker_observer(
            &record.router_id,
            ActiveSpeakerObserverOptions {
                interval: None,
                app_data: serde_json::json!({"room": record.name}),
            },
        )
        .await
        .map(|created| created.id)
        .map_err(|e| tracing::warn!(room = %record.name, error = %e, "no active speaker events"))
        .ok();
    let mut observed: std::collections::BTreeSet<String> = Default::default();
    let mut events = node.events().subscribe();
    let mut tick = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            event = events.recv() => {
                match event {
                    Ok(n) if n.event == "dominantspeaker" && Some(&n.target_id) == observer.as_ref() => {
                        if let Some(producer) = n.data["producerId"].as_str() {
                            lock(&state.room_watches.speakers).insert(
                                record.name.clone(),
                                ActiveSpeaker { producer_id: producer.to_string(), since_ms: unix_ms() },
                            );
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                    _ => {}
                }
                continue;
            }
        }
        if state.room_watches.stop_if_unwatched(&record.name) {
            if let Some(observer) = &observer {
                let _ = node.close(ObjectKind::RtpObserver, observer);
            }
            return;
        }
        if let Some(observer) = &observer {
            for (id, entry, piped) in node.topology().producers_in(&record.router_id) {
                if !piped && entry.shared.kind == MediaKind::Audio && observed.insert(id.clone()) {
                    let _ = node.rtp_observer_add_producer(observer, id).await;
                }
            }
        }
        let now = cluster_view(&state, &record, authorization.clone()).await;
        for event in changes(&last, &now) {
            let _ = sender.send(event);
        }
        last = now;
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
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
    let speaker = |d: &RoomDetail| d.active_speaker.as_ref().map(|s| s.producer_id.clone());
    if let Some(producer_id) = speaker(after).filter(|now| speaker(before).as_ref() != Some(now)) {
        let producer = after.producers.iter().find(|p| p.id == producer_id);
        events.push(json!({"notification": "activeSpeaker", "data": {
            "producerId": producer_id,
            "identity": producer.and_then(|p| p.identity.clone()),
            "session": producer.and_then(|p| p.session.clone()),
        }}));
    }
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
