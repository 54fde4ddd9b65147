//! Scenario files (TOML): a cluster, topics, clients, a timeline of actions and the
//! expectations checked at the end. Every error names the file, line and column.
//! The format is documented field by field in `scenarios/README.md`.
pub mod expect;
mod ksql;
pub mod run;

use crate::action::Action;
use crate::config::{BrokerConfig, ConfigValue, ConsumerConfig, ProducerConfig, TopicConfig};
use crate::consumer::app::{AppSettings, CommitMode};
use crate::limits;
use crate::network::LinkProps;
use crate::record::TopicPartition;
use crate::sim::digest::parse_digest;
use crate::sim::time::{Dur, SimTime};
use crate::world::{ConsumerSpec, ProducerSpec, Setup, TopicSpec, World};
use expect::Expectation;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use toml::Spanned;

/// An error in a scenario file, with its location.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.column, self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// A parsed, validated scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub title: String,
    pub description: String,
    pub seed: u64,
    pub setup: Setup,
    pub expectations: Vec<Expectation>,
    /// The golden trace digest for the default seed.
    pub golden_digest: Option<u64>,
    /// Source text, kept so `check --bless` can rewrite the golden digest.
    pub source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    description: String,
    #[serde(default = "default_seed")]
    seed: u64,
    duration_ms: Spanned<f64>,
    #[serde(default)]
    golden_digest: Option<Spanned<String>>,
    cluster: RawCluster,
    #[serde(default)]
    network: Option<Spanned<RawNetwork>>,
    #[serde(default, rename = "topic")]
    topics: Vec<Spanned<RawTopic>>,
    #[serde(default, rename = "producer")]
    producers: Vec<Spanned<RawClient>>,
    #[serde(default, rename = "consumer")]
    consumers: Vec<Spanned<RawConsumer>>,
    #[serde(default, rename = "at")]
    timeline: Vec<Spanned<toml::Table>>,
    #[serde(default)]
    expect: Vec<Spanned<Expectation>>,
    #[serde(default)]
    schema_registry: Option<Spanned<RawRegistry>>,
    #[serde(default, rename = "streams_app")]
    streams_apps: Vec<Spanned<RawStreamsApp>>,
    #[serde(default, rename = "ksql")]
    ksql: Vec<Spanned<ksql::RawKsql>>,
    #[serde(default, rename = "connector")]
    connectors: Vec<Spanned<RawConnector>>,
    #[serde(default)]
    connect_worker: Option<Spanned<RawConnectWorker>>,
}

/// A Kafka Connect connector: its name and its config, in Connect's own names.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConnector {
    name: String,
    #[serde(default)]
    config: BTreeMap<String, toml::Value>,
}

/// The Connect worker's config (`offset.flush.interval.ms`, `group.id`, offsets topic).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConnectWorker {
    #[serde(default)]
    config: BTreeMap<String, toml::Value>,
}

/// A Kafka Streams application: `instances` processes, each a consumer named
/// `<application_id>-<n>` and a producer named `<application_id>-<n>-producer`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStreamsApp {
    application_id: String,
    /// The topology in the JSON DSL of `kafka-sandbox streams` (steps), as a string.
    topology: String,
    #[serde(default = "one")]
    instances: u32,
    /// Instances running at boot (the rest start with `restart_client`); default all.
    #[serde(default)]
    start_instances: Option<u32>,
    #[serde(default)]
    processing_guarantee: Option<String>,
    #[serde(default)]
    commit_interval_ms: Option<u64>,
    /// Extra configs for the instances' consumers.
    #[serde(default)]
    consumer_config: BTreeMap<String, toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegistry {
    /// Global compatibility level (Confluent's default: BACKWARD).
    #[serde(default = "backward")]
    compatibility: String,
}

fn backward() -> String {
    "BACKWARD".into()
}

fn default_seed() -> u64 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCluster {
    brokers: Spanned<u32>,
    #[serde(default)]
    config: Option<Spanned<BTreeMap<String, toml::Value>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNetwork {
    #[serde(default = "default_latency")]
    latency_ms: f64,
    #[serde(default)]
    jitter_ms: f64,
    #[serde(default)]
    drop: f64,
    #[serde(default)]
    duplicate: f64,
}

fn default_latency() -> f64 {
    0.5
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTopic {
    name: String,
    partitions: u32,
    #[serde(default = "one")]
    replication_factor: u32,
    #[serde(default)]
    config: BTreeMap<String, toml::Value>,
    #[serde(default)]
    assignment: Option<Vec<Vec<u32>>>,
}

fn one() -> u32 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClient {
    name: String,
    #[serde(default)]
    config: BTreeMap<String, toml::Value>,
    #[serde(default)]
    key_schema: Option<String>,
    #[serde(default)]
    value_schema: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConsumer {
    name: String,
    #[serde(default)]
    config: BTreeMap<String, toml::Value>,
    #[serde(default)]
    assign: Vec<String>,
    /// Topics to `subscribe()` to at start (needs `group.id`).
    #[serde(default)]
    subscribe: Vec<String>,
    /// Application time per record.
    #[serde(default)]
    processing_ms: f64,
    /// auto | sync_after_processing | sync_before_processing | async_after_processing
    #[serde(default)]
    commit: Option<String>,
    /// The timeout the application passes to poll().
    #[serde(default)]
    poll_timeout_ms: Option<f64>,
    #[serde(default)]
    key_schema: Option<String>,
    #[serde(default)]
    value_schema: Option<String>,
    /// A converter: `{ producer = "...", topic = "..." }` republishes every record read.
    #[serde(default)]
    forward_to: Option<crate::consumer::app::ForwardTo>,
}

/// Converts byte offsets of a source text into 1-based line and column.
struct Locator<'a> {
    file: &'a str,
    text: &'a str,
}

impl Locator<'_> {
    fn at(&self, offset: usize, message: impl Into<String>) -> ScenarioError {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
        ScenarioError { file: self.file.to_string(), line, column, message: message.into() }
    }

    /// Points at `needle` (a key) inside the table that starts at `span` (for `[[x]]`
    /// entries the span covers only the header, so the region runs to the next header).
    fn key_in(&self, span: &Range<usize>, needle: &str, message: impl Into<String>) -> ScenarioError {
        let start = span.start.min(self.text.len());
        let rest = &self.text[start..];
        let first_line_end = rest.find('\n').map(|i| i + 1).unwrap_or(rest.len());
        let body_end = rest[first_line_end..]
            .match_indices('\n')
            .map(|(i, _)| first_line_end + i + 1)
            .find(|&i| rest[i..].trim_start_matches([' ', '\t']).starts_with('['))
            .unwrap_or(rest.len());
        let region = &rest[..body_end.max(span.end.saturating_sub(start)).min(rest.len())];
        let pos = region
            .find(&format!("\"{needle}\""))
            .or_else(|| region.find(&format!("{needle} =")))
            .or_else(|| region.find(needle))
            .map(|p| start + p)
            .unwrap_or(start);
        self.at(pos, message)
    }
}

fn config_value(v: &toml::Value) -> Option<ConfigValue> {
    ConfigValue::from_toml(v)
}

/// Applies `name = value` pairs to a config table, locating errors at the key.
fn apply_configs(
    loc: &Locator,
    span: &Range<usize>,
    raw: &BTreeMap<String, toml::Value>,
    mut set: impl FnMut(&str, &ConfigValue) -> Result<(), crate::config::ConfigError>,
) -> Result<(), ScenarioError> {
    for (k, v) in raw {
        let value = config_value(v)
            .ok_or_else(|| loc.key_in(span, k, format!("config '{k}': expected a number, string or boolean")))?;
        set(k, &value).map_err(|e| loc.key_in(span, k, e.to_string()))?;
    }
    Ok(())
}

/// A client's `key_schema`/`value_schema` (a built-in name or the schema text) resolved to
/// schema text, and the check that an Avro (de)serializer has a registry to talk to.
/// `role` is "serializer" or "deserializer".
fn client_schemas(
    loc: &Locator,
    span: &Range<usize>,
    (key, value): (&Option<String>, &Option<String>),
    avro: bool,
    has_registry: bool,
    role: &str,
) -> Result<(Option<String>, Option<String>), ScenarioError> {
    let resolve = |field: &str, v: &Option<String>| -> Result<Option<String>, ScenarioError> {
        v.as_deref()
            .map(|text| crate::world::schema_text(text).map_err(|e| loc.key_in(span, field, format!("{field}: {e}"))))
            .transpose()
    };
    let schemas = (resolve("key_schema", key)?, resolve("value_schema", value)?);
    if avro && !has_registry {
        return Err(loc.key_in(span, role, format!("the Avro {role} needs a [schema_registry] in the scenario")));
    }
    Ok(schemas)
}

fn ms(v: f64) -> Option<SimTime> {
    (v.is_finite() && v >= 0.0 && v <= limits::MAX_RUN_MS as f64).then(|| SimTime((v * 1000.0).round() as u64))
}

/// Checks a client name is free (and takes it).
type NameCheck<'a> = dyn FnMut(&Range<usize>, &str) -> Result<(), ScenarioError> + 'a;

/// Limits of a scenario's Streams applications.
const MAX_STREAMS_APPS: usize = 8;
const MAX_STREAMS_INSTANCES: u32 = 16;

/// Validates a `[[streams_app]]`, compiles its topology against the scenario's topics,
/// declares its internal topics and its instances' clients.
fn streams_app(
    loc: &Locator,
    span: &Range<usize>,
    r: &RawStreamsApp,
    topics: &mut Vec<TopicSpec>,
    producers: &mut Vec<ProducerSpec>,
    consumers: &mut Vec<ConsumerSpec>,
    check_name: &mut NameCheck<'_>,
) -> Result<crate::streams::runtime::StreamsAppSpec, ScenarioError> {
    use crate::streams::runtime::{InstanceSpec, ProcessingGuarantee, StreamsApp, StreamsAppSpec};
    use crate::streams::topology::InternalTopicKind;
    let err = |field: &str, m: String| loc.key_in(span, field, format!("streams_app '{}': {m}", r.application_id));
    if consumers.iter().filter(|c| c.app.streams).count() as u32 + r.instances
        > MAX_STREAMS_INSTANCES * MAX_STREAMS_APPS as u32
    {
        return Err(err("instances", "too many Streams instances".into()));
    }
    if r.instances == 0 || r.instances > MAX_STREAMS_INSTANCES {
        return Err(err("instances", format!("instances must be 1..={MAX_STREAMS_INSTANCES}")));
    }
    let start = r.start_instances.unwrap_or(r.instances);
    if start > r.instances {
        return Err(err("start_instances", "start_instances cannot exceed instances".into()));
    }
    let guarantee = match &r.processing_guarantee {
        None => ProcessingGuarantee::AtLeastOnce,
        Some(g) => ProcessingGuarantee::parse(g).ok_or_else(|| {
            err("processing_guarantee", format!("processing_guarantee '{g}' is not at_least_once or exactly_once_v2"))
        })?,
    };
    let commit_interval_ms = r.commit_interval_ms.unwrap_or(guarantee.default_commit_interval_ms());
    if commit_interval_ms == 0 || commit_interval_ms > limits::MAX_RUN_MS {
        return Err(err("commit_interval_ms", "commit_interval_ms must be at least 1".into()));
    }
    let json: serde_json::Value =
        serde_json::from_str(&r.topology).map_err(|e| err("topology", format!("topology is not JSON: {e}")))?;
    let mut spec =
        crate::streams::TopologySpec::from_json_value(&json).map_err(|e| err("topology", format!("topology: {e}")))?;
    if spec.application_id.is_empty() {
        spec.application_id = r.application_id.clone();
    }
    if spec.application_id != r.application_id {
        return Err(err(
            "topology",
            format!("the topology's application_id '{}' differs from the app's", spec.application_id),
        ));
    }
    let partitions: BTreeMap<String, u32> =
        crate::collect::btree_map(topics.iter().map(|t| (t.name.clone(), t.partitions)));
    let topology = spec.compile(&partitions).map_err(|e| err("topology", format!("topology: {e}")))?;
    if !topology.global_sources.is_empty() {
        return Err(err(
            "topology",
            "GlobalKTables run in the test driver (kafka-sandbox streams) only, not in the cluster yet".into(),
        ));
    }
    for out in &topology.output_topics {
        if !topics.iter().any(|t| &t.name == out) {
            return Err(err("topology", format!("output topic '{out}' is not defined (declare it as a [[topic]])")));
        }
    }
    // Internal topics, as Kafka Streams creates them at startup (replication.factor -1:
    // the broker default, here the smaller of 3 and the cluster size).
    let rf = topics.iter().map(|t| t.replication_factor).max().unwrap_or(1);
    for (name, t) in &topology.internal_topics {
        if topics.iter().any(|x| &x.name == name) {
            return Err(err("topology", format!("internal topic '{name}' clashes with a declared topic")));
        }
        let mut config = crate::config::TopicConfig::default();
        if t.kind == InternalTopicKind::Changelog {
            config.cleanup_policy = crate::config::CleanupPolicy::Compact;
        }
        topics.push(TopicSpec {
            name: name.clone(),
            partitions: t.partitions,
            replication_factor: rf,
            config,
            assignment: None,
        });
    }
    let subscribe = StreamsApp::subscription(&topology);
    let mut instances = Vec::new();
    for n in 1..=r.instances {
        let consumer = format!("{}-{n}", r.application_id);
        let producer = format!("{consumer}-producer");
        check_name(span, &consumer)?;
        check_name(span, &producer)?;
        // Kafka Streams' client defaults: its own group (the application id), offsets it
        // commits itself, `earliest`, and a producer with acks=all and idempotence.
        let mut pc = ProducerConfig::default();
        let set_p = |c: &mut ProducerConfig, k: &str, v: ConfigValue| {
            c.set(k, &v).map_err(|e| err("application_id", e.to_string()))
        };
        set_p(&mut pc, "acks", ConfigValue::Str("all".into()))?;
        set_p(&mut pc, "linger.ms", ConfigValue::Int(100))?;
        let eos = guarantee == ProcessingGuarantee::ExactlyOnceV2;
        if eos {
            // Streams' exactly_once_v2 producer: one transactional.id per thread,
            // `<application.id>-<process id>-<thread index>` (the instance number stands in
            // for the process id, which Streams keeps in the state directory across
            // restarts), and transaction.timeout.ms 10000 instead of the client's 60000.
            set_p(&mut pc, "transactional.id", ConfigValue::Str(format!("{}-{n}-1", r.application_id)))?;
            set_p(&mut pc, "transaction.timeout.ms", ConfigValue::Int(10_000))?;
        }
        let mut cc = ConsumerConfig::default();
        let set_c = |c: &mut ConsumerConfig, k: &str, v: ConfigValue| {
            c.set(k, &v).map_err(|e| err("consumer_config", e.to_string()))
        };
        set_c(&mut cc, "group.id", ConfigValue::Str(r.application_id.clone()))?;
        set_c(&mut cc, "auto.offset.reset", ConfigValue::Str("earliest".into()))?;
        if eos {
            // The runtime commits offsets in the producer's transaction, and the consumer
            // reads only committed data (repartition topics included).
            set_c(&mut cc, "enable.auto.commit", ConfigValue::Bool(false))?;
            set_c(&mut cc, "isolation.level", ConfigValue::Str("read_committed".into()))?;
        } else {
            set_c(&mut cc, "enable.auto.commit", ConfigValue::Bool(true))?;
            set_c(&mut cc, "auto.commit.interval.ms", ConfigValue::Int(commit_interval_ms as i64))?;
        }
        set_c(&mut cc, "max.poll.records", ConfigValue::Int(1000))?;
        set_c(&mut cc, "partition.assignment.strategy", ConfigValue::Str("range".into()))?;
        apply_configs(loc, span, &r.consumer_config, |k, v| cc.set(k, v))?;
        cc.validate().map_err(|e| err("consumer_config", e.to_string()))?;
        producers.push(ProducerSpec { name: producer.clone(), config: pc, key_schema: None, value_schema: None });
        consumers.push(ConsumerSpec {
            name: consumer.clone(),
            config: cc,
            assign: Vec::new(),
            subscribe: subscribe.clone(),
            app: AppSettings { streams: true, ..AppSettings::default() },
            key_schema: None,
            value_schema: None,
            stopped: n > start,
        });
        instances.push(InstanceSpec { consumer, producer });
    }
    Ok(StreamsAppSpec {
        application_id: r.application_id.clone(),
        topology: std::sync::Arc::new(topology),
        guarantee,
        commit_interval_ms,
        instances,
        ksql: None,
    })
}

/// Connect configs are strings; numbers and booleans in TOML are accepted as their text.
fn connect_config(
    loc: &Locator,
    span: &Range<usize>,
    raw: &BTreeMap<String, toml::Value>,
) -> Result<BTreeMap<String, String>, ScenarioError> {
    crate::collect::try_btree_map(raw.iter().map(|(k, v)| {
        let text = match v {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            _ => return Err(loc.key_in(span, k, format!("config '{k}': expected a string, number or boolean"))),
        };
        Ok((k.clone(), text))
    }))
}

/// Validates the `[[connector]]`s and the `[connect_worker]`, and declares what a
/// distributed Connect worker creates: the offsets topic, the worker's offset producer and
/// one producer (source) or consumer (sink) per task.
#[allow(clippy::too_many_arguments)]
fn connect_setup(
    loc: &Locator,
    raw_worker: &Option<Spanned<RawConnectWorker>>,
    raw: &[Spanned<RawConnector>],
    brokers: u32,
    topics: &mut Vec<TopicSpec>,
    producers: &mut Vec<ProducerSpec>,
    consumers: &mut Vec<ConsumerSpec>,
    check_name: &mut NameCheck<'_>,
) -> Result<Option<crate::connect::ConnectSetup>, ScenarioError> {
    use crate::connect::{ConnectSetup, ConnectorKind, ConnectorSpec, WorkerSpec, MAX_CONNECTORS};
    if raw.is_empty() {
        if let Some(w) = raw_worker {
            return Err(loc.at(w.span().start, "[connect_worker] needs at least one [[connector]]"));
        }
        return Ok(None);
    }
    if raw.len() > MAX_CONNECTORS {
        return Err(loc.at(raw[MAX_CONNECTORS].span().start, format!("at most {MAX_CONNECTORS} connectors")));
    }
    let mut worker = WorkerSpec::default();
    if let Some(w) = raw_worker {
        let span = w.span();
        for (k, v) in connect_config(loc, &span, &w.get_ref().config)? {
            worker.set(&k, &v).map_err(|e| loc.key_in(&span, &k, format!("connect_worker: {e}")))?;
        }
    }
    let rf = worker.offsets_replication_factor;
    if rf > brokers {
        let span = raw_worker.as_ref().map(|w| w.span()).unwrap_or_else(|| raw[0].span());
        return Err(loc.key_in(
            &span,
            "offset.storage.replication.factor",
            format!(
                "connect_worker: offset.storage.replication.factor {rf} needs {rf} brokers (cluster has {brokers}); \
                 set it in [connect_worker] config"
            ),
        ));
    }
    if topics.iter().any(|t| t.name == worker.offsets_topic) {
        return Err(loc.at(
            0,
            format!("topic '{}' is the Connect worker's offsets topic; do not declare it", worker.offsets_topic),
        ));
    }
    let mut config = TopicConfig::default();
    config.cleanup_policy = crate::config::CleanupPolicy::Compact;
    topics.push(TopicSpec {
        name: worker.offsets_topic.clone(),
        partitions: worker.offsets_partitions,
        replication_factor: rf,
        config,
        assignment: None,
    });
    let producer_config = |span: &Range<usize>, at: &str| -> Result<ProducerConfig, ScenarioError> {
        // The worker's producer overrides (Worker.baseProducerConfigs): acks=all, one
        // request in flight, idempotence off, retries until delivery.timeout.ms = i32::MAX.
        let mut pc = ProducerConfig::default();
        for (k, v) in [
            ("acks", ConfigValue::Str("all".into())),
            ("max.in.flight.requests.per.connection", ConfigValue::Int(1)),
            ("enable.idempotence", ConfigValue::Bool(false)),
            ("delivery.timeout.ms", ConfigValue::Int(i64::from(i32::MAX))),
        ] {
            pc.set(k, &v).map_err(|e| loc.key_in(span, at, e.to_string()))?;
        }
        pc.validate().map_err(|e| loc.key_in(span, at, e.to_string()))?;
        Ok(pc)
    };
    let offsets_producer = worker.offsets_producer();
    let first = raw[0].span();
    check_name(&first, &offsets_producer)?;
    producers.push(ProducerSpec {
        name: offsets_producer,
        config: producer_config(&first, "name")?,
        key_schema: None,
        value_schema: None,
    });
    let mut specs: Vec<ConnectorSpec> = Vec::new();
    for c in raw {
        let span = c.span();
        let r = c.get_ref();
        let err = |field: &str, m: String| loc.key_in(&span, field, format!("connector '{}': {m}", r.name));
        if specs.iter().any(|s| s.name == r.name) {
            return Err(err("name", "a connector of this name is already defined".into()));
        }
        let config = connect_config(loc, &span, &r.config)?;
        let spec = ConnectorSpec::parse(&r.name, &config).map_err(|e| err(&e.field, e.to_string()))?;
        let topic_known = |t: &str| topics.iter().any(|x| x.name == t);
        match &spec.kind {
            ConnectorKind::Datagen { topic, .. } => {
                if !topic_known(topic) {
                    return Err(err(
                        "kafka.topic",
                        format!("kafka.topic: no topic '{topic}' (declare it as a [[topic]])"),
                    ));
                }
                if producers.len() + spec.tasks_max as usize > limits::MAX_PRODUCERS {
                    return Err(err("tasks.max", "tasks.max: too many producers in the scenario".into()));
                }
                for t in 0..spec.tasks_max {
                    let name = spec.task_client(t);
                    check_name(&span, &name)?;
                    producers.push(ProducerSpec {
                        name,
                        config: producer_config(&span, "tasks.max")?,
                        key_schema: None,
                        value_schema: None,
                    });
                }
            }
            ConnectorKind::JdbcSink { topics: read, .. } => {
                if let Some(t) = read.iter().find(|t| !topic_known(t)) {
                    return Err(err("topics", format!("topics: no topic '{t}' (declare it as a [[topic]])")));
                }
                if consumers.len() + spec.tasks_max as usize > limits::MAX_CONSUMERS {
                    return Err(err("tasks.max", "tasks.max: too many consumers in the scenario".into()));
                }
                for t in 0..spec.tasks_max {
                    let name = spec.task_client(t);
                    check_name(&span, &name)?;
                    // A sink task's consumer: group connect-<name>, from the earliest
                    // offset, committing every offset.flush.interval.ms what the task has
                    // written (the sandbox runs Connect's commit as the consumer's periodic
                    // commit of the positions the task marked written).
                    let mut cc = ConsumerConfig::default();
                    let mut set = |k: &str, v: ConfigValue| cc.set(k, &v).map_err(|e| err("name", e.to_string()));
                    set("group.id", ConfigValue::Str(spec.sink_group()))?;
                    set("auto.offset.reset", ConfigValue::Str("earliest".into()))?;
                    set("enable.auto.commit", ConfigValue::Bool(true))?;
                    set("auto.commit.interval.ms", ConfigValue::Int(worker.offset_flush_interval_ms as i64))?;
                    cc.validate().map_err(|e| err("name", e.to_string()))?;
                    consumers.push(ConsumerSpec {
                        name,
                        config: cc,
                        assign: Vec::new(),
                        subscribe: read.clone(),
                        app: AppSettings { streams: true, ..AppSettings::default() },
                        key_schema: None,
                        value_schema: None,
                        stopped: false,
                    });
                }
            }
        }
        specs.push(spec);
    }
    Ok(Some(ConnectSetup { worker, connectors: specs }))
}

impl Scenario {
    /// Parses and validates a scenario. `file` is used in error messages only.
    pub fn parse(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
        let loc = Locator { file, text };
        let raw: RawScenario = toml::from_str(text).map_err(|e| {
            let offset = e.span().map(|s| s.start).unwrap_or(0);
            loc.at(offset, e.message().to_string())
        })?;
        let name = raw.name.trim().to_string();
        if name.is_empty() {
            return Err(loc.at(0, "name must not be empty"));
        }

        // Cluster.
        let brokers = *raw.cluster.brokers.get_ref();
        if brokers == 0 || brokers > limits::MAX_BROKERS {
            return Err(
                loc.at(raw.cluster.brokers.span().start, format!("brokers must be 1..={}", limits::MAX_BROKERS))
            );
        }
        let mut broker_config = BrokerConfig::default();
        if let Some(cfg) = &raw.cluster.config {
            let span = cfg.span();
            apply_configs(&loc, &span, cfg.get_ref(), |k, v| broker_config.set(k, v))?;
        }

        let mut link = LinkProps::default();
        if let Some(net) = &raw.network {
            let n = net.get_ref();
            let bad = |what: &str| loc.at(net.span().start, format!("network: {what}"));
            link.latency = ms(n.latency_ms).map(|t| Dur(t.0)).ok_or_else(|| bad("latency_ms must be >= 0"))?;
            link.jitter = ms(n.jitter_ms).map(|t| Dur(t.0)).ok_or_else(|| bad("jitter_ms must be >= 0"))?;
            if !(0.0..=1.0).contains(&n.drop) || !(0.0..=1.0).contains(&n.duplicate) {
                return Err(bad("drop and duplicate are probabilities between 0 and 1"));
            }
            link.drop = n.drop;
            link.duplicate = n.duplicate;
        }

        // Topics.
        if raw.topics.len() > limits::MAX_TOPICS {
            return Err(loc.at(0, format!("at most {} topics", limits::MAX_TOPICS)));
        }
        let mut topics = Vec::new();
        for t in &raw.topics {
            let span = t.span();
            let r = t.get_ref();
            if topics.iter().any(|x: &TopicSpec| x.name == r.name) {
                return Err(loc.key_in(&span, "name", format!("topic '{}' is defined twice", r.name)));
            }
            if r.name.is_empty() || !r.name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) {
                return Err(loc.key_in(&span, "name", format!("'{}' is not a legal topic name", r.name)));
            }
            if r.partitions == 0 || r.partitions > limits::MAX_PARTITIONS_PER_TOPIC {
                return Err(loc.key_in(
                    &span,
                    "partitions",
                    format!("partitions must be 1..={}", limits::MAX_PARTITIONS_PER_TOPIC),
                ));
            }
            if r.replication_factor == 0 || r.replication_factor > brokers {
                return Err(loc.key_in(
                    &span,
                    "replication_factor",
                    format!(
                        "replication_factor {} needs at least that many brokers (cluster has {brokers})",
                        r.replication_factor
                    ),
                ));
            }
            let mut config = TopicConfig::default();
            apply_configs(&loc, &span, &r.config, |k, v| config.set(k, v))?;
            config.validate().map_err(|e| loc.key_in(&span, &e.name, e.to_string()))?;
            if let Some(a) = &r.assignment {
                let ok = a.len() == r.partitions as usize
                    && a.iter().all(|reps| {
                        let mut s = reps.clone();
                        crate::collect::sort(&mut s);
                        s.dedup();
                        reps.len() == r.replication_factor as usize
                            && s.len() == reps.len()
                            && reps.iter().all(|b| (1..=brokers).contains(b))
                    });
                if !ok {
                    return Err(loc.key_in(
                        &span,
                        "assignment",
                        "assignment needs one list per partition, each with replication_factor distinct broker ids",
                    ));
                }
            }
            topics.push(TopicSpec {
                name: r.name.clone(),
                partitions: r.partitions,
                replication_factor: r.replication_factor,
                config,
                assignment: r.assignment.clone(),
            });
        }

        // Clients.
        let mut names: Vec<String> = Vec::new();
        let mut check_name = |span: &Range<usize>, n: &str| -> Result<(), ScenarioError> {
            let reserved = n == "controller"
                || n == "all"
                || n == "brokers"
                || n == "clients"
                || n == "*"
                || (n.starts_with('b') && n[1..].parse::<u32>().is_ok());
            if n.is_empty() || reserved {
                return Err(loc.key_in(span, "name", format!("'{n}' cannot name a client (reserved for nodes)")));
            }
            if names.iter().any(|x| x == n) {
                return Err(loc.key_in(span, "name", format!("client name '{n}' is used twice")));
            }
            names.push(n.to_string());
            Ok(())
        };
        if raw.producers.len() > limits::MAX_PRODUCERS || raw.consumers.len() > limits::MAX_CONSUMERS {
            return Err(loc.at(0, "too many clients"));
        }
        let mut producers = Vec::new();
        for p in &raw.producers {
            let span = p.span();
            check_name(&span, &p.get_ref().name)?;
            let mut config = ProducerConfig::default();
            apply_configs(&loc, &span, &p.get_ref().config, |k, v| config.set(k, v))?;
            config.validate().map_err(|e| loc.key_in(&span, &e.name, e.to_string()))?;
            let r = p.get_ref();
            let avro = config.key_serializer == crate::config::SerdeFormat::Avro
                || config.value_serializer == crate::config::SerdeFormat::Avro;
            let (key_schema, value_schema) = client_schemas(
                &loc,
                &span,
                (&r.key_schema, &r.value_schema),
                avro,
                raw.schema_registry.is_some(),
                "serializer",
            )?;
            producers.push(ProducerSpec { name: r.name.clone(), config, key_schema, value_schema });
        }
        let mut consumers = Vec::new();
        for c in &raw.consumers {
            let span = c.span();
            let r = c.get_ref();
            check_name(&span, &r.name)?;
            let mut config = ConsumerConfig::default();
            apply_configs(&loc, &span, &r.config, |k, v| config.set(k, v))?;
            let mut assign = Vec::new();
            for p in &r.assign {
                let tp = TopicPartition::parse(p)
                    .filter(|tp| topics.iter().any(|t| *t.name == *tp.topic && tp.partition < t.partitions))
                    .ok_or_else(|| loc.key_in(&span, p, format!("'{p}' is not a partition of a topic defined here")))?;
                assign.push(tp);
            }
            if !r.subscribe.is_empty() && !r.assign.is_empty() {
                return Err(loc.key_in(&span, "subscribe", "a consumer either subscribes or assigns, not both"));
            }
            if !r.subscribe.is_empty() && config.group_id.is_none() {
                return Err(loc.key_in(&span, "subscribe", "subscribe needs a group.id in config"));
            }
            if r.subscribe.iter().any(|t| t.is_empty()) {
                return Err(loc.key_in(&span, "subscribe", "topic names must not be empty"));
            }
            config.validate().map_err(|e| loc.key_in(&span, &e.name, e.to_string()))?;
            let processing_per_record = ms(r.processing_ms)
                .map(|t| Dur(t.0))
                .ok_or_else(|| loc.key_in(&span, "processing_ms", "processing_ms must be a number >= 0"))?;
            let mut app = AppSettings { processing_per_record, ..AppSettings::default() };
            if let Some(c) = &r.commit {
                app.commit = CommitMode::parse(c).ok_or_else(|| {
                    loc.key_in(
                        &span,
                        "commit",
                        format!(
                            "commit '{c}' is not one of auto, sync_after_processing, sync_before_processing, async_after_processing"
                        ),
                    )
                })?;
                if app.commit != CommitMode::Auto && config.group_id.is_none() {
                    return Err(loc.key_in(&span, "commit", "committing offsets needs a group.id in config"));
                }
            }
            if let Some(t) = r.poll_timeout_ms {
                app.poll_timeout = ms(t)
                    .filter(|x| x.0 >= 1000)
                    .map(|x| Dur(x.0))
                    .ok_or_else(|| loc.key_in(&span, "poll_timeout_ms", "poll_timeout_ms must be at least 1"))?;
            }
            let avro = config.key_deserializer == crate::config::SerdeFormat::Avro
                || config.value_deserializer == crate::config::SerdeFormat::Avro;
            let (key_schema, value_schema) = client_schemas(
                &loc,
                &span,
                (&r.key_schema, &r.value_schema),
                avro,
                raw.schema_registry.is_some(),
                "deserializer",
            )?;
            if let Some(f) = &r.forward_to {
                if !producers.iter().any(|p| p.name == f.producer) {
                    return Err(loc.key_in(
                        &span,
                        "forward_to",
                        format!("forward_to: no producer '{}' (declare it before the consumer)", f.producer),
                    ));
                }
                if !topics.iter().any(|t| *t.name == *f.topic) {
                    return Err(loc.key_in(&span, "forward_to", format!("forward_to: no topic '{}'", f.topic)));
                }
                app.forward_to = Some(f.clone());
            }
            consumers.push(ConsumerSpec {
                name: r.name.clone(),
                config,
                assign,
                subscribe: r.subscribe.clone(),
                app,
                key_schema,
                value_schema,
                stopped: false,
            });
        }

        // Kafka Streams applications.
        let mut streams = Vec::new();
        for a in &raw.streams_apps {
            let span = a.span();
            streams.push(streams_app(
                &loc,
                &span,
                a.get_ref(),
                &mut topics,
                &mut producers,
                &mut consumers,
                &mut check_name,
            )?);
        }

        // ksqlDB clusters: their persistent queries are Streams applications too.
        if raw.ksql.len() > ksql::MAX_KSQL_CLUSTERS {
            return Err(loc.at(0, format!("at most {} [[ksql]] clusters", ksql::MAX_KSQL_CLUSTERS)));
        }
        let mut ksql_clusters = Vec::new();
        for k in &raw.ksql {
            let span = k.span();
            ksql_clusters.push(ksql::ksql_cluster(
                &loc,
                &span,
                k.get_ref(),
                &mut topics,
                &mut producers,
                &mut consumers,
                &mut check_name,
                &mut streams,
            )?);
        }
        // Kafka Connect.
        let connect = connect_setup(
            &loc,
            &raw.connect_worker,
            &raw.connectors,
            brokers,
            &mut topics,
            &mut producers,
            &mut consumers,
            &mut check_name,
        )?;

        // Timeline.
        let end = ms(*raw.duration_ms.get_ref()).filter(|t| t.0 > 0).ok_or_else(|| {
            loc.at(raw.duration_ms.span().start, format!("duration_ms must be in 1..={}", limits::MAX_RUN_MS))
        })?;
        if raw.timeline.len() > limits::MAX_TIMELINE {
            return Err(loc.at(0, format!("at most {} timeline entries", limits::MAX_TIMELINE)));
        }
        let mut timeline = Vec::new();
        for entry in &raw.timeline {
            let span = entry.span();
            let mut table = entry.get_ref().clone();
            let at = table.remove("at_ms").ok_or_else(|| loc.at(span.start, "timeline entry needs at_ms"))?;
            let at_ms = match at {
                toml::Value::Integer(i) => i as f64,
                toml::Value::Float(f) => f,
                _ => return Err(loc.key_in(&span, "at_ms", "at_ms must be a number")),
            };
            let at = ms(at_ms).ok_or_else(|| loc.key_in(&span, "at_ms", "at_ms must be >= 0"))?;
            if at > end {
                return Err(loc.key_in(&span, "at_ms", format!("at_ms {at_ms} is after duration_ms")));
            }
            let action: Action = toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| loc.at(span.start, format!("timeline entry: {}", e.message())))?;
            timeline.push((at, action, span));
        }

        let schema_registry = match &raw.schema_registry {
            None => None,
            Some(r) => {
                Some(r.get_ref().compatibility.parse::<crate::schema::CompatibilityLevel>().map_err(|e| {
                    loc.key_in(&r.span(), "compatibility", format!("schema_registry.compatibility: {e}"))
                })?)
            }
        };
        let setup_without_timeline = Setup {
            brokers,
            broker_config,
            link,
            topics,
            producers,
            consumers,
            timeline: Vec::new(),
            end,
            schema_registry,
            streams,
            ksql: ksql_clusters,
            connect,
        };
        // Validate every action against the world it would run in (names, patterns...).
        let mut probe_setup = setup_without_timeline.clone();
        probe_setup.timeline = timeline.iter().map(|(t, a, _)| (*t, a.clone())).collect();
        let (probe, _) = World::new(&probe_setup, raw.seed).map_err(|e| loc.at(0, e.0))?;
        for (_, action, span) in &timeline {
            if let Action::CreateTopic { .. } = action {
                continue;
            }
            probe.validate(action).map_err(|e| loc.at(span.start, format!("timeline entry: {e}")))?;
        }

        let mut expectations = Vec::new();
        for e in &raw.expect {
            let span = e.span();
            let mut x = e.get_ref().clone();
            x.validate().map_err(|m| loc.at(span.start, format!("expectation: {m}")))?;
            x.line = loc.at(span.start, "").line;
            expectations.push(x);
        }
        let golden_digest = match &raw.golden_digest {
            None => None,
            Some(d) => Some(parse_digest(d.get_ref()).ok_or_else(|| {
                loc.at(d.span().start, "golden_digest must be 16 hex digits (as `kafka-sandbox run` prints it)")
            })?),
        };
        Ok(Scenario {
            title: raw.title.unwrap_or_else(|| name.clone()),
            name,
            description: raw.description.trim().to_string(),
            seed: raw.seed,
            setup: probe_setup,
            expectations,
            golden_digest,
            source: text.to_string(),
        })
    }

    /// The source text with `golden_digest` set to `digest` (added after `seed` if absent).
    pub fn with_golden_digest(&self, digest: u64) -> String {
        let line = format!("golden_digest = \"{}\"", crate::sim::digest::format_digest(digest));
        let mut out = String::new();
        let mut replaced = false;
        for l in self.source.lines() {
            if l.trim_start().starts_with("golden_digest") && !replaced {
                out.push_str(&line);
                replaced = true;
            } else {
                out.push_str(l);
            }
            out.push('\n');
        }
        if !replaced {
            // Insert before the first table header so it stays a top-level key (a line that
            // is only `[name]` or `[[name]]`; a description line may start with `[` too).
            let is_header = |l: &str| {
                let t = l.trim_end();
                let inner = t.trim_start_matches('[').trim_end_matches(']');
                t.starts_with('[')
                    && t.ends_with(']')
                    && !inner.is_empty()
                    && inner.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
            };
            let mut idx = out.len();
            let mut pos = 0;
            for l in out.split_inclusive('\n') {
                if is_header(l) {
                    idx = pos;
                    break;
                }
                pos += l.len();
            }
            out.insert_str(idx, &format!("{line}\n\n"));
        }
        out
    }
}
