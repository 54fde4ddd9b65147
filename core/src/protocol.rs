//! Messages between nodes: the Kafka requests and responses the simulation models.
//!
//! Field names follow the Kafka protocol where one exists. A few fields are the sandbox's
//! own bookkeeping (marked) and carry no meaning in real Kafka.
use crate::cluster::metadata::{ClientTopicMeta, MetadataDelta, PartitionState};
use crate::config::{Acks, IsolationLevel};
use crate::error::ErrorCode;
use crate::record::{BatchData, LogBatch, TopicPartition};
use crate::sim::time::Dur;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// An error answered by the Schema Registry: HTTP status, Confluent error code, message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryErrorInfo {
    pub http_status: u16,
    pub error_code: u32,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProducePartition {
    pub tp: TopicPartition,
    pub batch: Arc<BatchData>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducePartitionResponse {
    pub tp: TopicPartition,
    pub error: Option<ErrorCode>,
    pub base_offset: Option<u64>,
    /// Sandbox bookkeeping: the ISR (as broker bit mask) when the write completed, so the
    /// loss invariant knows which replicas held an acknowledged record.
    pub isr_mask: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchPartition {
    pub tp: TopicPartition,
    pub fetch_offset: u64,
    pub current_leader_epoch: Option<u32>,
    /// KIP-320: the epoch of the fetcher's last batch, for divergence detection.
    pub last_fetched_epoch: Option<u32>,
    pub max_bytes: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FetchPartitionResponse {
    pub tp: TopicPartition,
    pub error: Option<ErrorCode>,
    pub high_watermark: u64,
    pub log_start_offset: u64,
    /// Set when the fetcher's log diverges from the leader's: (epoch, end offset).
    pub diverging_epoch: Option<(u32, u64)>,
    pub batches: Vec<LogBatch>,
    /// read_committed fetches: the last stable offset and the aborted transactions
    /// overlapping the returned range (producer id, first offset).
    #[serde(default)]
    pub last_stable_offset: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aborted_transactions: Vec<(i64, u64)>,
}

/// A consumer's subscription as the consumer protocol embeds it in JoinGroup
/// (`ConsumerProtocolSubscription`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub topics: Vec<String>,
    /// Partitions the member owns now (v1+); empty under the eager protocol after revoking.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owned_partitions: Vec<TopicPartition>,
    /// The generation of `owned_partitions` (v2+), -1 when none.
    #[serde(default = "no_generation")]
    pub generation_id: i32,
    /// `StickyAssignor` user data: the member's previous assignment and its generation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sticky_user_data: Option<(Vec<TopicPartition>, i32)>,
}

fn no_generation() -> i32 {
    -1
}

/// One protocol (assignor) a member offers in JoinGroup, with its metadata.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupProtocol {
    pub name: String,
    pub metadata: Subscription,
}

/// A member as the coordinator lists it to the leader in the JoinGroup response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinGroupMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub metadata: Subscription,
}

/// One partition of an OffsetCommit request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitPartition {
    pub tp: TopicPartition,
    pub offset: u64,
    pub leader_epoch: i32,
}

/// FindCoordinator's key type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum CoordinatorType {
    #[default]
    Group,
    Transaction,
}

impl CoordinatorType {
    fn is_group(&self) -> bool {
        *self == CoordinatorType::Group
    }
}

/// One producer's marker of a WriteTxnMarkers request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnMarker {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub committed: bool,
    pub coordinator_epoch: i32,
    pub partitions: Vec<TopicPartition>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Message {
    // ---- clients and brokers ----
    ProduceRequest {
        corr: u64,
        acks: Acks,
        timeout: Dur,
        partitions: Vec<ProducePartition>,
    },
    ProduceResponse {
        corr: u64,
        partitions: Vec<ProducePartitionResponse>,
    },
    FetchRequest {
        corr: u64,
        /// The follower broker's id, or `None` for a consumer.
        replica_id: Option<u32>,
        max_wait: Dur,
        isolation: IsolationLevel,
        partitions: Vec<FetchPartition>,
    },
    FetchResponse {
        corr: u64,
        partitions: Vec<FetchPartitionResponse>,
    },
    MetadataRequest {
        corr: u64,
    },
    MetadataResponse {
        corr: u64,
        brokers: Vec<u32>,
        topics: Vec<ClientTopicMeta>,
    },
    InitProducerIdRequest {
        corr: u64,
        /// `transactional.id`: sent to the transaction coordinator; `None` for an
        /// idempotent producer (any broker allocates an id).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        transactional_id: Option<String>,
        #[serde(default)]
        transaction_timeout_ms: u64,
    },
    InitProducerIdResponse {
        corr: u64,
        error: Option<ErrorCode>,
        producer_id: i64,
        producer_epoch: i16,
    },
    ListOffsetsRequest {
        corr: u64,
        tp: TopicPartition,
        /// -2 earliest, -1 latest (Kafka's sentinel timestamps).
        timestamp: i64,
    },
    ListOffsetsResponse {
        corr: u64,
        tp: TopicPartition,
        error: Option<ErrorCode>,
        offset: u64,
    },
    // ---- consumer groups (classic protocol) ----
    FindCoordinatorRequest {
        corr: u64,
        /// The group id (key type GROUP) or the transactional id (key type TRANSACTION).
        key: String,
        #[serde(default, skip_serializing_if = "CoordinatorType::is_group")]
        key_type: CoordinatorType,
    },
    FindCoordinatorResponse {
        corr: u64,
        error: Option<ErrorCode>,
        node: Option<u32>,
    },
    JoinGroupRequest {
        corr: u64,
        group: String,
        session_timeout_ms: u64,
        rebalance_timeout_ms: u64,
        /// Empty for a member that has none yet.
        member_id: String,
        group_instance_id: Option<String>,
        client_id: String,
        protocol_type: String,
        protocols: Vec<GroupProtocol>,
    },
    JoinGroupResponse {
        corr: u64,
        error: Option<ErrorCode>,
        generation: i32,
        protocol_name: Option<String>,
        leader: String,
        /// KIP-814: a returning static leader keeps the current assignment.
        skip_assignment: bool,
        member_id: String,
        /// Filled for the leader only.
        members: Vec<JoinGroupMember>,
    },
    SyncGroupRequest {
        corr: u64,
        group: String,
        generation: i32,
        member_id: String,
        group_instance_id: Option<String>,
        protocol_name: Option<String>,
        /// The leader's assignment for every member (empty for followers).
        assignments: Vec<(String, Vec<TopicPartition>)>,
    },
    SyncGroupResponse {
        corr: u64,
        error: Option<ErrorCode>,
        assignment: Vec<TopicPartition>,
    },
    HeartbeatRequest {
        corr: u64,
        group: String,
        generation: i32,
        member_id: String,
        group_instance_id: Option<String>,
    },
    HeartbeatResponse {
        corr: u64,
        error: Option<ErrorCode>,
    },
    LeaveGroupRequest {
        corr: u64,
        group: String,
        member_id: String,
        group_instance_id: Option<String>,
        reason: String,
    },
    LeaveGroupResponse {
        corr: u64,
        error: Option<ErrorCode>,
    },
    OffsetCommitRequest {
        corr: u64,
        group: String,
        /// -1 for a consumer outside group management (manual assignment).
        generation: i32,
        member_id: String,
        group_instance_id: Option<String>,
        offsets: Vec<CommitPartition>,
    },
    OffsetCommitResponse {
        corr: u64,
        partitions: Vec<(TopicPartition, Option<ErrorCode>)>,
    },
    OffsetFetchRequest {
        corr: u64,
        group: String,
        partitions: Vec<TopicPartition>,
    },
    OffsetFetchResponse {
        corr: u64,
        error: Option<ErrorCode>,
        /// The committed offset of each partition (`None`: no committed offset).
        partitions: Vec<(TopicPartition, Option<u64>)>,
    },
    // ---- transactions ----
    AddPartitionsToTxnRequest {
        corr: u64,
        transactional_id: String,
        producer_id: i64,
        producer_epoch: i16,
        partitions: Vec<TopicPartition>,
    },
    AddPartitionsToTxnResponse {
        corr: u64,
        results: Vec<(TopicPartition, Option<ErrorCode>)>,
    },
    AddOffsetsToTxnRequest {
        corr: u64,
        transactional_id: String,
        producer_id: i64,
        producer_epoch: i16,
        group: String,
    },
    AddOffsetsToTxnResponse {
        corr: u64,
        error: Option<ErrorCode>,
    },
    /// To the group coordinator: offsets that commit with the transaction (KIP-98, with
    /// KIP-447's group metadata: generation -1 and an empty member id when not given).
    TxnOffsetCommitRequest {
        corr: u64,
        transactional_id: String,
        group: String,
        producer_id: i64,
        producer_epoch: i16,
        generation: i32,
        member_id: String,
        offsets: Vec<CommitPartition>,
    },
    TxnOffsetCommitResponse {
        corr: u64,
        partitions: Vec<(TopicPartition, Option<ErrorCode>)>,
    },
    EndTxnRequest {
        corr: u64,
        transactional_id: String,
        producer_id: i64,
        producer_epoch: i16,
        committed: bool,
    },
    EndTxnResponse {
        corr: u64,
        error: Option<ErrorCode>,
    },
    /// From the transaction coordinator to a partition leader: append COMMIT/ABORT markers.
    WriteTxnMarkersRequest {
        corr: u64,
        markers: Vec<TxnMarker>,
    },
    WriteTxnMarkersResponse {
        corr: u64,
        /// Per producer id and partition.
        results: Vec<(i64, TopicPartition, Option<ErrorCode>)>,
    },
    // ---- brokers and the KRaft controller ----
    BrokerHeartbeat {
        broker: u32,
        incarnation: u32,
        metadata_version: u64,
    },
    BrokerHeartbeatResponse {
        fenced: bool,
        delta: MetadataDelta,
    },
    /// Controller-initiated push of metadata changes.
    MetadataPush {
        delta: MetadataDelta,
    },
    AlterPartition {
        corr: u64,
        broker: u32,
        tp: TopicPartition,
        leader_epoch: u32,
        partition_epoch: u32,
        new_isr: Vec<u32>,
    },
    AlterPartitionResponse {
        corr: u64,
        tp: TopicPartition,
        result: Result<PartitionState, ErrorCode>,
    },
    // ---- clients and the Schema Registry (its REST API, as messages) ----
    /// `POST /subjects/{subject}/versions` (register), or with `lookup_only`
    /// `POST /subjects/{subject}` (is this schema registered?).
    RegisterSchemaRequest {
        corr: u64,
        subject: String,
        schema: String,
        lookup_only: bool,
    },
    /// `GET /subjects/{subject}/versions/latest`.
    LatestSchemaRequest {
        corr: u64,
        subject: String,
    },
    /// Answer to both: the schema id and the schema text, or the registry's error.
    SchemaIdResponse {
        corr: u64,
        result: Result<(u32, String), RegistryErrorInfo>,
    },
    /// `GET /schemas/ids/{id}`.
    SchemaByIdRequest {
        corr: u64,
        id: u32,
    },
    SchemaByIdResponse {
        corr: u64,
        id: u32,
        result: Result<String, RegistryErrorInfo>,
    },
    /// The peer's process died and its operating system closed the connection (TCP FIN/RST):
    /// every request in flight on it fails at once. A powered-off or cut-off peer sends
    /// nothing, and requests time out instead.
    ConnectionClosed,
}

impl Message {
    /// A short name for traces.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::ProduceRequest { .. } => "Produce",
            Message::ProduceResponse { .. } => "ProduceResponse",
            Message::FetchRequest { .. } => "Fetch",
            Message::FetchResponse { .. } => "FetchResponse",
            Message::MetadataRequest { .. } => "Metadata",
            Message::MetadataResponse { .. } => "MetadataResponse",
            Message::InitProducerIdRequest { .. } => "InitProducerId",
            Message::InitProducerIdResponse { .. } => "InitProducerIdResponse",
            Message::ListOffsetsRequest { .. } => "ListOffsets",
            Message::ListOffsetsResponse { .. } => "ListOffsetsResponse",
            Message::FindCoordinatorRequest { .. } => "FindCoordinator",
            Message::FindCoordinatorResponse { .. } => "FindCoordinatorResponse",
            Message::JoinGroupRequest { .. } => "JoinGroup",
            Message::JoinGroupResponse { .. } => "JoinGroupResponse",
            Message::SyncGroupRequest { .. } => "SyncGroup",
            Message::SyncGroupResponse { .. } => "SyncGroupResponse",
            Message::HeartbeatRequest { .. } => "Heartbeat",
            Message::HeartbeatResponse { .. } => "HeartbeatResponse",
            Message::LeaveGroupRequest { .. } => "LeaveGroup",
            Message::LeaveGroupResponse { .. } => "LeaveGroupResponse",
            Message::OffsetCommitRequest { .. } => "OffsetCommit",
            Message::OffsetCommitResponse { .. } => "OffsetCommitResponse",
            Message::OffsetFetchRequest { .. } => "OffsetFetch",
            Message::OffsetFetchResponse { .. } => "OffsetFetchResponse",
            Message::AddPartitionsToTxnRequest { .. } => "AddPartitionsToTxn",
            Message::AddPartitionsToTxnResponse { .. } => "AddPartitionsToTxnResponse",
            Message::AddOffsetsToTxnRequest { .. } => "AddOffsetsToTxn",
            Message::AddOffsetsToTxnResponse { .. } => "AddOffsetsToTxnResponse",
            Message::TxnOffsetCommitRequest { .. } => "TxnOffsetCommit",
            Message::TxnOffsetCommitResponse { .. } => "TxnOffsetCommitResponse",
            Message::EndTxnRequest { .. } => "EndTxn",
            Message::EndTxnResponse { .. } => "EndTxnResponse",
            Message::WriteTxnMarkersRequest { .. } => "WriteTxnMarkers",
            Message::WriteTxnMarkersResponse { .. } => "WriteTxnMarkersResponse",
            Message::BrokerHeartbeat { .. } => "BrokerHeartbeat",
            Message::BrokerHeartbeatResponse { .. } => "BrokerHeartbeatResponse",
            Message::MetadataPush { .. } => "MetadataPush",
            Message::AlterPartition { .. } => "AlterPartition",
            Message::AlterPartitionResponse { .. } => "AlterPartitionResponse",
            Message::ConnectionClosed => "ConnectionClosed",
            Message::RegisterSchemaRequest { lookup_only: false, .. } => "RegisterSchema",
            Message::RegisterSchemaRequest { lookup_only: true, .. } => "LookupSchema",
            Message::LatestSchemaRequest { .. } => "GetLatestSchema",
            Message::SchemaIdResponse { .. } => "SchemaIdResponse",
            Message::SchemaByIdRequest { .. } => "GetSchemaById",
            Message::SchemaByIdResponse { .. } => "SchemaByIdResponse",
        }
    }
}
