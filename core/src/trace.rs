//! The trace: one structured event per simulation step, a readable one-line text form, and
//! the running 64-bit digest that proves two runs (native or WASM) were identical.
use crate::error::ErrorCode;
use crate::network::NodeId;
use crate::record::TopicPartition;
use crate::sim::digest::StableHasher;
use crate::sim::time::SimTime;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

/// What caused a step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cause", rename_all = "snake_case")]
pub enum Cause {
    /// A message arrived.
    Deliver { from: NodeId, to: NodeId, kind: Cow<'static, str> },
    /// A node's timer fired.
    Timer { node: NodeId, timer: Cow<'static, str> },
    /// A scenario timeline entry or a user action.
    Action { action: String },
}

/// Something observable that a step did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    BrokerCrashed {
        broker: u32,
    },
    BrokerPowerLoss {
        broker: u32,
        lost_records: u64,
    },
    BrokerRestarted {
        broker: u32,
    },
    ControllerCrashed,
    ControllerRestarted,
    BrokerFenced {
        broker: u32,
    },
    BrokerUnfenced {
        broker: u32,
    },
    LeaderElected {
        tp: TopicPartition,
        leader: Option<u32>,
        epoch: u32,
        isr: Vec<u32>,
        unclean: bool,
    },
    IsrChanged {
        tp: TopicPartition,
        isr: Vec<u32>,
        partition_epoch: u32,
    },
    IsrChangeProposed {
        tp: TopicPartition,
        broker: u32,
        isr: Vec<u32>,
    },
    BecameLeader {
        tp: TopicPartition,
        broker: u32,
        epoch: u32,
    },
    BecameFollower {
        tp: TopicPartition,
        broker: u32,
        leader: Option<u32>,
        epoch: u32,
    },
    Appended {
        tp: TopicPartition,
        broker: u32,
        base: u64,
        last: u64,
        epoch: u32,
        leader: bool,
    },
    DuplicateBatch {
        tp: TopicPartition,
        broker: u32,
        base: u64,
    },
    ProduceRejected {
        tp: TopicPartition,
        broker: u32,
        error: ErrorCode,
    },
    Truncated {
        tp: TopicPartition,
        broker: u32,
        to: u64,
        removed: u64,
    },
    HighWatermark {
        tp: TopicPartition,
        broker: u32,
        hw: u64,
    },
    LogStartOffset {
        tp: TopicPartition,
        broker: u32,
        offset: u64,
    },
    LogCleaned {
        tp: TopicPartition,
        broker: u32,
        dirty_ratio_pct: u32,
        records_removed: u64,
        tombstones_removed: u64,
        cleaned_to: u64,
    },
    Flushed {
        broker: u32,
        partitions: u32,
    },
    MessageLost {
        from: NodeId,
        to: NodeId,
        kind: String,
        reason: String,
    },
    NetworkChanged {
        what: String,
    },
    ConfigChanged {
        target: String,
        name: String,
        value: String,
    },
    TopicCreated {
        topic: String,
        partitions: u32,
        replication_factor: u32,
    },
    RecordsSent {
        producer: u32,
        tp: TopicPartition,
        records: u32,
    },
    ProduceRequestSent {
        producer: u32,
        broker: u32,
        batches: u32,
        records: u32,
    },
    ProduceAcked {
        producer: u32,
        tp: TopicPartition,
        base: Option<u64>,
        records: u32,
    },
    ProduceFailed {
        producer: u32,
        tp: TopicPartition,
        error: ErrorCode,
        records: u32,
        retry: bool,
    },
    ProducerBlocked {
        producer: u32,
        queued_bytes: u64,
    },
    MetadataUpdated {
        client: NodeId,
        version: u64,
    },
    RecordsConsumed {
        consumer: u32,
        tp: TopicPartition,
        first: u64,
        last: u64,
        records: u32,
    },
    OffsetReset {
        consumer: u32,
        tp: TopicPartition,
        offset: u64,
        reason: String,
    },
    ClientCrashed {
        client: NodeId,
        unsent_records: u64,
    },
    ClientRestarted {
        client: NodeId,
    },
    /// A client process added while the run goes (`add_consumer`).
    ClientStarted {
        client: NodeId,
    },
    CoordinatorFound {
        consumer: u32,
        group: String,
        broker: u32,
    },
    CoordinatorLost {
        consumer: u32,
        group: String,
    },
    PartitionsAssigned {
        consumer: u32,
        group: String,
        partitions: Vec<TopicPartition>,
        added: Vec<TopicPartition>,
    },
    PartitionsRevoked {
        consumer: u32,
        group: String,
        partitions: Vec<TopicPartition>,
        lost: bool,
    },
    OffsetsCommitted {
        consumer: u32,
        group: String,
        offsets: Vec<(TopicPartition, u64)>,
    },
    CommitFailed {
        consumer: u32,
        group: String,
        error: ErrorCode,
    },
    PollTimeoutExpired {
        consumer: u32,
        group: String,
        max_poll_interval_ms: u64,
    },
    ClientClosed {
        client: NodeId,
    },
    Seeked {
        consumer: u32,
        tp: TopicPartition,
        offset: u64,
    },
    CoordinatorLoaded {
        broker: u32,
        partition: u32,
        groups: u32,
        offsets: u64,
    },
    CoordinatorUnloaded {
        broker: u32,
        partition: u32,
    },
    // ---- transactions ----
    /// A producer called `beginTransaction()` (client side only, as in Java).
    TransactionBegun {
        producer: u32,
        transactional_id: String,
    },
    /// `commitTransaction()` returned: the coordinator has the commit decision.
    TransactionCommitted {
        producer: u32,
        transactional_id: String,
    },
    /// `abortTransaction()` returned.
    TransactionAborted {
        producer: u32,
        transactional_id: String,
    },
    /// The producer learned it was fenced (a newer epoch exists): it is unusable now.
    ProducerFenced {
        producer: u32,
        transactional_id: String,
        error: ErrorCode,
    },
    TxnCoordinatorLoaded {
        broker: u32,
        partition: u32,
        transactional_ids: u32,
    },
    /// The coordinator's first AddPartitionsToTxn of a transaction: it is Ongoing.
    TxnStarted {
        transactional_id: String,
        producer_id: i64,
        epoch: i16,
        broker: u32,
    },
    /// The coordinator bumped a transactional id's epoch to fence its producer.
    TxnEpochFenced {
        transactional_id: String,
        producer_id: i64,
        epoch: i16,
        reason: String,
    },
    /// Every marker is written: CompleteCommit or CompleteAbort.
    TransactionCompleted {
        transactional_id: String,
        producer_id: i64,
        epoch: i16,
        committed: bool,
        partitions: u32,
    },
    /// A partition leader appended a COMMIT or ABORT marker.
    MarkerWritten {
        tp: TopicPartition,
        broker: u32,
        producer_id: i64,
        committed: bool,
        offset: u64,
    },
    GroupStateChanged {
        group: String,
        broker: u32,
        state: String,
        generation: i32,
    },
    MemberJoined {
        group: String,
        member: String,
        client: NodeId,
    },
    MemberRemoved {
        group: String,
        member: String,
        reason: String,
    },
    GroupRebalanced {
        group: String,
        generation: i32,
        leader: String,
        protocol: String,
        members: u32,
    },
    SchemaRegistered {
        subject: String,
        id: u32,
        version: u32,
    },
    SchemaRefused {
        subject: String,
        http_status: u16,
        error_code: u32,
        message: String,
    },
    RegistryCrashed,
    /// A Kafka Streams instance started a task, rebuilding its stores from `restored`
    /// changelog records.
    StreamsTaskStarted {
        app: String,
        instance: String,
        task: String,
        restored: u64,
    },
    /// A Streams instance closed a task (its partitions went to another instance).
    StreamsTaskClosed {
        app: String,
        instance: String,
        task: String,
    },
    StreamsTaskFailed {
        app: String,
        instance: String,
        task: String,
        error: String,
    },
    /// A Streams instance handed its producer the records its tasks produced this step.
    StreamsOutput {
        app: String,
        instance: String,
        records: u64,
    },
    RegistryRestarted,
    /// A producer serialized a record: the bytes on the wire (hex, first 64 bytes).
    RecordSerialized {
        producer: u32,
        topic: String,
        schema_id: Option<u32>,
        hex: String,
    },
    SerializationFailed {
        producer: u32,
        topic: String,
        error: String,
    },
    /// A consumer could not turn a record's bytes into a value (the application's poll fails).
    DeserializationFailed {
        consumer: u32,
        tp: TopicPartition,
        offset: u64,
        error: String,
    },
    RecordDeserialized {
        consumer: u32,
        tp: TopicPartition,
        offset: u64,
        schema_id: Option<u32>,
        value: String,
    },
    InvariantViolated {
        invariant: String,
        detail: String,
    },
    Note {
        text: String,
    },
}

/// One step of the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceEvent {
    pub step: u64,
    pub time: SimTime,
    #[serde(flatten)]
    pub cause: Cause,
    pub effects: Vec<Effect>,
}

impl TraceEvent {
    /// Feeds the canonical form of the event into a digest.
    pub fn digest_into(&self, h: &mut StableHasher) {
        h.write_u64(self.step);
        h.write_u64(self.time.0);
        h.write_value(&self.cause);
        h.write_value(&self.effects);
    }

    /// Whether the step did anything a learner would call interesting (the UI's "jump to
    /// next interesting event").
    pub fn is_interesting(&self) -> bool {
        self.effects.iter().any(|e| {
            !matches!(
                e,
                Effect::Appended { .. }
                    | Effect::HighWatermark { .. }
                    | Effect::RecordsSent { .. }
                    | Effect::ProduceRequestSent { .. }
                    | Effect::ProduceAcked { .. }
                    | Effect::RecordsConsumed { .. }
                    | Effect::RecordSerialized { .. }
                    | Effect::RecordDeserialized { .. }
                    | Effect::MetadataUpdated { .. }
                    | Effect::Flushed { .. }
                    | Effect::OffsetsCommitted { .. }
            )
        })
    }
}

fn tps(v: &[TopicPartition]) -> String {
    v.iter().map(|tp| tp.to_string()).collect::<Vec<_>>().join(", ")
}

fn isr(v: &[u32]) -> String {
    v.iter().map(|b| b.to_string()).collect::<Vec<_>>().join(",")
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Effect::*;
        match self {
            BrokerCrashed { broker } => write!(f, "broker {broker} crashed"),
            BrokerPowerLoss { broker, lost_records } => {
                write!(f, "broker {broker} lost power ({lost_records} unflushed records gone)")
            }
            BrokerRestarted { broker } => write!(f, "broker {broker} restarted"),
            TransactionBegun { producer, transactional_id } => {
                write!(f, "producer {producer} began a transaction ({transactional_id})")
            }
            TransactionCommitted { producer, transactional_id } => {
                write!(f, "producer {producer} committed its transaction ({transactional_id})")
            }
            TransactionAborted { producer, transactional_id } => {
                write!(f, "producer {producer} aborted its transaction ({transactional_id})")
            }
            ProducerFenced { producer, transactional_id, error } => {
                write!(f, "producer {producer} is fenced ({transactional_id}, {error}): it must be closed")
            }
            TxnCoordinatorLoaded { broker, partition, transactional_ids } => write!(
                f,
                "b{broker} is transaction coordinator for __transaction_state-{partition}: loaded {transactional_ids} transactional ids"
            ),
            TxnStarted { transactional_id, producer_id, epoch, broker } => {
                write!(f, "transaction of {transactional_id} (pid {producer_id}, epoch {epoch}) is Ongoing on b{broker}")
            }
            TxnEpochFenced { transactional_id, producer_id, epoch, reason } => {
                write!(f, "{transactional_id}: epoch of pid {producer_id} bumped to {epoch} ({reason}); the open transaction is aborted")
            }
            TransactionCompleted { transactional_id, producer_id, epoch, committed, partitions } => write!(
                f,
                "transaction of {transactional_id} (pid {producer_id}, epoch {epoch}) {} on {partitions} partitions",
                if *committed { "CompleteCommit" } else { "CompleteAbort" }
            ),
            MarkerWritten { tp, broker, producer_id, committed, offset } => write!(
                f,
                "{tp} on b{broker}: {} marker of pid {producer_id} at offset {offset}",
                if *committed { "COMMIT" } else { "ABORT" }
            ),
            ControllerCrashed => write!(f, "controller crashed"),
            ControllerRestarted => write!(f, "controller restarted"),
            BrokerFenced { broker } => write!(f, "controller fenced broker {broker}"),
            BrokerUnfenced { broker } => write!(f, "controller unfenced broker {broker}"),
            LeaderElected { tp, leader, epoch, isr: i, unclean } => write!(
                f,
                "{tp}: {} leader {} epoch {epoch} isr [{}]",
                if *unclean { "UNCLEAN" } else { "elected" },
                leader.map(|l| l.to_string()).unwrap_or_else(|| "none".into()),
                isr(i)
            ),
            IsrChanged { tp, isr: i, partition_epoch } => {
                write!(f, "{tp}: isr [{}] (partition epoch {partition_epoch})", isr(i))
            }
            IsrChangeProposed { tp, broker, isr: i } => {
                write!(f, "{tp}: b{broker} proposes isr [{}]", isr(i))
            }
            BecameLeader { tp, broker, epoch } => {
                write!(f, "{tp}: b{broker} is leader (epoch {epoch})")
            }
            BecameFollower { tp, broker, leader, epoch } => write!(
                f,
                "{tp}: b{broker} follows {} (epoch {epoch})",
                leader.map(|l| format!("b{l}")).unwrap_or_else(|| "nobody".into())
            ),
            Appended { tp, broker, base, last, epoch, leader } => write!(
                f,
                "{tp}: b{broker} {} {base}..={last} (epoch {epoch})",
                if *leader { "appended" } else { "replicated" }
            ),
            DuplicateBatch { tp, broker, base } => {
                write!(f, "{tp}: b{broker} recognised a retried batch already at {base}")
            }
            ProduceRejected { tp, broker, error } => {
                write!(f, "{tp}: b{broker} rejected a batch: {error}")
            }
            Truncated { tp, broker, to, removed } => {
                write!(f, "{tp}: b{broker} truncated to {to} ({removed} records removed)")
            }
            HighWatermark { tp, broker, hw } => write!(f, "{tp}: b{broker} HW {hw}"),
            LogStartOffset { tp, broker, offset } => {
                write!(f, "{tp}: b{broker} log start {offset}")
            }
            LogCleaned { tp, broker, dirty_ratio_pct, records_removed, tombstones_removed, cleaned_to } => write!(
                f,
                "{tp}: b{broker} log cleaner compacted up to {cleaned_to} (dirty {dirty_ratio_pct}%): \
                 {records_removed} records removed, {tombstones_removed} of them tombstones"
            ),
            Flushed { broker, partitions } => write!(f, "b{broker} flushed {partitions} logs"),
            MessageLost { from, to, kind, reason } => write!(f, "{kind} {from}->{to} lost ({reason})"),
            NetworkChanged { what } => write!(f, "network: {what}"),
            ConfigChanged { target, name, value } => write!(f, "{target}: {name}={value}"),
            TopicCreated { topic, partitions, replication_factor } => {
                write!(f, "topic {topic} created ({partitions} partitions, RF {replication_factor})")
            }
            RecordsSent { producer, tp, records } => write!(f, "producer#{producer} send() {records} to {tp}"),
            ProduceRequestSent { producer, broker, batches, records } => {
                write!(f, "producer#{producer} -> b{broker}: {batches} batches, {records} records")
            }
            ProduceAcked { producer, tp, base, records } => write!(
                f,
                "producer#{producer}: {records} acked on {tp}{}",
                base.map(|b| format!(" at {b}")).unwrap_or_else(|| " (acks=0, offset unknown)".into())
            ),
            ProduceFailed { producer, tp, error, records, retry } => write!(
                f,
                "producer#{producer}: {records} on {tp} failed {error}{}",
                if *retry { ", will retry" } else { "" }
            ),
            ProducerBlocked { producer, queued_bytes } => {
                write!(f, "producer#{producer} blocked: buffer.memory full ({queued_bytes} bytes)")
            }
            MetadataUpdated { client, version } => write!(f, "{client} metadata v{version}"),
            RecordsConsumed { consumer, tp, first, last, records } => {
                write!(f, "consumer#{consumer} read {records} from {tp} ({first}..={last})")
            }
            OffsetReset { consumer, tp, offset, reason } => {
                write!(f, "consumer#{consumer} {tp} position reset to {offset} ({reason})")
            }
            ClientCrashed { client, unsent_records } => {
                write!(f, "{client} crashed ({unsent_records} unsent records lost)")
            }
            ClientRestarted { client } => write!(f, "{client} restarted"),
            ClientStarted { client } => write!(f, "{client} started"),
            CoordinatorFound { consumer, group, broker } => {
                write!(f, "consumer#{consumer}: coordinator of group {group} is b{broker}")
            }
            CoordinatorLost { consumer, group } => {
                write!(f, "consumer#{consumer}: lost the coordinator of group {group}")
            }
            PartitionsAssigned { consumer, group, partitions, added } => write!(
                f,
                "consumer#{consumer} ({group}) assigned [{}] (new: [{}])",
                tps(partitions),
                tps(added)
            ),
            PartitionsRevoked { consumer, group, partitions, lost } => write!(
                f,
                "consumer#{consumer} ({group}) {} [{}]",
                if *lost { "lost" } else { "revoked" },
                tps(partitions)
            ),
            OffsetsCommitted { consumer, group, offsets } => write!(
                f,
                "consumer#{consumer} committed {} to group {group}",
                offsets.iter().map(|(tp, o)| format!("{tp}@{o}")).collect::<Vec<_>>().join(" ")
            ),
            CommitFailed { consumer, group, error } => {
                write!(f, "consumer#{consumer}: commit to group {group} failed: {error}")
            }
            PollTimeoutExpired { consumer, group, max_poll_interval_ms } => write!(
                f,
                "consumer#{consumer} did not poll within max.poll.interval.ms={max_poll_interval_ms}: leaving group {group}"
            ),
            ClientClosed { client } => write!(f, "{client} closed"),
            Seeked { consumer, tp, offset } => write!(f, "consumer#{consumer} seeks {tp} to {offset}"),
            CoordinatorLoaded { broker, partition, groups, offsets } => write!(
                f,
                "b{broker} is group coordinator for __consumer_offsets-{partition}: loaded {groups} groups, {offsets} offset records"
            ),
            CoordinatorUnloaded { broker, partition } => {
                write!(f, "b{broker} is no longer coordinator for __consumer_offsets-{partition}")
            }
            GroupStateChanged { group, broker, state, generation } => {
                write!(f, "group {group} on b{broker}: {state} (generation {generation})")
            }
            MemberJoined { group, member, client } => write!(f, "group {group}: {client} joined as {member}"),
            MemberRemoved { group, member, reason } => write!(f, "group {group}: member {member} removed ({reason})"),
            GroupRebalanced { group, generation, leader, protocol, members } => write!(
                f,
                "group {group}: generation {generation} with {members} members, leader {leader}, assignor {protocol}"
            ),
            SchemaRegistered { subject, id, version } => {
                write!(f, "registry: subject {subject} version {version} is schema id {id}")
            }
            SchemaRefused { subject, http_status, error_code, message } => {
                write!(f, "registry: {http_status} ({error_code}) for subject {subject}: {message}")
            }
            RegistryCrashed => write!(f, "schema registry crashed"),
            StreamsTaskStarted { app, instance, task, restored } => {
                write!(f, "streams {app}: {instance} started task {task}")?;
                if *restored > 0 {
                    write!(f, ", restored {restored} records from its changelogs")?;
                }
                Ok(())
            }
            StreamsTaskClosed { app, instance, task } => write!(f, "streams {app}: {instance} closed task {task}"),
            StreamsTaskFailed { app, instance, task, error } => {
                write!(f, "streams {app}: task {task} on {instance} failed: {error}")
            }
            StreamsOutput { app, instance, records } => {
                write!(f, "streams {app}: {instance}'s tasks produced {records} records")
            }
            RegistryRestarted => write!(f, "schema registry restarted"),
            RecordSerialized { producer, topic, schema_id, hex } => write!(
                f,
                "producer#{producer} serialized a record for {topic}{}: {hex}",
                schema_id.map(|i| format!(" with schema id {i}")).unwrap_or_default()
            ),
            SerializationFailed { producer, topic, error } => {
                write!(f, "producer#{producer} send() to {topic} failed: SerializationException: {error}")
            }
            DeserializationFailed { consumer, tp, offset, error } => {
                write!(f, "consumer#{consumer} cannot read {tp}@{offset}: {error}")
            }
            RecordDeserialized { consumer, tp, offset, schema_id, value } => write!(
                f,
                "consumer#{consumer} read {tp}@{offset}{}: {value}",
                schema_id.map(|i| format!(" (writer schema id {i})")).unwrap_or_default()
            ),
            InvariantViolated { invariant, detail } => {
                write!(f, "INVARIANT {invariant} violated: {detail}")
            }
            Note { text } => write!(f, "{text}"),
        }
    }
}

impl fmt::Display for TraceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:>12} #{:<6} ", self.time.to_string(), self.step)?;
        match &self.cause {
            Cause::Deliver { from, to, kind } => write!(f, "{to} <- {from} {kind}")?,
            Cause::Timer { node, timer } => write!(f, "{node} timer {timer}")?,
            Cause::Action { action } => write!(f, "ACTION {action}")?,
        }
        for (i, e) in self.effects.iter().enumerate() {
            write!(f, "{} {e}", if i == 0 { " |" } else { ";" })?;
        }
        Ok(())
    }
}
