//! A data producer on the packet path: messages from its SCTP stream (or,
//! for a direct one, from the API) go to each of its data consumers unless
//! it is paused. Messages never pass through a mailbox.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, RwLock, Weak};

use troupe_transports::sctp_link::SctpMessage;

use crate::media::data_consumer_media::DataConsumerMedia;
use crate::media::transport_core::MediaTransport;
use crate::media::MediaHandle;

#[derive(Debug, Default)]
pub struct DataCounters {
    pub messages: AtomicU64,
    pub bytes: AtomicU64,
}

impl DataCounters {
    pub fn count(&self, bytes: usize) {
        self.messages.fetch_add(1, Relaxed);
        self.bytes.fetch_add(bytes as u64, Relaxed);
    }
}

pub struct DataProducerMedia {
    pub id: String,
    /// The SCTP stream its messages arrive on (none for a direct producer).
    pub stream_id: Option<u16>,
    transport: Option<Weak<dyn MediaTransport>>,
    paused: AtomicBool,
    consumers: RwLock<Vec<Arc<DataConsumerMedia>>>,
    pub received: DataCounters,
}

impl DataProducerMedia {
    /// `sctp`: its transport and stream; none for a direct producer.
    pub fn new(id: &str, sctp: Option<(Weak<dyn MediaTransport>, u16)>, paused: bool) -> Arc<Self> {
        let (transport, stream_id) = match sctp {
            Some((t, s)) => (Some(t), Some(s)),
            None => (None, None),
        };
        Arc::new(DataProducerMedia {
            id: id.to_string(),
            stream_id,
            transport,
            paused: AtomicBool::new(paused),
            consumers: RwLock::new(Vec::new()),
            received: DataCounters::default(),
        })
    }

    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Relaxed);
    }

    pub fn add_consumer(&self, consumer: Arc<DataConsumerMedia>) {
        if let Ok(mut consumers) = self.consumers.write() {
            consumers.push(consumer);
        }
    }

    pub fn remove_consumer(&self, consumer_id: &str) {
        if let Ok(mut consumers) = self.consumers.write() {
            consumers.retain(|c| c.id != consumer_id);
        }
    }

    /// One message from the producer's side; counted even when paused (as
    /// mediasoup counts what arrives).
    pub fn deliver(&self, message: &SctpMessage) {
        self.received.count(message.payload.len());
        if self.paused.load(Relaxed) {
            return;
        }
        let consumers = match self.consumers.read() {
            Ok(c) => c.clone(),
            Err(_) => return,
        };
        for consumer in consumers {
            consumer.send(message.ppid, &message.payload);
        }
    }
}

impl MediaHandle for DataProducerMedia {
    fn close(&self) {
        if let Ok(mut consumers) = self.consumers.write() {
            consumers.clear();
        }
        if let (Some(transport), Some(stream_id)) = (&self.transport, self.stream_id) {
            if let Some(transport) = transport.upgrade() {
                transport.close_data_stream(stream_id);
                transport.core().remove_data_producer(stream_id);
            }
        }
    }
}
