//! The topology DSL (`StreamsBuilder` in Rust, `TopologySpec` in scenario files) and its
//! compilation into a `Topology`: processor nodes, state stores, sub-topologies split at
//! repartition topics, and the checks Kafka Streams makes before it starts (window
//! definitions, co-partitioning of joined topics, legal names).
use super::error::TopologyError;
use super::expr::{Expr, ExprContext};
use super::store::StoreKind;
use super::value::Value;
use super::window::{EmitStrategy, JoinWindowSpec, WindowSpec, Windows};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// At most this many steps in one topology description.
pub const MAX_STEPS: usize = 1000;
/// Kafka's limit on topic name length (`Topic.MAX_NAME_LENGTH`).
pub const MAX_TOPIC_NAME_LEN: usize = 249;

/// Where a record's timestamp comes from (the source's `TimestampExtractor`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum TimestampSpec {
    /// The record's own timestamp: the producer's CreateTime, or the broker's LogAppendTime
    /// (ingestion time) when the topic has `message.timestamp.type=LogAppendTime`
    /// (Kafka's default `FailOnInvalidTimestamp` / `ExtractRecordMetadataTimestamp`).
    #[default]
    Record,
    /// Event time read from a field of the value: epoch milliseconds, or a datetime string
    /// like `2019-01-01 00:46:40` (UTC), as in the course's taxi data.
    Field(String),
    /// Processing time: the simulated clock when the task processes the record
    /// (`WallclockTimestampExtractor`).
    WallClock,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinKind {
    #[default]
    Inner,
    Left,
    Outer,
}

/// One branch of `split()`: records go to the first branch whose predicate holds; a branch
/// without a predicate is the default branch and must come last.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BranchSpec {
    pub name: String,
    #[serde(default)]
    pub predicate: Option<String>,
}

/// One DSL operation. Each step names its result; later steps refer to it by that name.
/// Expressions are strings in the language of `expr` (e.g. `total_amount >= 40`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// `builder.stream(topics)`.
    Stream {
        name: String,
        topics: Vec<String>,
        #[serde(default)]
        timestamp: TimestampSpec,
    },
    /// `builder.table(topic)`, materialized in a key-value store.
    Table {
        name: String,
        topic: String,
        #[serde(default)]
        store: Option<String>,
        #[serde(default)]
        timestamp: TimestampSpec,
    },
    /// `builder.globalTable(topic)`: every task sees all partitions; no co-partitioning.
    GlobalTable {
        name: String,
        topic: String,
        #[serde(default)]
        store: Option<String>,
    },
    Filter {
        name: String,
        input: String,
        predicate: String,
    },
    FilterNot {
        name: String,
        input: String,
        predicate: String,
    },
    /// `map((k, v) -> KeyValue.pair(key, value))`: changes the key.
    Map {
        name: String,
        input: String,
        key: String,
        value: String,
    },
    MapValues {
        name: String,
        input: String,
        value: String,
    },
    /// `flatMap`: `pairs` evaluates to a list of `{key, value}` objects (or `[key, value]`).
    FlatMap {
        name: String,
        input: String,
        pairs: String,
    },
    /// `flatMapValues`: `values` evaluates to a list.
    FlatMapValues {
        name: String,
        input: String,
        values: String,
    },
    SelectKey {
        name: String,
        input: String,
        key: String,
    },
    /// `peek`: records pass unchanged and are reported in `TaskOutput::peeks`.
    Peek {
        name: String,
        input: String,
    },
    Merge {
        name: String,
        inputs: Vec<String>,
    },
    /// `split().branch(...)...defaultBranch()`; each branch is a new stream by its name.
    Split {
        input: String,
        branches: Vec<BranchSpec>,
    },
    /// `to(topic)`.
    To {
        input: String,
        topic: String,
    },
    /// `KTable.toStream()`.
    ToStream {
        name: String,
        input: String,
    },
    GroupByKey {
        name: String,
        input: String,
    },
    /// `groupBy((k, v) -> key)`: always goes through `<application.id>-<name>-repartition`.
    GroupBy {
        name: String,
        input: String,
        key: String,
    },
    /// `windowedBy(windows)` with `emitStrategy(emit)`.
    WindowedBy {
        name: String,
        input: String,
        window: WindowSpec,
        #[serde(default)]
        emit: EmitStrategy,
    },
    Count {
        name: String,
        input: String,
        #[serde(default)]
        store: Option<String>,
    },
    /// `reduce`: `reducer` sees `agg` (the current result) and `value`.
    Reduce {
        name: String,
        input: String,
        reducer: String,
        #[serde(default)]
        store: Option<String>,
    },
    /// `aggregate(initializer, aggregator[, merger])`; session windows need `merger`
    /// (which sees `agg1`, `agg2`).
    Aggregate {
        name: String,
        input: String,
        initializer: Value,
        aggregator: String,
        #[serde(default)]
        merger: Option<String>,
        #[serde(default)]
        store: Option<String>,
    },
    /// A string aggregate: `initial`, then `separator + value` per record (the test
    /// driver's `concat`). Sessions merge by appending the later session's records.
    Concat {
        name: String,
        input: String,
        initial: String,
        separator: String,
        #[serde(default)]
        store: Option<String>,
    },
    /// `suppress(Suppressed.untilWindowCloses(unbounded()))` on a windowed KTable.
    Suppress {
        name: String,
        input: String,
    },
    /// Any join: stream-stream (needs `window`), stream-table, stream-globalTable (`key`
    /// maps the stream record to the table key), table-table.
    Join {
        name: String,
        left: String,
        right: String,
        #[serde(default)]
        kind: JoinKind,
        #[serde(default)]
        window: Option<JoinWindowSpec>,
        #[serde(default)]
        joiner: Option<String>,
        #[serde(default)]
        key: Option<String>,
    },
}

impl Step {
    fn op(&self) -> &'static str {
        match self {
            Step::Stream { .. } => "stream",
            Step::Table { .. } => "table",
            Step::GlobalTable { .. } => "global_table",
            Step::Filter { .. } => "filter",
            Step::FilterNot { .. } => "filter_not",
            Step::Map { .. } => "map",
            Step::MapValues { .. } => "map_values",
            Step::FlatMap { .. } => "flat_map",
            Step::FlatMapValues { .. } => "flat_map_values",
            Step::SelectKey { .. } => "select_key",
            Step::Peek { .. } => "peek",
            Step::Merge { .. } => "merge",
            Step::Split { .. } => "split",
            Step::To { .. } => "to",
            Step::ToStream { .. } => "to_stream",
            Step::GroupByKey { .. } => "group_by_key",
            Step::GroupBy { .. } => "group_by",
            Step::WindowedBy { .. } => "windowed_by",
            Step::Count { .. } => "count",
            Step::Reduce { .. } => "reduce",
            Step::Aggregate { .. } => "aggregate",
            Step::Concat { .. } => "concat",
            Step::Suppress { .. } => "suppress",
            Step::Join { .. } => "join",
        }
    }

    fn name(&self) -> Option<&str> {
        match self {
            Step::Stream { name, .. }
            | Step::Table { name, .. }
            | Step::GlobalTable { name, .. }
            | Step::Filter { name, .. }
            | Step::FilterNot { name, .. }
            | Step::Map { name, .. }
            | Step::MapValues { name, .. }
            | Step::FlatMap { name, .. }
            | Step::FlatMapValues { name, .. }
            | Step::SelectKey { name, .. }
            | Step::Peek { name, .. }
            | Step::Merge { name, .. }
            | Step::ToStream { name, .. }
            | Step::GroupByKey { name, .. }
            | Step::GroupBy { name, .. }
            | Step::WindowedBy { name, .. }
            | Step::Count { name, .. }
            | Step::Reduce { name, .. }
            | Step::Aggregate { name, .. }
            | Step::Concat { name, .. }
            | Step::Suppress { name, .. }
            | Step::Join { name, .. } => Some(name),
            Step::Split { .. } | Step::To { .. } => None,
        }
    }
}

/// A topology as written in a scenario file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologySpec {
    /// `application.id`: the consumer group, and the prefix of internal topics.
    pub application_id: String,
    pub steps: Vec<Step>,
}

// ---------------------------------------------------------------------------------------
// Compiled topology

/// The aggregation function of an aggregate node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum AggFn {
    Count,
    Reduce(Expr),
    Aggregate { init: Value, adder: Expr, merger: Option<Expr> },
    Concat { initial: String, separator: String },
}

impl AggFn {
    /// `initializer.apply()`; `None` for reduce (whose first value becomes the result).
    pub fn init(&self) -> Option<Value> {
        match self {
            AggFn::Count => Some(Value::Int(0)),
            AggFn::Reduce(_) => None,
            AggFn::Aggregate { init, .. } => Some(init.clone()),
            AggFn::Concat { initial, .. } => Some(Value::Str(initial.clone())),
        }
    }

    /// `aggregator.apply(key, value, agg)`. `agg` is `None` only for a reduce's first value.
    pub fn add(&self, key: &Value, value: &Value, agg: Option<Value>, ts: i64) -> Value {
        use super::expr::Env;
        match self {
            AggFn::Count => match agg {
                Some(Value::Int(n)) => Value::Int(n.saturating_add(1)),
                _ => Value::Int(1),
            },
            AggFn::Reduce(r) => match agg {
                None | Some(Value::Null) => value.clone(),
                Some(a) => {
                    r.eval(&Env { key: Some(key), value: Some(value), agg: Some(&a), timestamp: ts, ..Env::default() })
                }
            },
            AggFn::Aggregate { adder, init, .. } => {
                let a = agg.unwrap_or_else(|| init.clone());
                adder.eval(&Env { key: Some(key), value: Some(value), agg: Some(&a), timestamp: ts, ..Env::default() })
            }
            AggFn::Concat { separator, .. } => {
                let mut s = match agg {
                    Some(Value::Str(s)) => s,
                    Some(other) => other.to_java_string(),
                    None => String::new(),
                };
                s.push_str(separator);
                value.push_java_string(&mut s);
                Value::Str(s)
            }
        }
    }

    /// The session merger `merger.apply(key, agg1, agg2)`.
    pub fn merge(&self, key: &Value, a: Value, b: &Value) -> Value {
        use super::expr::Env;
        match self {
            AggFn::Count => match (&a, b) {
                (Value::Int(x), Value::Int(y)) => Value::Int(x.saturating_add(*y)),
                _ => a,
            },
            AggFn::Reduce(r) => {
                if a.is_null() {
                    return b.clone();
                }
                r.eval(&Env { key: Some(key), agg: Some(&a), value: Some(b), ..Env::default() })
            }
            AggFn::Aggregate { merger, .. } => match merger {
                Some(m) => m.eval(&Env { key: Some(key), agg1: Some(&a), agg2: Some(b), ..Env::default() }),
                None => a,
            },
            AggFn::Concat { initial, .. } => {
                // Both sides start with `initial`; keep it once and append the other
                // session's records.
                let mut s = a.to_java_string();
                let other = b.to_java_string();
                s.push_str(other.strip_prefix(initial.as_str()).unwrap_or(&other));
                Value::Str(s)
            }
        }
    }

    /// Whether a record with a null value is skipped (and counted as dropped) instead of
    /// aggregated. Non-windowed aggregations skip null keys or values (`KStreamAggregate`,
    /// `KStreamReduce`); windowed ones are handled by their processors.
    pub fn label(&self) -> &'static str {
        match self {
            AggFn::Count => "count",
            AggFn::Reduce(_) => "reduce",
            AggFn::Aggregate { .. } => "aggregate",
            AggFn::Concat { .. } => "concat",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Side {
    Left,
    Right,
}

/// A processor node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum NodeKind {
    Source {
        topics: Vec<String>,
        timestamp: TimestampSpec,
    },
    TableSource {
        topic: String,
        store: String,
        timestamp: TimestampSpec,
    },
    GlobalSource {
        topic: String,
        store: String,
    },
    Filter {
        predicate: Expr,
        negate: bool,
    },
    /// Drops null keys silently before a repartition sink, as Kafka's repartition filter does.
    DropNullKeys,
    Map {
        key: Expr,
        value: Expr,
    },
    MapValues {
        value: Expr,
    },
    FlatMap {
        pairs: Expr,
    },
    FlatMapValues {
        values: Expr,
    },
    SelectKey {
        key: Expr,
    },
    Peek,
    /// Forwards unchanged (merge, join results).
    PassThrough,
    Branch {
        branches: Vec<(Option<Expr>, Vec<usize>)>,
    },
    Sink {
        topic: String,
        internal: bool,
    },
    ToStream,
    Aggregate {
        store: String,
        agg: AggFn,
    },
    WindowAggregate {
        store: String,
        agg: AggFn,
        windows: Windows,
        emit: EmitStrategy,
    },
    Suppress {
        store: String,
        /// How long after a window's end the result is held back: the windows' grace (plus
        /// the gap, for sessions).
        wait_ms: i64,
    },
    StreamStreamJoin {
        join: usize,
        side: Side,
    },
    StreamTableJoin {
        table_store: String,
        left: bool,
        joiner: Expr,
    },
    StreamGlobalJoin {
        table_store: String,
        key: Expr,
        left: bool,
        joiner: Expr,
    },
    TableTableJoin {
        side: Side,
        kind: JoinKind,
        other_store: String,
        joiner: Expr,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub name: String,
    pub kind: NodeKind,
    pub children: Vec<usize>,
    /// `None` for global-table sources, which belong to the global topology.
    pub subtopology: Option<usize>,
}

/// A stream-stream join's configuration, shared by its two side nodes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamJoin {
    pub name: String,
    pub kind: JoinKind,
    pub window: JoinWindowSpec,
    pub left_store: String,
    pub right_store: String,
    /// Present for left and outer joins: holds non-joined records until their window closes.
    pub outer_store: Option<String>,
    pub joiner: Expr,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoreSpec {
    pub name: String,
    pub kind: StoreKind,
    /// `<application.id>-<store>-changelog`; `None` for global stores, which are restored
    /// from their source topic.
    pub changelog: Option<String>,
    /// Retention of window stores used by joins and sliding windows (ms).
    pub retention_ms: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SubTopology {
    pub id: usize,
    pub nodes: Vec<usize>,
    /// Source topic -> the source node reading it.
    pub sources: BTreeMap<String, usize>,
    pub stores: Vec<String>,
    /// Global stores read by this sub-topology, and the topic each is built from.
    pub global_stores: BTreeMap<String, String>,
    /// Number of tasks: the largest partition count among the source topics.
    pub tasks: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InternalTopicKind {
    Repartition,
    Changelog,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InternalTopic {
    pub kind: InternalTopicKind,
    pub partitions: u32,
    /// `cleanup.policy` Kafka Streams sets: `delete` for repartition topics, `compact` for
    /// key-value changelogs, `compact,delete` for window and session changelogs.
    pub cleanup_policy: String,
}

/// A compiled, validated topology.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Topology {
    pub application_id: String,
    pub nodes: Vec<Node>,
    pub stores: BTreeMap<String, StoreSpec>,
    pub joins: Vec<StreamJoin>,
    pub subtopologies: Vec<SubTopology>,
    /// Global table topic -> its global source node.
    pub global_sources: BTreeMap<String, usize>,
    pub internal_topics: BTreeMap<String, InternalTopic>,
    /// Sink topics that are not internal.
    pub output_topics: BTreeSet<String>,
}

impl Topology {
    /// The sub-topology reading `topic`, if any.
    pub fn subtopology_of(&self, topic: &str) -> Option<usize> {
        self.subtopologies.iter().find(|s| s.sources.contains_key(topic)).map(|s| s.id)
    }

    /// How long the windows of a window store are, when its aggregation says so: time
    /// windows (tumbling, hopping) span their size, sliding windows their time difference.
    /// A join's window store holds records by timestamp, not windows, and session windows
    /// carry their own end: `None`.
    pub fn window_size(&self, store: &str) -> Option<i64> {
        self.nodes.iter().find_map(|n| match &n.kind {
            NodeKind::WindowAggregate { store: s, windows, .. } if s == store => match windows {
                Windows::Time(t) => Some(t.size_ms),
                Windows::Sliding(s) => Some(s.time_difference_ms),
                Windows::Session(_) => None,
            },
            _ => None,
        })
    }

    /// External (non-internal) source topics of all sub-topologies and global tables.
    pub fn source_topics(&self) -> BTreeSet<String> {
        self.subtopologies
            .iter()
            .flat_map(|s| s.sources.keys())
            .chain(self.global_sources.keys())
            .filter(|t| !self.internal_topics.contains_key(*t))
            .cloned()
            .collect()
    }

    /// A description in the spirit of Kafka's `TopologyDescription`.
    pub fn describe(&self) -> String {
        let mut out = String::from("Topologies:\n");
        for sub in &self.subtopologies {
            let _ = writeln!(out, "   Sub-topology: {} ({} tasks)", sub.id, sub.tasks);
            for &n in &sub.nodes {
                self.describe_node(&mut out, n);
            }
        }
        for (topic, &n) in &self.global_sources {
            let _ = writeln!(out, "   Global store: {} (topic: {topic})", self.nodes[n].name);
        }
        out
    }

    fn describe_node(&self, out: &mut String, n: usize) {
        let node = &self.nodes[n];
        let (label, detail) = match &node.kind {
            NodeKind::Source { topics, .. } => ("Source", format!("topics: [{}]", topics.join(", "))),
            NodeKind::TableSource { topic, store, .. } => ("Source", format!("topics: [{topic}], stores: [{store}]")),
            NodeKind::Sink { topic, .. } => ("Sink", format!("topic: {topic}")),
            other => ("Processor", describe_kind(other, self)),
        };
        let _ = writeln!(out, "    {label}: {} ({detail})", node.name);
        let mut children: Vec<usize> = node.children.clone();
        if let NodeKind::Branch { branches } = &node.kind {
            for (_, c) in branches {
                children.extend(c);
            }
        }
        if !children.is_empty() {
            let names: Vec<&str> = children.iter().map(|&c| self.nodes[c].name.as_str()).collect();
            let _ = writeln!(out, "      --> {}", names.join(", "));
        }
        let parents: Vec<&str> = self
            .nodes
            .iter()
            .filter(|p| {
                p.children.contains(&n)
                    || matches!(&p.kind, NodeKind::Branch { branches } if branches.iter().any(|(_, c)| c.contains(&n)))
            })
            .map(|p| p.name.as_str())
            .collect();
        if !parents.is_empty() {
            let _ = writeln!(out, "      <-- {}", parents.join(", "));
        }
    }
}

fn describe_kind(kind: &NodeKind, topo: &Topology) -> String {
    match kind {
        NodeKind::Filter { predicate, negate } => {
            format!("{}: {predicate}", if *negate { "filterNot" } else { "filter" })
        }
        NodeKind::DropNullKeys => "drops null keys before repartitioning".into(),
        NodeKind::Map { key, value } => format!("map: key = {key}, value = {value}"),
        NodeKind::MapValues { value } => format!("mapValues: {value}"),
        NodeKind::FlatMap { pairs } => format!("flatMap: {pairs}"),
        NodeKind::FlatMapValues { values } => format!("flatMapValues: {values}"),
        NodeKind::SelectKey { key } => format!("selectKey: {key}"),
        NodeKind::Peek => "peek".into(),
        NodeKind::PassThrough => "merge".into(),
        NodeKind::Branch { branches } => format!("split into {} branches", branches.len()),
        NodeKind::ToStream => "toStream".into(),
        NodeKind::Aggregate { store, agg } => format!("{}, stores: [{store}]", agg.label()),
        NodeKind::WindowAggregate { store, agg, windows, emit } => {
            format!("windowed {} {windows:?} {emit:?}, stores: [{store}]", agg.label())
        }
        NodeKind::Suppress { store, wait_ms } => {
            format!("suppress until window closes (+{wait_ms} ms), stores: [{store}]")
        }
        NodeKind::StreamStreamJoin { join, side } => {
            let j = &topo.joins[*join];
            let stores = [Some(j.left_store.as_str()), Some(j.right_store.as_str()), j.outer_store.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", ");
            format!("{:?} {:?} side of stream-stream join, stores: [{stores}]", j.kind, side)
        }
        NodeKind::StreamTableJoin { table_store, left, .. } => {
            format!("stream-table {}join, stores: [{table_store}]", if *left { "left " } else { "" })
        }
        NodeKind::StreamGlobalJoin { table_store, left, .. } => {
            format!("stream-globalTable {}join, stores: [{table_store}]", if *left { "left " } else { "" })
        }
        NodeKind::TableTableJoin { side, kind, other_store, .. } => {
            format!("{kind:?} table-table join, {side:?} side, stores: [{other_store}]")
        }
        NodeKind::Source { .. }
        | NodeKind::TableSource { .. }
        | NodeKind::GlobalSource { .. }
        | NodeKind::Sink { .. } => String::new(),
    }
}

// ---------------------------------------------------------------------------------------
// Compilation

/// Where a stream's records leave a node: its children, or one branch of a split.
#[derive(Clone, Copy, Debug)]
struct Out {
    node: usize,
    branch: Option<usize>,
}

#[derive(Clone, Debug)]
struct Grouped {
    out: Out,
    key_changed: bool,
    name: String,
    window: Option<(Windows, EmitStrategy)>,
}

#[derive(Clone, Debug)]
enum Handle {
    Stream {
        out: Out,
        key_changed: bool,
    },
    Table {
        node: usize,
        /// The store to look keys up in; `None` for join results (not materialized).
        store: Option<String>,
        windows: Option<Windows>,
    },
    Global {
        store: String,
    },
    Grouped(Grouped),
}

impl Handle {
    fn kind(&self) -> &'static str {
        match self {
            Handle::Stream { .. } => "a KStream",
            Handle::Table { windows: None, .. } => "a KTable",
            Handle::Table { .. } => "a windowed KTable",
            Handle::Global { .. } => "a GlobalKTable",
            Handle::Grouped(g) if g.window.is_some() => "a windowed grouped stream",
            Handle::Grouped(_) => "a KGroupedStream",
        }
    }
}

struct Compiler {
    app: String,
    nodes: Vec<Node>,
    /// Source topics (external or internal) each node reads from, upstream in its
    /// sub-topology; used for co-partitioning.
    node_sources: Vec<BTreeSet<String>>,
    stores: BTreeMap<String, StoreSpec>,
    /// Node that owns (writes) each store.
    store_owner: BTreeMap<String, usize>,
    joins: Vec<StreamJoin>,
    handles: BTreeMap<String, Handle>,
    sourced_topics: BTreeMap<String, String>,
    repartition_topics: BTreeMap<String, usize>,
    /// (location, topics that must be co-partitioned).
    copartition: Vec<(String, BTreeSet<String>)>,
    /// Pairs of nodes that share state and must be in one sub-topology.
    unions: Vec<(usize, usize)>,
    global_topics: BTreeMap<String, (usize, String)>,
}

/// Checks a name that becomes part of a topic name (Kafka's legal characters).
pub fn check_topic_name(location: &str, name: &str) -> Result<(), TopologyError> {
    if name.is_empty() {
        return Err(TopologyError::new(location, "must not be empty"));
    }
    if name == "." || name == ".." {
        return Err(TopologyError::new(location, "cannot be \".\" or \"..\""));
    }
    if name.len() > MAX_TOPIC_NAME_LEN {
        return Err(TopologyError::new(location, format!("is longer than {MAX_TOPIC_NAME_LEN} characters")));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
        return Err(TopologyError::new(
            location,
            format!("\"{name}\" contains '{c}'; legal characters are ASCII alphanumerics, '.', '_' and '-'"),
        ));
    }
    Ok(())
}

fn parse_expr(field: &str, src: &str, ctx: ExprContext) -> Result<Expr, TopologyError> {
    Expr::parse(src, ctx).map_err(|e| TopologyError::new(field, format!("{} in `{src}`", e)))
}

impl Compiler {
    fn add_node(&mut self, name: String, kind: NodeKind, parents: &[Out]) -> usize {
        let id = self.nodes.len();
        self.nodes.push(Node { name, kind, children: Vec::new(), subtopology: None });
        let mut sources = BTreeSet::new();
        for p in parents {
            match p.branch {
                Some(b) => {
                    if let NodeKind::Branch { branches } = &mut self.nodes[p.node].kind {
                        if let Some(br) = branches.get_mut(b) {
                            br.1.push(id);
                        }
                    }
                }
                None => self.nodes[p.node].children.push(id),
            }
            sources.extend(self.node_sources[p.node].iter().cloned());
        }
        self.node_sources.push(sources);
        id
    }

    fn add_store(
        &mut self,
        loc: &str,
        name: &str,
        kind: StoreKind,
        owner: usize,
        retention_ms: Option<i64>,
        global: bool,
    ) -> Result<(), TopologyError> {
        check_topic_name(&format!("{loc}.store"), name)?;
        if self.stores.contains_key(name) {
            return Err(TopologyError::new(
                format!("{loc}.store"),
                format!("a store named \"{name}\" already exists (store names must be unique)"),
            ));
        }
        let changelog = if global {
            None
        } else {
            let topic = format!("{}-{name}-changelog", self.app);
            check_topic_name(&format!("{loc}.store"), &topic)?;
            Some(topic)
        };
        self.stores.insert(name.to_string(), StoreSpec { name: name.to_string(), kind, changelog, retention_ms });
        self.store_owner.insert(name.to_string(), owner);
        Ok(())
    }

    fn handle(&self, loc: &str, field: &str, name: &str) -> Result<Handle, TopologyError> {
        self.handles.get(name).cloned().ok_or_else(|| {
            TopologyError::new(format!("{loc}.{field}"), format!("no step named \"{name}\" comes before this one"))
        })
    }

    fn stream(&self, loc: &str, field: &str, name: &str) -> Result<(Out, bool), TopologyError> {
        match self.handle(loc, field, name)? {
            Handle::Stream { out, key_changed } => Ok((out, key_changed)),
            other => Err(TopologyError::new(
                format!("{loc}.{field}"),
                format!(
                    "\"{name}\" is {}, but this operation needs a KStream{}",
                    other.kind(),
                    if matches!(other, Handle::Table { .. }) { " (use to_stream first)" } else { "" }
                ),
            )),
        }
    }

    fn register(&mut self, loc: &str, name: &str, h: Handle) -> Result<(), TopologyError> {
        check_topic_name(&format!("{loc}.name"), name)?;
        if self.handles.contains_key(name) {
            return Err(TopologyError::new(format!("{loc}.name"), format!("a step named \"{name}\" already exists")));
        }
        self.handles.insert(name.to_string(), h);
        Ok(())
    }

    fn source_topic(&mut self, loc: &str, field: &str, topic: &str) -> Result<(), TopologyError> {
        check_topic_name(&format!("{loc}.{field}"), topic)?;
        if let Some(prev) = self.sourced_topics.get(topic) {
            return Err(TopologyError::new(
                format!("{loc}.{field}"),
                format!("Topic {topic} has already been registered by another source (step \"{prev}\")."),
            ));
        }
        self.sourced_topics.insert(topic.to_string(), loc.to_string());
        Ok(())
    }

    /// Inserts `<app>-<name>-repartition` after `out`: a null-key filter, a sink, and a new
    /// source in the downstream sub-topology. Returns the new source.
    fn repartition(&mut self, loc: &str, name: &str, out: Out) -> Result<Out, TopologyError> {
        let topic = format!("{}-{name}-repartition", self.app);
        check_topic_name(&format!("{loc}.name"), &topic)?;
        if self.repartition_topics.contains_key(&topic) || self.sourced_topics.contains_key(&topic) {
            return Err(TopologyError::new(
                format!("{loc}.name"),
                format!("repartition topic {topic} would be created twice"),
            ));
        }
        let filter = self.add_node(format!("{name}-repartition-filter"), NodeKind::DropNullKeys, &[out]);
        let sink = self.add_node(
            format!("{name}-repartition-sink"),
            NodeKind::Sink { topic: topic.clone(), internal: true },
            &[Out { node: filter, branch: None }],
        );
        let source = self.add_node(
            format!("{name}-repartition-source"),
            NodeKind::Source { topics: vec![topic.clone()], timestamp: TimestampSpec::Record },
            &[],
        );
        self.node_sources[source] = BTreeSet::from([topic.clone()]);
        self.repartition_topics.insert(topic.clone(), sink);
        self.sourced_topics.insert(topic, loc.to_string());
        Ok(Out { node: source, branch: None })
    }

    fn step(&mut self, loc: &str, step: &Step) -> Result<(), TopologyError> {
        match step {
            Step::Stream { name, topics, timestamp } => {
                if topics.is_empty() {
                    return Err(TopologyError::new(format!("{loc}.topics"), "needs at least one topic"));
                }
                for (i, t) in topics.iter().enumerate() {
                    self.source_topic(loc, &format!("topics[{i}]"), t)?;
                }
                check_timestamp(loc, timestamp)?;
                let node = self.add_node(
                    name.clone(),
                    NodeKind::Source { topics: topics.clone(), timestamp: timestamp.clone() },
                    &[],
                );
                self.node_sources[node] = topics.iter().cloned().collect();
                self.register(loc, name, Handle::Stream { out: Out { node, branch: None }, key_changed: false })
            }
            Step::Table { name, topic, store, timestamp } => {
                self.source_topic(loc, "topic", topic)?;
                check_timestamp(loc, timestamp)?;
                let store = store.clone().unwrap_or_else(|| name.clone());
                let node = self.add_node(
                    name.clone(),
                    NodeKind::TableSource { topic: topic.clone(), store: store.clone(), timestamp: timestamp.clone() },
                    &[],
                );
                self.node_sources[node] = BTreeSet::from([topic.clone()]);
                self.add_store(loc, &store, StoreKind::KeyValue, node, None, false)?;
                self.register(loc, name, Handle::Table { node, store: Some(store), windows: None })
            }
            Step::GlobalTable { name, topic, store } => {
                self.source_topic(loc, "topic", topic)?;
                let store = store.clone().unwrap_or_else(|| name.clone());
                let node = self.add_node(
                    name.clone(),
                    NodeKind::GlobalSource { topic: topic.clone(), store: store.clone() },
                    &[],
                );
                self.add_store(loc, &store, StoreKind::KeyValue, node, None, true)?;
                self.global_topics.insert(topic.clone(), (node, store.clone()));
                self.register(loc, name, Handle::Global { store })
            }
            Step::Filter { name, input, predicate } | Step::FilterNot { name, input, predicate } => {
                let (out, key_changed) = self.stream(loc, "input", input)?;
                let predicate = parse_expr(&format!("{loc}.predicate"), predicate, ExprContext::Record)?;
                let negate = matches!(step, Step::FilterNot { .. });
                let node = self.add_node(name.clone(), NodeKind::Filter { predicate, negate }, &[out]);
                self.register(loc, name, Handle::Stream { out: Out { node, branch: None }, key_changed })
            }
            Step::Map { name, input, key, value } => {
                let (out, _) = self.stream(loc, "input", input)?;
                let key = parse_expr(&format!("{loc}.key"), key, ExprContext::Record)?;
                let value = parse_expr(&format!("{loc}.value"), value, ExprContext::Record)?;
                let node = self.add_node(name.clone(), NodeKind::Map { key, value }, &[out]);
                self.register(loc, name, Handle::Stream { out: Out { node, branch: None }, key_changed: true })
            }
            Step::MapValues { name, input, value } => {
                let (out, key_changed) = self.stream(loc, "input", input)?;
                let value = parse_expr(&format!("{loc}.value"), value, ExprContext::Record)?;
                let node = self.add_node(name.clone(), NodeKind::MapValues { value }, &[out]);
                self.register(loc, name, Handle::Stream { out: Out { node, branch: None }, key_changed })
            }
            Step::FlatMap { name, input, pairs } => {
                let (out, _) = self.stream(loc, "input", input)?;
                let pairs = parse_expr(&format!("{loc}.pairs"), pairs, ExprContext::Record)?;
                let node = self.add_node(name.clone(), NodeKind::FlatMap { pairs }, &[out]);
                self.register(loc, name, Handle::Stream { out: Out { node, branch: None }, key_changed: true })
            }
            Step::FlatMapValues { name, input, values } => {
                let (out, key_changed) = self.stream(loc, "input", input)?;
                let values = parse_expr(&format!("{loc}.values"), values, ExprContext::Record)?;
                let node = self.add_node(name.clone(), NodeKind::FlatMapValues { values }, &[out]);
                self.register(loc, name, Handle::Stream { out: Out { node, branch: None }, key_changed })
            }
            Step::SelectKey { name, input, key } => {
                let (out, _) = self.stream(loc, "input", input)?;
                let key = parse_expr(&format!("{loc}.key"), key, ExprContext::Record)?;
                let node = self.add_node(name.clone(), NodeKind::SelectKey { key }, &[out]);
                self.register(loc, name, Handle::Stream { out: Out { node, branch: None }, key_changed: true })
            }
            Step::Peek { name, input } => {
                let (out, key_changed) = self.stream(loc, "input", input)?;
                let node = self.add_node(name.clone(), NodeKind::Peek, &[out]);
                self.register(loc, name, Handle::Stream { out: Out { node, branch: None }, key_changed })
            }
            Step::Merge { name, inputs } => {
                if inputs.is_empty() {
                    return Err(TopologyError::new(format!("{loc}.inputs"), "needs at least one input"));
                }
                let mut outs = Vec::new();
                let mut key_changed = false;
                for (i, input) in inputs.iter().enumerate() {
                    let (out, kc) = self.stream(loc, &format!("inputs[{i}]"), input)?;
                    outs.push(out);
                    key_changed |= kc;
                }
                let node = self.add_node(name.clone(), NodeKind::PassThrough, &outs);
                self.register(loc, name, Handle::Stream { out: Out { node, branch: None }, key_changed })
            }
            Step::Split { input, branches } => {
                let (out, key_changed) = self.stream(loc, "input", input)?;
                if branches.is_empty() {
                    return Err(TopologyError::new(format!("{loc}.branches"), "needs at least one branch"));
                }
                let mut compiled = Vec::new();
                for (i, b) in branches.iter().enumerate() {
                    let p = match &b.predicate {
                        Some(src) => {
                            Some(parse_expr(&format!("{loc}.branches[{i}].predicate"), src, ExprContext::Record)?)
                        }
                        None if i + 1 == branches.len() => None,
                        None => {
                            return Err(TopologyError::new(
                                format!("{loc}.branches[{i}].predicate"),
                                "only the last branch may omit its predicate (it is the default branch)",
                            ))
                        }
                    };
                    compiled.push((p, Vec::new()));
                }
                let node_name = format!("{}-split", branches.first().map(|b| b.name.as_str()).unwrap_or("split"));
                let node = self.add_node(node_name, NodeKind::Branch { branches: compiled }, &[out]);
                for (i, b) in branches.iter().enumerate() {
                    self.register(
                        &format!("{loc}.branches[{i}]"),
                        &b.name,
                        Handle::Stream { out: Out { node, branch: Some(i) }, key_changed },
                    )?;
                }
                Ok(())
            }
            Step::To { input, topic } => {
                let (out, _) = self.stream(loc, "input", input)?;
                check_topic_name(&format!("{loc}.topic"), topic)?;
                let n = self.nodes.len();
                self.add_node(
                    format!("{input}-to-{topic}-{n}"),
                    NodeKind::Sink { topic: topic.clone(), internal: false },
                    &[out],
                );
                Ok(())
            }
            Step::ToStream { name, input } => {
                let node = match self.handle(loc, "input", input)? {
                    Handle::Table { node, .. } => node,
                    other => {
                        return Err(TopologyError::new(
                            format!("{loc}.input"),
                            format!("\"{input}\" is {}, but to_stream needs a KTable", other.kind()),
                        ))
                    }
                };
                let node = self.add_node(name.clone(), NodeKind::ToStream, &[Out { node, branch: None }]);
                self.register(loc, name, Handle::Stream { out: Out { node, branch: None }, key_changed: false })
            }
            Step::GroupByKey { name, input } => {
                let (out, key_changed) = self.stream(loc, "input", input)?;
                self.register(
                    loc,
                    name,
                    Handle::Grouped(Grouped { out, key_changed, name: name.clone(), window: None }),
                )
            }
            Step::GroupBy { name, input, key } => {
                let (out, _) = self.stream(loc, "input", input)?;
                let key = parse_expr(&format!("{loc}.key"), key, ExprContext::Record)?;
                let node = self.add_node(format!("{name}-key-select"), NodeKind::SelectKey { key }, &[out]);
                self.register(
                    loc,
                    name,
                    Handle::Grouped(Grouped {
                        out: Out { node, branch: None },
                        key_changed: true,
                        name: name.clone(),
                        window: None,
                    }),
                )
            }
            Step::WindowedBy { name, input, window, emit } => {
                let mut g = match self.handle(loc, "input", input)? {
                    Handle::Grouped(g) if g.window.is_none() => g,
                    other => {
                        return Err(TopologyError::new(
                            format!("{loc}.input"),
                            format!(
                                "\"{input}\" is {}, but windowed_by needs a KGroupedStream (group_by_key or group_by)",
                                other.kind()
                            ),
                        ))
                    }
                };
                let windows = window.validate().map_err(|e| e.at(&format!("{loc}.window")))?;
                g.window = Some((windows, *emit));
                self.register(loc, name, Handle::Grouped(g))
            }
            Step::Count { name, input, store } => self.aggregate(loc, name, input, store.as_deref(), AggFn::Count),
            Step::Reduce { name, input, reducer, store } => {
                let r = parse_expr(&format!("{loc}.reducer"), reducer, ExprContext::Aggregate)?;
                self.aggregate(loc, name, input, store.as_deref(), AggFn::Reduce(r))
            }
            Step::Aggregate { name, input, initializer, aggregator, merger, store } => {
                let adder = parse_expr(&format!("{loc}.aggregator"), aggregator, ExprContext::Aggregate)?;
                let merger = match merger {
                    Some(m) => Some(parse_expr(&format!("{loc}.merger"), m, ExprContext::Merge)?),
                    None => None,
                };
                self.aggregate(
                    loc,
                    name,
                    input,
                    store.as_deref(),
                    AggFn::Aggregate { init: initializer.clone(), adder, merger },
                )
            }
            Step::Concat { name, input, initial, separator, store } => self.aggregate(
                loc,
                name,
                input,
                store.as_deref(),
                AggFn::Concat { initial: initial.clone(), separator: separator.clone() },
            ),
            Step::Suppress { name, input } => {
                let (node, windows) = match self.handle(loc, "input", input)? {
                    Handle::Table { node, windows: Some(w), .. } => (node, w),
                    other => {
                        return Err(TopologyError::new(
                            format!("{loc}.input"),
                            format!(
                                "\"{input}\" is {}; the sandbox supports suppress(untilWindowCloses) on windowed KTables only",
                                other.kind()
                            ),
                        ))
                    }
                };
                let wait_ms = match windows {
                    Windows::Time(t) => t.grace_ms,
                    Windows::Sliding(s) => s.grace_ms,
                    Windows::Session(s) => s.gap_ms + s.grace_ms,
                };
                let id = self.add_node(
                    name.clone(),
                    NodeKind::Suppress { store: name.clone(), wait_ms },
                    &[Out { node, branch: None }],
                );
                self.add_store(loc, name, StoreKind::SuppressBuffer, id, None, false)?;
                self.register(loc, name, Handle::Table { node: id, store: None, windows: Some(windows) })
            }
            Step::Join { name, left, right, kind, window, joiner, key } => {
                let joiner = match joiner {
                    Some(src) => parse_expr(&format!("{loc}.joiner"), src, ExprContext::Join)?,
                    None => parse_expr(&format!("{loc}.joiner"), "{left: left, right: right}", ExprContext::Join)?,
                };
                let l = self.handle(loc, "left", left)?;
                let r = self.handle(loc, "right", right)?;
                self.join(loc, name, (left, l), (right, r), *kind, window.as_ref(), joiner, key.as_deref())
            }
        }
    }

    fn aggregate(
        &mut self,
        loc: &str,
        name: &str,
        input: &str,
        store: Option<&str>,
        agg: AggFn,
    ) -> Result<(), TopologyError> {
        let g = match self.handle(loc, "input", input)? {
            Handle::Grouped(g) => g,
            other => {
                return Err(TopologyError::new(
                    format!("{loc}.input"),
                    format!(
                    "\"{input}\" is {}, but aggregations need a grouped stream (group_by_key, group_by, windowed_by)",
                    other.kind()
                ),
                ))
            }
        };
        if let (Some((Windows::Session(_), _)), AggFn::Aggregate { merger: None, .. }) = (&g.window, &agg) {
            return Err(TopologyError::new(
                format!("{loc}.merger"),
                "a session-windowed aggregate needs a merger (it sees agg1 and agg2)",
            ));
        }
        let out = if g.key_changed { self.repartition(loc, &g.name, g.out)? } else { g.out };
        let store = store.unwrap_or(name).to_string();
        let (kind, store_kind, retention) = match g.window {
            None => (NodeKind::Aggregate { store: store.clone(), agg }, StoreKind::KeyValue, None),
            Some((windows, emit)) => {
                let (sk, retention) = match windows {
                    Windows::Time(_) => (StoreKind::Window, None),
                    // Kafka's default retention for sliding windows: 2 * timeDifference + grace.
                    Windows::Sliding(s) => (StoreKind::Window, Some(2 * s.time_difference_ms + s.grace_ms)),
                    Windows::Session(_) => (StoreKind::Session, None),
                };
                (NodeKind::WindowAggregate { store: store.clone(), agg, windows, emit }, sk, retention)
            }
        };
        let node = self.add_node(name.to_string(), kind, &[out]);
        self.add_store(loc, &store, store_kind, node, retention, false)?;
        let windows = g.window.map(|(w, _)| w);
        let table_store = if windows.is_none() { Some(store) } else { None };
        self.register(loc, name, Handle::Table { node, store: table_store, windows })
    }

    #[allow(clippy::too_many_arguments)]
    fn join(
        &mut self,
        loc: &str,
        name: &str,
        (lname, l): (&String, Handle),
        (rname, r): (&String, Handle),
        kind: JoinKind,
        window: Option<&JoinWindowSpec>,
        joiner: Expr,
        key: Option<&str>,
    ) -> Result<(), TopologyError> {
        let no_window = |what: &str| -> Result<(), TopologyError> {
            if window.is_some() {
                return Err(TopologyError::new(
                    format!("{loc}.window"),
                    format!("{what} joins are not windowed; remove `window`"),
                ));
            }
            Ok(())
        };
        let no_key = |what: &str| -> Result<(), TopologyError> {
            if key.is_some() {
                return Err(TopologyError::new(
                    format!("{loc}.key"),
                    format!("`key` maps a stream record to a GlobalKTable key; {what} joins use the record key"),
                ));
            }
            Ok(())
        };
        match (l, r) {
            (Handle::Stream { out: lo, key_changed: lk }, Handle::Stream { out: ro, key_changed: rk }) => {
                no_key("stream-stream")?;
                let Some(w) = window else {
                    return Err(TopologyError::new(
                        format!("{loc}.window"),
                        "a KStream-KStream join is always windowed: give window {before_ms, after_ms, grace_ms}",
                    ));
                };
                w.validate().map_err(|e| e.at(&format!("{loc}.window")))?;
                let lo = if lk { self.repartition(loc, &format!("{name}-left"), lo)? } else { lo };
                let ro = if rk { self.repartition(loc, &format!("{name}-right"), ro)? } else { ro };
                self.copartition(loc, &[lo.node, ro.node]);
                let join = self.joins.len();
                let left_node =
                    self.add_node(format!("{name}-this"), NodeKind::StreamStreamJoin { join, side: Side::Left }, &[lo]);
                let right_node = self.add_node(
                    format!("{name}-other"),
                    NodeKind::StreamStreamJoin { join, side: Side::Right },
                    &[ro],
                );
                let retention = Some(w.size_ms() + w.grace_ms);
                let left_store = format!("{name}-this-join-store");
                let right_store = format!("{name}-other-join-store");
                self.add_store(loc, &left_store, StoreKind::Window, left_node, retention, false)?;
                self.add_store(loc, &right_store, StoreKind::Window, right_node, retention, false)?;
                let outer_store = match kind {
                    JoinKind::Inner => None,
                    JoinKind::Left => Some(format!("{name}-left-shared-join-store")),
                    JoinKind::Outer => Some(format!("{name}-outer-shared-join-store")),
                };
                if let Some(s) = &outer_store {
                    self.add_store(loc, s, StoreKind::OuterJoin, left_node, None, false)?;
                }
                self.unions.push((left_node, right_node));
                self.joins.push(StreamJoin {
                    name: name.to_string(),
                    kind,
                    window: *w,
                    left_store,
                    right_store,
                    outer_store,
                    joiner,
                });
                let merge = self.add_node(
                    name.to_string(),
                    NodeKind::PassThrough,
                    &[Out { node: left_node, branch: None }, Out { node: right_node, branch: None }],
                );
                self.register(loc, name, Handle::Stream { out: Out { node: merge, branch: None }, key_changed: false })
            }
            (Handle::Stream { out, key_changed }, Handle::Table { node: tnode, store, windows }) => {
                no_window("KStream-KTable")?;
                no_key("stream-table")?;
                if kind == JoinKind::Outer {
                    return Err(TopologyError::new(
                        format!("{loc}.kind"),
                        "KStream-KTable joins are inner or left; there is no outer stream-table join",
                    ));
                }
                let Some(table_store) = store.filter(|_| windows.is_none()) else {
                    return Err(TopologyError::new(
                        format!("{loc}.right"),
                        format!("\"{rname}\" is not a materialized, non-windowed KTable (a table source or an aggregation result)"),
                    ));
                };
                let out = if key_changed { self.repartition(loc, &format!("{name}-left"), out)? } else { out };
                self.copartition(loc, &[out.node, tnode]);
                let node = self.add_node(
                    name.to_string(),
                    NodeKind::StreamTableJoin {
                        table_store: table_store.clone(),
                        left: kind == JoinKind::Left,
                        joiner,
                    },
                    &[out],
                );
                if let Some(&owner) = self.store_owner.get(&table_store) {
                    self.unions.push((node, owner));
                }
                self.register(loc, name, Handle::Stream { out: Out { node, branch: None }, key_changed: false })
            }
            (Handle::Stream { out, .. }, Handle::Global { store }) => {
                no_window("KStream-GlobalKTable")?;
                if kind == JoinKind::Outer {
                    return Err(TopologyError::new(
                        format!("{loc}.kind"),
                        "KStream-GlobalKTable joins are inner or left",
                    ));
                }
                let key = parse_expr(&format!("{loc}.key"), key.unwrap_or("key"), ExprContext::Record)?;
                let node = self.add_node(
                    name.to_string(),
                    NodeKind::StreamGlobalJoin { table_store: store, key, left: kind == JoinKind::Left, joiner },
                    &[out],
                );
                self.register(loc, name, Handle::Stream { out: Out { node, branch: None }, key_changed: false })
            }
            (
                Handle::Table { node: ln, store: ls, windows: lw },
                Handle::Table { node: rn, store: rs, windows: rw },
            ) => {
                no_window("KTable-KTable")?;
                no_key("table-table")?;
                let (Some(ls), None) = (ls, lw) else {
                    return Err(TopologyError::new(
                        format!("{loc}.left"),
                        format!("\"{lname}\" is not a materialized, non-windowed KTable (a table source or an aggregation result)"),
                    ));
                };
                let (Some(rs), None) = (rs, rw) else {
                    return Err(TopologyError::new(
                        format!("{loc}.right"),
                        format!("\"{rname}\" is not a materialized, non-windowed KTable (a table source or an aggregation result)"),
                    ));
                };
                self.copartition(loc, &[ln, rn]);
                let lj = self.add_node(
                    format!("{name}-this"),
                    NodeKind::TableTableJoin {
                        side: Side::Left,
                        kind,
                        other_store: rs.clone(),
                        joiner: joiner.clone(),
                    },
                    &[Out { node: ln, branch: None }],
                );
                let rj = self.add_node(
                    format!("{name}-other"),
                    NodeKind::TableTableJoin { side: Side::Right, kind, other_store: ls.clone(), joiner },
                    &[Out { node: rn, branch: None }],
                );
                self.unions.push((lj, rj));
                let merge = self.add_node(
                    name.to_string(),
                    NodeKind::PassThrough,
                    &[Out { node: lj, branch: None }, Out { node: rj, branch: None }],
                );
                self.register(loc, name, Handle::Table { node: merge, store: None, windows: None })
            }
            (Handle::Table { .. }, Handle::Stream { .. }) => Err(TopologyError::new(
                format!("{loc}.left"),
                "a KTable cannot join a KStream; put the stream on the left (stream-table join)",
            )),
            (l, r) => Err(TopologyError::new(
                loc.to_string(),
                format!("cannot join {} (\"{lname}\") with {} (\"{rname}\")", l.kind(), r.kind()),
            )),
        }
    }

    fn copartition(&mut self, loc: &str, nodes: &[usize]) {
        let topics: BTreeSet<String> = nodes.iter().flat_map(|&n| self.node_sources[n].iter().cloned()).collect();
        self.copartition.push((loc.to_string(), topics));
    }
}

fn check_timestamp(loc: &str, ts: &TimestampSpec) -> Result<(), TopologyError> {
    if let TimestampSpec::Field(f) = ts {
        if f.is_empty() {
            return Err(TopologyError::new(format!("{loc}.timestamp.field"), "field name must not be empty"));
        }
    }
    Ok(())
}

fn find(parent: &mut [usize], x: usize) -> usize {
    let mut r = x;
    while parent[r] != r {
        r = parent[r];
    }
    let mut y = x;
    while parent[y] != r {
        let next = parent[y];
        parent[y] = r;
        y = next;
    }
    r
}

impl TopologySpec {
    /// Reads a description from JSON, with errors located per step
    /// (`steps[3] (join "vendor_info"): unknown field ...`).
    pub fn from_json_value(v: &serde_json::Value) -> Result<TopologySpec, TopologyError> {
        let Some(obj) = v.as_object() else {
            return Err(TopologyError::new("", "a topology must be an object {application_id, steps}"));
        };
        for k in obj.keys() {
            if k != "application_id" && k != "steps" {
                return Err(TopologyError::new(k.clone(), "unknown field (expected application_id, steps)"));
            }
        }
        let application_id = match obj.get("application_id") {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => return Err(TopologyError::new("application_id", format!("must be a string, got {other}"))),
            None => return Err(TopologyError::new("", "missing field \"application_id\"")),
        };
        let Some(steps_json) = obj.get("steps").and_then(|s| s.as_array()) else {
            return Err(TopologyError::new("steps", "must be an array of steps"));
        };
        if steps_json.len() > MAX_STEPS {
            return Err(TopologyError::new("steps", format!("more than {MAX_STEPS} steps")));
        }
        let mut steps = Vec::with_capacity(steps_json.len());
        for (i, sj) in steps_json.iter().enumerate() {
            let step: Step = serde_json::from_value(sj.clone()).map_err(|e| {
                let op = sj.get("op").and_then(|o| o.as_str());
                let name = sj.get("name").and_then(|o| o.as_str());
                let loc = match (op, name) {
                    (Some(op), Some(n)) => format!("steps[{i}] ({op} \"{n}\")"),
                    (Some(op), None) => format!("steps[{i}] ({op})"),
                    _ => format!("steps[{i}]"),
                };
                TopologyError::new(loc, e.to_string())
            })?;
            steps.push(step);
        }
        Ok(TopologySpec { application_id, steps })
    }

    /// Reads a description from TOML (`application_id = ...` and `[[steps]]` tables).
    pub fn from_toml_str(text: &str) -> Result<TopologySpec, TopologyError> {
        let v: toml::Value = toml::from_str(text).map_err(|e| TopologyError::new("", e.to_string()))?;
        let json = serde_json::to_value(v).map_err(|e| TopologyError::new("", e.to_string()))?;
        TopologySpec::from_json_value(&json)
    }
}

impl TopologySpec {
    /// Compiles and validates against the cluster's topics: `partitions` maps every source
    /// topic to its partition count. Errors are those that make Kafka Streams refuse to start
    /// (missing source topics, topics that are not co-partitioned), plus invalid descriptions.
    pub fn compile(&self, partitions: &BTreeMap<String, u32>) -> Result<Topology, TopologyError> {
        self.compile_inner(Some(partitions))
    }

    /// Compiles for the test driver, which, like `TopologyTestDriver`, has one partition per
    /// topic and needs no topics to exist.
    pub fn compile_for_test_driver(&self) -> Result<Topology, TopologyError> {
        self.compile_inner(None)
    }

    fn compile_inner(&self, partitions: Option<&BTreeMap<String, u32>>) -> Result<Topology, TopologyError> {
        check_topic_name("application_id", &self.application_id)?;
        if self.steps.len() > MAX_STEPS {
            return Err(TopologyError::new("steps", format!("more than {MAX_STEPS} steps")));
        }
        if self.steps.is_empty() {
            return Err(TopologyError::new("steps", "a topology needs at least one step"));
        }
        let mut c = Compiler {
            app: self.application_id.clone(),
            nodes: Vec::new(),
            node_sources: Vec::new(),
            stores: BTreeMap::new(),
            store_owner: BTreeMap::new(),
            joins: Vec::new(),
            handles: BTreeMap::new(),
            sourced_topics: BTreeMap::new(),
            repartition_topics: BTreeMap::new(),
            copartition: Vec::new(),
            unions: Vec::new(),
            global_topics: BTreeMap::new(),
        };
        for (i, step) in self.steps.iter().enumerate() {
            let loc = match step.name() {
                Some(n) => format!("steps[{i}] ({} \"{n}\")", step.op()),
                None => format!("steps[{i}] ({})", step.op()),
            };
            c.step(&loc, step)?;
        }
        finish(c, partitions)
    }
}

fn finish(mut c: Compiler, partitions: Option<&BTreeMap<String, u32>>) -> Result<Topology, TopologyError> {
    let n = c.nodes.len();
    // Sub-topologies: nodes connected by edges or shared stores; global sources stand alone.
    let mut parent: Vec<usize> = (0..n).collect();
    let mut edges: Vec<(usize, usize)> = c.unions.clone();
    for (i, node) in c.nodes.iter().enumerate() {
        for &ch in &node.children {
            edges.push((i, ch));
        }
        if let NodeKind::Branch { branches } = &node.kind {
            for (_, chs) in branches {
                for &ch in chs {
                    edges.push((i, ch));
                }
            }
        }
    }
    for (a, b) in edges {
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        if ra != rb {
            parent[ra.max(rb)] = ra.min(rb);
        }
    }
    let mut roots: Vec<usize> = Vec::new();
    let mut sub_of_root: BTreeMap<usize, usize> = BTreeMap::new();
    for i in 0..n {
        if matches!(c.nodes[i].kind, NodeKind::GlobalSource { .. }) {
            continue;
        }
        let r = find(&mut parent, i);
        if let std::collections::btree_map::Entry::Vacant(e) = sub_of_root.entry(r) {
            e.insert(roots.len());
            roots.push(r);
        }
        c.nodes[i].subtopology = sub_of_root.get(&r).copied();
    }
    let mut subs: Vec<SubTopology> = (0..roots.len())
        .map(|id| SubTopology {
            id,
            nodes: Vec::new(),
            sources: BTreeMap::new(),
            stores: Vec::new(),
            global_stores: BTreeMap::new(),
            tasks: 1,
        })
        .collect();
    let global_by_store: BTreeMap<String, String> =
        crate::collect::btree_map(c.global_topics.iter().map(|(topic, (_, store))| (store.clone(), topic.clone())));
    for (i, node) in c.nodes.iter().enumerate() {
        let Some(s) = node.subtopology else { continue };
        let sub = &mut subs[s];
        sub.nodes.push(i);
        match &node.kind {
            NodeKind::Source { topics, .. } => {
                for t in topics {
                    sub.sources.insert(t.clone(), i);
                }
            }
            NodeKind::TableSource { topic, .. } => {
                sub.sources.insert(topic.clone(), i);
            }
            NodeKind::StreamGlobalJoin { table_store, .. } => {
                if let Some(topic) = global_by_store.get(table_store) {
                    sub.global_stores.insert(table_store.clone(), topic.clone());
                }
            }
            _ => {}
        }
    }
    for (store, owner) in &c.store_owner {
        if let Some(s) = c.nodes[*owner].subtopology {
            subs[s].stores.push(store.clone());
        }
    }

    // Partition counts: external topics from the cluster (1 each for the test driver);
    // repartition topics follow co-partitioning, else the largest upstream source.
    let external_count = |t: &str| -> Option<u32> {
        match partitions {
            Some(p) => p.get(t).copied(),
            None => Some(1),
        }
    };
    for sub in &subs {
        for t in sub.sources.keys() {
            if c.repartition_topics.contains_key(t) {
                continue;
            }
            match external_count(t) {
                Some(0) => return Err(TopologyError::new(format!("topic {t}"), "has 0 partitions")),
                Some(_) => {}
                None => {
                    return Err(TopologyError::new(
                        format!("topic {t}"),
                        format!(
                            "source topic {t} does not exist: Kafka Streams fails with \
                             MissingSourceTopicException (\"One or more source topics were missing \
                             during rebalance\")"
                        ),
                    ))
                }
            }
        }
    }
    for t in c.global_topics.keys() {
        if external_count(t).is_none() {
            return Err(TopologyError::new(format!("topic {t}"), format!("global table topic {t} does not exist")));
        }
    }
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    for (loc, topics) in &c.copartition {
        let mut external: Vec<(String, u32)> = Vec::new();
        for t in topics {
            if !c.repartition_topics.contains_key(t) {
                if let Some(p) = external_count(t) {
                    external.push((t.clone(), p));
                }
            }
        }
        if let Some((_, first)) = external.first() {
            if external.iter().any(|(_, p)| p != first) {
                let list: Vec<String> = external.iter().map(|(t, p)| format!("{t} ({p} partitions)")).collect();
                let names: Vec<&str> = external.iter().map(|(t, _)| t.as_str()).collect();
                return Err(TopologyError::new(
                    loc.clone(),
                    format!(
                        "Invalid topology: Topics not co-partitioned: [{}]. Joined topics need the \
                         same number of partitions (and the same partitioner), so that equal keys \
                         land in partitions with the same number; here: {}",
                        names.join(","),
                        list.join(", ")
                    ),
                ));
            }
            for t in topics {
                if c.repartition_topics.contains_key(t) {
                    let e = counts.entry(t.clone()).or_insert(*first);
                    *e = (*e).max(*first);
                }
            }
        }
    }
    // Remaining repartition topics: the largest partition count of the sources of the
    // sub-topology that writes them. Repeat until stable (chains of repartitions).
    for _ in 0..=c.repartition_topics.len() {
        let mut changed = false;
        for (topic, &sink) in &c.repartition_topics {
            if counts.contains_key(topic) {
                continue;
            }
            let Some(s) = c.nodes[sink].subtopology else {
                continue;
            };
            let mut best: Option<u32> = None;
            let mut unresolved = false;
            for t in subs[s].sources.keys() {
                let p = if c.repartition_topics.contains_key(t) { counts.get(t).copied() } else { external_count(t) };
                match p {
                    Some(p) => best = Some(best.map_or(p, |b| b.max(p))),
                    None => unresolved = true,
                }
            }
            if let (Some(b), false) = (best, unresolved) {
                counts.insert(topic.clone(), b);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut internal_topics = BTreeMap::new();
    for topic in c.repartition_topics.keys() {
        internal_topics.insert(
            topic.clone(),
            InternalTopic {
                kind: InternalTopicKind::Repartition,
                partitions: counts.get(topic).copied().unwrap_or(1),
                cleanup_policy: "delete".into(),
            },
        );
    }
    for sub in &mut subs {
        sub.tasks = sub
            .sources
            .keys()
            .map(|t| {
                if c.repartition_topics.contains_key(t) {
                    counts.get(t).copied().unwrap_or(1)
                } else {
                    external_count(t).unwrap_or(1)
                }
            })
            .max()
            .unwrap_or(1);
    }
    for spec in c.stores.values() {
        let Some(changelog) = &spec.changelog else {
            continue;
        };
        let Some(&owner) = c.store_owner.get(&spec.name) else {
            continue;
        };
        let tasks = c.nodes[owner].subtopology.map(|s| subs[s].tasks).unwrap_or(1);
        let cleanup = match spec.kind {
            StoreKind::KeyValue | StoreKind::OuterJoin | StoreKind::SuppressBuffer => "compact",
            StoreKind::Window | StoreKind::Session => "compact,delete",
        };
        internal_topics.insert(
            changelog.clone(),
            InternalTopic { kind: InternalTopicKind::Changelog, partitions: tasks, cleanup_policy: cleanup.into() },
        );
    }
    let output_topics = c
        .nodes
        .iter()
        .filter_map(|n| match &n.kind {
            NodeKind::Sink { topic, internal: false } => Some(topic.clone()),
            _ => None,
        })
        .collect();
    let global_sources = crate::collect::btree_map(c.global_topics.iter().map(|(t, (n, _))| (t.clone(), *n)));
    Ok(Topology {
        application_id: c.app,
        nodes: c.nodes,
        stores: c.stores,
        joins: c.joins,
        subtopologies: subs,
        global_sources,
        internal_topics,
        output_topics,
    })
}

// ---------------------------------------------------------------------------------------
// Rust builder

/// A named stream, table or grouped stream inside a `StreamsBuilder`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepRef(pub String);

/// A fluent way to write a `TopologySpec` in Rust, mirroring Kafka's `StreamsBuilder`:
///
/// ```
/// use sandbox_core::streams::topology::StreamsBuilder;
/// let mut b = StreamsBuilder::new("rides-app");
/// let rides = b.stream(&["rides"]);
/// let high = b.filter(&rides, "total_amount >= 40");
/// b.to(&high, "high-amount");
/// let topology = b.spec().compile_for_test_driver().unwrap();
/// assert_eq!(topology.subtopologies.len(), 1);
/// ```
#[derive(Clone, Debug)]
pub struct StreamsBuilder {
    spec: TopologySpec,
    counter: usize,
}

impl StreamsBuilder {
    pub fn new(application_id: &str) -> StreamsBuilder {
        StreamsBuilder {
            spec: TopologySpec { application_id: application_id.to_string(), steps: Vec::new() },
            counter: 0,
        }
    }

    /// The description built so far.
    pub fn spec(&self) -> &TopologySpec {
        &self.spec
    }

    fn next(&mut self, prefix: &str) -> String {
        let n = format!("{prefix}-{:010}", self.counter);
        self.counter += 1;
        n
    }

    /// Adds any step; returns the handle of its result (or of nothing, for sinks).
    pub fn add(&mut self, step: Step) -> StepRef {
        let name = step.name().unwrap_or_default().to_string();
        self.counter += 1;
        self.spec.steps.push(step);
        StepRef(name)
    }

    pub fn stream(&mut self, topics: &[&str]) -> StepRef {
        let name = self.next("KSTREAM-SOURCE");
        self.add(Step::Stream {
            name,
            topics: topics.iter().map(|t| t.to_string()).collect(),
            timestamp: TimestampSpec::Record,
        })
    }

    pub fn stream_with_timestamp(&mut self, topics: &[&str], timestamp: TimestampSpec) -> StepRef {
        let name = self.next("KSTREAM-SOURCE");
        self.add(Step::Stream { name, topics: topics.iter().map(|t| t.to_string()).collect(), timestamp })
    }

    pub fn table(&mut self, topic: &str) -> StepRef {
        let name = self.next("KTABLE-SOURCE");
        self.add(Step::Table { name, topic: topic.to_string(), store: None, timestamp: TimestampSpec::Record })
    }

    pub fn global_table(&mut self, topic: &str) -> StepRef {
        let name = self.next("GLOBALKTABLE-SOURCE");
        self.add(Step::GlobalTable { name, topic: topic.to_string(), store: None })
    }

    pub fn filter(&mut self, input: &StepRef, predicate: &str) -> StepRef {
        let name = self.next("KSTREAM-FILTER");
        self.add(Step::Filter { name, input: input.0.clone(), predicate: predicate.to_string() })
    }

    pub fn map_values(&mut self, input: &StepRef, value: &str) -> StepRef {
        let name = self.next("KSTREAM-MAPVALUES");
        self.add(Step::MapValues { name, input: input.0.clone(), value: value.to_string() })
    }

    pub fn select_key(&mut self, input: &StepRef, key: &str) -> StepRef {
        let name = self.next("KSTREAM-KEY-SELECT");
        self.add(Step::SelectKey { name, input: input.0.clone(), key: key.to_string() })
    }

    pub fn group_by_key(&mut self, input: &StepRef) -> StepRef {
        let name = self.next("KSTREAM-GROUPBYKEY");
        self.add(Step::GroupByKey { name, input: input.0.clone() })
    }

    pub fn group_by(&mut self, input: &StepRef, name: &str, key: &str) -> StepRef {
        self.add(Step::GroupBy { name: name.to_string(), input: input.0.clone(), key: key.to_string() })
    }

    pub fn windowed_by(&mut self, input: &StepRef, window: WindowSpec, emit: EmitStrategy) -> StepRef {
        let name = self.next("KSTREAM-WINDOWED");
        self.add(Step::WindowedBy { name, input: input.0.clone(), window, emit })
    }

    pub fn count(&mut self, input: &StepRef, store: &str) -> StepRef {
        self.add(Step::Count { name: store.to_string(), input: input.0.clone(), store: None })
    }

    pub fn to_stream(&mut self, input: &StepRef) -> StepRef {
        let name = self.next("KTABLE-TOSTREAM");
        self.add(Step::ToStream { name, input: input.0.clone() })
    }

    pub fn join(
        &mut self,
        name: &str,
        left: &StepRef,
        right: &StepRef,
        kind: JoinKind,
        window: Option<JoinWindowSpec>,
        joiner: &str,
    ) -> StepRef {
        self.add(Step::Join {
            name: name.to_string(),
            left: left.0.clone(),
            right: right.0.clone(),
            kind,
            window,
            joiner: Some(joiner.to_string()),
            key: None,
        })
    }

    pub fn to(&mut self, input: &StepRef, topic: &str) {
        self.add(Step::To { input: input.0.clone(), topic: topic.to_string() });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> TopologySpec {
        serde_json::from_str(json).unwrap()
    }

    const JOIN: &str = r#"{"application_id": "app", "steps": [
        {"op": "stream", "name": "rides", "topics": ["rides"]},
        {"op": "stream", "name": "requests", "topics": ["requests"]},
        {"op": "join", "name": "vendor_info", "left": "rides", "right": "requests",
         "window": {"before_ms": 1200000, "after_ms": 1200000, "grace_ms": 300000}},
        {"op": "to", "input": "vendor_info", "topic": "vendor_info"}]}"#;

    #[test]
    fn co_partitioned_join_compiles() {
        let p = BTreeMap::from([("rides".to_string(), 2), ("requests".to_string(), 2)]);
        let t = spec(JOIN).compile(&p).unwrap();
        assert_eq!(t.subtopologies.len(), 1);
        assert_eq!(t.subtopologies[0].tasks, 2);
        assert_eq!(t.internal_topics["app-vendor_info-this-join-store-changelog"].partitions, 2);
    }

    #[test]
    fn joins_of_topics_with_different_partition_counts_are_rejected() {
        let p = BTreeMap::from([("rides".to_string(), 2), ("requests".to_string(), 3)]);
        let e = spec(JOIN).compile(&p).unwrap_err();
        assert_eq!(e.location, "steps[2] (join \"vendor_info\")");
        assert!(e.message.contains("Topics not co-partitioned: [requests,rides]"), "{}", e.message);
        assert!(e.message.contains("requests (3 partitions)"));
    }

    #[test]
    fn missing_source_topics_are_rejected() {
        let p = BTreeMap::from([("rides".to_string(), 2)]);
        let e = spec(JOIN).compile(&p).unwrap_err();
        assert!(e.message.contains("MissingSourceTopicException"), "{e}");
    }

    #[test]
    fn repartitioned_join_side_takes_the_other_sides_partition_count() {
        let s = spec(
            r#"{"application_id": "app", "steps": [
            {"op": "stream", "name": "rides", "topics": ["rides"]},
            {"op": "select_key", "name": "by_zone", "input": "rides", "key": "PULocationID"},
            {"op": "table", "name": "zones", "topic": "zones"},
            {"op": "join", "name": "enriched", "left": "by_zone", "right": "zones"}]}"#,
        );
        let p = BTreeMap::from([("rides".to_string(), 5), ("zones".to_string(), 3)]);
        let t = s.compile(&p).unwrap();
        assert_eq!(t.internal_topics["app-enriched-left-repartition"].partitions, 3);
        assert_eq!(t.subtopologies.len(), 2);
        assert_eq!(t.subtopologies[0].tasks, 5);
        assert_eq!(t.subtopologies[1].tasks, 3);
    }

    #[test]
    fn group_by_goes_through_a_named_repartition_topic() {
        let s = spec(
            r#"{"application_id": "rides-app", "steps": [
            {"op": "stream", "name": "rides", "topics": ["rides"]},
            {"op": "group_by", "name": "by_vendor", "input": "rides", "key": "str(VendorID)"},
            {"op": "count", "name": "counts", "input": "by_vendor"}]}"#,
        );
        let t = s.compile_for_test_driver().unwrap();
        assert!(t.internal_topics.contains_key("rides-app-by_vendor-repartition"));
        assert!(t.internal_topics.contains_key("rides-app-counts-changelog"));
        assert_eq!(t.subtopologies.len(), 2);
        assert!(t.describe().contains("Sub-topology: 1"));
    }

    #[test]
    fn errors_name_the_step_and_field() {
        let s = spec(
            r#"{"application_id": "app", "steps": [
            {"op": "stream", "name": "rides", "topics": ["rides"]},
            {"op": "filter", "name": "high", "input": "rides", "predicate": "total_amount >="}]}"#,
        );
        let e = s.compile_for_test_driver().unwrap_err();
        assert_eq!(e.location, "steps[1] (filter \"high\").predicate");
        let s = spec(
            r#"{"application_id": "app", "steps": [
            {"op": "stream", "name": "rides", "topics": ["rides"]},
            {"op": "group_by_key", "name": "g", "input": "rides"},
            {"op": "windowed_by", "name": "w", "input": "g", "window": {"type": "hopping", "size_ms": 10, "advance_ms": 0}}]}"#,
        );
        let e = s.compile_for_test_driver().unwrap_err();
        assert_eq!(e.location, "steps[2] (windowed_by \"w\").window.advance_ms");
        let s = spec(
            r#"{"application_id": "app", "steps": [
            {"op": "stream", "name": "a", "topics": ["a"]},
            {"op": "stream", "name": "b", "topics": ["b"]},
            {"op": "join", "name": "j", "left": "a", "right": "b"}]}"#,
        );
        let e = s.compile_for_test_driver().unwrap_err();
        assert!(e.message.contains("always windowed"));
        let bad: Result<TopologySpec, _> = serde_json::from_str(
            r#"{"application_id": "app", "steps": [{"op": "stream", "name": "a", "topics": ["a"], "bogus": 1}]}"#,
        );
        assert!(bad.is_err());
    }

    #[test]
    fn descriptions_read_from_toml_with_located_errors() {
        let t = TopologySpec::from_toml_str(
            r#"
application_id = "rides-app"
[[steps]]
op = "stream"
name = "rides"
topics = ["rides"]
timestamp = { field = "tpep_pickup_datetime" }
[[steps]]
op = "filter"
name = "high"
input = "rides"
predicate = "total_amount >= 40"
"#,
        )
        .unwrap();
        assert_eq!(t.steps.len(), 2);
        assert!(t.compile_for_test_driver().is_ok());
        let e = TopologySpec::from_json_value(&serde_json::json!({"application_id": "a", "steps": [
            {"op": "stream", "name": "s", "topics": ["t"]},
            {"op": "filter", "name": "f", "input": "s", "predicat": "x"}]}))
        .unwrap_err();
        assert_eq!(e.location, "steps[1] (filter \"f\")");
        assert!(e.message.contains("predicat"), "{}", e.message);
    }

    #[test]
    fn builder_produces_a_spec() {
        let mut b = StreamsBuilder::new("app");
        let rides = b.stream(&["rides"]);
        let g = b.group_by_key(&rides);
        let w =
            b.windowed_by(&g, WindowSpec::Tumbling { size_ms: 10_000, grace_ms: 5_000 }, EmitStrategy::OnWindowUpdate);
        let c = b.count(&w, "counts");
        let s = b.to_stream(&c);
        b.to(&s, "out");
        let t = b.spec().compile_for_test_driver().unwrap();
        assert_eq!(t.output_topics, BTreeSet::from(["out".to_string()]));
    }
}
