//! Automatic cascading: a consumer on this node of a producer that lives on
//! another node gets the media through a pair of pipe transports (mediasoup's
//! pipeToRouter, across processes), one pipe per (producer, receiving node)
//! however many consumers that node has, torn down when the last consumer
//! goes.
//!
//! The receiving node drives: it makes its pipe transport, asks the source
//! to make the other end and a pipe consumer, then produces with the same
//! producer id. Only the receiver ever opens a pipe for a (producer,
//! receiver) pair, and it does so under a per-producer lock, so two nodes
//! never open crossing pipes for the same media (no glare).
//!
//! Regions: media for one producer crosses between two regions once. The
//! source for a node in another region than the producer's is that
//! region's entry node (the smallest node id of the region), which pulls
//! the producer itself and fans it out inside the region.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;

/// A producer this node receives through a pipe.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InboundPipe {
    pub producer_id: String,
    pub router_id: String,
    pub from_node: String,
    /// This node's end.
    pub transport_id: String,
    /// The source's end.
    pub remote_transport_id: String,
    /// Sweeps in a row that found no consumer.
    #[serde(skip)]
    pub idle_sweeps: u32,
}

/// A producer this node sends to another node through a pipe.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboundPipe {
    pub producer_id: String,
    pub router_id: String,
    pub to_node: String,
    pub transport_id: String,
    pub consumer_id: String,
}

/// The pipes of this node, both ways.
#[derive(Default)]
pub struct PipeBook {
    inbound: Mutex<HashMap<String, InboundPipe>>,
    outbound: Mutex<HashMap<String, OutboundPipe>>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The right to set up one object, while held.
pub struct Setup<'a> {
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
    book: &'a PipeBook,
    key: String,
}

impl Drop for Setup<'_> {
    fn drop(&mut self) {
        self.guard.take();
        let mut locks = lock(&self.book.locks);
        // Only the map holds it: nobody waits.
        if locks
            .get(&self.key)
            .is_some_and(|m| Arc::strong_count(m) == 1)
        {
            locks.remove(&self.key);
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PipeListing {
    pub inbound: Vec<InboundPipe>,
    pub outbound: Vec<OutboundPipe>,
}

impl PipeBook {
    /// Waits for the right to set up one object (a producer's pipe, a
    /// room's local router); one setup per object at a time. The lock is
    /// forgotten when its last holder or waiter is done, so the map holds
    /// only setups in progress.
    pub async fn setup(&self, key: &str) -> Setup<'_> {
        let mutex = lock(&self.locks)
            .entry(key.to_string())
            .or_default()
            .clone();
        Setup {
            guard: Some(mutex.lock_owned().await),
            book: self,
            key: key.to_string(),
        }
    }

    pub fn add_inbound(&self, pipe: InboundPipe) {
        lock(&self.inbound).insert(pipe.producer_id.clone(), pipe);
    }

    pub fn remove_inbound(&self, producer_id: &str) -> Option<InboundPipe> {
        lock(&self.inbound).remove(producer_id)
    }

    pub fn add_outbound(&self, pipe: OutboundPipe) {
        lock(&self.outbound).insert(pipe.transport_id.clone(), pipe);
    }

    pub fn remove_outbound(&self, transport_id: &str) -> Option<OutboundPipe> {
        lock(&self.outbound).remove(transport_id)
    }

    pub fn outbound_by_consumer(&self, consumer_id: &str) -> Option<OutboundPipe> {
        lock(&self.outbound)
            .values()
            .find(|p| p.consumer_id == consumer_id)
            .cloned()
    }

    /// Inbound pipes whose producer has had no consumer for `sweeps`
    /// sweeps in a row; `consumers` counts a producer's consumers.
    pub fn idle_inbound(&self, sweeps: u32, consumers: impl Fn(&str) -> usize) -> Vec<InboundPipe> {
        let mut inbound = lock(&self.inbound);
        let mut idle = Vec::new();
        for pipe in inbound.values_mut() {
            if consumers(&pipe.producer_id) == 0 {
                pipe.idle_sweeps += 1;
                if pipe.idle_sweeps >= sweeps {
                    idle.push(pipe.clone());
                }
            } else {
                pipe.idle_sweeps = 0;
            }
        }
        for pipe in &idle {
            inbound.remove(&pipe.producer_id);
        }
        idle
    }

    /// Takes out every pipe to or from `node`.
    pub fn remove_node(&self, node: &str) -> (Vec<InboundPipe>, Vec<OutboundPipe>) {
        let mut inbound = lock(&self.inbound);
        let gone_in: Vec<InboundPipe> = inbound
            .values()
            .filter(|p| p.from_node == node)
            .cloned()
            .collect();
        for p in &gone_in {
            inbound.remove(&p.producer_id);
        }
        let mut outbound = lock(&self.outbound);
        let gone_out: Vec<OutboundPipe> = outbound
            .values()
            .filter(|p| p.to_node == node)
            .cloned()
            .collect();
        for p in &gone_out {
            outbound.remove(&p.transport_id);
        }
        (gone_in, gone_out)
    }

    pub fn listing(&self) -> PipeListing {
        PipeListing {
            inbound: lock(&self.inbound).values().cloned().collect(),
            outbound: lock(&self.outbound).values().cloned().collect(),
        }
    }

    /// Pipes per peer node: (peer, inbound, outbound).
    pub fn per_peer(&self) -> HashMap<String, (usize, usize)> {
        let mut counts: HashMap<String, (usize, usize)> = HashMap::new();
        for p in lock(&self.inbound).values() {
            counts.entry(p.from_node.clone()).or_default().0 += 1;
        }
        for p in lock(&self.outbound).values() {
            counts.entry(p.to_node.clone()).or_default().1 += 1;
        }
        counts
    }
}

/// Which node a node in `this_region` should pull a producer from, given
/// the producer's home node and region and the live members
/// (id, region).
pub fn source_for<'a>(
    this_node: &'a str,
    this_region: &str,
    home: &'a str,
    home_region: &str,
    members: impl Iterator<Item = (&'a str, &'a str)>,
) -> &'a str {
    if home_region == this_region {
        return home;
    }
    let entry = members
        .filter(|(_, region)| *region == this_region)
        .map(|(id, _)| id)
        .chain(std::iter::once(this_node))
        .min()
        .unwrap_or(this_node);
    if entry == this_node {
        home
    } else {
        entry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEMBERS: [(&str, &str); 4] = [("n1", "eu"), ("n2", "eu"), ("n3", "us"), ("n4", "us")];

    fn source<'a>(this: &'a str, region: &str, home: &'a str, home_region: &str) -> &'a str {
        source_for(this, region, home, home_region, MEMBERS.iter().copied())
    }

    #[test]
    fn inside_a_region_media_comes_from_its_home() {
        assert_eq!(source("n2", "eu", "n1", "eu"), "n1");
    }

    #[test]
    fn across_regions_it_enters_once_through_the_entry_node() {
        // n3 is us's entry: it pulls from the home; n4 pulls from n3.
        assert_eq!(source("n3", "us", "n1", "eu"), "n1");
        assert_eq!(source("n4", "us", "n1", "eu"), "n3");
        assert_eq!(source("n2", "eu", "n4", "us"), "n1");
        assert_eq!(source("n1", "eu", "n4", "us"), "n4");
    }

    fn inbound(producer: &str, from: &str) -> InboundPipe {
        InboundPipe {
            producer_id: producer.into(),
            router_id: "r".into(),
            from_node: from.into(),
            transport_id: format!("t-{producer}"),
            remote_transport_id: String::new(),
            idle_sweeps: 0,
        }
    }

    #[test]
    fn an_inbound_pipe_is_idle_only_after_consecutive_empty_sweeps() {
        let book = PipeBook::default();
        book.add_inbound(inbound("p", "n1"));
        assert!(book.idle_inbound(2, |_| 0).is_empty());
        assert!(book.idle_inbound(2, |_| 1).is_empty());
        assert!(book.idle_inbound(2, |_| 0).is_empty());
        let idle = book.idle_inbound(2, |_| 0);
        assert_eq!(idle.len(), 1);
        assert!(book.listing().inbound.is_empty());
    }

    #[tokio::test]
    async fn setups_of_one_object_wait_for_each_other_and_leave_nothing_behind() {
        let book = Arc::new(PipeBook::default());
        let first = book.setup("p").await;
        let waiter = {
            let book = book.clone();
            tokio::spawn(async move {
                let _second = book.setup("p").await;
            })
        };
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "the second setup waits");
        drop(first);
        waiter.await.unwrap();
        assert!(lock(&book.locks).is_empty());
    }

    #[test]
    fn a_node_leaving_takes_its_pipes_both_ways() {
        let book = PipeBook::default();
        book.add_inbound(inbound("p", "n1"));
        book.add_inbound(inbound("q", "n2"));
        book.add_outbound(OutboundPipe {
            producer_id: "x".into(),
            router_id: "r".into(),
            to_node: "n1".into(),
            transport_id: "o".into(),
            consumer_id: "c".into(),
        });
        let (gone_in, gone_out) = book.remove_node("n1");
        assert_eq!((gone_in.len(), gone_out.len()), (1, 1));
        assert_eq!(book.per_peer().get("n2"), Some(&(1, 0)));
    }
}
