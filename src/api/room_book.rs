//! What this node knows of the people in its rooms: sessions (WHIP, WHEP,
//! the room WebSocket) with their identities, and when each producer came,
//! so WHEP plays the newest. Objects are the actors' business; this book
//! only names them, and forgets what the topology no longer has.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use troupe_actors::topology::Topology;
use utoipa::ToSchema;

/// Sessions and producers remembered per node; beyond that the oldest go
/// (their objects keep working, only their names are forgotten).
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SessionKind {
    Whip,
    Whep,
    Websocket,
}

/// One participant: a session (a WHIP or WHEP transport, or a room
/// WebSocket) and who holds it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Participant {
    /// The session (its transport's id).
    pub id: String,
    pub room: String,
    pub identity: String,
    pub kind: SessionKind,
    pub node: String,
    pub created_at_ms: u64,
}

/// What a session's `PATCH` (trickle, ICE restart) needs.
#[derive(Debug, Clone)]
pub struct SessionIce {
    pub remote_ufrag: String,
    /// The first MID of the bundle, for the restart answer.
    pub first_mid: String,
    pub candidates: Vec<troupe_signaling::LocalCandidate>,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub participant: Participant,
    pub ice: Option<SessionIce>,
}

#[derive(Debug, Clone)]
struct ProducerEntry {
    room: String,
    identity: String,
    session: String,
    created_at_ms: u64,
}

/// Who made a producer (or data producer), in which session, and when.
#[derive(Debug, Clone)]
pub struct ProducerOrigin {
    pub identity: String,
    pub session: String,
    pub created_at_ms: u64,
}

#[derive(Default)]
pub struct RoomBook {
    sessions: Mutex<BTreeMap<String, Session>>,
    producers: Mutex<BTreeMap<String, ProducerEntry>>,
}

pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

impl RoomBook {
    pub fn add_session(&self, session: Session) {
        let mut sessions = lock(&self.sessions);
        if sessions.len() >= MAX_ENTRIES {
            sessions.pop_first();
        }
        sessions.insert(session.participant.id.clone(), session);
    }

    pub fn session(&self, id: &str) -> Option<Session> {
        lock(&self.sessions).get(id).cloned()
    }

    /// After an ICE restart: the peer's new username fragment.
    pub fn set_remote_ufrag(&self, id: &str, ufrag: &str) {
        if let Some(ice) = lock(&self.sessions)
            .get_mut(id)
            .and_then(|s| s.ice.as_mut())
        {
            ice.remote_ufrag = ufrag.to_string();
        }
    }

    pub fn remove_session(&self, id: &str) {
        lock(&self.sessions).remove(id);
    }

    /// Notes a producer or data producer made in a room's session.
    pub fn add_producer(&self, id: &str, room: &str, identity: &str, session: &str) {
        let mut producers = lock(&self.producers);
        if producers.len() >= MAX_ENTRIES {
            producers.pop_first();
        }
        producers.insert(
            id.to_string(),
            ProducerEntry {
                room: room.to_string(),
                identity: identity.to_string(),
                session: session.to_string(),
                created_at_ms: unix_ms(),
            },
        );
    }

    /// When a producer was made here and by whom, if this node saw it.
    pub fn producer_origin(&self, id: &str) -> Option<ProducerOrigin> {
        lock(&self.producers).get(id).map(|p| ProducerOrigin {
            identity: p.identity.clone(),
            session: p.session.clone(),
            created_at_ms: p.created_at_ms,
        })
    }

    /// The room's live sessions on this node; forgets closed ones.
    pub fn participants(&self, room: &str, topology: &Topology) -> Vec<Participant> {
        let mut sessions = lock(&self.sessions);
        // A WebSocket session is its socket, closed explicitly; the others
        // are their transports.
        sessions.retain(|id, s| {
            s.participant.kind == SessionKind::Websocket || topology.transport(id).is_ok()
        });
        lock(&self.producers)
            .retain(|id, _| topology.producer(id).is_ok() || topology.data_producer(id).is_ok());
        sessions
            .values()
            .filter(|s| s.participant.room == room)
            .map(|s| s.participant.clone())
            .collect()
    }

    /// Forgets a closed room's entries.
    pub fn forget_room(&self, room: &str) {
        lock(&self.sessions).retain(|_, s| s.participant.room != room);
        lock(&self.producers).retain(|_, p| p.room != room);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
