//! Records and record batches as Kafka stores them, plus the topic-partition name.
//!
//! A batch's records are immutable once the producer builds them and are shared (`Arc`)
//! between the producer's retry buffer, every replica's log and every fetch response, so
//! replication and consumption never copy record data. What the leader adds at append
//! time (base offset, leader epoch) lives in [`LogBatch`], beside the shared data.
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::sync::Arc;

/// A topic and a partition number, shown as Kafka shows it: `orders-0` (and serialized
/// that way, so maps keyed by partition stay readable JSON objects).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicPartition {
    pub topic: Arc<str>,
    pub partition: u32,
}

impl TopicPartition {
    pub fn new(topic: &str, partition: u32) -> Self {
        TopicPartition { topic: Arc::from(topic), partition }
    }
    /// Parses `<topic>-<partition>` (by the last '-': topic names may contain dashes).
    pub fn parse(text: &str) -> Option<Self> {
        let (topic, part) = text.rsplit_once('-')?;
        if topic.is_empty() {
            return None;
        }
        Some(TopicPartition { topic: Arc::from(topic), partition: part.parse().ok()? })
    }
}

/// Kafka's internal topics (`Topic.isInternal`): only the brokers' group and transaction
/// coordinators write to them; a client produce is refused.
pub fn is_internal_topic(name: &str) -> bool {
    name == crate::group::offsets::OFFSETS_TOPIC || name == crate::txn::TRANSACTION_STATE_TOPIC
}

impl Serialize for TopicPartition {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TopicPartition {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<TopicPartition, D::Error> {
        let text = String::deserialize(d)?;
        TopicPartition::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("'{text}' is not <topic>-<partition>")))
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// Record key/value/header bytes. Cheap to clone. Serialized as a string when the bytes
/// are UTF-8 and as `{"hex": "..."}` otherwise, so traces stay readable.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Blob(pub Arc<[u8]>);

impl Blob {
    pub fn text(s: &str) -> Blob {
        Blob(Arc::from(s.as_bytes()))
    }
    pub fn from_bytes(b: &[u8]) -> Blob {
        Blob(Arc::from(b))
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The bytes as text when they are UTF-8, otherwise as hex.
    pub fn display(&self) -> String {
        match std::str::from_utf8(&self.0) {
            Ok(s) => s.to_string(),
            Err(_) => format!("0x{}", hex(&self.0)),
        }
    }
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

pub fn unhex(text: &str) -> Option<Vec<u8>> {
    let t: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !t.len().is_multiple_of(2) {
        return None;
    }
    t.chunks(2)
        .map(|p| {
            let d = |c: u8| (c as char).to_digit(16);
            Some((d(p[0])? * 16 + d(p[1])?) as u8)
        })
        .collect()
}

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.display())
    }
}

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(&self.0) {
            Ok(text) => s.serialize_str(text),
            Err(_) => {
                use serde::ser::SerializeMap;
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("hex", &hex(&self.0))?;
                m.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Blob, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Text(String),
            Hex { hex: String },
        }
        match Repr::deserialize(d)? {
            Repr::Text(t) => Ok(Blob::text(&t)),
            Repr::Hex { hex } => {
                unhex(&hex).map(|b| Blob::from_bytes(&b)).ok_or_else(|| serde::de::Error::custom("invalid hex in blob"))
            }
        }
    }
}

/// The sandbox's identity of a produced record (not on Kafka's wire): which `send()` call
/// made it. Lets the simulation account for every record: acked, lost, duplicated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RecordId(pub u64);

/// The id of records the brokers write themselves (`__consumer_offsets`): no producer
/// `send()` made them, so the ledger does not track them.
pub const INTERNAL_RECORD: RecordId = RecordId(u64::MAX);

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub key: String,
    pub value: Option<Blob>,
}

/// One record inside a batch. Its offset is the batch's base offset + `offset_delta`
/// (deltas stay as assigned by the producer, so compaction leaves gaps, never renumbers).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub id: RecordId,
    pub offset_delta: u32,
    /// Milliseconds since the epoch of the run (CreateTime, set by the producer).
    pub timestamp: i64,
    pub key: Option<Blob>,
    pub value: Option<Blob>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<Header>,
}

fn varint_len(v: i64) -> u32 {
    // Kafka's zig-zag varint length.
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    let mut n = 1;
    while z >= 0x80 {
        z >>= 7;
        n += 1;
    }
    n
}

impl Record {
    /// Bytes this record takes in a v2 batch (`DefaultRecord.sizeInBytes`).
    pub fn size_in_bytes(&self, timestamp_delta: i64) -> u32 {
        let field = |b: &Option<Blob>| match b {
            None => varint_len(-1),
            Some(b) => varint_len(b.len() as i64) + b.len() as u32,
        };
        let mut body = 1 // attributes
            + varint_len(timestamp_delta)
            + varint_len(i64::from(self.offset_delta))
            + field(&self.key)
            + field(&self.value)
            + varint_len(self.headers.len() as i64);
        for h in &self.headers {
            body += varint_len(h.key.len() as i64) + h.key.len() as u32 + field(&h.value);
        }
        body + varint_len(i64::from(body))
    }
}

/// Fixed overhead of a v2 record batch header (`RECORD_BATCH_OVERHEAD`).
pub const BATCH_OVERHEAD: u32 = 61;
/// `producerId` of a batch written without idempotence.
pub const NO_PRODUCER_ID: i64 = -1;
/// `baseSequence` of a batch written without idempotence.
pub const NO_SEQUENCE: i32 = -1;

/// The immutable part of a batch, built by the producer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchData {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub records: Vec<Record>,
    pub size_bytes: u32,
    pub max_timestamp: i64,
    /// `lastOffsetDelta` of the batch header. The log cleaner keeps it when it removes
    /// records (as Kafka's `overrideLastOffset`), so a batch's offset range never shrinks and
    /// the producer's last sequence survives compaction.
    pub last_offset_delta: u32,
    /// `deleteHorizonMs` (KIP-534): stamped by the log cleaner on a batch holding tombstones
    /// the first time it sees them; the tombstones go in a later pass after this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_horizon_ms: Option<i64>,
    /// The batch header's `isTransactional` attribute: written inside a transaction, so
    /// read_committed consumers see it only once the transaction commits.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_transactional: bool,
    /// Set on a control batch (`isControlBatch`): the COMMIT or ABORT marker that ends a
    /// producer's transaction on this partition. Its one record takes an offset but is
    /// never returned to an application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control: Option<ControlType>,
}

/// The type of a control record (`ControlRecordType`: key version 0, type 0 ABORT, 1 COMMIT).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ControlType {
    Abort,
    Commit,
}

impl ControlType {
    pub fn code(self) -> i16 {
        match self {
            ControlType::Abort => 0,
            ControlType::Commit => 1,
        }
    }
}

/// Builds the control batch a partition leader appends for a WriteTxnMarkers request
/// (`EndTransactionMarker`): one record, key = (version 0, type), value = (version 0,
/// coordinator epoch), written by the producer's id and epoch with no sequence.
pub fn control_batch(
    producer_id: i64,
    producer_epoch: i16,
    kind: ControlType,
    coordinator_epoch: i32,
    ts: i64,
) -> BatchData {
    let mut key = Vec::with_capacity(4);
    key.extend_from_slice(&0i16.to_be_bytes());
    key.extend_from_slice(&kind.code().to_be_bytes());
    let mut value = Vec::with_capacity(6);
    value.extend_from_slice(&0i16.to_be_bytes());
    value.extend_from_slice(&coordinator_epoch.to_be_bytes());
    let record = Record {
        id: INTERNAL_RECORD,
        offset_delta: 0,
        timestamp: ts,
        key: Some(Blob::from_bytes(&key)),
        value: Some(Blob::from_bytes(&value)),
        headers: Vec::new(),
    };
    let size = BATCH_OVERHEAD + record.size_in_bytes(0);
    let mut data = BatchData::new(producer_id, producer_epoch, NO_SEQUENCE, vec![record], size);
    data.is_transactional = true;
    data.control = Some(kind);
    data
}

impl BatchData {
    /// A batch of `records` whose offset deltas are 0, 1, 2, ... as a producer builds it.
    pub fn new(
        producer_id: i64,
        producer_epoch: i16,
        base_sequence: i32,
        records: Vec<Record>,
        size_bytes: u32,
    ) -> BatchData {
        let max_timestamp = records.iter().map(|r| r.timestamp).max().unwrap_or(-1);
        let last_offset_delta = records.last().map(|r| r.offset_delta).unwrap_or(0);
        BatchData {
            producer_id,
            producer_epoch,
            base_sequence,
            records,
            size_bytes,
            max_timestamp,
            last_offset_delta,
            delete_horizon_ms: None,
            is_transactional: false,
            control: None,
        }
    }
    pub fn record_count(&self) -> u32 {
        self.records.len() as u32
    }
    /// Offset delta of the batch's last offset (its last record may have been compacted away).
    pub fn last_delta(&self) -> u32 {
        self.last_offset_delta
    }
    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence < 0 {
            NO_SEQUENCE
        } else {
            self.base_sequence.wrapping_add(self.last_delta() as i32)
        }
    }
}

/// A batch as it sits in a partition log: the shared producer data plus what the leader
/// assigned when it appended it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogBatch {
    pub base_offset: u64,
    /// `partitionLeaderEpoch`: the epoch of the leader that appended the batch.
    pub leader_epoch: u32,
    /// Broker append time (ms), for LogAppendTime topics and retention of old segments.
    pub append_time: i64,
    /// Digest of the log up to and including this batch, set by the leader. Two replicas
    /// whose batches at the same offset carry the same chain agree on the whole prefix.
    pub chain: u64,
    pub data: Arc<BatchData>,
}

impl LogBatch {
    pub fn last_offset(&self) -> u64 {
        self.base_offset + u64::from(self.data.last_delta())
    }
    /// The offset after this batch (the LEO once it is appended).
    pub fn next_offset(&self) -> u64 {
        self.last_offset() + 1
    }
    pub fn records(&self) -> impl Iterator<Item = (u64, &Record)> {
        self.data.records.iter().map(move |r| (self.base_offset + u64::from(r.offset_delta), r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_size_matches_kafka_default_record_layout() {
        // key "k" (1 byte), value "hello" (5 bytes), no headers, deltas 0:
        // attributes 1 + tsDelta 1 + offDelta 1 + keyLen 1 + 1 + valLen 1 + 5 + headers 1 = 12,
        // plus the length varint (1) = 13.
        let r = Record {
            id: RecordId(0),
            offset_delta: 0,
            timestamp: 0,
            key: Some(Blob::text("k")),
            value: Some(Blob::text("hello")),
            headers: vec![],
        };
        assert_eq!(r.size_in_bytes(0), 13);
        let null_key = Record { key: None, ..r };
        assert_eq!(null_key.size_in_bytes(0), 12);
    }

    #[test]
    fn topic_partition_parses_by_last_dash() {
        let tp = TopicPartition::parse("rides-pulocation-count-1").unwrap();
        assert_eq!(&*tp.topic, "rides-pulocation-count");
        assert_eq!(tp.partition, 1);
        assert!(TopicPartition::parse("nodash").is_none());
        assert!(TopicPartition::parse("-3").is_none());
    }

    #[test]
    fn blob_serializes_text_or_hex() {
        assert_eq!(serde_json::to_string(&Blob::text("a")).unwrap(), "\"a\"");
        let b = Blob::from_bytes(&[0xff, 0x00]);
        let j = serde_json::to_string(&b).unwrap();
        assert_eq!(j, "{\"hex\":\"ff00\"}");
        assert_eq!(serde_json::from_str::<Blob>(&j).unwrap(), b);
    }
}
