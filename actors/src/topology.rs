//! Who exists on this node and who depends on whom: routers, their
//! transports, producers and consumers, with the actor serving each. The API
//! finds actors here, and the close cascade is computed here in one place,
//! atomically, so a close racing a failure closes each object exactly once.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use ractor::{ActorCell, ActorId, ActorRef};

pub use crate::object_kind::{CloseCause, ObjectKind};

use crate::consumer::ConsumerMsg;
use crate::data_consumer::DataConsumerMsg;
use crate::data_producer::{DataProducerInfo, DataProducerMsg};
use crate::error::{ActorError, ActorResult};
use crate::media::consumer_media::ConsumerMedia;
use crate::media::data_consumer_media::DataConsumerMedia;
use crate::media::data_producer_media::DataProducerMedia;
use crate::media::plain_endpoint::PlainEndpoint;
use crate::media::producer_media::ProducerMedia;
use crate::media::webrtc_endpoint::WebRtcEndpoint;
use crate::media::MediaHandle;
use crate::producer::{ProducerMsg, ProducerShared};
use crate::recording::{RecordingInfo, RecordingMsg};
use crate::router::RouterMsg;
use crate::rtp_observer::RtpObserverMsg;
use crate::transport::{TransportKind, TransportMsg};

#[derive(Clone)]
pub struct RouterEntry {
    pub actor: ActorRef<RouterMsg>,
}

#[derive(Clone)]
pub struct TransportEntry {
    pub router_id: String,
    pub kind: TransportKind,
    pub actor: ActorRef<TransportMsg>,
    pub endpoint: Option<Arc<WebRtcEndpoint>>,
    /// A plain transport's packet side (closed with it).
    pub media: Option<Arc<PlainEndpoint>>,
}

#[derive(Clone)]
pub struct ProducerEntry {
    pub router_id: String,
    pub transport_id: String,
    pub actor: ActorRef<ProducerMsg>,
    pub shared: Arc<ProducerShared>,
    pub media: Arc<ProducerMedia>,
    pub paused: bool,
    pub consumers: BTreeSet<String>,
}

#[derive(Clone)]
pub struct ConsumerEntry {
    pub router_id: String,
    pub transport_id: String,
    pub producer_id: String,
    pub actor: ActorRef<ConsumerMsg>,
    pub media: Arc<ConsumerMedia>,
}

#[derive(Clone)]
pub struct DataProducerEntry {
    pub router_id: String,
    pub transport_id: String,
    pub actor: ActorRef<DataProducerMsg>,
    pub media: Arc<DataProducerMedia>,
    pub info: Arc<DataProducerInfo>,
    pub paused: bool,
    pub consumers: BTreeSet<String>,
}

#[derive(Clone)]
pub struct DataConsumerEntry {
    pub router_id: String,
    pub transport_id: String,
    pub data_producer_id: String,
    pub actor: ActorRef<DataConsumerMsg>,
    pub media: Arc<DataConsumerMedia>,
}

/// An object taken out of the topology, whose actor must now be stopped.
pub struct Detached {
    pub kind: ObjectKind,
    /// The metric kind: `webrtc_transport` rather than `transport`.
    pub metric_kind: &'static str,
    pub id: String,
    pub router_id: String,
    pub cell: ActorCell,
    pub cause: CloseCause,
    /// The packet-path side to shut down with the actor.
    pub media: Option<Arc<dyn MediaHandle>>,
}

#[derive(Clone)]
pub struct RtpObserverEntry {
    pub router_id: String,
    pub actor: ActorRef<RtpObserverMsg>,
}

#[derive(Clone)]
pub struct RecordingEntry {
    pub router_id: String,
    pub actor: ActorRef<RecordingMsg>,
}

/// A recording by id: running, finished (its final state), or unknown.
pub enum RecordingLookup {
    Live(RecordingEntry),
    Finished(Box<RecordingInfo>),
    Unknown,
}

/// Finished recordings kept for `GET /v1/recordings/{id}`.
const FINISHED_RECORDINGS: usize = 256;

#[derive(Default)]
struct Inner {
    routers: HashMap<String, RouterEntry>,
    recordings: HashMap<String, RecordingEntry>,
    rtp_observers: HashMap<String, RtpObserverEntry>,
    finished: VecDeque<RecordingInfo>,
    transports: HashMap<String, TransportEntry>,
    producers: HashMap<String, ProducerEntry>,
    consumers: HashMap<String, ConsumerEntry>,
    data_producers: HashMap<String, DataProducerEntry>,
    data_consumers: HashMap<String, DataConsumerEntry>,
    by_actor: HashMap<ActorId, (ObjectKind, String)>,
}

#[derive(Clone, Default)]
pub struct Topology {
    inner: Arc<Mutex<Inner>>,
}

impl Inner {
    fn is_pipe(&self, transport_id: &str) -> bool {
        self.transports
            .get(transport_id)
            .is_some_and(|t| t.kind == TransportKind::Pipe)
    }
}

impl Topology {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock would be a bug in this file; the
        // maps are still consistent at every await-free step, so go on.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn insert_router(&self, id: &str, actor: ActorRef<RouterMsg>) {
        let mut inner = self.lock();
        inner
            .by_actor
            .insert(actor.get_id(), (ObjectKind::Router, id.to_string()));
        inner.routers.insert(id.to_string(), RouterEntry { actor });
    }

    pub fn insert_transport(&self, id: &str, entry: TransportEntry) -> ActorResult<()> {
        let mut inner = self.lock();
        if !inner.routers.contains_key(&entry.router_id) {
            return Err(ActorError::not_found(ObjectKind::Router, &entry.router_id));
        }
        inner.by_actor.insert(
            entry.actor.get_id(),
            (ObjectKind::Transport, id.to_string()),
        );
        inner.transports.insert(id.to_string(), entry);
        Ok(())
    }

    pub fn insert_producer(&self, id: &str, entry: ProducerEntry) -> ActorResult<()> {
        let mut inner = self.lock();
        if !inner.transports.contains_key(&entry.transport_id) {
            return Err(ActorError::not_found(
                ObjectKind::Transport,
                &entry.transport_id,
            ));
        }
        if inner.producers.contains_key(id) {
            return Err(ActorError::WrongState(format!(
                "producer {id} already exists on this node"
            )));
        }
        inner
            .by_actor
            .insert(entry.actor.get_id(), (ObjectKind::Producer, id.to_string()));
        inner.producers.insert(id.to_string(), entry);
        Ok(())
    }

    pub fn insert_consumer(&self, id: &str, entry: ConsumerEntry) -> ActorResult<()> {
        let mut inner = self.lock();
        if !inner.transports.contains_key(&entry.transport_id) {
            return Err(ActorError::not_found(
                ObjectKind::Transport,
                &entry.transport_id,
            ));
        }
        let producer = inner
            .producers
            .get_mut(&entry.producer_id)
            .ok_or_else(|| ActorError::not_found(ObjectKind::Producer, &entry.producer_id))?;
        producer.consumers.insert(id.to_string());
        inner
            .by_actor
            .insert(entry.actor.get_id(), (ObjectKind::Consumer, id.to_string()));
        inner.consumers.insert(id.to_string(), entry);
        Ok(())
    }

    pub fn insert_data_producer(&self, id: &str, entry: DataProducerEntry) -> ActorResult<()> {
        let mut inner = self.lock();
        if !inner.transports.contains_key(&entry.transport_id) {
            return Err(ActorError::not_found(
                ObjectKind::Transport,
                &entry.transport_id,
            ));
        }
        inner.by_actor.insert(
            entry.actor.get_id(),
            (ObjectKind::DataProducer, id.to_string()),
        );
        inner.data_producers.insert(id.to_string(), entry);
        Ok(())
    }

    pub fn insert_data_consumer(&self, id: &str, entry: DataConsumerEntry) -> ActorResult<()> {
        let mut inner = self.lock();
        if !inner.transports.contains_key(&entry.transport_id) {
            return Err(ActorError::not_found(
                ObjectKind::Transport,
                &entry.transport_id,
            ));
        }
        let producer = inner
            .data_producers
            .get_mut(&entry.data_producer_id)
            .ok_or_else(|| {
                ActorError::not_found(ObjectKind::DataProducer, &entry.data_producer_id)
            })?;
        producer.consumers.insert(id.to_string());
        inner.by_actor.insert(
            entry.actor.get_id(),
            (ObjectKind::DataConsumer, id.to_string()),
        );
        inner.data_consumers.insert(id.to_string(), entry);
        Ok(())
    }

    pub fn data_producer(&self, id: &str) -> ActorResult<DataProducerEntry> {
        self.lock()
            .data_producers
            .get(id)
            .cloned()
            .ok_or_else(|| ActorError::not_found(ObjectKind::DataProducer, id))
    }

    pub fn data_consumer(&self, id: &str) -> ActorResult<DataConsumerEntry> {
        self.lock()
            .data_consumers
            .get(id)
            .cloned()
            .ok_or_else(|| ActorError::not_found(ObjectKind::DataConsumer, id))
    }

    /// Records a data producer's pause state and returns its consumers'
    /// actors, to tell them.
    pub fn set_data_producer_paused(
        &self,
        id: &str,
        paused: bool,
    ) -> Vec<ActorRef<DataConsumerMsg>> {
        let mut inner = self.lock();
        let Some(producer) = inner.data_producers.get_mut(id) else {
            return Vec::new();
        };
        producer.paused = paused;
        let ids: Vec<String> = producer.consumers.iter().cloned().collect();
        ids.iter()
            .filter_map(|c| inner.data_consumers.get(c).map(|e| e.actor.clone()))
            .collect()
    }

    /// The ids of a transport's data producers and data consumers.
    pub fn transport_data_contents(&self, transport_id: &str) -> (Vec<String>, Vec<String>) {
        let inner = self.lock();
        let mut producers: Vec<String> = inner
            .data_producers
            .iter()
            .filter(|(_, p)| p.transport_id == transport_id)
            .map(|(id, _)| id.clone())
            .collect();
        let mut consumers: Vec<String> = inner
            .data_consumers
            .iter()
            .filter(|(_, c)| c.transport_id == transport_id)
            .map(|(id, _)| id.clone())
            .collect();
        producers.sort();
        consumers.sort();
        (producers, consumers)
    }

    pub fn router(&self, id: &str) -> ActorResult<RouterEntry> {
        self.lock()
            .routers
            .get(id)
            .cloned()
            .ok_or_else(|| ActorError::not_found(ObjectKind::Router, id))
    }

    pub fn transport(&self, id: &str) -> ActorResult<TransportEntry> {
        self.lock()
            .transports
            .get(id)
            .cloned()
            .ok_or_else(|| ActorError::not_found(ObjectKind::Transport, id))
    }

    /// A router's producers on this node, each with whether it came through
    /// a pipe (then its origin is another router's producer of the same id).
    pub fn producers_in(&self, router_id: &str) -> Vec<(String, ProducerEntry, bool)> {
        let inner = self.lock();
        inner
            .producers
            .iter()
            .filter(|(_, p)| p.router_id == router_id)
            .map(|(id, p)| (id.clone(), p.clone(), inner.is_pipe(&p.transport_id)))
            .collect()
    }

    /// A router's data producers on this node, each with whether it came
    /// through a pipe.
    pub fn data_producers_in(&self, router_id: &str) -> Vec<(String, DataProducerEntry, bool)> {
        let inner = self.lock();
        inner
            .data_producers
            .iter()
            .filter(|(_, p)| p.router_id == router_id)
            .map(|(id, p)| (id.clone(), p.clone(), inner.is_pipe(&p.transport_id)))
            .collect()
    }

    pub fn producer(&self, id: &str) -> ActorResult<ProducerEntry> {
        self.lock()
            .producers
            .get(id)
            .cloned()
            .ok_or_else(|| ActorError::not_found(ObjectKind::Producer, id))
    }

    pub fn consumer(&self, id: &str) -> ActorResult<ConsumerEntry> {
        self.lock()
            .consumers
            .get(id)
            .cloned()
            .ok_or_else(|| ActorError::not_found(ObjectKind::Consumer, id))
    }

    pub fn insert_recording(&self, id: &str, entry: RecordingEntry) -> ActorResult<()> {
        let mut inner = self.lock();
        if !inner.routers.contains_key(&entry.router_id) {
            return Err(ActorError::not_found(ObjectKind::Router, &entry.router_id));
        }
        inner.by_actor.insert(
            entry.actor.get_id(),
            (ObjectKind::Recording, id.to_string()),
        );
        inner.recordings.insert(id.to_string(), entry);
        Ok(())
    }

    pub fn insert_rtp_observer(&self, id: &str, entry: RtpObserverEntry) -> ActorResult<()> {
        let mut inner = self.lock();
        if !inner.routers.contains_key(&entry.router_id) {
            return Err(ActorError::not_found(ObjectKind::Router, &entry.router_id));
        }
        inner.by_actor.insert(
            entry.actor.get_id(),
            (ObjectKind::RtpObserver, id.to_string()),
        );
        inner.rtp_observers.insert(id.to_string(), entry);
        Ok(())
    }

    pub fn rtp_observer(&self, id: &str) -> ActorResult<RtpObserverEntry> {
        self.lock()
            .rtp_observers
            .get(id)
            .cloned()
            .ok_or_else(|| ActorError::not_found(ObjectKind::RtpObserver, id))
    }

    pub fn recording(&self, id: &str) -> RecordingLookup {
        let inner = self.lock();
        match inner.recordings.get(id) {
            Some(entry) => RecordingLookup::Live(entry.clone()),
            None => match inner.finished.iter().find(|r| r.id == id) {
                Some(info) => RecordingLookup::Finished(Box::new(info.clone())),
                None => RecordingLookup::Unknown,
            },
        }
    }

    /// A recording ended: it leaves the live table, its final state is kept.
    pub fn finish_recording(&self, info: &RecordingInfo) {
        let mut inner = self.lock();
        if let Some(entry) = inner.recordings.remove(&info.id) {
            inner.by_actor.remove(&entry.actor.get_id());
        }
        if inner.finished.len() == FINISHED_RECORDINGS {
            inner.finished.pop_front();
        }
        inner.finished.push_back(info.clone());
    }

    pub fn object_of_actor(&self, actor: ActorId) -> Option<(ObjectKind, String)> {
        self.lock().by_actor.get(&actor).cloned()
    }

    /// Transports, producers and consumers alive: the node's load as the
    /// cluster sees it.
    pub fn object_count(&self) -> usize {
        let inner = self.lock();
        inner.transports.len()
            + inner.producers.len()
            + inner.consumers.len()
            + inner.data_producers.len()
            + inner.data_consumers.len()
    }

    pub fn router_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.lock().routers.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Records a producer's pause state and returns its consumers' actors, to
    /// tell them.
    pub fn set_producer_paused(&self, id: &str, paused: bool) -> Vec<ActorRef<ConsumerMsg>> {
        let mut inner = self.lock();
        let Some(producer) = inner.producers.get_mut(id) else {
            return Vec::new();
        };
        producer.paused = paused;
        let consumer_ids: Vec<String> = producer.consumers.iter().cloned().collect();
        consumer_ids
            .iter()
            .filter_map(|c| inner.consumers.get(c).map(|e| e.actor.clone()))
            .collect()
    }

    /// The ids a router dump shows: its transports, and producer → consumers.
    pub fn router_contents(&self, router_id: &str) -> (Vec<String>, Vec<(String, Vec<String>)>) {
        let inner = self.lock();
        let mut transports: Vec<String> = inner
            .transports
            .iter()
            .filter(|(_, t)| t.router_id == router_id)
            .map(|(id, _)| id.clone())
            .collect();
        transports.sort();
        let mut producers: Vec<(String, Vec<String>)> = inner
            .producers
            .iter()
            .filter(|(_, p)| p.router_id == router_id)
            .map(|(id, p)| (id.clone(), p.consumers.iter().cloned().collect()))
            .collect();
        producers.sort();
        (transports, producers)
    }

    /// A router's data producers (→ their data consumers) and observers.
    pub fn router_data_contents(
        &self,
        router_id: &str,
    ) -> (Vec<(String, Vec<String>)>, Vec<String>) {
        let inner = self.lock();
        let mut data: Vec<(String, Vec<String>)> = inner
            .data_producers
            .iter()
            .filter(|(_, p)| p.router_id == router_id)
            .map(|(id, p)| (id.clone(), p.consumers.iter().cloned().collect()))
            .collect();
        data.sort();
        let mut observers: Vec<String> = inner
            .rtp_observers
            .iter()
            .filter(|(_, o)| o.router_id == router_id)
            .map(|(id, _)| id.clone())
            .collect();
        observers.sort();
        (data, observers)
    }

    /// The ids of a transport's producers and consumers.
    pub fn transport_contents(&self, transport_id: &str) -> (Vec<String>, Vec<String>) {
        let inner = self.lock();
        let mut producers: Vec<String> = inner
            .producers
            .iter()
            .filter(|(_, p)| p.transport_id == transport_id)
            .map(|(id, _)| id.clone())
            .collect();
        let mut consumers: Vec<String> = inner
            .consumers
            .iter()
            .filter(|(_, c)| c.transport_id == transport_id)
            .map(|(id, _)| id.clone())
            .collect();
        producers.sort();
        consumers.sort();
        (producers, consumers)
    }

    /// Removes an object and everything that depends on it, leaves first:
    /// a router takes its transports; a transport its producers and
    /// consumers; a producer its consumers, wherever they are. Returns
    /// nothing if the object is already gone (someone else closed it).
    pub fn detach(&self, kind: ObjectKind, id: &str, cause: CloseCause) -> Vec<Detached> {
        let mut inner = self.lock();
        let mut out = Vec::new();
        match kind {
            ObjectKind::Router => {
                if !inner.routers.contains_key(id) {
                    return out;
                }
                let transports: Vec<String> = inner
                    .transports
                    .iter()
                    .filter(|(_, t)| t.router_id == id)
                    .map(|(tid, _)| tid.clone())
                    .collect();
                let recordings: Vec<String> = inner
                    .recordings
                    .iter()
                    .filter(|(_, r)| r.router_id == id)
                    .map(|(rid, _)| rid.clone())
                    .collect();
                for rid in recordings {
                    if let Some(recording) = inner.recordings.remove(&rid) {
                        inner.by_actor.remove(&recording.actor.get_id());
                        out.push(Detached {
                            kind: ObjectKind::Recording,
                            metric_kind: "recording",
                            id: rid,
                            router_id: id.to_string(),
                            cell: recording.actor.get_cell(),
                            cause: CloseCause::RouterClosed,
                            media: None,
                        });
                    }
                }
                let observers: Vec<String> = inner
                    .rtp_observers
                    .iter()
                    .filter(|(_, o)| o.router_id == id)
                    .map(|(oid, _)| oid.clone())
                    .collect();
                for oid in observers {
                    detach_rtp_observer(&mut inner, &oid, CloseCause::RouterClosed, &mut out);
                }
                for tid in transports {
                    detach_transport(&mut inner, &tid, CloseCause::RouterClosed, &mut out);
                }
                if let Some(router) = inner.routers.remove(id) {
                    inner.by_actor.remove(&router.actor.get_id());
                    out.push(Detached {
                        kind,
                        metric_kind: "router",
                        id: id.to_string(),
                        router_id: id.to_string(),
                        cell: router.actor.get_cell(),
                        cause,
                        media: None,
                    });
                }
            }
            ObjectKind::Transport => detach_transport(&mut inner, id, cause, &mut out),
            ObjectKind::Producer => detach_producer(&mut inner, id, cause, &mut out),
            ObjectKind::Consumer => detach_consumer(&mut inner, id, cause, &mut out),
            ObjectKind::DataProducer => detach_data_producer(&mut inner, id, cause, &mut out),
            ObjectKind::DataConsumer => detach_data_consumer(&mut inner, id, cause, &mut out),
            ObjectKind::RtpObserver => detach_rtp_observer(&mut inner, id, cause, &mut out),
            // Recordings stop through their actor, which finishes the file.
            ObjectKind::Recording => {}
        }
        out
    }
}

fn detach_transport(inner: &mut Inner, id: &str, cause: CloseCause, out: &mut Vec<Detached>) {
    if !inner.transports.contains_key(id) {
        return;
    }
    let consumers: Vec<String> = inner
        .consumers
        .iter()
        .filter(|(_, c)| c.transport_id == id)
        .map(|(cid, _)| cid.clone())
        .collect();
    for cid in consumers {
        detach_consumer(inner, &cid, CloseCause::TransportClosed, out);
    }
    let data_consumers: Vec<String> = inner
        .data_consumers
        .iter()
        .filter(|(_, c)| c.transport_id == id)
        .map(|(cid, _)| cid.clone())
        .collect();
    for cid in data_consumers {
        detach_data_consumer(inner, &cid, CloseCause::TransportClosed, out);
    }
    let data_producers: Vec<String> = inner
        .data_producers
        .iter()
        .filter(|(_, p)| p.transport_id == id)
        .map(|(pid, _)| pid.clone())
        .collect();
    for pid in data_producers {
        detach_data_producer(inner, &pid, CloseCause::TransportClosed, out);
    }
    let producers: Vec<String> = inner
        .producers
        .iter()
        .filter(|(_, p)| p.transport_id == id)
        .map(|(pid, _)| pid.clone())
        .collect();
    for pid in producers {
        detach_producer(inner, &pid, CloseCause::TransportClosed, out);
    }
    if let Some(transport) = inner.transports.remove(id) {
        inner.by_actor.remove(&transport.actor.get_id());
        out.push(Detached {
            kind: ObjectKind::Transport,
            metric_kind: transport.kind.metric_kind(),
            id: id.to_string(),
            router_id: transport.router_id,
            cell: transport.actor.get_cell(),
            cause,
            media: match (transport.endpoint, transport.media) {
                (Some(e), _) => Some(e as Arc<dyn MediaHandle>),
                (None, Some(p)) => Some(p as Arc<dyn MediaHandle>),
                (None, None) => None,
            },
        });
    }
}

fn detach_producer(inner: &mut Inner, id: &str, cause: CloseCause, out: &mut Vec<Detached>) {
    let Some(producer) = inner.producers.remove(id) else {
        return;
    };
    for cid in &producer.consumers {
        detach_consumer(inner, cid, CloseCause::ProducerClosed, out);
    }
    inner.by_actor.remove(&producer.actor.get_id());
    out.push(Detached {
        kind: ObjectKind::Producer,
        metric_kind: "producer",
        id: id.to_string(),
        router_id: producer.router_id,
        cell: producer.actor.get_cell(),
        cause,
        media: Some(producer.media as Arc<dyn MediaHandle>),
    });
}

fn detach_consumer(inner: &mut Inner, id: &str, cause: CloseCause, out: &mut Vec<Detached>) {
    let Some(consumer) = inner.consumers.remove(id) else {
        return;
    };
    if let Some(producer) = inner.producers.get_mut(&consumer.producer_id) {
        producer.consumers.remove(id);
    }
    inner.by_actor.remove(&consumer.actor.get_id());
    out.push(Detached {
        kind: ObjectKind::Consumer,
        metric_kind: "consumer",
        id: id.to_string(),
        router_id: consumer.router_id,
        cell: consumer.actor.get_cell(),
        cause,
        media: Some(consumer.media as Arc<dyn MediaHandle>),
    });
}

fn detach_data_producer(inner: &mut Inner, id: &str, cause: CloseCause, out: &mut Vec<Detached>) {
    let Some(producer) = inner.data_producers.remove(id) else {
        return;
    };
    for cid in &producer.consumers {
        detach_data_consumer(inner, cid, CloseCause::DataProducerClosed, out);
    }
    inner.by_actor.remove(&producer.actor.get_id());
    out.push(Detached {
        kind: ObjectKind::DataProducer,
        metric_kind: "data_producer",
        id: id.to_string(),
        router_id: producer.router_id,
        cell: producer.actor.get_cell(),
        cause,
        media: Some(producer.media as Arc<dyn MediaHandle>),
    });
}

fn detach_data_consumer(inner: &mut Inner, id: &str, cause: CloseCause, out: &mut Vec<Detached>) {
    let Some(consumer) = inner.data_consumers.remove(id) else {
        return;
    };
    if let Some(producer) = inner.data_producers.get_mut(&consumer.data_producer_id) {
        producer.consumers.remove(id);
        producer.media.remove_consumer(id);
    }
    inner.by_actor.remove(&consumer.actor.get_id());
    out.push(Detached {
        kind: ObjectKind::DataConsumer,
        metric_kind: "data_consumer",
        id: id.to_string(),
        router_id: consumer.router_id,
        cell: consumer.actor.get_cell(),
        cause,
        media: Some(consumer.media as Arc<dyn MediaHandle>),
    });
}

fn detach_rtp_observer(inner: &mut Inner, id: &str, cause: CloseCause, out: &mut Vec<Detached>) {
    let Some(observer) = inner.rtp_observers.remove(id) else {
        return;
    };
    inner.by_actor.remove(&observer.actor.get_id());
    out.push(Detached {
        kind: ObjectKind::RtpObserver,
        metric_kind: "rtp_observer",
        id: id.to_string(),
        router_id: observer.router_id,
        cell: observer.actor.get_cell(),
        cause,
        media: None,
    });
}
