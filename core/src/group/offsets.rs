//! The internal topic `__consumer_offsets`: which partition holds a group, and the records
//! the group coordinator writes there.
//!
//! Kafka stores two kinds of records, both keyed so that compaction keeps the latest:
//! - offset commits, key (group, topic, partition), value (offset, leader epoch, metadata,
//!   commit timestamp); a null value deletes the offset;
//! - group metadata, key (group), value (protocol type, generation, protocol, leader,
//!   members with their subscription and assignment); a null value deletes the group.
//!
//! Kafka writes them in its binary coordinator-record format. The sandbox writes the same
//! fields as the JSON that `kafka-console-consumer --formatter
//! org.apache.kafka.tools.consumer.OffsetsMessageFormatter` prints for them (key
//! `{"type":1,...}` / `{"type":2,...}`, value `{"version":...,"data":{...}}`), so learners
//! can read the topic directly. Sizes (and so segment rolls) differ from Kafka's by that much.
use crate::record::{Blob, TopicPartition};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The internal topic's name (`Topic.GROUP_METADATA_TOPIC_NAME`).
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// `java.lang.String.hashCode()` over UTF-16 code units, with Java's wrapping arithmetic.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| h.wrapping_mul(31).wrapping_add(i32::from(unit)))
}

/// `org.apache.kafka.common.utils.Utils.abs`: like `Math.abs`, except that
/// `Integer.MIN_VALUE` maps to 0 instead of staying negative.
pub fn kafka_abs(n: i32) -> i32 {
    if n == i32::MIN {
        0
    } else {
        n.abs()
    }
}

/// The `__consumer_offsets` partition of a group: `Utils.abs(groupId.hashCode()) % partitions`.
pub fn partition_for(group: &str, partitions: u32) -> u32 {
    (kafka_abs(java_string_hash(group)) as u32) % partitions.max(1)
}

/// `__consumer_offsets-<n>`.
pub fn offsets_partition(partition: u32) -> TopicPartition {
    TopicPartition::new(OFFSETS_TOPIC, partition)
}

/// A committed offset as the coordinator keeps it (`OffsetAndMetadata`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetAndMetadata {
    /// The next offset the group will read.
    pub offset: u64,
    /// Leader epoch of the last record consumed, -1 when unknown (KIP-320).
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp: i64,
}

/// One member as the group metadata record stores it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberMetadata {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout: u64,
    pub session_timeout: u64,
    /// The subscription the member sent for the selected protocol.
    pub subscription: crate::protocol::Subscription,
    /// Its assignment, as `topic-partition` names.
    pub assignment: Vec<String>,
}

/// The group metadata record's value (`GroupMetadataValue`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupMetadataValue {
    pub protocol_type: String,
    pub generation: i32,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    pub current_state_timestamp: i64,
    pub members: Vec<MemberMetadata>,
}

#[derive(Serialize, Deserialize)]
struct Key<T> {
    #[serde(rename = "type")]
    kind: u16,
    data: T,
}

#[derive(Serialize, Deserialize)]
struct OffsetKeyData {
    group: String,
    topic: String,
    partition: u32,
}

#[derive(Serialize, Deserialize)]
struct GroupKeyData {
    group: String,
}

#[derive(Serialize, Deserialize)]
struct Value<T> {
    version: u16,
    data: T,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OffsetValueData {
    offset: u64,
    leader_epoch: i32,
    metadata: String,
    commit_timestamp: i64,
}

/// Record types in the key (`CoordinatorRecordType`): 1 offset commit, 2 group metadata.
const OFFSET_COMMIT: u16 = 1;
const GROUP_METADATA: u16 = 2;

fn json<T: Serialize>(v: &T) -> Blob {
    // Serializing these plain structs cannot fail.
    Blob::from_bytes(&serde_json::to_vec(v).unwrap_or_default())
}

/// The key of an offset commit record.
pub fn offset_commit_key(group: &str, tp: &TopicPartition) -> Blob {
    json(&Key {
        kind: OFFSET_COMMIT,
        data: OffsetKeyData { group: group.to_string(), topic: tp.topic.to_string(), partition: tp.partition },
    })
}

/// The value of an offset commit record (`OffsetCommitValue` version 3).
pub fn offset_commit_value(o: &OffsetAndMetadata) -> Blob {
    json(&Value {
        version: 3,
        data: OffsetValueData {
            offset: o.offset,
            leader_epoch: o.leader_epoch,
            metadata: o.metadata.clone(),
            commit_timestamp: o.commit_timestamp,
        },
    })
}

/// The key of a group metadata record.
pub fn group_metadata_key(group: &str) -> Blob {
    json(&Key { kind: GROUP_METADATA, data: GroupKeyData { group: group.to_string() } })
}

/// The value of a group metadata record (`GroupMetadataValue` version 3).
pub fn group_metadata_value(v: &GroupMetadataValue) -> Blob {
    json(&Value { version: 3, data: v })
}

/// A record of `__consumer_offsets`, decoded.
#[derive(Clone, Debug, PartialEq)]
pub enum OffsetsRecord {
    /// `None`: a tombstone (the offset was deleted).
    OffsetCommit { group: String, tp: TopicPartition, value: Option<OffsetAndMetadata> },
    /// `None`: a tombstone (the group was deleted).
    GroupMetadata { group: String, value: Option<GroupMetadataValue> },
}

/// Decodes a record of the internal topic. `None` for anything that is not one of ours
/// (a producer may write garbage to `__consumer_offsets`; the coordinator skips it).
pub fn decode(key: Option<&Blob>, value: Option<&Blob>) -> Option<OffsetsRecord> {
    let key = key?;
    #[derive(Deserialize)]
    struct Kind {
        #[serde(rename = "type")]
        kind: u16,
    }
    let kind: Kind = serde_json::from_slice(key.as_bytes()).ok()?;
    match kind.kind {
        OFFSET_COMMIT => {
            let k: Key<OffsetKeyData> = serde_json::from_slice(key.as_bytes()).ok()?;
            let value = match value {
                None => None,
                Some(v) => {
                    let v: Value<OffsetValueData> = serde_json::from_slice(v.as_bytes()).ok()?;
                    Some(OffsetAndMetadata {
                        offset: v.data.offset,
                        leader_epoch: v.data.leader_epoch,
                        metadata: v.data.metadata,
                        commit_timestamp: v.data.commit_timestamp,
                    })
                }
            };
            let tp = TopicPartition { topic: Arc::from(k.data.topic.as_str()), partition: k.data.partition };
            Some(OffsetsRecord::OffsetCommit { group: k.data.group, tp, value })
        }
        GROUP_METADATA => {
            let k: Key<GroupKeyData> = serde_json::from_slice(key.as_bytes()).ok()?;
            let value = match value {
                None => None,
                Some(v) => Some(serde_json::from_slice::<Value<GroupMetadataValue>>(v.as_bytes()).ok()?.data),
            };
            Some(OffsetsRecord::GroupMetadata { group: k.data.group, value })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_string_hash_matches_java() {
        // Values from java.lang.String.hashCode().
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("hello"), 99_162_322);
        assert_eq!(java_string_hash("consumer.group.id.demo.1"), {
            // Computed step by step with i32 wrapping, as Java does.
            let mut h: i32 = 0;
            for u in "consumer.group.id.demo.1".encode_utf16() {
                h = h.wrapping_mul(31).wrapping_add(i32::from(u));
            }
            h
        });
        // A character outside the BMP counts as two UTF-16 units.
        assert_eq!(java_string_hash("\u{1F600}"), 0xD83D * 31 + 0xDE00);
    }

    #[test]
    fn kafka_abs_maps_min_value_to_zero() {
        assert_eq!(kafka_abs(i32::MIN), 0);
        assert_eq!(kafka_abs(-5), 5);
        assert_eq!(kafka_abs(7), 7);
        // "polygenelubricants" is a classic string whose hashCode is Integer.MIN_VALUE.
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
        assert_eq!(partition_for("polygenelubricants", 50), 0);
    }

    #[test]
    fn partition_for_uses_the_absolute_hash_modulo_partitions() {
        // "hello".hashCode() = 99162322 -> 99162322 % 50 = 22.
        assert_eq!(partition_for("hello", 50), 22);
        // A negative hash: "consumer.group.id.demo.2".
        let h = java_string_hash("consumer.group.id.demo.2");
        assert_eq!(partition_for("consumer.group.id.demo.2", 50), (h.unsigned_abs() % 50));
    }

    #[test]
    fn records_round_trip_and_keys_are_stable() {
        let tp = TopicPartition::new("demo_1", 1);
        let o = OffsetAndMetadata { offset: 42, leader_epoch: -1, metadata: String::new(), commit_timestamp: 1000 };
        let k = offset_commit_key("g", &tp);
        assert_eq!(k, offset_commit_key("g", &tp), "same key bytes, so compaction keeps only the latest");
        assert_eq!(k.display(), r#"{"type":1,"data":{"group":"g","topic":"demo_1","partition":1}}"#);
        let v = offset_commit_value(&o);
        assert_eq!(
            v.display(),
            r#"{"version":3,"data":{"offset":42,"leaderEpoch":-1,"metadata":"","commitTimestamp":1000}}"#
        );
        assert_eq!(
            decode(Some(&k), Some(&v)),
            Some(OffsetsRecord::OffsetCommit { group: "g".into(), tp: tp.clone(), value: Some(o) })
        );
        assert_eq!(decode(Some(&k), None), Some(OffsetsRecord::OffsetCommit { group: "g".into(), tp, value: None }));
        assert_eq!(decode(Some(&Blob::text("not json")), None), None);
        assert_eq!(decode(None, None), None);
    }
}
