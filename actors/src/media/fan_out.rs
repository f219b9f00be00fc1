//! Spreading a large fan-out over the machine's cores. One producer's
//! packets arrive on one socket task; with hundreds of consumers the
//! copies and sends of one packet exceed what one core does (measured: one
//! core saturates near 150,000 forwarded packets/s). Consumers are split
//! into shares by SSRC — stable, so a consumer's packets never change
//! thread and stay in order — and helper threads take all shares but the
//! first, each receiving a copy of the packet through a bounded queue.
//! Whether a fan-out is split is the producer's `FanOutLoad`'s call.

use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use crate::media::producer_media::ProducerMedia;

/// Packets waiting per helper before the receiving thread does the work
/// itself rather than queue more.
const QUEUE: usize = 2048;

pub struct Job {
    pub producer: Arc<ProducerMedia>,
    pub packet: Vec<u8>,
    pub encoding: usize,
    pub now: Instant,
    pub share: usize,
}

/// Helper threads are capped at one per core up to this many cores.
pub const MAX_SHARES: usize = 8;

pub struct FanOutPool {
    helpers: Vec<SyncSender<Job>>,
}

impl FanOutPool {
    /// The shared pool: one helper per core beyond the first.
    pub fn get() -> &'static FanOutPool {
        static POOL: OnceLock<FanOutPool> = OnceLock::new();
        POOL.get_or_init(|| {
            let cores = std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                .min(MAX_SHARES);
            let helpers = (1..cores)
                .filter_map(|i| {
                    let (sender, receiver) = sync_channel::<Job>(QUEUE);
                    std::thread::Builder::new()
                        .name(format!("troupe-fan-out-{i}"))
                        .spawn(move || {
                            while let Ok(job) = receiver.recv() {
                                job.producer.forward_share(
                                    &job.packet,
                                    job.encoding,
                                    job.now,
                                    job.share,
                                );
                                job.producer.fan_out_load.share_done();
                            }
                        })
                        .ok()
                        .map(|_| sender)
                })
                .collect();
            FanOutPool { helpers }
        })
    }

    /// The most shares a fan-out is split into: one per thread.
    pub fn max_shares(&self) -> usize {
        self.helpers.len() + 1
    }

    /// Hands share `job.share` to its helper; gives the job back if the
    /// helper is busy, for the caller to do inline.
    pub fn submit(&self, job: Job) -> Result<(), Job> {
        match self.helpers.get(job.share - 1) {
            Some(helper) => helper.try_send(job).map_err(|e| match e {
                TrySendError::Full(job) | TrySendError::Disconnected(job) => job,
            }),
            None => Err(job),
        }
    }
}
