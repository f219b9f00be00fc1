//! A data consumer on the packet path: it sends its producer's messages on
//! its own SCTP stream of its transport, or, on a direct transport, hands
//! them to the API's event stream.

use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Weak;

use base64::Engine;
use serde_json::json;
use troupe_transports::sctp_link::{SctpSendError, PPID_STRING};

use crate::media::data_producer_media::DataCounters;
use crate::media::media_events::MediaContext;
use crate::media::transport_core::MediaTransport;
use crate::media::MediaHandle;
use crate::object_kind::ObjectKind;

/// Where a data consumer's messages go.
pub enum DataSink {
    /// Its SCTP stream on a transport.
    Sctp {
        transport: Weak<dyn MediaTransport>,
        stream_id: u16,
    },
    /// `message` notifications on `/v1/events` (a direct transport).
    Events,
}

pub struct DataConsumerMedia {
    pub id: String,
    router_id: String,
    ctx: MediaContext,
    sink: DataSink,
    paused: AtomicBool,
    producer_paused: AtomicBool,
    /// Set while the transport's send buffer is full, so the event is sent
    /// once per episode, not once per message.
    buffer_full: AtomicBool,
    closed: AtomicBool,
    pub sent: DataCounters,
}

impl DataConsumerMedia {
    pub fn new(
        id: &str,
        router_id: &str,
        ctx: MediaContext,
        sink: DataSink,
        paused: bool,
        producer_paused: bool,
    ) -> Self {
        DataConsumerMedia {
            id: id.to_string(),
            router_id: router_id.to_string(),
            ctx,
            sink,
            paused: AtomicBool::new(paused),
            producer_paused: AtomicBool::new(producer_paused),
            buffer_full: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            sent: DataCounters::default(),
        }
    }

    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Relaxed);
    }

    pub fn set_producer_paused(&self, paused: bool) {
        self.producer_paused.store(paused, Relaxed);
    }

    /// Bytes waiting in its transport for the receiver.
    pub fn buffered_amount(&self) -> usize {
        match &self.sink {
            DataSink::Sctp {
                transport,
                stream_id,
            } => transport
                .upgrade()
                .map(|t| t.data_buffered_amount(*stream_id))
                .unwrap_or(0),
            DataSink::Events => 0,
        }
    }

    fn emit(&self, event: &str, data: serde_json::Value) {
        self.ctx.events.emit(
            event,
            ObjectKind::DataConsumer,
            &self.id,
            Some(&self.router_id),
            data,
        );
    }

    pub fn send(&self, ppid: u32, payload: &[u8]) {
        if self.closed.load(Relaxed)
            || self.paused.load(Relaxed)
            || self.producer_paused.load(Relaxed)
        {
            return;
        }
        match &self.sink {
            DataSink::Sctp {
                transport,
                stream_id,
            } => {
                let Some(transport) = transport.upgrade() else {
                    return;
                };
                match transport.send_message(*stream_id, ppid, payload) {
                    Ok(()) => {
                        self.sent.count(payload.len());
                        self.buffer_full.store(false, Relaxed);
                    }
                    Err(SctpSendError::BufferFull(_)) => {
                        self.ctx.metrics.drop_packet("sctp_send_buffer_full");
                        if !self.buffer_full.swap(true, Relaxed) {
                            self.emit("sctpsendbufferfull", json!({}));
                        }
                    }
                    Err(SctpSendError::NotConnected) => {
                        self.ctx.metrics.drop_packet("sctp_not_connected")
                    }
                    Err(_) => self.ctx.metrics.drop_packet("sctp_send_failed"),
                }
            }
            DataSink::Events => {
                self.sent.count(payload.len());
                let text = ppid == PPID_STRING;
                let message = match std::str::from_utf8(payload) {
                    Ok(s) if text => s.to_string(),
                    _ => base64::engine::general_purpose::STANDARD.encode(payload),
                };
                self.emit(
                    "message",
                    json!({"ppid": ppid, "binary": !text, "message": message}),
                );
            }
        }
    }
}

impl MediaHandle for DataConsumerMedia {
    fn close(&self) {
        self.closed.store(true, Relaxed);
        if let DataSink::Sctp {
            transport,
            stream_id,
        } = &self.sink
        {
            if let Some(transport) = transport.upgrade() {
                transport.close_data_stream(*stream_id);
                transport.core().release_consumer_stream(*stream_id);
            }
        }
    }
}
