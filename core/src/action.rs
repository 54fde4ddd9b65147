//! Actions: everything a scenario timeline or a user can do to the simulation. Each is
//! applied as one explicit step, and user actions are logged so a run is reproducible from
//! scenario + seed + action log.
use crate::config::ConfigValue;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Read from share-link JSON (`LoggedAction` calls the derive's inherent `Action::deserialize`
/// on the JSON reader), scenario TOML and lesson TOML: the derive is inherent
/// (`remote = "Self"`) and the trait reads the TOML inputs through [`crate::de::via_buffer`]
/// into a deserializer with the JSON error type, so the variants' visitors exist once in the
/// bundle instead of once per format.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// A producer application sends `count` records (key/value patterns, a pace).
    Produce {
        producer: String,
        topic: String,
        #[serde(default = "one")]
        count: u64,
        #[serde(default = "null_key")]
        key: String,
        #[serde(default = "default_value")]
        value: String,
        /// Milliseconds between records; 0 sends as fast as the producer's buffer allows.
        #[serde(default)]
        interval_ms: f64,
        #[serde(default)]
        partition: Option<u32>,
    },
    /// One record with a literal key and value (the UI's produce form).
    Send {
        producer: String,
        topic: String,
        #[serde(default)]
        key: Option<String>,
        #[serde(default)]
        value: Option<String>,
        #[serde(default)]
        partition: Option<u32>,
    },
    /// `producer.flush()`.
    Flush {
        producer: String,
    },
    /// `producer.beginTransaction()` (needs `transactional.id`; `initTransactions()` runs
    /// when the producer starts).
    BeginTransaction {
        producer: String,
    },
    /// `producer.commitTransaction()`: flush, then commit.
    CommitTransaction {
        producer: String,
    },
    /// `producer.abortTransaction()`.
    AbortTransaction {
        producer: String,
    },
    /// The broker process dies (its page cache, so every written record, survives).
    Crash {
        broker: u32,
    },
    /// The broker's machine loses power: unflushed records are lost.
    PowerLoss {
        broker: u32,
    },
    /// A crashed or powered-off broker starts again.
    Restart {
        broker: u32,
    },
    CrashController,
    RestartController,
    /// A new consumer process starts, configured like consumer `like` (its `group.id`,
    /// subscription, configs and application settings; a `group.instance.id` becomes the
    /// new name): one more member joins the group, which rebalances. `name` is a new client
    /// name.
    AddConsumer {
        name: String,
        like: String,
    },
    /// A producer or consumer process dies.
    CrashClient {
        client: String,
    },
    RestartClient {
        client: String,
    },
    /// Cut the network between groups of nodes (both directions).
    Partition {
        groups: Vec<Vec<String>>,
    },
    /// Cut links one way: messages from `from` to `to` are lost.
    Cut {
        from: Vec<String>,
        to: Vec<String>,
    },
    /// Cut a node off from every other node.
    Isolate {
        node: String,
    },
    /// Restore links: all of them, or those touching `nodes`.
    Heal {
        #[serde(default)]
        nodes: Option<Vec<String>>,
    },
    /// Set latency, jitter, drop and duplication on links.
    Link {
        from: Vec<String>,
        to: Vec<String>,
        #[serde(default)]
        latency_ms: Option<f64>,
        #[serde(default)]
        jitter_ms: Option<f64>,
        #[serde(default)]
        drop: Option<f64>,
        #[serde(default)]
        duplicate: Option<f64>,
        /// Apply to the reverse direction too (default true).
        #[serde(default = "yes")]
        both_ways: bool,
    },
    /// Delay every follower fetch of a broker (a slow disk or a long GC pause).
    SlowFollower {
        broker: u32,
        delay_ms: f64,
    },
    /// `kafka-configs --alter` on a topic.
    SetTopicConfig {
        topic: String,
        name: String,
        value: ConfigValue,
    },
    /// Change a producer or consumer config (takes effect for what it does next).
    SetClientConfig {
        client: String,
        name: String,
        value: ConfigValue,
    },
    /// `kafka-topics --create`.
    CreateTopic {
        name: String,
        partitions: u32,
        replication_factor: u32,
        #[serde(default)]
        config: std::collections::BTreeMap<String, ConfigValue>,
    },
    /// `kafka-leader-election --election-type preferred|unclean`.
    ElectLeaders {
        #[serde(default)]
        partition: Option<String>,
        #[serde(default)]
        unclean: bool,
    },
    /// `consumer.assign([...])`.
    Assign {
        consumer: String,
        partitions: Vec<String>,
    },
    /// `consumer.seek(partition, offset)`.
    Seek {
        consumer: String,
        partition: String,
        offset: u64,
    },
    /// `consumer.subscribe([...])`: join the consumer's group (`group.id`) for these topics.
    Subscribe {
        consumer: String,
        topics: Vec<String>,
    },
    /// `consumer.pause([...])`: stop fetching and returning these partitions.
    Pause {
        consumer: String,
        partitions: Vec<String>,
    },
    /// `consumer.resume([...])`.
    Resume {
        consumer: String,
        partitions: Vec<String>,
    },
    /// Kafka Connect `PUT /connectors/{name}/pause`: source tasks stop polling, sink tasks
    /// pause their consumer's partitions (they stay in the group).
    PauseConnector {
        connector: String,
    },
    /// Kafka Connect `PUT /connectors/{name}/resume`.
    ResumeConnector {
        connector: String,
    },
    /// `consumer.close()`: commit (with auto-commit), leave the group, exit.
    CloseClient {
        client: String,
    },
    /// The application now spends this long on each record (a slow consumer).
    SetProcessing {
        consumer: String,
        processing_ms: f64,
    },
    /// The Schema Registry process dies / starts again (its schemas survive).
    CrashSchemaRegistry,
    RestartSchemaRegistry,
    /// `PUT /config[/subject]`: the compatibility level, globally or for one subject.
    SetCompatibility {
        #[serde(default)]
        subject: Option<String>,
        level: String,
    },
    /// `POST /subjects/{subject}/versions` by an operator (`schema`: `builtin:<name>` or JSON).
    RegisterSchema {
        subject: String,
        schema: String,
    },
    /// A new version of a producer application with other schemas (`builtin:<name>` or JSON).
    SetProducerSchema {
        producer: String,
        #[serde(default)]
        key_schema: Option<String>,
        #[serde(default)]
        value_schema: Option<String>,
    },
    /// A comment that shows up in the trace.
    Note {
        text: String,
    },
}

impl Serialize for Action {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Action::serialize(self, s)
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::de::via_buffer(d, Action::deserialize)
    }
}

/// A schema reference as shown in traces: the built-in name, or the start of the JSON.
fn short(schema: &str) -> String {
    let s = schema.trim();
    match s.strip_prefix("builtin:") {
        Some(name) => name.to_string(),
        None if s.len() > 40 => format!("{}...", &s[..s.char_indices().nth(40).map(|(i, _)| i).unwrap_or(s.len())]),
        None => s.to_string(),
    }
}

fn one() -> u64 {
    1
}
fn null_key() -> String {
    "null".into()
}
fn default_value() -> String {
    "{producer}-{i}".into()
}
fn yes() -> bool {
    true
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Action::*;
        match self {
            Produce { producer, topic, count, key, interval_ms, .. } => {
                write!(f, "{producer} produces {count} to {topic} (key {key}, every {interval_ms}ms)")
            }
            Send { producer, topic, key, value, .. } => write!(
                f,
                "{producer} sends {}={} to {topic}",
                key.as_deref().unwrap_or("null"),
                value.as_deref().unwrap_or("null")
            ),
            Flush { producer } => write!(f, "{producer}.flush()"),
            BeginTransaction { producer } => write!(f, "{producer}.beginTransaction()"),
            CommitTransaction { producer } => write!(f, "{producer}.commitTransaction()"),
            AbortTransaction { producer } => write!(f, "{producer}.abortTransaction()"),
            Crash { broker } => write!(f, "crash broker {broker}"),
            PowerLoss { broker } => write!(f, "power loss on broker {broker}"),
            Restart { broker } => write!(f, "restart broker {broker}"),
            CrashController => write!(f, "crash controller"),
            RestartController => write!(f, "restart controller"),
            AddConsumer { name, like } => write!(f, "start consumer {name} (like {like})"),
            CrashClient { client } => write!(f, "crash {client}"),
            RestartClient { client } => write!(f, "restart {client}"),
            Partition { groups } => write!(
                f,
                "partition network {}",
                groups.iter().map(|g| format!("[{}]", g.join(","))).collect::<Vec<_>>().join(" | ")
            ),
            Cut { from, to } => write!(f, "cut {} -> {}", from.join(","), to.join(",")),
            Isolate { node } => write!(f, "isolate {node}"),
            Heal { nodes: None } => write!(f, "heal network"),
            Heal { nodes: Some(n) } => write!(f, "heal links of {}", n.join(",")),
            Link { from, to, .. } => write!(f, "set links {} -> {}", from.join(","), to.join(",")),
            SlowFollower { broker, delay_ms } => {
                write!(f, "broker {broker} fetches {delay_ms}ms late")
            }
            SetTopicConfig { topic, name, value } => write!(f, "topic {topic}: {name}={value}"),
            SetClientConfig { client, name, value } => write!(f, "{client}: {name}={value}"),
            CreateTopic { name, partitions, replication_factor, .. } => {
                write!(f, "create topic {name} ({partitions} partitions, RF {replication_factor})")
            }
            ElectLeaders { partition, unclean } => write!(
                f,
                "elect {} leaders for {}",
                if *unclean { "unclean" } else { "preferred" },
                partition.as_deref().unwrap_or("all partitions")
            ),
            Assign { consumer, partitions } => write!(f, "{consumer}.assign({})", partitions.join(",")),
            Seek { consumer, partition, offset } => write!(f, "{consumer}.seek({partition}, {offset})"),
            Subscribe { consumer, topics } => write!(f, "{consumer}.subscribe({})", topics.join(",")),
            Pause { consumer, partitions } => write!(f, "{consumer}.pause({})", partitions.join(",")),
            Resume { consumer, partitions } => write!(f, "{consumer}.resume({})", partitions.join(",")),
            CloseClient { client } => write!(f, "{client}.close()"),
            PauseConnector { connector } => write!(f, "pause connector {connector}"),
            ResumeConnector { connector } => write!(f, "resume connector {connector}"),
            SetProcessing { consumer, processing_ms } => {
                write!(f, "{consumer} now takes {processing_ms}ms per record")
            }
            CrashSchemaRegistry => write!(f, "crash schema registry"),
            RestartSchemaRegistry => write!(f, "restart schema registry"),
            SetCompatibility { subject, level } => {
                write!(f, "compatibility of {} = {level}", subject.as_deref().unwrap_or("the registry"))
            }
            RegisterSchema { subject, schema } => write!(f, "register {} under {subject}", short(schema)),
            SetProducerSchema { producer, key_schema, value_schema } => write!(
                f,
                "{producer} now writes{}{}",
                key_schema.as_deref().map(|k| format!(" key schema {}", short(k))).unwrap_or_default(),
                value_schema.as_deref().map(|v| format!(" value schema {}", short(v))).unwrap_or_default()
            ),
            Note { text } => write!(f, "note: {text}"),
        }
    }
}
