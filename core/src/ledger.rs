//! The ledger: what became of every record produced in the run. It is the sandbox's
//! bookkeeping, not a Kafka component: it lets a scenario say "no acknowledged record was
//! lost" or "3 records were read twice" and check it.
use crate::config::Acks;
use crate::error::ErrorCode;
use crate::record::{RecordId, TopicPartition};
use crate::sim::time::SimTime;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Not yet answered.
    Pending,
    /// Acknowledged at this offset.
    Acked { offset: u64 },
    /// `acks=0`: sent, never answered, offset unknown.
    Unknown,
    /// The producer reported an error.
    Failed { error: ErrorCode },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordEntry {
    pub producer: u32,
    pub topic: u16,
    /// Chosen at send time (`u32::MAX` until the partitioner ran).
    pub partition: u32,
    pub acks: Acks,
    pub outcome: Outcome,
    pub sent_at: SimTime,
    /// For acks=all records: brokers in the ISR when the write completed (bit mask).
    pub isr_mask: u64,
}

/// Delivery counts per reader (a consumer group or a standalone consumer), per record.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Deliveries {
    pub counts: Vec<u16>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Ledger {
    pub topics: Vec<Arc<str>>,
    pub records: Vec<RecordEntry>,
    /// Per reader name: how many times each record was processed.
    pub deliveries: BTreeMap<String, Deliveries>,
    /// Produce latency samples: (completion time, latency, records, acks).
    pub latencies: Vec<(SimTime, u64, u32, Acks)>,
    /// Whether `poll()` results are logged in `polls` (off unless a history checker asked:
    /// the log grows with every record read).
    #[serde(default)]
    pub record_polls: bool,
    /// Every record `poll()` returned, in order, when `record_polls` is on: the reads the
    /// history checker (`crate::history`) sees.
    #[serde(default)]
    pub polls: Vec<PolledRecord>,
}

/// One record as `poll()` returned it to the application.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolledRecord {
    pub consumer: u32,
    /// Index into `Ledger::topics`.
    pub topic: u16,
    pub partition: u32,
    pub offset: u64,
    pub id: RecordId,
    pub at: SimTime,
}

impl Ledger {
    fn topic_index(&mut self, topic: &Arc<str>) -> u16 {
        if let Some(i) = self.topics.iter().position(|t| t == topic) {
            return i as u16;
        }
        self.topics.push(topic.clone());
        (self.topics.len() - 1) as u16
    }

    /// Registers a new record handed to `send()`.
    pub fn new_record(&mut self, producer: u32, topic: &Arc<str>, acks: Acks, now: SimTime) -> RecordId {
        let topic = self.topic_index(topic);
        self.records.push(RecordEntry {
            producer,
            topic,
            partition: u32::MAX,
            acks,
            outcome: Outcome::Pending,
            sent_at: now,
            isr_mask: 0,
        });
        RecordId((self.records.len() - 1) as u64)
    }

    pub fn entry(&self, id: RecordId) -> Option<&RecordEntry> {
        self.records.get(id.0 as usize)
    }

    pub fn set_partition(&mut self, id: RecordId, partition: u32) {
        if let Some(e) = self.records.get_mut(id.0 as usize) {
            e.partition = partition;
        }
    }

    pub fn set_outcome(&mut self, id: RecordId, outcome: Outcome, isr_mask: u64) {
        if let Some(e) = self.records.get_mut(id.0 as usize) {
            // A late answer never overrides a final one (a batch that expired stays failed).
            if e.outcome == Outcome::Pending {
                e.outcome = outcome;
                e.isr_mask = isr_mask;
            }
        }
    }

    pub fn topic_partition(&self, id: RecordId) -> Option<TopicPartition> {
        let e = self.entry(id)?;
        (e.partition != u32::MAX)
            .then(|| TopicPartition { topic: self.topics[e.topic as usize].clone(), partition: e.partition })
    }

    /// Logs a record `poll()` returned (no-op unless `record_polls`).
    pub fn polled(&mut self, consumer: u32, tp: &TopicPartition, offset: u64, id: RecordId, at: SimTime) {
        if !self.record_polls {
            return;
        }
        let topic = self.topic_index(&tp.topic);
        self.polls.push(PolledRecord { consumer, topic, partition: tp.partition, offset, id, at });
    }

    /// Counts one processing of a record by a reader.
    pub fn delivered(&mut self, reader: &str, id: RecordId) {
        let len = self.records.len();
        // Look up before inserting: no allocation per record on the consume path.
        if !self.deliveries.contains_key(reader) {
            self.deliveries.insert(reader.to_string(), Deliveries::default());
        }
        let Some(d) = self.deliveries.get_mut(reader) else {
            return;
        };
        if d.counts.len() < len {
            d.counts.resize(len, 0);
        }
        if let Some(c) = d.counts.get_mut(id.0 as usize) {
            *c = c.saturating_add(1);
        }
    }
}
