//! What each layer of one SVC stream (VP9) carries: bytes counted per
//! spatial and temporal layer as packets arrive, sampled into bitrates
//! once a second. A consumer's share of a thin link is chosen among these
//! layers, as a simulcast consumer's is among streams; unlike streams they
//! share one SSRC, so only the payload descriptor tells them apart.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use troupe_transports::vp9_descriptor::Vp9Descriptor;

/// Layers counted in each dimension (L3T3 is the most browsers send).
const MAX_LAYERS: usize = 4;

pub struct SvcLayerBitrates {
    spatial_layers: usize,
    temporal_layers: usize,
    bytes: [AtomicU64; MAX_LAYERS * MAX_LAYERS],
    bytes_at_sample: [AtomicU64; MAX_LAYERS * MAX_LAYERS],
    bitrates: [AtomicU64; MAX_LAYERS * MAX_LAYERS],
}

impl SvcLayerBitrates {
    /// Counters for a stream of this many layers; `None` for one layer.
    pub fn new(spatial_layers: u8, temporal_layers: u8) -> Option<Self> {
        let spatial_layers = usize::from(spatial_layers).clamp(1, MAX_LAYERS);
        let temporal_layers = usize::from(temporal_layers).clamp(1, MAX_LAYERS);
        (spatial_layers * temporal_layers > 1).then(|| SvcLayerBitrates {
            spatial_layers,
            temporal_layers,
            bytes: Default::default(),
            bytes_at_sample: Default::default(),
            bitrates: Default::default(),
        })
    }

    /// (spatial, temporal) layer counts.
    pub fn shape(&self) -> (usize, usize) {
        (self.spatial_layers, self.temporal_layers)
    }

    /// A packet of `size` bytes with this VP9 payload arrived.
    pub fn on_packet(&self, payload: &[u8], size: usize) {
        let Ok(descriptor) = Vp9Descriptor::parse(payload) else {
            return;
        };
        let spatial = usize::from(descriptor.spatial_id).min(self.spatial_layers - 1);
        let temporal = usize::from(descriptor.temporal_id).min(self.temporal_layers - 1);
        self.bytes[spatial * MAX_LAYERS + temporal].fetch_add(size as u64, Relaxed);
    }

    /// Turns the bytes counted since the last sample, `elapsed` ago, into
    /// bitrates.
    pub fn sample(&self, elapsed: Duration) {
        let micros = elapsed.as_micros().max(1) as u64;
        for ((bytes, at_sample), bitrate) in self
            .bytes
            .iter()
            .zip(&self.bytes_at_sample)
            .zip(&self.bitrates)
        {
            let now = bytes.load(Relaxed);
            let before = at_sample.swap(now, Relaxed);
            bitrate.store(now.saturating_sub(before) * 8 * 1_000_000 / micros, Relaxed);
        }
    }

    /// Bits per second of everything a receiver of layers up to `spatial`
    /// and `temporal` gets (every layer at or below both).
    pub fn up_to(&self, spatial: usize, temporal: usize) -> u64 {
        (0..=spatial.min(self.spatial_layers - 1))
            .flat_map(|s| {
                (0..=temporal.min(self.temporal_layers - 1)).map(move |t| s * MAX_LAYERS + t)
            })
            .map(|i| self.bitrates[i].load(Relaxed))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A non-flexible VP9 payload start of layer (spatial, temporal).
    fn vp9(spatial: u8, temporal: u8) -> Vec<u8> {
        // I (picture id), L (layer indices), B; 15-bit picture id 1; then
        // TID|U|SID|D and TL0PICIDX.
        vec![0xa8, 0x80, 0x01, (temporal << 5) | (spatial << 1), 0, 0xff]
    }

    #[test]
    fn each_layer_is_counted_and_receivers_get_the_layers_below_theirs() {
        let layers = SvcLayerBitrates::new(3, 3).unwrap();
        for (spatial, temporal, size) in [(0, 0, 1_000), (0, 1, 500), (1, 0, 2_000), (2, 2, 4_000)]
        {
            layers.on_packet(&vp9(spatial, temporal), size);
        }
        layers.sample(Duration::from_secs(1));
        assert_eq!(layers.up_to(0, 0), 8_000);
        assert_eq!(layers.up_to(0, 2), 12_000);
        assert_eq!(layers.up_to(1, 0), 24_000);
        assert_eq!(layers.up_to(2, 2), 60_000);
        // The next second, nothing: every bitrate is 0 again.
        layers.sample(Duration::from_secs(1));
        assert_eq!(layers.up_to(2, 2), 0);
    }

    #[test]
    fn one_layer_needs_no_counters_and_bad_payloads_count_nowhere() {
        assert!(SvcLayerBitrates::new(1, 1).is_none());
        let layers = SvcLayerBitrates::new(2, 1).unwrap();
        assert_eq!(layers.shape(), (2, 1));
        layers.on_packet(&[], 1_000);
        layers.on_packet(&[0xff], 1_000);
        layers.sample(Duration::from_secs(1));
        assert_eq!(layers.up_to(3, 3), 0);
        // Layer ids beyond the stream's count as its top layer.
        layers.on_packet(&vp9(3, 2), 100);
        layers.sample(Duration::from_secs(1));
        assert_eq!(layers.up_to(1, 0), 800);
    }
}
