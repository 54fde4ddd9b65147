//! Kafka configs with Kafka's names, defaults and documentation, one table per entity.
//!
//! Each table is declared once with [`config_table!`], which generates the typed struct,
//! its defaults, `set(name, value)` for scenario files and UI forms (unknown names and bad
//! values are errors naming the config), and `describe()` listing every config for the UI.
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

/// A config value as written in a scenario file or a UI field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ConfigValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl fmt::Display for ConfigValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigValue::Bool(b) => write!(f, "{b}"),
            ConfigValue::Int(i) => write!(f, "{i}"),
            ConfigValue::Float(x) => write!(f, "{x}"),
            ConfigValue::Str(s) => write!(f, "{s}"),
        }
    }
}

impl ConfigValue {
    pub fn from_toml(v: &toml::Value) -> Option<ConfigValue> {
        Some(match v {
            toml::Value::Boolean(b) => ConfigValue::Bool(*b),
            toml::Value::Integer(i) => ConfigValue::Int(*i),
            toml::Value::Float(x) => ConfigValue::Float(*x),
            toml::Value::String(s) => ConfigValue::Str(s.clone()),
            _ => return None,
        })
    }
}

/// A type a config can hold: how to read it from a [`ConfigValue`] and show it.
pub trait ConfigType: Sized {
    fn parse(v: &ConfigValue) -> Result<Self, String>;
    fn render(&self) -> String;
    const TYPE_NAME: &'static str;
}

fn parse_int(v: &ConfigValue) -> Result<i64, String> {
    match v {
        ConfigValue::Int(i) => Ok(*i),
        ConfigValue::Str(s) => s.trim().parse().map_err(|_| format!("'{s}' is not an integer")),
        other => Err(format!("expected an integer, got {other}")),
    }
}

impl ConfigType for i64 {
    fn parse(v: &ConfigValue) -> Result<Self, String> {
        parse_int(v)
    }
    fn render(&self) -> String {
        self.to_string()
    }
    const TYPE_NAME: &'static str = "long";
}

impl ConfigType for u64 {
    fn parse(v: &ConfigValue) -> Result<Self, String> {
        let i = parse_int(v)?;
        u64::try_from(i).map_err(|_| format!("{i} must not be negative"))
    }
    fn render(&self) -> String {
        self.to_string()
    }
    const TYPE_NAME: &'static str = "long (>= 0)";
}

impl ConfigType for u32 {
    fn parse(v: &ConfigValue) -> Result<Self, String> {
        let i = parse_int(v)?;
        u32::try_from(i).map_err(|_| format!("{i} is out of range 0..={}", u32::MAX))
    }
    fn render(&self) -> String {
        self.to_string()
    }
    const TYPE_NAME: &'static str = "int (>= 0)";
}

impl ConfigType for bool {
    fn parse(v: &ConfigValue) -> Result<Self, String> {
        match v {
            ConfigValue::Bool(b) => Ok(*b),
            ConfigValue::Str(s) if s.eq_ignore_ascii_case("true") => Ok(true),
            ConfigValue::Str(s) if s.eq_ignore_ascii_case("false") => Ok(false),
            other => Err(format!("expected true or false, got {other}")),
        }
    }
    fn render(&self) -> String {
        self.to_string()
    }
    const TYPE_NAME: &'static str = "boolean";
}

impl ConfigType for f64 {
    fn parse(v: &ConfigValue) -> Result<Self, String> {
        let x = match v {
            ConfigValue::Float(x) => *x,
            ConfigValue::Int(i) => *i as f64,
            ConfigValue::Str(s) => s.trim().parse().map_err(|_| format!("'{s}' is not a number"))?,
            other => return Err(format!("expected a number, got {other}")),
        };
        if x.is_finite() {
            Ok(x)
        } else {
            Err(format!("{x} is not a finite number"))
        }
    }
    fn render(&self) -> String {
        self.to_string()
    }
    const TYPE_NAME: &'static str = "double";
}

impl ConfigType for String {
    fn parse(v: &ConfigValue) -> Result<Self, String> {
        match v {
            ConfigValue::Str(s) => Ok(s.clone()),
            other => Ok(other.to_string()),
        }
    }
    fn render(&self) -> String {
        self.clone()
    }
    const TYPE_NAME: &'static str = "string";
}

impl<T: ConfigType> ConfigType for Option<T> {
    fn parse(v: &ConfigValue) -> Result<Self, String> {
        match v {
            ConfigValue::Str(s) if s.is_empty() || s == "null" => Ok(None),
            other => T::parse(other).map(Some),
        }
    }
    fn render(&self) -> String {
        match self {
            Some(v) => v.render(),
            None => "null".into(),
        }
    }
    const TYPE_NAME: &'static str = T::TYPE_NAME;
}

/// Declares an enum config type spelled by Kafka's names.
macro_rules! config_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $($spelling:literal)|+),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name { $($variant),+ }
        impl ConfigType for $name {
            fn parse(v: &ConfigValue) -> Result<Self, String> {
                let text = match v {
                    ConfigValue::Str(s) => s.trim().to_string(),
                    other => other.to_string(),
                };
                $( if [$($spelling),+].iter().any(|s: &&str| s.eq_ignore_ascii_case(&text)) {
                    return Ok($name::$variant);
                } )+
                Err(format!("'{}' is not one of {}", text, [$([$($spelling),+][0]),+].join(", ")))
            }
            fn render(&self) -> String {
                match self { $($name::$variant => [$($spelling),+][0].to_string()),+ }
            }
            const TYPE_NAME: &'static str = stringify!($name);
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.render())
            }
        }
    };
}

config_enum!(
    /// `acks`: how many replicas must have a record before the producer hears success.
    Acks { All = "all" | "-1", Leader = "1", None = "0" }
);
config_enum!(
    /// `cleanup.policy`.
    CleanupPolicy { Delete = "delete", Compact = "compact", CompactDelete = "compact,delete" | "delete,compact" }
);
config_enum!(
    /// `auto.offset.reset`.
    OffsetReset { Latest = "latest", Earliest = "earliest", None = "none" }
);
config_enum!(
    /// `isolation.level`.
    IsolationLevel { ReadUncommitted = "read_uncommitted", ReadCommitted = "read_committed" }
);
config_enum!(
    /// `partitioner.class`: the built-in (sticky + murmur2) or `RoundRobinPartitioner`.
    PartitionerClass {
        BuiltIn = "default" | "org.apache.kafka.clients.producer.internals.BuiltInPartitioner",
        RoundRobin = "RoundRobinPartitioner" | "org.apache.kafka.clients.producer.RoundRobinPartitioner"
    }
);
config_enum!(
    /// `key.serializer` / `value.serializer` (and the matching deserializers): plain text,
    /// JSON without a registry, or Avro through the Schema Registry (Confluent's classes).
    SerdeFormat {
        String = "string" | "org.apache.kafka.common.serialization.StringSerializer" | "org.apache.kafka.common.serialization.StringDeserializer",
        Json = "json" | "org.apache.kafka.connect.json.JsonSerializer" | "org.apache.kafka.connect.json.JsonDeserializer",
        Avro = "avro" | "io.confluent.kafka.serializers.KafkaAvroSerializer" | "io.confluent.kafka.serializers.KafkaAvroDeserializer"
    }
);
config_enum!(
    /// `message.timestamp.type`.
    TimestampType { CreateTime = "CreateTime", LogAppendTime = "LogAppendTime" }
);

impl CleanupPolicy {
    pub fn deletes(self) -> bool {
        matches!(self, CleanupPolicy::Delete | CleanupPolicy::CompactDelete)
    }
    pub fn compacts(self) -> bool {
        matches!(self, CleanupPolicy::Compact | CleanupPolicy::CompactDelete)
    }
}

/// One config, as the UI and `describe` show it.
#[derive(Clone, Debug, Serialize)]
pub struct ConfigDoc {
    pub name: &'static str,
    pub type_name: &'static str,
    pub default: String,
    pub doc: &'static str,
}

/// An error setting a config: the name, and what is wrong.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigError {
    pub name: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "config '{}': {}", self.name, self.message)
    }
}

/// Suggests the closest known name for a misspelt config (edit distance <= 3).
pub fn did_you_mean<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut cur = vec![i + 1];
            for (j, cb) in b.iter().enumerate() {
                let sub = prev[j] + usize::from(ca != *cb);
                cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
            }
            prev = cur;
        }
        prev[b.len()]
    }
    known.map(|k| (distance(name, k), k)).filter(|(d, _)| *d <= 3).min().map(|(_, k)| k)
}

/// Generates a config struct from one table of (field: type = default, "kafka.name", "doc").
macro_rules! config_table {
    ($(#[$m:meta])* pub struct $name:ident ($what:literal) {
        $($field:ident : $ty:ty = $default:expr, $key:literal, $doc:literal;)+
    }) => {
        $(#[$m])*
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        pub struct $name {
            $(#[doc = $doc] pub $field: $ty,)+
            /// Names set explicitly (some defaults depend on whether a config was set).
            #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
            pub explicit: BTreeSet<String>,
        }
        impl Default for $name {
            fn default() -> Self {
                $name { $($field: $default,)+ explicit: BTreeSet::new() }
            }
        }
        impl $name {
            pub const WHAT: &'static str = $what;
            pub const NAMES: &'static [&'static str] = &[$($key),+];

            /// Sets one config by its Kafka name.
            pub fn set(&mut self, name: &str, value: &ConfigValue) -> Result<(), ConfigError> {
                match name {
                    $($key => {
                        self.$field = <$ty as ConfigType>::parse(value)
                            .map_err(|message| ConfigError { name: name.to_string(), message })?;
                    })+
                    _ => {
                        let hint = did_you_mean(name, Self::NAMES.iter().copied())
                            .map(|k| format!(" (did you mean '{k}'?)"))
                            .unwrap_or_default();
                        return Err(ConfigError {
                            name: name.to_string(),
                            message: format!("unknown {} config{hint}", $what),
                        });
                    }
                }
                self.explicit.insert(name.to_string());
                Ok(())
            }

            /// The current value of a config, rendered as Kafka prints it.
            pub fn get(&self, name: &str) -> Option<String> {
                match name {
                    $($key => Some(ConfigType::render(&self.$field)),)+
                    _ => None,
                }
            }

            /// Every config of this table with its type, default and documentation.
            pub fn describe() -> Vec<ConfigDoc> {
                let d = Self::default();
                vec![$(ConfigDoc {
                    name: $key,
                    type_name: <$ty as ConfigType>::TYPE_NAME,
                    default: ConfigType::render(&d.$field),
                    doc: $doc,
                },)+]
            }

            pub fn is_explicit(&self, name: &str) -> bool {
                self.explicit.contains(name)
            }
        }
    };
}

config_table! {
    /// Per-topic configs (`kafka-topics --config`), defaulting to the broker's `log.*` values.
    pub struct TopicConfig("topic") {
        min_insync_replicas: u32 = 1, "min.insync.replicas",
            "With acks=all, the fewest in-sync replicas that must have a record for the write to succeed.";
        unclean_leader_election_enable: bool = false, "unclean.leader.election.enable",
            "Allow an out-of-sync replica to become leader when no in-sync replica is alive (may lose committed records).";
        retention_ms: i64 = 604_800_000, "retention.ms",
            "Delete segments whose newest record is older than this (-1: keep forever).";
        retention_bytes: i64 = -1, "retention.bytes",
            "Delete the oldest segments while the partition is larger than this (-1: unlimited).";
        cleanup_policy: CleanupPolicy = CleanupPolicy::Delete, "cleanup.policy",
            "delete (by retention), compact (keep the latest record per key), or both.";
        segment_bytes: u64 = 1_073_741_824, "segment.bytes",
            "Roll a new log segment when the active one reaches this size.";
        segment_ms: u64 = 604_800_000, "segment.ms",
            "Roll a new log segment when the active one is this old.";
        delete_retention_ms: u64 = 86_400_000, "delete.retention.ms",
            "How long a tombstone survives after the cleaning pass that first saw it.";
        min_cleanable_dirty_ratio: f64 = 0.5, "min.cleanable.dirty.ratio",
            "The log cleaner compacts a log only when this share of it is dirty (not yet cleaned).";
        min_compaction_lag_ms: u64 = 0, "min.compaction.lag.ms",
            "A record stays uncompacted for at least this long.";
        max_compaction_lag_ms: u64 = 9_223_372_036_854_775_807, "max.compaction.lag.ms",
            "A record is compacted within this long even if the dirty ratio stays low (default: no limit).";
        max_message_bytes: u32 = 1_048_588, "max.message.bytes",
            "The largest record batch the broker accepts.";
        message_timestamp_type: TimestampType = TimestampType::CreateTime, "message.timestamp.type",
            "CreateTime keeps the producer's timestamp; LogAppendTime stamps the broker's clock.";
    }
}

config_table! {
    /// Broker configs that the simulation uses.
    pub struct BrokerConfig("broker") {
        replica_lag_time_max_ms: u64 = 30_000, "replica.lag.time.max.ms",
            "A follower that has not caught up with the leader for this long leaves the ISR.";
        replica_fetch_wait_max_ms: u64 = 500, "replica.fetch.wait.max.ms",
            "How long a follower's fetch waits at the leader when there is nothing new.";
        replica_fetch_max_bytes: u32 = 1_048_576, "replica.fetch.max.bytes",
            "Bytes a follower asks for per partition per fetch.";
        replica_fetch_backoff_ms: u64 = 1_000, "replica.fetch.backoff.ms",
            "Pause before a follower retries a fetch that failed.";
        replica_socket_timeout_ms: u64 = 30_000, "replica.socket.timeout.ms",
            "A follower gives up waiting for a fetch response after this long.";
        broker_heartbeat_interval_ms: u64 = 2_000, "broker.heartbeat.interval.ms",
            "How often a broker heartbeats to the KRaft controller.";
        broker_session_timeout_ms: u64 = 9_000, "broker.session.timeout.ms",
            "The controller fences a broker that has not heartbeated for this long.";
        log_flush_interval_messages: u64 = 9_223_372_036_854_775_807, "log.flush.interval.messages",
            "fsync after this many messages (default: never; Kafka relies on replication).";
        log_flush_interval_ms: Option<u64> = None, "log.flush.interval.ms",
            "fsync a log whose oldest unflushed message is this old (default: not set).";
        log_retention_check_interval_ms: u64 = 300_000, "log.retention.check.interval.ms",
            "How often the broker deletes segments past retention.";
        log_cleaner_backoff_ms: u64 = 15_000, "log.cleaner.backoff.ms",
            "How long the log cleaner sleeps when no log needs cleaning.";
        auto_leader_rebalance_enable: bool = true, "auto.leader.rebalance.enable",
            "Periodically move leadership back to each partition's preferred replica.";
        leader_imbalance_check_interval_seconds: u64 = 300, "leader.imbalance.check.interval.seconds",
            "How often the controller checks for leadership that is not on the preferred replica.";
        offsets_topic_num_partitions: u32 = 50, "offsets.topic.num.partitions",
            "Partitions of __consumer_offsets, where consumer groups commit their offsets.";
        offsets_topic_replication_factor: u32 = 3, "offsets.topic.replication.factor",
            "Replication factor of __consumer_offsets (the sandbox caps it at the number of brokers).";
        offsets_topic_segment_bytes: u64 = 104_857_600, "offsets.topic.segment.bytes",
            "Segment size of __consumer_offsets (smaller than the log default, so the cleaner sees closed segments sooner).";
        offsets_commit_timeout_ms: u64 = 5_000, "offsets.commit.timeout.ms",
            "An offset commit waits this long for every in-sync replica of __consumer_offsets.";
        group_initial_rebalance_delay_ms: u64 = 3_000, "group.initial.rebalance.delay.ms",
            "An empty group waits this long for more members before its first rebalance.";
        group_min_session_timeout_ms: u64 = 6_000, "group.min.session.timeout.ms",
            "Smallest session.timeout.ms a consumer may ask for.";
        group_max_session_timeout_ms: u64 = 1_800_000, "group.max.session.timeout.ms",
            "Largest session.timeout.ms a consumer may ask for.";
        log_cleaner_enable: bool = true, "log.cleaner.enable",
            "Run the log cleaner that compacts topics with cleanup.policy=compact.";
        transaction_state_log_num_partitions: u32 = 50, "transaction.state.log.num.partitions",
            "Partitions of __transaction_state, where transaction coordinators keep each transactional id's state.";
        transaction_state_log_replication_factor: u32 = 3, "transaction.state.log.replication.factor",
            "Replication factor of __transaction_state (the sandbox caps it at the number of brokers).";
        transaction_max_timeout_ms: u64 = 900_000, "transaction.max.timeout.ms",
            "Largest transaction.timeout.ms a producer may ask for.";
        transaction_abort_timed_out_transaction_cleanup_interval_ms: u64 = 10_000, "transaction.abort.timed.out.transaction.cleanup.interval.ms",
            "How often the transaction coordinator aborts transactions open longer than their timeout.";
        os_page_cache_flush_ms: u64 = 30_000, "sandbox.os.page.cache.flush.ms",
            "Sandbox only: the OS writes dirty pages to disk this long after they were written (Linux dirty_expire_centisecs). A power loss loses what was not flushed.";
    }
}

config_table! {
    /// Producer configs.
    pub struct ProducerConfig("producer") {
        acks: Acks = Acks::All, "acks",
            "0: do not wait; 1: the leader wrote it; all: every in-sync replica has it.";
        enable_idempotence: bool = true, "enable.idempotence",
            "Producer id + sequence numbers, so retries cannot duplicate or reorder records.";
        linger_ms: u64 = 5, "linger.ms",
            "Wait up to this long for more records before sending a batch that is not full.";
        batch_size: u32 = 16_384, "batch.size",
            "Maximum bytes of one batch per partition.";
        retries: u32 = 2_147_483_647, "retries",
            "How many times a failed batch is resent (bounded by delivery.timeout.ms).";
        delivery_timeout_ms: u64 = 120_000, "delivery.timeout.ms",
            "Upper bound on the time from send() to success or failure, retries included.";
        request_timeout_ms: u64 = 30_000, "request.timeout.ms",
            "How long the producer waits for a response before it retries.";
        max_in_flight_requests_per_connection: u32 = 5, "max.in.flight.requests.per.connection",
            "Unanswered requests allowed per broker connection.";
        retry_backoff_ms: u64 = 100, "retry.backoff.ms",
            "Pause before the first retry of a failed request.";
        retry_backoff_max_ms: u64 = 1_000, "retry.backoff.max.ms",
            "Retries back off exponentially up to this pause.";
        buffer_memory: u64 = 33_554_432, "buffer.memory",
            "Bytes of records waiting to be sent; send() blocks when it is full.";
        max_block_ms: u64 = 60_000, "max.block.ms",
            "How long send() may block for metadata or buffer space before it fails.";
        max_request_size: u32 = 1_048_576, "max.request.size",
            "Maximum bytes of one produce request.";
        partitioner_class: PartitionerClass = PartitionerClass::BuiltIn, "partitioner.class",
            "default (murmur2 for keys, sticky for null keys) or RoundRobinPartitioner.";
        partitioner_ignore_keys: bool = false, "partitioner.ignore.keys",
            "Use the sticky partitioner even for keyed records.";
        partitioner_adaptive_partitioning_enable: bool = true, "partitioner.adaptive.partitioning.enable",
            "The sticky partitioner prefers partitions whose brokers are faster (shorter queues).";
        partitioner_availability_timeout_ms: u64 = 0, "partitioner.availability.timeout.ms",
            "Skip a partition whose leader has not accepted a batch for this long (0: off).";
        metadata_max_age_ms: u64 = 300_000, "metadata.max.age.ms",
            "Refresh metadata at least this often.";
        key_serializer: SerdeFormat = SerdeFormat::String, "key.serializer",
            "How keys become bytes: string, json, or avro (KafkaAvroSerializer with the Schema Registry).";
        value_serializer: SerdeFormat = SerdeFormat::String, "value.serializer",
            "How values become bytes: string, json, or avro (KafkaAvroSerializer with the Schema Registry).";
        auto_register_schemas: bool = true, "auto.register.schemas",
            "The Avro serializer registers its schema on first use (otherwise it must already be registered).";
        use_latest_version: bool = false, "use.latest.version",
            "The Avro serializer writes with the subject's latest registered schema instead of its own.";
        transactional_id: Option<String> = None, "transactional.id",
            "Enables transactions (needs idempotence): records are written in transactions that commit or abort atomically.";
        transaction_timeout_ms: u64 = 60_000, "transaction.timeout.ms",
            "The coordinator aborts a transaction left open longer than this.";
    }
}

config_table! {
    /// Consumer configs.
    pub struct ConsumerConfig("consumer") {
        group_id: Option<String> = None, "group.id",
            "The consumer group this consumer belongs to (none: manual assignment).";
        group_instance_id: Option<String> = None, "group.instance.id",
            "Static membership: a restart within session.timeout.ms does not rebalance.";
        auto_offset_reset: OffsetReset = OffsetReset::Latest, "auto.offset.reset",
            "Where to start without a committed offset, or when the position is out of range.";
        enable_auto_commit: bool = true, "enable.auto.commit",
            "Commit the positions of polled records in the background.";
        auto_commit_interval_ms: u64 = 5_000, "auto.commit.interval.ms",
            "How often positions are auto-committed.";
        session_timeout_ms: u64 = 45_000, "session.timeout.ms",
            "The coordinator removes a member that has not heartbeated for this long.";
        heartbeat_interval_ms: u64 = 3_000, "heartbeat.interval.ms",
            "How often a member heartbeats to the group coordinator.";
        max_poll_interval_ms: u64 = 300_000, "max.poll.interval.ms",
            "A member that does not call poll() for this long leaves the group.";
        max_poll_records: u32 = 500, "max.poll.records",
            "Records returned by one poll().";
        fetch_min_bytes: u32 = 1, "fetch.min.bytes",
            "The broker answers a fetch once it has this many bytes.";
        fetch_max_wait_ms: u64 = 500, "fetch.max.wait.ms",
            "Or once this long has passed.";
        max_partition_fetch_bytes: u32 = 1_048_576, "max.partition.fetch.bytes",
            "Bytes per partition per fetch.";
        isolation_level: IsolationLevel = IsolationLevel::ReadUncommitted, "isolation.level",
            "read_committed hides records of aborted transactions.";
        partition_assignment_strategy: String = "range,cooperative-sticky".to_string(), "partition.assignment.strategy",
            "Assignors in order of preference: range, roundrobin, sticky, cooperative-sticky.";
        request_timeout_ms: u64 = 30_000, "request.timeout.ms",
            "How long the consumer waits for a response.";
        retry_backoff_ms: u64 = 100, "retry.backoff.ms",
            "Pause before retrying a failed request.";
        key_deserializer: SerdeFormat = SerdeFormat::String, "key.deserializer",
            "How key bytes are read: string, json, or avro (KafkaAvroDeserializer with the Schema Registry).";
        value_deserializer: SerdeFormat = SerdeFormat::String, "value.deserializer",
            "How value bytes are read: string, json, or avro (KafkaAvroDeserializer with the Schema Registry).";
    }
}

impl ProducerConfig {
    /// Kafka's producer config validation: idempotence needs acks=all, retries > 0 and at
    /// most 5 in-flight requests. When idempotence was not set explicitly, a conflicting
    /// config turns it off instead (as `ProducerConfig.postProcessAndValidateIdempotenceConfigs`).
    pub fn validate(&mut self) -> Result<(), ConfigError> {
        let explicit = self.is_explicit("enable.idempotence");
        let conflict = if self.acks != Acks::All {
            Some("acks must be all")
        } else if self.retries == 0 {
            Some("retries must be greater than 0")
        } else {
            None
        };
        if let (Some(_), Some(why)) = (&self.transactional_id, conflict) {
            // `postProcessAndValidateIdempotenceConfigs`: a transactional producer must be
            // idempotent, so a conflict is an error even with idempotence left at default.
            return Err(ConfigError {
                name: "transactional.id".into(),
                message: format!("a transactional producer is idempotent, which requires that {why}"),
            });
        }
        if self.transactional_id.is_some() && !self.enable_idempotence {
            return Err(ConfigError {
                name: "transactional.id".into(),
                message: "cannot set a transactional.id without also enabling idempotence".into(),
            });
        }
        if self.transactional_id.as_deref() == Some("") {
            return Err(ConfigError { name: "transactional.id".into(), message: "must not be empty".into() });
        }
        if let (true, Some(why)) = (self.enable_idempotence, conflict) {
            if explicit {
                return Err(ConfigError {
                    name: "enable.idempotence".into(),
                    message: format!("idempotence requires that {why}"),
                });
            }
            self.enable_idempotence = false;
        }
        // Kafka 4.x: too many in-flight requests is an error even when idempotence is only
        // the default (3.x turned idempotence off with a warning).
        if self.enable_idempotence && self.max_in_flight_requests_per_connection > 5 {
            return Err(ConfigError {
                name: "max.in.flight.requests.per.connection".into(),
                message: "must be at most 5 when enable.idempotence is true".into(),
            });
        }
        if self.max_in_flight_requests_per_connection == 0 {
            return Err(ConfigError {
                name: "max.in.flight.requests.per.connection".into(),
                message: "must be at least 1".into(),
            });
        }
        if self.batch_size == 0 {
            // Kafka treats 0 as "no batching": one record per batch.
            self.batch_size = 1;
        }
        if self.delivery_timeout_ms < self.linger_ms + self.request_timeout_ms {
            return Err(ConfigError {
                name: "delivery.timeout.ms".into(),
                message: format!(
                    "must be at least linger.ms + request.timeout.ms ({})",
                    self.linger_ms + self.request_timeout_ms
                ),
            });
        }
        Ok(())
    }
}

impl ConsumerConfig {
    /// What the Java client refuses at construction.
    pub fn validate(&self) -> Result<(), ConfigError> {
        crate::group::member::parse_strategies(&self.partition_assignment_strategy)
            .map_err(|message| ConfigError { name: "partition.assignment.strategy".into(), message })?;
        if self.max_poll_records == 0 {
            return Err(ConfigError { name: "max.poll.records".into(), message: "must be at least 1".into() });
        }
        if self.heartbeat_interval_ms >= self.session_timeout_ms {
            return Err(ConfigError {
                name: "heartbeat.interval.ms".into(),
                message: "must be lower than session.timeout.ms".into(),
            });
        }
        if self.group_instance_id.is_some() && self.group_id.is_none() {
            return Err(ConfigError { name: "group.instance.id".into(), message: "needs a group.id".into() });
        }
        Ok(())
    }
}

impl TopicConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.min_insync_replicas == 0 {
            return Err(ConfigError { name: "min.insync.replicas".into(), message: "must be at least 1".into() });
        }
        if !(0.0..=1.0).contains(&self.min_cleanable_dirty_ratio) {
            return Err(ConfigError {
                name: "min.cleanable.dirty.ratio".into(),
                message: "must be between 0 and 1".into(),
            });
        }
        if self.segment_bytes < 14 {
            return Err(ConfigError { name: "segment.bytes".into(), message: "must be at least 14 bytes".into() });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_kafkas() {
        let p = ProducerConfig::default();
        assert_eq!(p.acks, Acks::All);
        assert!(p.enable_idempotence);
        assert_eq!(p.linger_ms, 5);
        assert_eq!(p.batch_size, 16_384);
        let t = TopicConfig::default();
        assert_eq!(t.min_insync_replicas, 1);
        assert!(!t.unclean_leader_election_enable);
        assert_eq!(t.retention_ms, 604_800_000);
        let c = ConsumerConfig::default();
        assert_eq!(c.auto_offset_reset, OffsetReset::Latest);
        assert_eq!(c.session_timeout_ms, 45_000);
        assert_eq!(BrokerConfig::default().replica_lag_time_max_ms, 30_000);
    }

    #[test]
    fn acks_accepts_kafka_spellings() {
        let mut p = ProducerConfig::default();
        p.set("acks", &ConfigValue::Int(1)).unwrap();
        assert_eq!(p.acks, Acks::Leader);
        p.set("acks", &ConfigValue::Str("-1".into())).unwrap();
        assert_eq!(p.acks, Acks::All);
        assert!(p.set("acks", &ConfigValue::Int(2)).is_err());
    }

    #[test]
    fn unknown_config_suggests_the_closest_name() {
        let mut p = ProducerConfig::default();
        let e = p.set("ack", &ConfigValue::Int(1)).unwrap_err();
        assert!(e.message.contains("did you mean 'acks'"), "{e}");
    }

    #[test]
    fn idempotence_turns_off_implicitly_but_refuses_explicit_conflicts() {
        let mut p = ProducerConfig::default();
        p.set("acks", &ConfigValue::Int(1)).unwrap();
        p.validate().unwrap();
        assert!(!p.enable_idempotence);

        let mut q = ProducerConfig::default();
        q.set("acks", &ConfigValue::Int(1)).unwrap();
        q.set("enable.idempotence", &ConfigValue::Bool(true)).unwrap();
        assert!(q.validate().is_err());
    }
}
