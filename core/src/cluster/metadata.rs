//! Cluster metadata as the KRaft controller publishes it and brokers and clients cache it.
use crate::config::TopicConfig;
use crate::record::TopicPartition;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The controller's record of one partition (`PartitionRegistration`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionState {
    /// Assigned replicas; the first is the preferred leader.
    pub replicas: Vec<u32>,
    pub isr: Vec<u32>,
    pub leader: Option<u32>,
    pub leader_epoch: u32,
    /// Bumped on every change (ISR or leader); guards AlterPartition against stale updates.
    pub partition_epoch: u32,
}

impl PartitionState {
    /// Ordering of states: a later state has a larger (leader_epoch, partition_epoch).
    pub fn version(&self) -> (u32, u32) {
        (self.leader_epoch, self.partition_epoch)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopicMeta {
    pub name: Arc<str>,
    pub config: TopicConfig,
    pub partitions: Vec<PartitionState>,
}

/// Brokers as the controller sees them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerMeta {
    pub fenced: bool,
}

/// A full metadata view. The controller holds the authoritative one; each broker holds the
/// latest version it has applied (possibly stale when it is cut off from the controller).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MetadataImage {
    pub version: u64,
    pub brokers: BTreeMap<u32, BrokerMeta>,
    pub topics: BTreeMap<Arc<str>, TopicMeta>,
}

impl MetadataImage {
    pub fn partition(&self, tp: &TopicPartition) -> Option<&PartitionState> {
        self.topics.get(&tp.topic)?.partitions.get(tp.partition as usize)
    }
    pub fn partition_mut(&mut self, tp: &TopicPartition) -> Option<&mut PartitionState> {
        self.topics.get_mut(&tp.topic)?.partitions.get_mut(tp.partition as usize)
    }
    pub fn topic_config(&self, topic: &str) -> Option<&TopicConfig> {
        self.topics.get(topic).map(|t| &t.config)
    }
    /// Every partition in (topic, partition) order.
    pub fn partitions(&self) -> impl Iterator<Item = (TopicPartition, &PartitionState)> {
        self.topics.values().flat_map(|t| {
            t.partitions
                .iter()
                .enumerate()
                .map(move |(i, p)| (TopicPartition { topic: t.name.clone(), partition: i as u32 }, p))
        })
    }
}

/// What changed since a version: sent by the controller to brokers (KRaft brokers replay
/// the metadata log; the sandbox ships the changed records directly).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MetadataDelta {
    /// The delta applies on top of this version (the receiver must already have it).
    pub base_version: u64,
    pub version: u64,
    pub topics: Vec<TopicMeta>,
    pub partitions: Vec<(TopicPartition, PartitionState)>,
    pub brokers: Vec<(u32, BrokerMeta)>,
}

impl MetadataDelta {
    pub fn is_empty(&self) -> bool {
        self.topics.is_empty() && self.partitions.is_empty() && self.brokers.is_empty()
    }
}

/// The partition metadata a client receives (`MetadataResponse`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientPartitionMeta {
    pub leader: Option<u32>,
    pub leader_epoch: u32,
    pub replicas: Vec<u32>,
    pub isr: Vec<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientTopicMeta {
    pub name: Arc<str>,
    pub partitions: Vec<ClientPartitionMeta>,
}
