//! What producers and consumers share: their cached cluster metadata, broker selection.
use crate::cluster::metadata::ClientPartitionMeta;
use crate::protocol::Message;
use crate::record::TopicPartition;
use crate::sim::rng::SimRng;
use crate::sim::time::SimTime;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A client's cached metadata (`Metadata` / `MetadataCache` in the Java client).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientMetadata {
    pub brokers: Vec<u32>,
    pub topics: BTreeMap<Arc<str>, Vec<ClientPartitionMeta>>,
    pub updated_at: Option<SimTime>,
    /// A refresh was asked for (after an error) and not yet done.
    pub needs_update: bool,
    /// The metadata request in flight: (correlation id, broker).
    pub in_flight: Option<(u64, u32)>,
    /// Reconnect backoff per broker after a refused connection: (failures, until).
    pub reconnect: BTreeMap<u32, (u32, SimTime)>,
}

impl ClientMetadata {
    pub fn new(bootstrap: Vec<u32>) -> Self {
        ClientMetadata { brokers: bootstrap, needs_update: true, ..Default::default() }
    }

    pub fn leader(&self, tp: &TopicPartition) -> Option<u32> {
        self.topics.get(&tp.topic)?.get(tp.partition as usize)?.leader
    }

    pub fn leader_epoch(&self, tp: &TopicPartition) -> Option<u32> {
        self.topics.get(&tp.topic)?.get(tp.partition as usize).map(|p| p.leader_epoch)
    }

    pub fn partition_count(&self, topic: &str) -> Option<u32> {
        self.topics.get(topic).map(|p| p.len() as u32)
    }

    /// Partitions of a topic that have a leader (`availablePartitionsForTopic`).
    pub fn available_partitions(&self, topic: &str) -> Vec<u32> {
        self.topics
            .get(topic)
            .map(|ps| ps.iter().enumerate().filter(|(_, p)| p.leader.is_some()).map(|(i, _)| i as u32).collect())
            .unwrap_or_default()
    }

    /// Applies a MetadataResponse if it answers the request in flight. Returns true if applied.
    pub fn apply_response(&mut self, corr: u64, msg: &Message, now: SimTime) -> bool {
        let Message::MetadataResponse { brokers, topics, .. } = msg else {
            return false;
        };
        if self.in_flight.map(|(c, _)| c) != Some(corr) {
            return false;
        }
        self.in_flight = None;
        if !brokers.is_empty() {
            self.brokers = brokers.clone();
        }
        for t in topics {
            // A response from a stale broker must not roll leader epochs back.
            let newer = match self.topics.get(&t.name) {
                Some(old) => old.iter().zip(&t.partitions).all(|(o, n)| n.leader_epoch >= o.leader_epoch),
                None => true,
            };
            if newer {
                self.topics.insert(t.name.clone(), t.partitions.clone());
            }
        }
        self.updated_at = Some(now);
        self.needs_update = false;
        true
    }

    /// A broker refused a connection: back off from it (`reconnect.backoff.ms`=50,
    /// doubling up to `reconnect.backoff.max.ms`=1000). Returns the wait.
    pub fn connection_refused(&mut self, broker: u32, now: SimTime) -> crate::sim::time::Dur {
        let failures = self.reconnect.get(&broker).map(|(f, _)| f + 1).unwrap_or(0);
        let wait = crate::sim::time::Dur::from_ms((50u64 << failures.min(5)).min(1000));
        self.reconnect.insert(broker, (failures, now.plus(wait)));
        wait
    }

    /// A response arrived from the broker: its connection works.
    pub fn connected(&mut self, broker: u32) {
        self.reconnect.remove(&broker);
    }

    /// When the client may connect to `broker` again, if it is backing off.
    pub fn backoff_until(&self, broker: u32, now: SimTime) -> Option<SimTime> {
        self.reconnect.get(&broker).map(|(_, t)| *t).filter(|t| *t > now)
    }

    /// When every known broker is backing off after refused connections, the moment the
    /// first one may be tried again. Java's `leastLoadedNode` then finds no node and the
    /// consumer waits instead of hammering brokers that just refused it.
    pub fn all_backing_off_until(&self, now: SimTime) -> Option<SimTime> {
        let mut earliest: Option<SimTime> = None;
        for b in &self.brokers {
            let t = self.backoff_until(*b, now)?;
            earliest = Some(earliest.map_or(t, |e| e.min(t)));
        }
        earliest
    }

    /// Picks a broker to ask for metadata: a random known broker that is not backing off
    /// (the Java client picks the least loaded node; with no load information nodes tie).
    pub fn pick_broker(&self, rng: &mut SimRng, avoid: Option<u32>, now: SimTime) -> Option<u32> {
        let candidates: Vec<u32> = self
            .brokers
            .iter()
            .copied()
            .filter(|b| Some(*b) != avoid && self.backoff_until(*b, now).is_none())
            .collect();
        let pool = if candidates.is_empty() { &self.brokers } else { &candidates };
        if pool.is_empty() {
            return None;
        }
        Some(pool[rng.below(pool.len() as u64) as usize])
    }
}
