//! How a consumer's payload types and header extension ids differ from its
//! router's. mediasoup-client takes the router's numbers, so its consumers
//! need none; a WHEP player offers its own, and the consumer must send with
//! those (RFC 3264: an offer's numbers are what its author receives).

use std::collections::BTreeMap;

use super::match_codecs;
use crate::rtp_parameters::RtpParameters;

/// Pairs of (router's number, consumer's number) where they differ.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Renumbering {
    payload_types: Vec<(u8, u8)>,
    extension_ids: Vec<(u8, u8)>,
}

impl Renumbering {
    /// `None` when the consumer uses the router's numbers throughout.
    pub fn between(consumable: &RtpParameters, consumer: &RtpParameters) -> Option<Renumbering> {
        let mut payload_types: BTreeMap<u8, u8> = BTreeMap::new();
        for codec in consumer.codecs.iter().filter(|c| !c.is_rtx()) {
            if let Some(router) = consumable
                .codecs
                .iter()
                .find(|c| !c.is_rtx() && match_codecs((*c).into(), codec.into(), true))
            {
                payload_types.insert(router.payload_type, codec.payload_type);
            }
        }
        let media: Vec<(u8, u8)> = payload_types.iter().map(|(r, c)| (*r, *c)).collect();
        for rtx in consumer.codecs.iter().filter(|c| c.is_rtx()) {
            let Some(router_apt) = media
                .iter()
                .find(|(_, client)| Some(*client) == rtx.apt())
                .map(|(router, _)| *router)
            else {
                continue;
            };
            if let Some(router) = consumable
                .codecs
                .iter()
                .find(|c| c.is_rtx() && c.apt() == Some(router_apt))
            {
                payload_types.insert(router.payload_type, rtx.payload_type);
            }
        }
        let extension_ids = consumer
            .header_extensions
            .iter()
            .filter_map(|e| {
                let router = consumable
                    .header_extensions
                    .iter()
                    .find(|r| r.uri == e.uri)?;
                Some((router.id, e.id))
            })
            .filter(|(router, client)| router != client)
            .collect::<Vec<_>>();
        let payload_types = payload_types
            .into_iter()
            .filter(|(router, client)| router != client)
            .collect::<Vec<_>>();
        (!payload_types.is_empty() || !extension_ids.is_empty()).then_some(Renumbering {
            payload_types,
            extension_ids,
        })
    }

    pub fn client_payload_type(&self, router: u8) -> u8 {
        lookup(&self.payload_types, router)
    }

    pub fn client_extension_id(&self, router: u8) -> u8 {
        lookup(&self.extension_ids, router)
    }

    pub fn router_payload_type(&self, client: u8) -> u8 {
        reverse_lookup(&self.payload_types, client)
    }

    pub fn router_extension_id(&self, client: u8) -> u8 {
        reverse_lookup(&self.extension_ids, client)
    }
}

fn lookup(pairs: &[(u8, u8)], router: u8) -> u8 {
    pairs
        .iter()
        .find(|(r, _)| *r == router)
        .map_or(router, |(_, c)| *c)
}

fn reverse_lookup(pairs: &[(u8, u8)], client: u8) -> u8 {
    pairs
        .iter()
        .find(|(_, c)| *c == client)
        .map_or(client, |(r, _)| *r)
}
