//! The producer client: `send()`, the record accumulator, the sender, retries and
//! idempotence, modelled on the Java client (`KafkaProducer`, `RecordAccumulator`,
//! `BuiltInPartitioner`, `Sender`, `TransactionManager` for sequences).
use super::partitioner::partition_for_key;
use super::serializer::{self, SubjectState};
use super::workload::Workload;
use crate::client::ClientMetadata;
use crate::config::{Acks, PartitionerClass, ProducerConfig, SerdeFormat};
use crate::error::ErrorCode;
use crate::ledger::{Ledger, Outcome};
use crate::network::NodeId;
use crate::node::{Io, Timer};
use crate::protocol::{Message, ProducePartition, ProducePartitionResponse};
use crate::record::{BatchData, Blob, Record, RecordId, TopicPartition, BATCH_OVERHEAD, NO_PRODUCER_ID, NO_SEQUENCE};
use crate::schema::AvroSchema;
use crate::sim::rng::SimRng;
use crate::sim::time::{Dur, SimTime};
use crate::trace::Effect;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// A batch in the accumulator or in flight.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProducerBatch {
    pub tp: TopicPartition,
    /// Records while the batch is open for appends.
    records: Vec<Record>,
    /// The sealed batch, once drained for the first time (retries resend it unchanged).
    data: Option<Arc<BatchData>>,
    pub size_bytes: u32,
    pub full: bool,
    pub created: SimTime,
    pub attempts: u32,
    pub retry_at: Option<SimTime>,
    pub base_sequence: Option<i32>,
    pub last_error: Option<ErrorCode>,
    leader_epoch_at_attempt: Option<u32>,
}

impl ProducerBatch {
    pub fn record_count(&self) -> u32 {
        match &self.data {
            Some(d) => d.records.len() as u32,
            None => self.records.len() as u32,
        }
    }
    fn record_ids(&self) -> Vec<(RecordId, u32)> {
        let recs = match &self.data {
            Some(d) => &d.records,
            None => &self.records,
        };
        recs.iter().map(|r| (r.id, r.offset_delta)).collect()
    }
    fn seal(&mut self, producer_id: i64, producer_epoch: i16, transactional: bool) -> Arc<BatchData> {
        if let Some(d) = &self.data {
            return d.clone();
        }
        let records = std::mem::take(&mut self.records);
        let mut data = BatchData::new(
            producer_id,
            producer_epoch,
            self.base_sequence.unwrap_or(NO_SEQUENCE),
            records,
            self.size_bytes,
        );
        data.is_transactional = transactional;
        let data = Arc::new(data);
        self.data = Some(data.clone());
        self.full = true;
        data
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct PartitionQueue {
    batches: VecDeque<ProducerBatch>,
    next_sequence: i32,
    in_flight: u32,
    /// The last sequence number the broker acknowledged (idempotence).
    last_acked_sequence: Option<i32>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Sticky {
    partition: Option<u32>,
    produced_bytes: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct InFlight {
    broker: u32,
    batches: Vec<ProducerBatch>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct WaitingRecord {
    id: RecordId,
    topic: Arc<str>,
    partition: Option<u32>,
    key: Option<Blob>,
    value: Option<Blob>,
    since: SimTime,
    /// An explicit CreateTime (Kafka Streams sets the output's timestamp); `None`: now.
    timestamp: Option<i64>,
}

/// Counters a learner can read off a producer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProducerStats {
    pub records_sent: u64,
    pub records_acked: u64,
    pub records_failed: u64,
    pub records_unknown: u64,
    pub requests_sent: u64,
    pub retries: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Producer {
    pub index: u32,
    pub name: String,
    pub config: ProducerConfig,
    pub alive: bool,
    pub incarnation: u32,
    pub metadata: ClientMetadata,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pid_request: Option<u64>,
    queues: BTreeMap<TopicPartition, PartitionQueue>,
    sticky: BTreeMap<Arc<str>, Sticky>,
    round_robin: BTreeMap<Arc<str>, u32>,
    in_flight: BTreeMap<u64, InFlight>,
    in_flight_per_broker: BTreeMap<u32, u32>,
    pub buffered_bytes: u64,
    waiting: VecDeque<WaitingRecord>,
    pub workloads: Vec<Workload>,
    workload_scheduled: Vec<bool>,
    /// The producer's own key and value schemas (Avro, or the shape of its JSON).
    pub key_schema: Option<String>,
    pub value_schema: Option<String>,
    /// Schema ids learned from the registry, per (topic, is_key).
    #[serde(with = "crate::sim::serde_pairs")]
    pub subjects: BTreeMap<(Arc<str>, bool), SubjectState>,
    /// Parsed writer schemas, per (topic, is_key).
    #[serde(skip)]
    writers: BTreeMap<(Arc<str>, bool), Arc<AvroSchema>>,
    schema_requests: BTreeMap<u64, (Arc<str>, bool)>,
    /// Records waiting for a schema id (kept in send order).
    schema_waiting: VecDeque<WaitingRecord>,
    blocked: bool,
    flush_requested: bool,
    wake_at: Option<SimTime>,
    next_corr: u64,
    pub(super) rng: SimRng,
    partitioner_rng: SimRng,
    pub stats: ProducerStats,
    /// The transaction manager, with `transactional.id`.
    #[serde(default)]
    pub txn: Option<super::txn::TxnManager>,
}

impl Producer {
    pub fn new(
        index: u32,
        name: String,
        config: ProducerConfig,
        bootstrap: Vec<u32>,
        rng: SimRng,
        partitioner_rng: SimRng,
    ) -> Self {
        Producer {
            index,
            name,
            alive: true,
            incarnation: 0,
            metadata: ClientMetadata::new(bootstrap),
            producer_id: NO_PRODUCER_ID,
            producer_epoch: 0,
            pid_request: None,
            queues: BTreeMap::new(),
            sticky: BTreeMap::new(),
            round_robin: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            in_flight_per_broker: BTreeMap::new(),
            buffered_bytes: 0,
            waiting: VecDeque::new(),
            workloads: Vec::new(),
            workload_scheduled: Vec::new(),
            key_schema: None,
            value_schema: None,
            subjects: BTreeMap::new(),
            writers: BTreeMap::new(),
            schema_requests: BTreeMap::new(),
            schema_waiting: VecDeque::new(),
            blocked: false,
            flush_requested: false,
            wake_at: None,
            next_corr: 0,
            rng,
            partitioner_rng,
            stats: ProducerStats::default(),
            txn: config.transactional_id.clone().map(super::txn::TxnManager::new),
            config,
        }
    }

    pub(super) fn next_corr_pub(&mut self) -> u64 {
        self.corr()
    }

    /// Nothing queued, waiting or in flight (a commit may go ahead).
    pub(super) fn queues_empty_and_idle(&self) -> bool {
        self.waiting.is_empty()
            && self.schema_waiting.is_empty()
            && self.queues.values().all(|q| q.batches.is_empty())
            && self.in_flight.is_empty()
    }

    /// A new producer id or epoch: sequences start over at 0.
    pub(super) fn reset_sequences(&mut self) {
        for q in self.queues.values_mut() {
            q.next_sequence = 0;
            q.last_acked_sequence = None;
            for b in q.batches.iter_mut().filter(|b| b.attempts == 0) {
                b.base_sequence = None;
            }
        }
    }

    /// Fails every record not yet sent (abortTransaction, or a fatal error).
    pub(super) fn drop_unsent(&mut self, error: ErrorCode, ledger: &mut Ledger, io: &mut Io) {
        let mut dropped = Vec::new();
        for q in self.queues.values_mut() {
            dropped.extend(q.batches.drain(..));
        }
        for b in dropped {
            self.finish_failed(b, error, ledger, io);
        }
        let waiting: Vec<WaitingRecord> = self.waiting.drain(..).chain(self.schema_waiting.drain(..)).collect();
        for w in waiting {
            self.fail_record(w.id, error, ledger);
        }
    }

    fn corr(&mut self) -> u64 {
        self.next_corr += 1;
        self.next_corr
    }

    fn idempotent(&self) -> bool {
        self.config.enable_idempotence
    }

    /// Batches waiting in the accumulator, per partition (for the UI).
    pub fn queued(&self) -> impl Iterator<Item = (&TopicPartition, &VecDeque<ProducerBatch>)> {
        self.queues.iter().map(|(tp, q)| (tp, &q.batches))
    }

    /// Batches in flight, per request: (broker, batches).
    pub fn in_flight(&self) -> impl Iterator<Item = (u32, &[ProducerBatch])> {
        self.in_flight.values().map(|f| (f.broker, f.batches.as_slice()))
    }

    pub fn queued_records(&self) -> u64 {
        self.queues.values().flat_map(|q| q.batches.iter()).map(|b| u64::from(b.record_count())).sum::<u64>()
            + self.waiting.len() as u64
    }

    /// Whether the producer still has work: records to generate, queue or await.
    pub fn is_idle(&self) -> bool {
        self.workloads.iter().all(|w| w.remaining() == 0)
            && self.waiting.is_empty()
            && self.schema_waiting.is_empty()
            && self.queues.values().all(|q| q.batches.is_empty())
            && self.in_flight.is_empty()
    }

    // ------------------------------------------------------------------ application side

    /// Starts a `produce` action.
    pub fn add_workload(&mut self, w: Workload, io: &mut Io) {
        self.workloads.push(w);
        self.workload_scheduled.push(true);
        io.timer(Dur::ZERO, Timer::ProducerWorkload((self.workloads.len() - 1) as u32));
    }

    fn run_workload(&mut self, i: usize, ledger: &mut Ledger, io: &mut Io) {
        self.workload_scheduled[i] = false;
        let interval = self.workloads[i].interval_us;
        loop {
            if self.workloads[i].remaining() == 0 || !self.alive {
                break;
            }
            if self.buffered_bytes >= self.config.buffer_memory {
                if !self.blocked {
                    self.blocked = true;
                    io.emit(Effect::ProducerBlocked { producer: self.index, queued_bytes: self.buffered_bytes });
                }
                break; // send() blocks until a batch completes and frees memory
            }
            let name = self.name.clone();
            let (key, value) = self.workloads[i].next(&name, &mut self.rng);
            let topic = self.workloads[i].topic.clone();
            let partition = self.workloads[i].partition;
            self.send(topic, partition, key, value, ledger, io);
            if interval > 0 {
                if self.workloads[i].remaining() > 0 {
                    self.workload_scheduled[i] = true;
                    io.timer(Dur(interval), Timer::ProducerWorkload(i as u32));
                }
                break;
            }
        }
        self.run_sender(ledger, io);
    }

    /// Resumes workloads that were blocked on `buffer.memory`.
    fn unblock(&mut self, io: &mut Io) {
        if !self.blocked || self.buffered_bytes >= self.config.buffer_memory {
            return;
        }
        self.blocked = false;
        for i in 0..self.workloads.len() {
            if self.workloads[i].remaining() > 0 && self.workloads[i].interval_us == 0 && !self.workload_scheduled[i] {
                self.workload_scheduled[i] = true;
                io.timer(Dur::ZERO, Timer::ProducerWorkload(i as u32));
            }
        }
    }

    /// `KafkaProducer.send()`: registers the record and appends it to a batch.
    pub fn send(
        &mut self,
        topic: Arc<str>,
        partition: Option<u32>,
        key: Option<Blob>,
        value: Option<Blob>,
        ledger: &mut Ledger,
        io: &mut Io,
    ) -> RecordId {
        self.send_with_timestamp(topic, partition, key, value, None, ledger, io)
    }

    /// `send()` of a `ProducerRecord` with an explicit timestamp.
    #[allow(clippy::too_many_arguments)]
    pub fn send_with_timestamp(
        &mut self,
        topic: Arc<str>,
        partition: Option<u32>,
        key: Option<Blob>,
        value: Option<Blob>,
        timestamp: Option<i64>,
        ledger: &mut Ledger,
        io: &mut Io,
    ) -> RecordId {
        let id = ledger.new_record(self.index, &topic, self.config.acks, io.now);
        self.stats.records_sent += 1;
        if self.can_send_in_transaction().is_err() {
            // Java throws from send(); the record never enters the accumulator.
            self.fail_record(id, ErrorCode::INVALID_TXN_STATE, ledger);
            return id;
        }
        let w = WaitingRecord { id, topic, partition, key, value, since: io.now, timestamp };
        if self.uses_registry() && (!self.schema_waiting.is_empty() || !self.schemas_ready(&w.topic)) {
            let topic = w.topic.clone();
            self.schema_waiting.push_back(w);
            self.request_schemas(&topic, ledger, io);
        } else {
            self.serialize_and_queue(w, ledger, io);
        }
        id
    }

    fn uses_registry(&self) -> bool {
        self.config.key_serializer == SerdeFormat::Avro || self.config.value_serializer == SerdeFormat::Avro
    }

    fn avro_sides(&self) -> Vec<bool> {
        let mut sides = Vec::new();
        if self.config.key_serializer == SerdeFormat::Avro {
            sides.push(true);
        }
        if self.config.value_serializer == SerdeFormat::Avro {
            sides.push(false);
        }
        sides
    }

    fn schemas_ready(&self, topic: &Arc<str>) -> bool {
        self.avro_sides().into_iter().all(|k| self.writers.contains_key(&(topic.clone(), k)))
    }

    /// Asks the registry for the schema ids this topic needs (KafkaAvroSerializer: register,
    /// look up, or fetch the latest version, per `auto.register.schemas`/`use.latest.version`).
    fn request_schemas(&mut self, topic: &Arc<str>, ledger: &mut Ledger, io: &mut Io) {
        for is_key in self.avro_sides() {
            let slot = (topic.clone(), is_key);
            let state = self.subjects.entry(slot.clone()).or_default();
            if state.in_flight.is_some() || self.writers.contains_key(&slot) {
                continue;
            }
            let subject = serializer::subject(topic, is_key);
            let own = if is_key { self.key_schema.clone() } else { self.value_schema.clone() };
            let corr = self.next_corr + 1;
            let request = if self.config.use_latest_version {
                Message::LatestSchemaRequest { corr, subject }
            } else {
                let Some(schema) = own else {
                    let what = if is_key { "key" } else { "value" };
                    self.fail_schema_waiting(
                        topic,
                        &format!("no {what} schema configured for the Avro serializer"),
                        ledger,
                        io,
                    );
                    return;
                };
                Message::RegisterSchemaRequest {
                    corr,
                    subject,
                    schema,
                    lookup_only: !self.config.auto_register_schemas,
                }
            };
            self.next_corr = corr;
            self.subjects.entry(slot.clone()).or_default().in_flight = Some(corr);
            self.schema_requests.insert(corr, slot);
            io.send(NodeId::SchemaRegistry, request);
            io.timer(Dur::from_ms(self.config.request_timeout_ms), Timer::ProducerRequestTimeout(corr));
        }
    }

    /// The registry answered (or did not): serialize what waited, or fail it.
    fn on_schema_answer(&mut self, corr: u64, result: Result<(u32, String), String>, ledger: &mut Ledger, io: &mut Io) {
        let Some(slot) = self.schema_requests.remove(&corr) else { return };
        let state = self.subjects.entry(slot.clone()).or_default();
        state.in_flight = None;
        match result.and_then(|(id, text)| {
            AvroSchema::parse(&text).map(|s| (id, text, s)).map_err(|e| format!("registry returned a bad schema: {e}"))
        }) {
            Ok((id, text, schema)) => {
                state.id = Some(id);
                state.writer = Some(text);
                self.writers.insert(slot, Arc::new(schema));
                self.drain_schema_waiting(ledger, io);
            }
            Err(message) => self.fail_schema_waiting(&slot.0, &message, ledger, io),
        }
    }

    fn drain_schema_waiting(&mut self, ledger: &mut Ledger, io: &mut Io) {
        while let Some(w) = self.schema_waiting.front() {
            if !self.schemas_ready(&w.topic) {
                let topic = w.topic.clone();
                self.request_schemas(&topic, ledger, io);
                return;
            }
            let w = self.schema_waiting.pop_front().expect("front exists");
            self.serialize_and_queue(w, ledger, io);
        }
        self.run_sender(ledger, io);
    }

    /// The serializer threw: every record waiting for this topic's schema fails (nothing is
    /// written); the next send() asks the registry again, as the Confluent client does.
    fn fail_schema_waiting(&mut self, topic: &Arc<str>, message: &str, ledger: &mut Ledger, io: &mut Io) {
        let (failed, kept): (Vec<_>, Vec<_>) = self.schema_waiting.drain(..).partition(|w| w.topic == *topic);
        self.schema_waiting = kept.into();
        io.emit(Effect::SerializationFailed {
            producer: self.index,
            topic: topic.to_string(),
            error: message.to_string(),
        });
        for w in failed {
            self.fail_record(w.id, ErrorCode::SERIALIZATION_ERROR, ledger);
        }
        if !self.schema_waiting.is_empty() {
            self.drain_schema_waiting(ledger, io);
        }
    }

    /// Turns key and value into bytes per the configured serializers, then queues the record
    /// (or fails it with SERIALIZATION_ERROR).
    fn serialize_and_queue(&mut self, w: WaitingRecord, ledger: &mut Ledger, io: &mut Io) {
        let key = match self.serialize_side(&w.topic, true, w.key.clone(), io) {
            Ok(k) => k,
            Err(e) => return self.serialization_failed(w, e, ledger, io),
        };
        let value = match self.serialize_side(&w.topic, false, w.value.clone(), io) {
            Ok(v) => v,
            Err(e) => return self.serialization_failed(w, e, ledger, io),
        };
        let w = WaitingRecord { key, value, ..w };
        if self.metadata.partition_count(&w.topic).is_none() || !self.waiting.is_empty() {
            // KafkaProducer.waitOnMetadata: the record waits (up to max.block.ms).
            self.waiting.push_back(w);
            self.metadata.needs_update = true;
        } else {
            self.append(w.id, w.topic, w.partition, w.key, w.value, w.timestamp, ledger, io);
        }
    }

    fn serialization_failed(&mut self, w: WaitingRecord, error: String, ledger: &mut Ledger, io: &mut Io) {
        io.emit(Effect::SerializationFailed { producer: self.index, topic: w.topic.to_string(), error });
        self.fail_record(w.id, ErrorCode::SERIALIZATION_ERROR, ledger);
    }

    fn serialize_side(
        &self,
        topic: &Arc<str>,
        is_key: bool,
        data: Option<Blob>,
        io: &mut Io,
    ) -> Result<Option<Blob>, String> {
        let format = if is_key { self.config.key_serializer } else { self.config.value_serializer };
        let Some(data) = data else { return Ok(None) };
        if format == SerdeFormat::String {
            return Ok(Some(data));
        }
        let json: serde_json::Value = serde_json::from_slice(data.as_bytes())
            .map_err(|e| format!("the {} is not JSON: {e}", if is_key { "key" } else { "value" }))?;
        match format {
            SerdeFormat::Json => {
                // A JSON producer with a schema writes data of that shape (no registry checks it).
                let own = if is_key { &self.key_schema } else { &self.value_schema };
                let shaped = match own.as_deref().map(AvroSchema::parse) {
                    Some(Ok(schema)) => serializer::conform(&json, &schema),
                    _ => json,
                };
                let text = serde_json::to_string(&shaped).map_err(|e| e.to_string())?;
                io.emit(Effect::RecordSerialized {
                    producer: self.index,
                    topic: topic.to_string(),
                    schema_id: None,
                    hex: serializer::hex_preview(text.as_bytes()),
                });
                Ok(Some(Blob::text(&text)))
            }
            _ => {
                let slot = (topic.clone(), is_key);
                let (Some(schema), Some(id)) = (self.writers.get(&slot), self.subjects.get(&slot).and_then(|s| s.id))
                else {
                    return Err("no schema id yet".into());
                };
                let shaped = serializer::conform(&json, schema);
                let bytes = crate::schema::serialize(schema, id, &shaped).map_err(|e| e.to_string())?;
                io.emit(Effect::RecordSerialized {
                    producer: self.index,
                    topic: topic.to_string(),
                    schema_id: Some(id),
                    hex: serializer::hex_preview(&bytes),
                });
                Ok(Some(Blob::from_bytes(&bytes)))
            }
        }
    }

    /// A new version of the application with other schemas: cached ids are forgotten and
    /// the next send() registers (or looks up) the new schema.
    pub fn set_schemas(&mut self, key_schema: Option<String>, value_schema: Option<String>) {
        if key_schema.is_some() {
            self.key_schema = key_schema;
        }
        if value_schema.is_some() {
            self.value_schema = value_schema;
        }
        self.subjects.clear();
        self.writers.clear();
    }

    #[allow(clippy::too_many_arguments)]
    fn append(
        &mut self,
        id: RecordId,
        topic: Arc<str>,
        explicit: Option<u32>,
        key: Option<Blob>,
        value: Option<Blob>,
        timestamp: Option<i64>,
        ledger: &mut Ledger,
        io: &mut Io,
    ) {
        let n = self.metadata.partition_count(&topic).unwrap_or(0);
        if n == 0 {
            self.fail_record(id, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, ledger);
            return;
        }
        let use_key = key.is_some() && !self.config.partitioner_ignore_keys;
        let (partition, sticky) = match explicit {
            Some(p) if p >= n => {
                self.fail_record(id, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, ledger);
                return;
            }
            Some(p) => (p, false),
            None if self.config.partitioner_class == PartitionerClass::RoundRobin => {
                (self.next_round_robin(&topic, n), false)
            }
            None if use_key => (partition_for_key(key.as_ref().expect("keyed").as_bytes(), n), false),
            None => (self.sticky_partition(&topic, n), true),
        };
        let tp = TopicPartition { topic: topic.clone(), partition };
        // `maybeAddPartition`: a transaction's new partition is added before its first batch.
        self.txn_allows_drain(&tp);
        let timestamp = timestamp.unwrap_or(io.now.as_ms() as i64);
        let batch_size = self.config.batch_size;
        let queue = self.queues.entry(tp.clone()).or_default();
        let mut pending = Some(Record { id, offset_delta: 0, timestamp, key, value, headers: Vec::new() });
        let mut appended_bytes = 0;
        if let Some(batch) = queue.batches.back_mut().filter(|b| b.data.is_none() && !b.full && b.retry_at.is_none()) {
            let ts0 = batch.records.first().map(|r| r.timestamp).unwrap_or(timestamp);
            let record = pending.as_mut().expect("record not yet placed");
            record.offset_delta = batch.records.len() as u32;
            let size = record.size_in_bytes(timestamp - ts0);
            if batch.size_bytes + size <= batch_size {
                batch.size_bytes += size;
                batch.records.push(pending.take().expect("record not yet placed"));
                batch.full = batch.size_bytes >= batch_size;
                appended_bytes = size;
            } else {
                // It does not fit: this batch is closed for appends (full) and a new one starts.
                batch.full = true;
                record.offset_delta = 0;
            }
        }
        if let Some(record) = pending {
            let size = record.size_in_bytes(0);
            let mut records = Vec::with_capacity(16);
            records.push(record);
            let size_bytes = BATCH_OVERHEAD + size;
            queue.batches.push_back(ProducerBatch {
                tp: tp.clone(),
                records,
                data: None,
                size_bytes,
                full: size_bytes >= batch_size,
                created: io.now,
                attempts: 0,
                retry_at: None,
                base_sequence: None,
                last_error: None,
                leader_epoch_at_attempt: None,
            });
            appended_bytes = size_bytes;
        }
        self.buffered_bytes += u64::from(appended_bytes);
        ledger.set_partition(id, partition);
        if sticky {
            let all_full =
                self.queues.get(&tp).map(|q| q.batches.back().map(|b| b.full).unwrap_or(true)).unwrap_or(true);
            self.update_sticky(&topic, n, appended_bytes, all_full);
        }
    }

    fn next_round_robin(&mut self, topic: &Arc<str>, n: u32) -> u32 {
        let counter = self.round_robin.entry(topic.clone()).or_insert(0);
        let i = *counter;
        *counter = counter.wrapping_add(1);
        let available = self.metadata.available_partitions(topic);
        if available.is_empty() {
            i % n
        } else {
            available[(i as usize) % available.len()]
        }
    }

    /// The built-in partitioner's current sticky partition for a topic (KIP-794).
    fn sticky_partition(&mut self, topic: &Arc<str>, n: u32) -> u32 {
        let batch_size = self.config.batch_size;
        let current = self.sticky.get(topic).cloned().unwrap_or_default();
        if let Some(p) = current.partition {
            // A switch that was held back until the partition's last batch filled up.
            let tp = TopicPartition { topic: topic.clone(), partition: p };
            let all_full =
                self.queues.get(&tp).map(|q| q.batches.back().map(|b| b.full).unwrap_or(true)).unwrap_or(true);
            if current.produced_bytes >= batch_size && all_full {
                let next = self.next_partition(topic, n);
                self.sticky.insert(topic.clone(), Sticky { partition: Some(next), produced_bytes: 0 });
                return next;
            }
            return p;
        }
        let p = self.next_partition(topic, n);
        self.sticky.insert(topic.clone(), Sticky { partition: Some(p), produced_bytes: 0 });
        p
    }

    fn update_sticky(&mut self, topic: &Arc<str>, n: u32, appended: u32, all_full: bool) {
        let batch_size = self.config.batch_size;
        let s = self.sticky.entry(topic.clone()).or_default();
        s.produced_bytes += appended;
        if (s.produced_bytes >= batch_size && all_full) || s.produced_bytes >= batch_size.saturating_mul(2) {
            s.produced_bytes = 0;
            s.partition = None;
            let next = self.next_partition(topic, n);
            self.sticky.insert(topic.clone(), Sticky { partition: Some(next), produced_bytes: 0 });
        }
    }

    /// `BuiltInPartitioner.nextPartition`: uniform among partitions with a leader, or
    /// weighted toward shorter queues when adaptive partitioning has load statistics.
    fn next_partition(&mut self, topic: &Arc<str>, n: u32) -> u32 {
        let available = self.metadata.available_partitions(topic);
        if let Some(weights) = self.load_weights(topic, n, &available) {
            let total: u64 = weights.iter().map(|(_, w)| *w).sum();
            let r = self.partitioner_rng.below(total);
            let mut acc = 0;
            for (p, w) in &weights {
                acc += *w;
                if acc > r {
                    return *p;
                }
            }
        }
        if available.is_empty() {
            self.partitioner_rng.below(u64::from(n)) as u32
        } else {
            available[self.partitioner_rng.below(available.len() as u64) as usize]
        }
    }

    /// Queue-length weights `max + 1 - queue` when every partition has a queue and they
    /// are not all equal (otherwise the choice is uniform).
    fn load_weights(&self, topic: &Arc<str>, n: u32, available: &[u32]) -> Option<Vec<(u32, u64)>> {
        if !self.config.partitioner_adaptive_partitioning_enable || available.len() < 2 {
            return None;
        }
        let mut queues = Vec::with_capacity(available.len());
        for p in 0..n {
            let q = self.queues.get(&TopicPartition { topic: topic.clone(), partition: p })?;
            if available.contains(&p) {
                queues.push((p, q.batches.len() as u64));
            }
        }
        let max = queues.iter().map(|(_, q)| *q).max()?;
        if queues.iter().all(|(_, q)| *q == max) {
            return None;
        }
        Some(queues.into_iter().map(|(p, q)| (p, max + 1 - q)).collect())
    }

    fn fail_record(&mut self, id: RecordId, error: ErrorCode, ledger: &mut Ledger) {
        ledger.set_outcome(id, Outcome::Failed { error }, 0);
        self.stats.records_failed += 1;
    }

    /// `KafkaProducer.flush()`: makes every queued batch sendable now.
    pub fn flush(&mut self, ledger: &mut Ledger, io: &mut Io) {
        self.flush_requested = true;
        self.run_sender(ledger, io);
    }

    // ------------------------------------------------------------------ sender

    fn schedule_wake(&mut self, at: SimTime, io: &mut Io) {
        if self.wake_at.map(|w| w <= at && w > io.now).unwrap_or(false) {
            return;
        }
        self.wake_at = Some(at);
        io.timer_at(at, Timer::ProducerWake);
    }

    /// One pass of the sender thread: expire, refresh metadata, drain ready batches.
    pub fn run_sender(&mut self, ledger: &mut Ledger, io: &mut Io) {
        if !self.alive {
            return;
        }
        let now = io.now;
        self.expire(ledger, io);
        let max_age = Dur::from_ms(self.config.metadata_max_age_ms);
        let stale = self.metadata.updated_at.map(|t| now.since(t) >= max_age).unwrap_or(true);
        if (self.metadata.needs_update || stale) && self.metadata.in_flight.is_none() {
            self.request_metadata(None, io);
        }
        if self.txn.is_some() {
            if !self.txn_step(ledger, io) {
                return;
            }
        } else if self.idempotent() && self.producer_id == NO_PRODUCER_ID {
            if self.pid_request.is_none() {
                if let Some(b) = self.metadata.pick_broker(&mut self.rng, None, now) {
                    let corr = self.corr();
                    self.pid_request = Some(corr);
                    io.send(
                        NodeId::Broker(b),
                        Message::InitProducerIdRequest { corr, transactional_id: None, transaction_timeout_ms: 0 },
                    );
                    io.timer(Dur::from_ms(self.config.request_timeout_ms), Timer::ProducerRequestTimeout(corr));
                }
            }
            return;
        }
        let linger = Dur::from_ms(self.config.linger_ms);
        let mut next_wake: Option<SimTime> = None;
        let mut ready: BTreeMap<u32, Vec<TopicPartition>> = BTreeMap::new();
        let force = self.flush_requested || self.blocked;
        let txn_partitions = self.txn.as_ref().map(|t| t.partitions.clone());
        for (tp, q) in &self.queues {
            let Some(front) = q.batches.front() else {
                continue;
            };
            if txn_partitions.as_ref().map(|p| !p.contains(tp)).unwrap_or(false) {
                continue; // waiting for AddPartitionsToTxn
            }
            let Some(leader) = self.metadata.leader(tp) else {
                self.metadata.needs_update = true;
                continue;
            };
            if let Some(until) = self.metadata.backoff_until(leader, now) {
                next_wake = Some(next_wake.map_or(until, |w| w.min(until)));
                continue;
            }
            if let Some(at) = front.retry_at {
                if at > now {
                    next_wake = Some(next_wake.map_or(at, |w| w.min(at)));
                    continue;
                }
                // Keep sequence order: a retry goes only when nothing of this partition is in flight.
                if self.config.enable_idempotence && q.in_flight > 0 {
                    continue;
                }
            }
            let deadline = front.created.plus(linger);
            let sendable = q.batches.len() > 1 || front.full || front.attempts > 0 || now >= deadline || force;
            if sendable {
                ready.entry(leader).or_default().push(tp.clone());
            } else {
                next_wake = Some(next_wake.map_or(deadline, |w| w.min(deadline)));
            }
        }
        for (broker, tps) in ready {
            self.drain_to(broker, &tps, ledger, io);
        }
        if self.flush_requested && self.queues.values().all(|q| q.batches.is_empty()) {
            self.flush_requested = false;
        }
        if let Some(at) = next_wake {
            self.schedule_wake(at, io);
        }
    }

    fn drain_to(&mut self, broker: u32, tps: &[TopicPartition], ledger: &mut Ledger, io: &mut Io) {
        let max_in_flight = self.config.max_in_flight_requests_per_connection;
        let linger = Dur::from_ms(self.config.linger_ms);
        let force = self.flush_requested || self.blocked;
        let transactional = self.txn.is_some();
        loop {
            if *self.in_flight_per_broker.get(&broker).unwrap_or(&0) >= max_in_flight {
                return;
            }
            let mut batches: Vec<ProducerBatch> = Vec::new();
            let mut bytes = 0u32;
            for tp in tps {
                let idempotent = self.idempotent();
                let (pid, epoch) = (self.producer_id, self.producer_epoch);
                let leader_epoch = self.metadata.leader_epoch(tp);
                let q = self.queues.get_mut(tp).expect("queue exists");
                let Some(front) = q.batches.front() else {
                    continue;
                };
                if front.retry_at.map(|t| t > io.now).unwrap_or(false) {
                    continue;
                }
                if front.retry_at.is_some() && idempotent && q.in_flight > 0 {
                    continue;
                }
                let sendable = q.batches.len() > 1
                    || front.full
                    || front.attempts > 0
                    || io.now >= front.created.plus(linger)
                    || force;
                if !sendable {
                    continue;
                }
                if !batches.is_empty() && bytes + front.size_bytes > self.config.max_request_size {
                    break;
                }
                let mut batch = q.batches.pop_front().expect("front exists");
                if idempotent && batch.base_sequence.is_none() {
                    batch.base_sequence = Some(q.next_sequence);
                    q.next_sequence = q.next_sequence.wrapping_add(batch.record_count() as i32);
                }
                batch.seal(if idempotent { pid } else { NO_PRODUCER_ID }, epoch, transactional);
                batch.attempts += 1;
                batch.retry_at = None;
                batch.leader_epoch_at_attempt = leader_epoch;
                q.in_flight += 1;
                bytes += batch.size_bytes;
                batches.push(batch);
            }
            if batches.is_empty() {
                return;
            }
            let corr = self.corr();
            let records: u32 = batches.iter().map(|b| b.record_count()).sum();
            let partitions = batches
                .iter()
                .map(|b| ProducePartition { tp: b.tp.clone(), batch: b.data.clone().expect("sealed") })
                .collect();
            io.send(
                NodeId::Broker(broker),
                Message::ProduceRequest {
                    corr,
                    acks: self.config.acks,
                    timeout: Dur::from_ms(self.config.request_timeout_ms),
                    partitions,
                },
            );
            self.stats.requests_sent += 1;
            io.emit(Effect::ProduceRequestSent {
                producer: self.index,
                broker,
                batches: batches.len() as u32,
                records,
            });
            if self.config.acks == Acks::None {
                // Fire and forget: done as soon as it is on the wire, offset unknown.
                for b in batches {
                    if let Some(q) = self.queues.get_mut(&b.tp) {
                        q.in_flight -= 1;
                    }
                    for (id, _) in b.record_ids() {
                        ledger.set_outcome(id, Outcome::Unknown, 0);
                    }
                    self.stats.records_unknown += u64::from(b.record_count());
                    self.buffered_bytes = self.buffered_bytes.saturating_sub(u64::from(b.size_bytes));
                    io.emit(Effect::ProduceAcked {
                        producer: self.index,
                        tp: b.tp.clone(),
                        base: None,
                        records: b.record_count(),
                    });
                }
                self.unblock(io);
                continue;
            }
            self.in_flight.insert(corr, InFlight { broker, batches });
            *self.in_flight_per_broker.entry(broker).or_insert(0) += 1;
            io.timer(Dur::from_ms(self.config.request_timeout_ms), Timer::ProducerRequestTimeout(corr));
        }
    }

    fn request_metadata(&mut self, avoid: Option<u32>, io: &mut Io) {
        let Some(b) = self.metadata.pick_broker(&mut self.rng, avoid, io.now) else {
            return;
        };
        let corr = self.corr();
        self.metadata.in_flight = Some((corr, b));
        io.send(NodeId::Broker(b), Message::MetadataRequest { corr });
        io.timer(Dur::from_ms(self.config.request_timeout_ms), Timer::ProducerRequestTimeout(corr));
    }

    /// `delivery.timeout.ms` for queued batches and records waiting for metadata.
    fn expire(&mut self, ledger: &mut Ledger, io: &mut Io) {
        let now = io.now;
        let timeout = Dur::from_ms(self.config.delivery_timeout_ms);
        let max_block = Dur::from_ms(self.config.max_block_ms);
        while self.waiting.front().map(|w| now.since(w.since) >= max_block).unwrap_or(false) {
            let w = self.waiting.pop_front().expect("front");
            self.fail_record(w.id, ErrorCode::TIMEOUT, ledger);
        }
        let mut expired = Vec::new();
        for q in self.queues.values_mut() {
            while q.batches.front().map(|b| now.since(b.created) >= timeout).unwrap_or(false) {
                expired.push(q.batches.pop_front().expect("front"));
            }
        }
        for b in expired {
            self.finish_failed(b, ErrorCode::TIMEOUT, ledger, io);
        }
        // In-flight batches past their delivery timeout fail now; a late answer is ignored.
        let mut late = Vec::new();
        for f in self.in_flight.values_mut() {
            let (gone, keep): (Vec<_>, Vec<_>) = f.batches.drain(..).partition(|b| now.since(b.created) >= timeout);
            f.batches = keep;
            late.extend(gone);
        }
        for b in late {
            if let Some(q) = self.queues.get_mut(&b.tp) {
                q.in_flight = q.in_flight.saturating_sub(1);
            }
            self.finish_failed(b, ErrorCode::TIMEOUT, ledger, io);
        }
    }

    fn finish_failed(&mut self, b: ProducerBatch, error: ErrorCode, ledger: &mut Ledger, io: &mut Io) {
        for (id, _) in b.record_ids() {
            ledger.set_outcome(id, Outcome::Failed { error }, 0);
        }
        let n = b.record_count();
        self.stats.records_failed += u64::from(n);
        self.buffered_bytes = self.buffered_bytes.saturating_sub(u64::from(b.size_bytes));
        io.emit(Effect::ProduceFailed { producer: self.index, tp: b.tp.clone(), error, records: n, retry: false });
        self.unblock(io);
    }

    fn finish_acked(&mut self, b: ProducerBatch, base: Option<u64>, isr_mask: u64, ledger: &mut Ledger, io: &mut Io) {
        for (id, delta) in b.record_ids() {
            let outcome = match base {
                Some(base) => Outcome::Acked { offset: base + u64::from(delta) },
                None => Outcome::Acked { offset: u64::MAX },
            };
            ledger.set_outcome(id, outcome, isr_mask);
        }
        let n = b.record_count();
        self.stats.records_acked += u64::from(n);
        ledger.latencies.push((io.now, io.now.since(b.created).0, n, self.config.acks));
        self.buffered_bytes = self.buffered_bytes.saturating_sub(u64::from(b.size_bytes));
        io.emit(Effect::ProduceAcked { producer: self.index, tp: b.tp.clone(), base, records: n });
        self.unblock(io);
    }

    // ------------------------------------------------------------------ responses

    pub fn handle_message(&mut self, from: NodeId, msg: Message, ledger: &mut Ledger, io: &mut Io) {
        if !self.alive {
            return;
        }
        match msg {
            _ if self.txn_response(&msg, ledger, io) => {}
            Message::ProduceResponse { corr, partitions } => self.on_produce_response(corr, partitions, ledger, io),
            Message::MetadataResponse { corr, .. } => {
                if self.metadata.apply_response(corr, &msg, io.now) {
                    io.emit(Effect::MetadataUpdated { client: NodeId::Producer(self.index), version: corr });
                    let waiting: Vec<WaitingRecord> = self.waiting.drain(..).collect();
                    for w in waiting {
                        if self.metadata.partition_count(&w.topic).is_some() {
                            self.append(w.id, w.topic, w.partition, w.key, w.value, w.timestamp, ledger, io);
                        } else {
                            self.waiting.push_back(w);
                        }
                    }
                    if !self.waiting.is_empty() {
                        self.metadata.needs_update = true;
                    }
                }
            }
            Message::InitProducerIdResponse { corr, error, producer_id, producer_epoch } => {
                if self.pid_request == Some(corr) {
                    self.pid_request = None;
                    if error.is_none() {
                        self.producer_id = producer_id;
                        self.producer_epoch = producer_epoch;
                    }
                }
            }
            Message::ConnectionClosed => {
                if let NodeId::Broker(b) = from {
                    self.metadata.connection_refused(b, io.now);
                    self.connection_lost(b, None, ledger, io);
                }
                if from == NodeId::SchemaRegistry {
                    let pending: Vec<u64> = self.schema_requests.keys().copied().collect();
                    for corr in pending {
                        self.on_schema_answer(corr, Err("schema registry connection closed".into()), ledger, io);
                    }
                }
            }
            Message::SchemaIdResponse { corr, result } => {
                let result =
                    result.map_err(|e| format!("{} (HTTP {}, error code {})", e.message, e.http_status, e.error_code));
                self.on_schema_answer(corr, result, ledger, io);
            }
            _ => {}
        }
        self.run_sender(ledger, io);
    }

    fn on_produce_response(
        &mut self,
        corr: u64,
        partitions: Vec<ProducePartitionResponse>,
        ledger: &mut Ledger,
        io: &mut Io,
    ) {
        let Some(flight) = self.in_flight.remove(&corr) else {
            return;
        };
        self.metadata.connected(flight.broker);
        if let Some(c) = self.in_flight_per_broker.get_mut(&flight.broker) {
            *c = c.saturating_sub(1);
        }
        for b in flight.batches {
            if let Some(q) = self.queues.get_mut(&b.tp) {
                q.in_flight = q.in_flight.saturating_sub(1);
            }
            let resp = partitions.iter().find(|p| p.tp == b.tp);
            match resp.map(|r| (r.error, r.base_offset, r.isr_mask)) {
                Some((None, base, mask)) => self.finish_acked(b, base, mask, ledger, io),
                Some((Some(ErrorCode::DUPLICATE_SEQUENCE_NUMBER), _, mask)) => {
                    self.finish_acked(b, None, mask, ledger, io)
                }
                Some((Some(e), _, _)) => self.on_batch_error(b, e, ledger, io),
                None => self.on_batch_error(b, ErrorCode::NETWORK_EXCEPTION, ledger, io),
            }
        }
    }

    fn on_batch_error(&mut self, mut b: ProducerBatch, error: ErrorCode, ledger: &mut Ledger, io: &mut Io) {
        let now = io.now;
        if self.txn.is_some() && matches!(error, ErrorCode::INVALID_PRODUCER_EPOCH | ErrorCode::PRODUCER_FENCED) {
            // A newer instance (or the coordinator's timeout) bumped the epoch: fatal.
            self.finish_failed(b, ErrorCode::PRODUCER_FENCED, ledger, io);
            self.on_fenced_batch(error, ledger, io);
            return;
        }
        let idempotent = self.idempotent();
        let retriable = error.is_retriable() || (idempotent && error == ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
        let in_time = now.since(b.created) < Dur::from_ms(self.config.delivery_timeout_ms);
        if !(retriable && b.attempts <= self.config.retries && in_time) {
            let final_error = if retriable && !in_time { ErrorCode::TIMEOUT } else { error };
            self.finish_failed(b, final_error, ledger, io);
            return;
        }
        if error.needs_metadata_refresh() {
            self.metadata.needs_update = true;
        }
        // Exponential backoff with 20% jitter (KIP-580), skipped when the leader changed.
        let leader_changed = self.metadata.leader_epoch(&b.tp) != b.leader_epoch_at_attempt;
        let backoff = if leader_changed && error != ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER {
            Dur::ZERO
        } else {
            let base = self.config.retry_backoff_ms as f64 * 2f64.powi(b.attempts.saturating_sub(1).min(30) as i32);
            let jitter = 0.8 + 0.4 * self.rng.unit();
            Dur::from_us(((base * jitter).min(self.config.retry_backoff_max_ms as f64) * 1000.0) as u64)
        };
        b.retry_at = Some(now.plus(backoff));
        b.last_error = Some(error);
        self.stats.retries += 1;
        io.emit(Effect::ProduceFailed {
            producer: self.index,
            tp: b.tp.clone(),
            error,
            records: b.record_count(),
            retry: true,
        });
        if idempotent && error == ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER && self.in_flight.is_empty() {
            // A real gap (the broker lost earlier batches): bump the epoch and renumber.
            self.requeue(b);
            self.bump_epoch();
            return;
        }
        self.requeue(b);
        self.schedule_wake(now.plus(backoff), io);
    }

    /// Puts a retried batch back at the front, keeping sequence order for idempotence.
    fn requeue(&mut self, b: ProducerBatch) {
        let q = self.queues.entry(b.tp.clone()).or_default();
        match b.base_sequence {
            Some(seq) => {
                let pos = q
                    .batches
                    .iter()
                    .position(|x| x.base_sequence.map(|s| s > seq).unwrap_or(true))
                    .unwrap_or(q.batches.len());
                q.batches.insert(pos, b);
            }
            None => q.batches.push_front(b),
        }
    }

    /// Client-side epoch bump (KIP-360): sequences restart at 0 under the next epoch.
    fn bump_epoch(&mut self) {
        self.producer_epoch = self.producer_epoch.wrapping_add(1);
        for q in self.queues.values_mut() {
            let mut seq = 0i32;
            for b in q.batches.iter_mut() {
                if let Some(d) = b.data.take() {
                    b.records = d.records.clone();
                }
                b.base_sequence = Some(seq);
                seq = seq.wrapping_add(b.record_count() as i32);
            }
            // Batches still open get their sequence at drain time.
            for b in q.batches.iter_mut().filter(|b| b.attempts == 0) {
                b.base_sequence = None;
            }
            q.next_sequence =
                q.batches.iter().filter(|b| b.base_sequence.is_some()).map(|b| b.record_count() as i32).sum();
        }
    }

    /// The connection to a broker broke (or a request on it timed out): every request in
    /// flight on it fails.
    fn connection_lost(&mut self, broker: u32, timed_out: Option<u64>, ledger: &mut Ledger, io: &mut Io) {
        let corrs: Vec<u64> = self.in_flight.iter().filter(|(_, f)| f.broker == broker).map(|(c, _)| *c).collect();
        for corr in corrs {
            let flight = self.in_flight.remove(&corr).expect("present");
            if let Some(c) = self.in_flight_per_broker.get_mut(&broker) {
                *c = c.saturating_sub(1);
            }
            let error =
                if Some(corr) == timed_out { ErrorCode::REQUEST_TIMED_OUT } else { ErrorCode::NETWORK_EXCEPTION };
            for b in flight.batches {
                if let Some(q) = self.queues.get_mut(&b.tp) {
                    q.in_flight = q.in_flight.saturating_sub(1);
                }
                self.on_batch_error(b, error, ledger, io);
            }
        }
        if self.metadata.in_flight.map(|(_, b)| b == broker).unwrap_or(false) {
            self.metadata.in_flight = None;
            self.metadata.needs_update = true;
            self.request_metadata(Some(broker), io);
        }
        self.metadata.needs_update = true;
    }

    pub fn handle_timer(&mut self, timer: Timer, ledger: &mut Ledger, io: &mut Io) {
        if !self.alive {
            return;
        }
        match timer {
            Timer::ProducerWake => {
                if self.wake_at.map(|w| w <= io.now).unwrap_or(false) {
                    self.wake_at = None;
                }
                self.run_sender(ledger, io);
            }
            Timer::ProducerWorkload(i) => {
                if (i as usize) < self.workloads.len() {
                    self.run_workload(i as usize, ledger, io);
                }
            }
            Timer::ProducerRequestTimeout(corr) if self.schema_requests.contains_key(&corr) => {
                self.on_schema_answer(corr, Err("timed out waiting for the schema registry".into()), ledger, io);
            }
            Timer::ProducerRequestTimeout(corr) if self.txn_request_timed_out(corr, io) => {
                self.run_sender(ledger, io);
            }
            Timer::ProducerRequestTimeout(corr) => {
                if let Some(flight) = self.in_flight.get(&corr) {
                    let broker = flight.broker;
                    self.connection_lost(broker, Some(corr), ledger, io);
                } else if self.metadata.in_flight.map(|(c, _)| c) == Some(corr) {
                    let avoid = self.metadata.in_flight.map(|(_, b)| b);
                    self.metadata.in_flight = None;
                    self.metadata.needs_update = true;
                    self.request_metadata(avoid, io);
                } else if self.pid_request == Some(corr) {
                    self.pid_request = None;
                }
                self.run_sender(ledger, io);
            }
            _ => {}
        }
    }

    /// The producer process dies: queued records are never sent.
    pub fn crash(&mut self, ledger: &mut Ledger) -> u64 {
        self.alive = false;
        let mut unsent = 0;
        for q in self.queues.values_mut() {
            for b in q.batches.drain(..) {
                for (id, _) in b.record_ids() {
                    ledger.set_outcome(id, Outcome::Failed { error: ErrorCode::PRODUCER_CLOSED }, 0);
                    unsent += 1;
                }
            }
        }
        for w in self.waiting.drain(..).chain(self.schema_waiting.drain(..)) {
            ledger.set_outcome(w.id, Outcome::Failed { error: ErrorCode::PRODUCER_CLOSED }, 0);
            unsent += 1;
        }
        self.schema_requests.clear();
        for s in self.subjects.values_mut() {
            s.in_flight = None;
        }
        for w in &mut self.workloads {
            w.total = w.generated;
        }
        self.in_flight.clear();
        self.in_flight_per_broker.clear();
        self.buffered_bytes = 0;
        self.txn_reset();
        unsent
    }

    /// A new producer process with the same config: new producer id, empty buffers.
    pub fn restart(&mut self) {
        self.alive = true;
        self.incarnation += 1;
        self.producer_id = NO_PRODUCER_ID;
        self.producer_epoch = 0;
        self.pid_request = None;
        self.queues.clear();
        self.sticky.clear();
        self.metadata.in_flight = None;
        self.metadata.needs_update = true;
        self.wake_at = None;
        self.blocked = false;
        self.flush_requested = false;
    }
}
