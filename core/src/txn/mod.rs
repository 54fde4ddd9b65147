//! Transactions (KIP-98): the transaction coordinator that lives on the leader of a
//! `__transaction_state` partition, and the records it keeps there.
//!
//! Modelled on Kafka's `TransactionCoordinator`, `TransactionStateManager` and
//! `TransactionMarkerChannelManager`:
//! - a transactional id maps to partition `abs(hash(id)) % transaction.state.log.num.partitions`;
//!   the leader of that partition is its coordinator and keeps one record per transactional
//!   id (key: the id; value: producer id and epoch, timeout, state, partitions, times);
//! - every state change is written there (acks=all) before the coordinator answers;
//! - EndTxn moves an Ongoing transaction to PrepareCommit/PrepareAbort, answers the
//!   producer once that is written, then sends WriteTxnMarkers to every partition leader;
//!   once all markers are written the state becomes CompleteCommit/CompleteAbort;
//! - InitProducerId for an id with an open transaction bumps the epoch (fencing the old
//!   producer) and aborts it, answering CONCURRENT_TRANSACTIONS until that completes;
//! - a periodic check aborts transactions open longer than `transaction.timeout.ms`, also
//!   with a bumped epoch;
//! - a new coordinator (failover) rebuilds its state from the log and finishes the
//!   transactions it finds in a Prepare state.
pub mod coordinator;

pub use coordinator::{TxnCoordinator, TxnMetadata, TxnState, TxnWrite};

use crate::group::offsets::{java_string_hash, kafka_abs};
use crate::record::{Blob, TopicPartition};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The internal topic's name (`Topic.TRANSACTION_STATE_TOPIC_NAME`).
pub const TRANSACTION_STATE_TOPIC: &str = "__transaction_state";

/// The `__transaction_state` partition of a transactional id
/// (`TransactionStateManager.partitionFor`: `Utils.abs(id.hashCode()) % partitions`).
pub fn partition_for(transactional_id: &str, partitions: u32) -> u32 {
    (kafka_abs(java_string_hash(transactional_id)) as u32) % partitions.max(1)
}

pub fn state_partition(partition: u32) -> TopicPartition {
    TopicPartition::new(TRANSACTION_STATE_TOPIC, partition)
}

#[derive(Serialize, Deserialize)]
struct Versioned<T> {
    version: u16,
    data: T,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyData {
    transactional_id: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PartitionsData {
    topic: String,
    partition_ids: Vec<u32>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ValueData {
    producer_id: i64,
    producer_epoch: i16,
    transaction_timeout_ms: u64,
    /// `TransactionState.id`: 0 Empty, 1 Ongoing, 2 PrepareCommit, 3 PrepareAbort,
    /// 4 CompleteCommit, 5 CompleteAbort, 6 Dead, 7 PrepareEpochFence.
    transaction_status: u8,
    transaction_partitions: Vec<PartitionsData>,
    transaction_last_update_timestamp_ms: i64,
    transaction_start_timestamp_ms: i64,
}

fn json<T: Serialize>(v: &T) -> Blob {
    // Serializing these plain structs cannot fail.
    Blob::from_bytes(&serde_json::to_vec(v).unwrap_or_default())
}

/// The key of a transaction log record (`TransactionLogKey` version 0), written as the JSON
/// `TransactionLogMessageFormatter` prints.
pub fn txn_key(transactional_id: &str) -> Blob {
    json(&Versioned { version: 0, data: KeyData { transactional_id: transactional_id.to_string() } })
}

/// The value of a transaction log record (`TransactionLogValue` version 1).
pub fn txn_value(m: &TxnMetadata) -> Blob {
    let mut by_topic: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for tp in &m.partitions {
        by_topic.entry(&tp.topic).or_default().push(tp.partition);
    }
    json(&Versioned {
        version: 1,
        data: ValueData {
            producer_id: m.producer_id,
            producer_epoch: m.producer_epoch,
            transaction_timeout_ms: m.timeout_ms,
            transaction_status: m.state.id(),
            transaction_partitions: by_topic
                .into_iter()
                .map(|(t, ids)| PartitionsData { topic: t.to_string(), partition_ids: ids })
                .collect(),
            transaction_last_update_timestamp_ms: m.last_update_ms,
            transaction_start_timestamp_ms: m.start_ms,
        },
    })
}

/// Decodes a record of `__transaction_state`: the transactional id and its metadata
/// (`None` for a tombstone). `None` overall for anything that is not a transaction record.
pub fn decode(key: Option<&Blob>, value: Option<&Blob>) -> Option<(String, Option<TxnMetadata>)> {
    let k: Versioned<KeyData> = serde_json::from_slice(key?.as_bytes()).ok()?;
    let id = k.data.transactional_id;
    let Some(value) = value else {
        return Some((id, None));
    };
    let v: Versioned<ValueData> = serde_json::from_slice(value.as_bytes()).ok()?;
    let d = v.data;
    let partitions: BTreeSet<TopicPartition> = d
        .transaction_partitions
        .iter()
        .flat_map(|p| {
            let topic: Arc<str> = Arc::from(p.topic.as_str());
            p.partition_ids.iter().map(move |&partition| TopicPartition { topic: topic.clone(), partition })
        })
        .collect();
    let m = TxnMetadata {
        transactional_id: id.clone(),
        producer_id: d.producer_id,
        producer_epoch: d.producer_epoch,
        timeout_ms: d.transaction_timeout_ms,
        state: TxnState::from_id(d.transaction_status)?,
        partitions,
        start_ms: d.transaction_start_timestamp_ms,
        last_update_ms: d.transaction_last_update_timestamp_ms,
        pending_write: None,
        pending_markers: BTreeSet::new(),
    };
    Some((id, Some(m)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_through_the_log_format() {
        let m = TxnMetadata {
            transactional_id: "tx-1".into(),
            producer_id: 4001,
            producer_epoch: 3,
            timeout_ms: 60_000,
            state: TxnState::PrepareCommit,
            partitions: [TopicPartition::new("a", 0), TopicPartition::new("a", 2), TopicPartition::new("b", 1)]
                .into_iter()
                .collect(),
            start_ms: 10,
            last_update_ms: 20,
            pending_write: None,
            pending_markers: BTreeSet::new(),
        };
        let k = txn_key("tx-1");
        assert_eq!(k.display(), r#"{"version":0,"data":{"transactionalId":"tx-1"}}"#);
        let v = txn_value(&m);
        assert!(v.display().contains(r#""transactionStatus":2"#), "{}", v.display());
        assert!(v.display().contains(r#"{"topic":"a","partitionIds":[0,2]}"#));
        assert_eq!(decode(Some(&k), Some(&v)), Some(("tx-1".into(), Some(m))));
        assert_eq!(decode(Some(&k), None), Some(("tx-1".into(), None)));
        assert_eq!(decode(Some(&Blob::text("{}")), None), None);
    }

    #[test]
    fn partition_for_hashes_like_the_group_coordinator() {
        // "hello".hashCode() = 99162322 -> 22 of 50.
        assert_eq!(partition_for("hello", 50), 22);
        assert_eq!(partition_for("anything", 1), 0);
    }
}
