//! What a producer publishes to the data plane at creation, fixed for its
//! lifetime so that readers need no lock: its parameters, what kind of
//! layers it has, and its counters.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::rtp_parameters::{MediaKind, RtpMapping, RtpParameters};
use crate::stats::StreamCounters;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProducerType {
    Simple,
    Simulcast,
    Svc,
}

impl ProducerType {
    /// mediasoup's rule: several encodings are simulcast; one encoding with
    /// several layers in its scalabilityMode is SVC where the codec has
    /// spatial layers (VP9, AV1), else simulcast of one stream whose
    /// temporal layers a consumer can still choose (VP8 `L1T3`).
    pub fn of(params: &RtpParameters) -> Self {
        if params.encodings.len() > 1 {
            return ProducerType::Simulcast;
        }
        let layers = Layers::of_first_encoding(params);
        if layers.spatial == 1 && layers.temporal == 1 {
            return ProducerType::Simple;
        }
        let codec_has_spatial_layers =
            params.codecs.iter().find(|c| !c.is_rtx()).is_some_and(|c| {
                let name = c.mime_type.to_ascii_lowercase();
                name == "video/vp9" || name == "video/av1"
            });
        if codec_has_spatial_layers {
            ProducerType::Svc
        } else if layers.spatial == 1 {
            ProducerType::Simulcast
        } else {
            // Spatial layers the codec cannot carry: nothing to choose.
            ProducerType::Simple
        }
    }
}

/// Spatial and temporal layer counts (or indices, for preferred layers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Layers {
    pub spatial: u8,
    pub temporal: u8,
}

impl Layers {
    /// The layers of the first encoding's scalabilityMode (one of each
    /// without).
    fn of_first_encoding(params: &RtpParameters) -> Layers {
        params
            .encodings
            .first()
            .and_then(|e| e.scalability_mode.as_deref())
            .map(Layers::from_scalability_mode)
            .unwrap_or(Layers {
                spatial: 1,
                temporal: 1,
            })
    }

    /// "L3T3", "S2T1", "L1T2_KEY" → counts; anything else is one layer.
    pub fn from_scalability_mode(mode: &str) -> Layers {
        let digits = |after: char| -> Option<u8> {
            let rest = mode.get(mode.find(after)? + 1..)?;
            let end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            rest.get(..end)?.parse().ok()
        };
        let spatial = if mode.starts_with('L') || mode.starts_with('S') {
            mode.get(1..)
                .and_then(|r| r.get(..r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len())))
                .and_then(|d| d.parse().ok())
                .unwrap_or(1)
        } else {
            1
        };
        Layers {
            spatial: spatial.max(1),
            temporal: digits('T').unwrap_or(1).max(1),
        }
    }
}

/// What a producer publishes to the rest of the node at creation: fixed for
/// its lifetime, so readers need no lock.
#[derive(Debug)]
pub struct ProducerShared {
    pub id: String,
    pub kind: MediaKind,
    pub producer_type: ProducerType,
    pub rtp_parameters: RtpParameters,
    pub consumable_rtp_parameters: RtpParameters,
    pub rtp_mapping: RtpMapping,
    /// One per encoding.
    pub counters: Vec<StreamCounters>,
}

impl ProducerShared {
    /// Layer counts consumers of this producer can choose among.
    pub fn layers(&self) -> Layers {
        let per_encoding = Layers::of_first_encoding(&self.rtp_parameters);
        match self.producer_type {
            ProducerType::Simulcast => Layers {
                spatial: self.rtp_parameters.encodings.len() as u8,
                temporal: per_encoding.temporal,
            },
            _ => per_encoding,
        }
    }
}

/// PLI/FIR toward a sender at most this often, however many consumers ask.
pub const KEY_FRAME_REQUEST_INTERVAL: Duration = Duration::from_secs(1);
