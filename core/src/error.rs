//! Kafka's protocol error codes, as clients and brokers report them.
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum ErrorCode {
    OFFSET_OUT_OF_RANGE,
    CORRUPT_MESSAGE,
    UNKNOWN_TOPIC_OR_PARTITION,
    LEADER_NOT_AVAILABLE,
    NOT_LEADER_OR_FOLLOWER,
    REQUEST_TIMED_OUT,
    MESSAGE_TOO_LARGE,
    NETWORK_EXCEPTION,
    COORDINATOR_NOT_AVAILABLE,
    NOT_COORDINATOR,
    RECORD_LIST_TOO_LARGE,
    NOT_ENOUGH_REPLICAS,
    NOT_ENOUGH_REPLICAS_AFTER_APPEND,
    INVALID_RECORD,
    ILLEGAL_GENERATION,
    UNKNOWN_MEMBER_ID,
    REBALANCE_IN_PROGRESS,
    OUT_OF_ORDER_SEQUENCE_NUMBER,
    DUPLICATE_SEQUENCE_NUMBER,
    INVALID_PRODUCER_EPOCH,
    FENCED_LEADER_EPOCH,
    UNKNOWN_LEADER_EPOCH,
    UNKNOWN_PRODUCER_ID,
    INVALID_UPDATE_VERSION,
    INELIGIBLE_REPLICA,
    STALE_BROKER_EPOCH,
    BROKER_NOT_AVAILABLE,
    FENCED_INSTANCE_ID,
    COORDINATOR_LOAD_IN_PROGRESS,
    MEMBER_ID_REQUIRED,
    INVALID_SESSION_TIMEOUT,
    INCONSISTENT_GROUP_PROTOCOL,
    /// Client side (`CommitFailedException`): the member left the group or the group
    /// rebalanced, so its partitions may belong to another member now.
    COMMIT_FAILED,
    /// Client side: `delivery.timeout.ms` or `max.block.ms` expired (TimeoutException).
    TIMEOUT,
    /// Client side: the producer was closed or crashed with the record unsent.
    PRODUCER_CLOSED,
    /// Schema registry: the serializer could not register or find the schema.
    SERIALIZATION_ERROR,
    // ---- transactions (appended last: the order of the others is part of traces) ----
    /// The transaction coordinator is completing a transaction of this transactional id.
    CONCURRENT_TRANSACTIONS,
    /// The request does not fit the transaction's state (e.g. EndTxn with none open).
    INVALID_TXN_STATE,
    /// The producer id does not belong to the transactional id.
    INVALID_PRODUCER_ID_MAPPING,
    /// A newer producer instance with the same transactional id bumped the epoch.
    PRODUCER_FENCED,
    /// Client side: the record's transaction was aborted before it was sent.
    TRANSACTION_ABORTED,
    /// A client produce to an internal topic (`__consumer_offsets`, `__transaction_state`):
    /// only the brokers' coordinators write there ("Cannot append to internal topic").
    INVALID_TOPIC_EXCEPTION,
}

impl ErrorCode {
    /// Errors the producer retries (Kafka's `RetriableException` subclasses).
    pub fn is_retriable(self) -> bool {
        use ErrorCode::*;
        matches!(
            self,
            CORRUPT_MESSAGE
                | UNKNOWN_TOPIC_OR_PARTITION
                | LEADER_NOT_AVAILABLE
                | NOT_LEADER_OR_FOLLOWER
                | REQUEST_TIMED_OUT
                | NETWORK_EXCEPTION
                | COORDINATOR_NOT_AVAILABLE
                | NOT_COORDINATOR
                | COORDINATOR_LOAD_IN_PROGRESS
                | NOT_ENOUGH_REPLICAS
                | NOT_ENOUGH_REPLICAS_AFTER_APPEND
                | FENCED_LEADER_EPOCH
                | UNKNOWN_LEADER_EPOCH
                | OFFSET_OUT_OF_RANGE
                | BROKER_NOT_AVAILABLE
                | CONCURRENT_TRANSACTIONS
        )
    }

    /// Errors after which a client should refresh its metadata before retrying.
    pub fn needs_metadata_refresh(self) -> bool {
        use ErrorCode::*;
        matches!(
            self,
            UNKNOWN_TOPIC_OR_PARTITION
                | LEADER_NOT_AVAILABLE
                | NOT_LEADER_OR_FOLLOWER
                | FENCED_LEADER_EPOCH
                | UNKNOWN_LEADER_EPOCH
                | NETWORK_EXCEPTION
                | REQUEST_TIMED_OUT
        )
    }

    pub fn name(self) -> String {
        format!("{self:?}")
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}
