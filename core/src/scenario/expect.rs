//! Expectations: what a scenario says must be true when the run ends, checked against
//! the [`RunSummary`]. Each names a metric (`what`), an optional subject (producer,
//! consumer, partition, broker, error, invariant) and a target (`equals`, or `min`/`max`).
use crate::summary::RunSummary;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    pub what: String,
    #[serde(default)]
    pub producer: Option<String>,
    #[serde(default)]
    pub consumer: Option<String>,
    #[serde(default)]
    pub reader: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub partition: Option<String>,
    #[serde(default)]
    pub broker: Option<u32>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub invariant: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub topic: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
    /// A Kafka Streams application (`application_id`) of the scenario.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// A Kafka Connect connector of the scenario.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector: Option<String>,
    /// A state store of that application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    /// A ksqlDB query: a persistent query id (`CTAS_X_2`) or a push query's statement number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Lessons' streams metrics: which `[streams.NAME]` run (optional when there is one).
    #[serde(default)]
    pub run: Option<String>,
    /// Lessons' streams metrics: the window (its start, epoch ms) of a windowed result.
    #[serde(default)]
    pub window_start: Option<i64>,
    /// A field of a decoded record (`last_value` / `last_key`): a name or a JSON pointer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(default)]
    pub equals: Option<toml::Value>,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    /// Why this should hold, in words (shown when it fails).
    #[serde(default)]
    pub why: Option<String>,
    #[serde(skip)]
    pub line: usize,
}

/// Metrics an expectation may name, with the subject each needs.
pub const METRICS: &[(&str, &str)] = &[
    ("sent", "producer?"),
    ("acked", "producer?"),
    ("failed", "producer?"),
    ("failed_with", "error, producer?"),
    ("unknown", "producer?"),
    ("lost", "producer?"),
    ("duplicates", "producer?"),
    ("reordered", "producer?"),
    ("failed_but_written", "producer?"),
    ("pending", "producer?"),
    ("errors_seen", "error"),
    ("leader", "partition"),
    ("leader_epoch", "partition"),
    ("isr", "partition"),
    ("offline", "partition"),
    ("hw", "partition, broker?"),
    ("leo", "partition, broker?"),
    ("log_start", "partition, broker?"),
    ("invariant", "invariant"),
    ("consumed", "consumer"),
    ("lag", "consumer, partition?"),
    ("processed_once", "reader"),
    ("processed_more_than_once", "reader"),
    ("processed_never", "reader"),
    ("broker_status", "broker"),
    ("unclean_elections", ""),
    ("leader_elections", ""),
    ("isr_shrinks", ""),
    ("isr_expansions", ""),
    ("truncated_records", ""),
    // consumers
    ("records_lag_max", "consumer"),
    ("assigned", "consumer"),
    ("commits", "consumer"),
    ("commit_failures", "consumer"),
    ("commit_rate", "consumer"),
    ("rebalances", "consumer"),
    ("rebalance_latency_max_ms", "consumer"),
    ("poll_timeouts", "consumer"),
    ("offset_resets", "consumer"),
    // consumer groups
    ("group_state", "group"),
    ("generation", "group"),
    ("group_members", "group"),
    ("coordinator", "group"),
    ("committed", "group, partition"),
    ("group_lag", "group, partition?"),
    ("paused_partition_ms", "group"),
    ("max_partitions_paused", "group"),
    ("stop_the_world_ms", "group"),
    ("double_ownership", "group"),
    ("offsets_topic_records", "group"),
    // storage
    ("records_in_log", "partition"),
    ("segments", "partition"),
    ("keys", "partition"),
    ("tombstones", "partition"),
    ("cleaned_to", "partition"),
    ("schema_versions", "subject"),
    ("partition_of_key", "topic, key"),
    ("schema_refusals", ""),
    // Kafka Streams test-driver runs; only lessons with a `[streams.NAME]` run answer these.
    ("streams_result", "key, window_start?, run?"),
    ("streams_outputs", "key?, run?"),
    ("streams_dropped", "run?"),
    ("streams_top_key", "window_start?, run?"),
    // consumer deserializers (key.deserializer / value.deserializer)
    ("records_deserialized", "consumer"),
    ("deserialization_failures", "consumer"),
    ("schema_fetches", "consumer"),
    ("records_with_defaults", "consumer"),
    ("last_value", "consumer, field?"),
    ("last_key", "consumer, field?"),
    ("last_offset_read", "consumer"),
    ("position", "consumer, partition"),
    // Kafka Streams applications running in the cluster
    ("app_processed", "app"),
    ("app_reprocessed", "app"),
    ("app_restored", "app"),
    ("app_dropped", "app"),
    ("app_tasks", "app, consumer?"),
    ("store_value", "app, store, key, window_start?"),
    ("store_entries", "app, store"),
    ("store_sum", "app, store"),
    ("output_value", "app, topic, key"),
    ("output_records", "app, topic, key?"),
    // ksqlDB clusters ([[ksql]])
    ("ksql_rows", "query, key?"),
    ("ksql_query_state", "query"),
    // Kafka Connect connectors
    ("connector_records", "connector"),
    ("connector_duplicates", "connector"),
    ("connector_tasks_running", "connector"),
    ("sink_rows", "connector"),
    ("sink_duplicates", "connector"),
    ("sink_redelivered", "connector"),
];

/// Whether a metric is measured on a lesson's streams test-driver run rather than on the
/// cluster's run summary.
pub fn is_streams_metric(what: &str) -> bool {
    what.starts_with("streams_")
}

/// A metric's value at the end of a run.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Number(f64),
    Text(String),
    Bool(bool),
    List(Vec<f64>),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Number(n) => write!(f, "{n}"),
            Value::Text(t) => write!(f, "{t}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::List(v) => {
                let items: Vec<String> = v.iter().map(|x| x.to_string()).collect();
                write!(f, "[{}]", items.join(", "))
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExpectationResult {
    pub line: usize,
    pub what: String,
    pub expected: String,
    pub actual: String,
    pub passed: bool,
    pub why: Option<String>,
}

impl Expectation {
    fn subject(&self) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("producer", &self.producer),
            ("consumer", &self.consumer),
            ("reader", &self.reader),
            ("group", &self.group),
            ("partition", &self.partition),
            ("error", &self.error),
            ("invariant", &self.invariant),
            ("subject", &self.subject),
            ("topic", &self.topic),
            ("key", &self.key),
            ("run", &self.run),
            ("field", &self.field),
            ("app", &self.app),
            ("store", &self.store),
            ("connector", &self.connector),
        ] {
            if let Some(v) = v {
                parts.push(format!("{k}={v}"));
            }
        }
        if let Some(b) = self.broker {
            parts.push(format!("broker={b}"));
        }
        if let Some(w) = self.window_start {
            parts.push(format!("window_start={w}"));
        }
        if parts.is_empty() {
            self.what.clone()
        } else {
            format!("{} ({})", self.what, parts.join(", "))
        }
    }

    fn expected(&self) -> String {
        match (&self.equals, self.min, self.max) {
            (Some(v), _, _) => format!("= {v}"),
            (None, Some(lo), Some(hi)) => format!("in {lo}..={hi}"),
            (None, Some(lo), None) => format!(">= {lo}"),
            (None, None, Some(hi)) => format!("<= {hi}"),
            (None, None, None) => "?".into(),
        }
    }

    /// Checks the expectation is well formed (called when the scenario is parsed).
    pub fn validate(&self) -> Result<(), String> {
        self.validate_metric()?;
        if self.equals.is_none() && self.min.is_none() && self.max.is_none() {
            return Err(format!("'{}' needs equals, min or max", self.what));
        }
        Ok(())
    }

    /// Checks the metric and its subject, without a target (lesson answers are measured).
    pub fn validate_metric(&self) -> Result<(), String> {
        let Some((_, needs)) = METRICS.iter().find(|(m, _)| *m == self.what) else {
            let known: Vec<&str> = METRICS.iter().map(|(m, _)| *m).collect();
            return Err(format!("unknown metric '{}' (known: {})", self.what, known.join(", ")));
        };
        let need = |field: &str, present: bool| -> Result<(), String> {
            if needs.split(", ").any(|n| n == field) && !present {
                return Err(format!("'{}' needs {field} = ...", self.what));
            }
            Ok(())
        };
        need("partition", self.partition.is_some())?;
        need("consumer", self.consumer.is_some())?;
        need("reader", self.reader.is_some())?;
        need("group", self.group.is_some())?;
        need("error", self.error.is_some())?;
        need("invariant", self.invariant.is_some())?;
        need("broker", self.broker.is_some())?;
        need("subject", self.subject.is_some())?;
        need("topic", self.topic.is_some())?;
        need("key", self.key.is_some())?;
        need("app", self.app.is_some())?;
        need("store", self.store.is_some())?;
        need("query", self.query.is_some())?;
        need("connector", self.connector.is_some())?;
        if let Some(i) = &self.invariant {
            if crate::invariant::InvariantId::parse(i).is_none() {
                return Err(format!("unknown invariant '{i}'"));
            }
        }
        Ok(())
    }

    /// ksqlDB metrics: over every `[[ksql]]` cluster of the run.
    fn measure_ksql(&self, s: &RunSummary) -> Result<Value, String> {
        let q = self.query.as_deref().unwrap_or("");
        if self.what == "ksql_query_state" {
            return s
                .ksql
                .iter()
                .flat_map(|k| &k.queries)
                .find(|x| x.id == q)
                .map(|x| Value::Text(x.state.clone()))
                .ok_or_else(|| format!("no persistent ksqlDB query '{q}'"));
        }
        let n: usize = q.parse().map_err(|_| format!("query '{q}': a push query is named by its statement number"))?;
        let p = s
            .ksql
            .iter()
            .flat_map(|k| &k.push_queries)
            .find(|p| p.statement == n)
            .ok_or_else(|| format!("no push query at statement {n}"))?;
        let rows = p.rows.iter().filter(|r| self.key.as_ref().is_none_or(|k| &r.key == k)).count();
        Ok(Value::Number(rows as f64))
    }

    /// The metric's value in a summary.
    pub fn measure(&self, s: &RunSummary) -> Result<Value, String> {
        let producers: Vec<_> = match &self.producer {
            Some(name) => {
                let p = s.producers.iter().find(|p| p.name == *name).ok_or_else(|| format!("no producer '{name}'"))?;
                vec![p]
            }
            None => s.producers.iter().collect(),
        };
        let sum = |f: &dyn Fn(&crate::summary::ProducerSummary) -> u64| -> Value {
            Value::Number(producers.iter().map(|p| f(p)).sum::<u64>() as f64)
        };
        let partition = || -> Result<&crate::summary::PartitionSummary, String> {
            let name = self.partition.as_deref().unwrap_or("");
            s.partition(name).ok_or_else(|| format!("no partition '{name}'"))
        };
        let replica_or_leader =
            |field: fn(&crate::summary::ReplicaSummary) -> u64, leader: u64| -> Result<Value, String> {
                let p = partition()?;
                match self.broker {
                    None => Ok(Value::Number(leader as f64)),
                    Some(b) => p
                        .replicas
                        .iter()
                        .find(|r| r.broker == b)
                        .map(|r| Value::Number(field(r) as f64))
                        .ok_or_else(|| format!("broker {b} has no replica of {}", p.partition)),
                }
            };
        Ok(match self.what.as_str() {
            "sent" => sum(&|p| p.sent),
            "acked" => sum(&|p| p.acked),
            "failed" => sum(&|p| p.failed),
            "unknown" => sum(&|p| p.unknown),
            "lost" => sum(&|p| p.lost),
            "duplicates" => sum(&|p| p.duplicates),
            "reordered" => sum(&|p| p.reordered),
            "failed_but_written" => sum(&|p| p.failed_but_written),
            "pending" => sum(&|p| p.pending),
            "failed_with" => {
                let e = self.error.clone().unwrap_or_default();
                sum(&|p| p.failed_by_error.get(&e).copied().unwrap_or(0))
            }
            "errors_seen" => {
                let e = self.error.clone().unwrap_or_default();
                Value::Number(s.produce_errors.get(&e).copied().unwrap_or(0) as f64)
            }
            "leader" => match partition()?.leader {
                Some(l) => Value::Number(l as f64),
                None => Value::Text("none".into()),
            },
            "leader_epoch" => Value::Number(partition()?.leader_epoch as f64),
            "isr" => {
                let mut v: Vec<f64> = partition()?.isr.iter().map(|&b| b as f64).collect();
                crate::collect::sort_by(&mut v, |a, b| a.total_cmp(b));
                Value::List(v)
            }
            "offline" => Value::Bool(partition()?.offline),
            "hw" => {
                let p = partition()?;
                replica_or_leader(|r| r.hw, p.hw)?
            }
            "leo" => {
                let p = partition()?;
                replica_or_leader(|r| r.leo, p.leo)?
            }
            "log_start" => {
                let p = partition()?;
                replica_or_leader(|r| r.log_start, p.log_start)?
            }
            "invariant" => {
                let name = self.invariant.as_deref().unwrap_or("");
                let i = s.invariant(name).ok_or_else(|| format!("no invariant '{name}'"))?;
                Value::Text(if i.held { "held".into() } else { "violated".into() })
            }
            "consumed" | "lag" => {
                let name = self.consumer.as_deref().unwrap_or("");
                let c = s.consumers.iter().find(|c| c.name == name).ok_or_else(|| format!("no consumer '{name}'"))?;
                if self.what == "consumed" {
                    Value::Number(c.consumed as f64)
                } else {
                    match &self.partition {
                        Some(p) => Value::Number(c.lag.get(p).copied().unwrap_or(0) as f64),
                        None => Value::Number(c.lag.values().sum::<u64>() as f64),
                    }
                }
            }
            "processed_once" | "processed_more_than_once" | "processed_never" => {
                let name = self.reader.as_deref().unwrap_or("");
                let d = s.deliveries.iter().find(|d| d.reader == name);
                let n = d
                    .map(|d| match self.what.as_str() {
                        "processed_once" => d.once,
                        "processed_more_than_once" => d.more_than_once,
                        _ => d.never,
                    })
                    .unwrap_or(0);
                Value::Number(n as f64)
            }
            "records_lag_max"
            | "assigned"
            | "commits"
            | "commit_failures"
            | "commit_rate"
            | "rebalances"
            | "rebalance_latency_max_ms"
            | "poll_timeouts"
            | "offset_resets" => {
                let name = self.consumer.as_deref().unwrap_or("");
                let c = s.consumers.iter().find(|c| c.name == name).ok_or_else(|| format!("no consumer '{name}'"))?;
                Value::Number(match self.what.as_str() {
                    "records_lag_max" => c.records_lag_max as f64,
                    "assigned" => c.assignment.len() as f64,
                    "commits" => c.commits as f64,
                    "commit_failures" => c.commit_failures as f64,
                    "commit_rate" => c.commit_rate,
                    "rebalances" => c.rebalances as f64,
                    "rebalance_latency_max_ms" => c.rebalance_latency_max_ms,
                    "poll_timeouts" => c.poll_timeouts as f64,
                    _ => c.offset_resets as f64,
                })
            }
            "group_state"
            | "generation"
            | "group_members"
            | "coordinator"
            | "committed"
            | "group_lag"
            | "paused_partition_ms"
            | "max_partitions_paused"
            | "stop_the_world_ms"
            | "double_ownership"
            | "offsets_topic_records" => {
                let name = self.group.as_deref().unwrap_or("");
                let g = s.groups.iter().find(|g| g.group == name).ok_or_else(|| format!("no group '{name}'"))?;
                match self.what.as_str() {
                    "group_state" => Value::Text(g.state.clone()),
                    "generation" => Value::Number(f64::from(g.generation)),
                    "group_members" => Value::Number(g.members.len() as f64),
                    "coordinator" => match g.coordinator {
                        Some(b) => Value::Number(f64::from(b)),
                        None => Value::Text("none".into()),
                    },
                    "committed" => {
                        let p = self.partition.as_deref().unwrap_or("");
                        match g.committed.get(p) {
                            Some(o) => Value::Number(*o as f64),
                            None => Value::Text("none".into()),
                        }
                    }
                    "group_lag" => match &self.partition {
                        Some(p) => Value::Number(g.lag.get(p).copied().unwrap_or(0) as f64),
                        None => Value::Number(g.lag.values().sum::<u64>() as f64),
                    },
                    "paused_partition_ms" => Value::Number(g.paused_partition_ms),
                    "max_partitions_paused" => Value::Number(f64::from(g.max_partitions_paused)),
                    "stop_the_world_ms" => Value::Number(g.stop_the_world_ms),
                    "double_ownership" => Value::Number(g.double_ownership as f64),
                    _ => Value::Number(g.offsets_topic_records as f64),
                }
            }
            "records_in_log" => Value::Number(partition()?.records as f64),
            "segments" => Value::Number(f64::from(partition()?.segments)),
            "keys" => Value::Number(partition()?.keys as f64),
            "tombstones" => Value::Number(partition()?.tombstones as f64),
            "cleaned_to" => Value::Number(partition()?.cleaned_to as f64),
            "broker_status" => {
                let b = self.broker.unwrap_or(0);
                let br = s.brokers.iter().find(|x| x.id == b).ok_or_else(|| format!("no broker {b}"))?;
                Value::Text(format!("{:?}", br.status))
            }
            "unclean_elections" => Value::Number(s.unclean_elections as f64),
            "leader_elections" => Value::Number(s.leader_elections as f64),
            "isr_shrinks" => Value::Number(s.isr_shrinks as f64),
            "isr_expansions" => Value::Number(s.isr_expansions as f64),
            "truncated_records" => Value::Number(s.truncated_records as f64),
            "schema_versions" => {
                let name = self.subject.as_deref().unwrap_or("");
                let r = s.schema_registry.as_ref().ok_or("this run has no schema registry")?;
                Value::Number(
                    r.subjects.iter().find(|x| x.subject == name).map(|x| x.versions.len()).unwrap_or(0) as f64
                )
            }
            "schema_refusals" => Value::Number(s.schema_registry.as_ref().map(|r| r.refusals).unwrap_or(0) as f64),
            "partition_of_key" => {
                // The default partitioner on a string key (StringSerializer: UTF-8 bytes),
                // with the topic's partition count as the run ended.
                let topic = self.topic.as_deref().unwrap_or("");
                let key = self.key.as_deref().unwrap_or("");
                let count = s
                    .partitions
                    .iter()
                    .filter(|p| {
                        p.partition
                            .rsplit_once('-')
                            .is_some_and(|(t, n)| t == topic && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                    })
                    .count();
                if count == 0 {
                    return Err(format!("no topic '{topic}'"));
                }
                let n = u32::try_from(count).map_err(|_| format!("topic '{topic}' has too many partitions"))?;
                Value::Number(f64::from(crate::producer::partitioner::partition_for_key(key.as_bytes(), n)))
            }
            "app_processed" | "app_reprocessed" | "app_restored" | "app_dropped" | "app_tasks" | "store_value"
            | "store_entries" | "store_sum" | "output_value" | "output_records" => {
                let name = self.app.as_deref().unwrap_or("");
                let a = s
                    .streams
                    .iter()
                    .find(|a| a.application_id == name)
                    .ok_or_else(|| format!("no streams application '{name}'"))?;
                let store = || -> Result<&Vec<crate::summary::StoreRow>, String> {
                    let st = self.store.as_deref().unwrap_or("");
                    a.stores.get(st).ok_or_else(|| format!("application '{name}' has no store '{st}'"))
                };
                let output = || -> Result<&Vec<crate::summary::TopicKeySummary>, String> {
                    let t = self.topic.as_deref().unwrap_or("");
                    a.outputs.get(t).ok_or_else(|| format!("'{t}' is not an output topic of application '{name}'"))
                };
                let text = |v: &str| match v.parse::<f64>() {
                    Ok(n) => Value::Number(n),
                    Err(_) => Value::Text(v.to_string()),
                };
                match self.what.as_str() {
                    "app_processed" => Value::Number(a.processed as f64),
                    "app_reprocessed" => Value::Number(a.reprocessed as f64),
                    "app_restored" => Value::Number(a.restored as f64),
                    "app_dropped" => Value::Number(a.dropped as f64),
                    "app_tasks" => Value::Number(match &self.consumer {
                        Some(c) => a
                            .instances
                            .iter()
                            .find(|i| &i.name == c)
                            .ok_or_else(|| format!("no instance '{c}' in application '{name}'"))?
                            .tasks
                            .len(),
                        None => a.instances.iter().map(|i| i.tasks.len()).sum(),
                    } as f64),
                    "store_value" => {
                        let key = self.key.as_deref().unwrap_or("");
                        let row = store()?.iter().find(|r| {
                            r.key == key && (self.window_start.is_none() || r.window_start == self.window_start)
                        });
                        match row {
                            Some(r) => text(&r.value),
                            None => Value::Text("none".into()),
                        }
                    }
                    "store_entries" => Value::Number(store()?.len() as f64),
                    // The total of a count or sum store: with one update per input record,
                    // what processing each record exactly once gives.
                    "store_sum" => {
                        let mut total = 0.0;
                        for r in store()? {
                            total += r.value.parse::<f64>().map_err(|_| {
                                format!("store_sum: the value of key '{}' is not a number: {}", r.key, r.value)
                            })?;
                        }
                        Value::Number(total)
                    }
                    "output_value" => {
                        let key = self.key.as_deref().unwrap_or("");
                        match output()?.iter().find(|k| k.key == key).and_then(|k| k.last_value.as_deref()) {
                            Some(v) => text(v),
                            None => Value::Text("none".into()),
                        }
                    }
                    _ => Value::Number(match &self.key {
                        Some(key) => output()?.iter().find(|k| &k.key == key).map(|k| k.records).unwrap_or(0),
                        None => output()?.iter().map(|k| k.records).sum(),
                    } as f64),
                }
            }
            "ksql_rows" | "ksql_query_state" => self.measure_ksql(s)?,
            "connector_records"
            | "connector_duplicates"
            | "connector_tasks_running"
            | "sink_rows"
            | "sink_duplicates"
            | "sink_redelivered" => {
                let name = self.connector.as_deref().unwrap_or("");
                let c = s.connectors.iter().find(|c| c.name == name).ok_or_else(|| format!("no connector '{name}'"))?;
                if self.what.starts_with("sink_") && c.kind != "sink" {
                    return Err(format!("'{}' measures a sink connector; '{name}' is a {}", self.what, c.kind));
                }
                Value::Number(match self.what.as_str() {
                    "connector_records" => c.records,
                    "connector_duplicates" | "sink_duplicates" => c.duplicates,
                    "connector_tasks_running" => c.tasks.iter().filter(|t| t.state == "RUNNING").count() as u64,
                    "sink_rows" => c.rows(),
                    _ => c.redelivered,
                } as f64)
            }
            m if is_streams_metric(m) => {
                return Err(format!("'{m}' is answered by a lesson's [streams] test-driver run, not by a scenario"))
            }
            "records_deserialized"
            | "deserialization_failures"
            | "schema_fetches"
            | "records_with_defaults"
            | "last_value"
            | "last_key"
            | "last_offset_read"
            | "position" => {
                let name = self.consumer.as_deref().unwrap_or("");
                let c = s.consumers.iter().find(|c| c.name == name).ok_or_else(|| format!("no consumer '{name}'"))?;
                let last = || c.last_read.as_ref().ok_or_else(|| format!("consumer '{name}' deserialized no record"));
                match self.what.as_str() {
                    "records_deserialized" => Value::Number(c.records_deserialized as f64),
                    "deserialization_failures" => Value::Number(c.deserialization_failures as f64),
                    "schema_fetches" => Value::Number(c.schema_fetches as f64),
                    "records_with_defaults" => Value::Number(c.records_with_defaults as f64),
                    "last_offset_read" => Value::Number(last()?.offset as f64),
                    "position" => {
                        let p = self.partition.as_deref().unwrap_or("");
                        match c.positions.get(p) {
                            Some(o) => Value::Number(*o as f64),
                            None => Value::Text("none".into()),
                        }
                    }
                    side => {
                        let l = last()?;
                        let json = if side == "last_value" { &l.value } else { &l.key };
                        let json =
                            json.as_ref().ok_or_else(|| format!("the last record's {} was not decoded", &side[5..]))?;
                        let v = match &self.field {
                            // A field the reader does not have (a v1 reader never sees v2's
                            // new fields) measures as "absent".
                            Some(f) => match crate::consumer::deserializer::field_of(json, f) {
                                Some(v) => v,
                                None => return Ok(Value::Text("absent".into())),
                            },
                            None => json,
                        };
                        match v {
                            serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
                            serde_json::Value::Bool(b) => Value::Bool(*b),
                            serde_json::Value::String(t) => Value::Text(t.clone()),
                            other => Value::Text(other.to_string()),
                        }
                    }
                }
            }
            other => return Err(format!("unknown metric '{other}'")),
        })
    }

    fn matches(&self, actual: &Value) -> bool {
        if let Some(expected) = &self.equals {
            return match (expected, actual) {
                (toml::Value::Integer(i), Value::Number(n)) => *i as f64 == *n,
                (toml::Value::Float(x), Value::Number(n)) => *x == *n,
                (toml::Value::String(t), Value::Text(a)) => t.eq_ignore_ascii_case(a),
                (toml::Value::String(t), Value::Number(n)) => t.parse::<f64>().map(|x| x == *n).unwrap_or(false),
                (toml::Value::Boolean(b), Value::Bool(a)) => b == a,
                (toml::Value::Array(items), Value::List(a)) => {
                    let mut want: Vec<f64> = items.iter().filter_map(|v| v.as_integer().map(|i| i as f64)).collect();
                    crate::collect::sort_by(&mut want, |x, y| x.total_cmp(y));
                    want.len() == items.len() && want == *a
                }
                _ => false,
            };
        }
        let Value::Number(n) = actual else {
            return false;
        };
        self.min.map(|lo| *n >= lo).unwrap_or(true) && self.max.map(|hi| *n <= hi).unwrap_or(true)
    }

    pub fn evaluate(&self, s: &RunSummary) -> ExpectationResult {
        let (actual, passed) = match self.measure(s) {
            Ok(v) => {
                let ok = self.matches(&v);
                (v.to_string(), ok)
            }
            Err(e) => (format!("error: {e}"), false),
        };
        ExpectationResult {
            line: self.line,
            what: self.subject(),
            expected: self.expected(),
            actual,
            passed,
            why: self.why.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::run::execute;
    use crate::scenario::Scenario;

    fn summary_of(text: &str) -> RunSummary {
        let s = Scenario::parse("t.toml", text).unwrap();
        execute(&s, s.seed, None, |_, _| {}).unwrap().1.summary
    }

    fn expectation(toml_text: &str) -> Expectation {
        toml::from_str(toml_text).unwrap()
    }

    const KEYED: &str = r#"
name = "t"
duration_ms = 3000
[cluster]
brokers = 1
[[topic]]
name = "rides"
partitions = 3
[[topic]]
name = "rides_6"
partitions = 6
[[producer]]
name = "p"
[[at]]
at_ms = 100
action = "produce"
producer = "p"
topic = "rides"
count = 10
key = "fixed:75"
[[at]]
at_ms = 100
action = "produce"
producer = "p"
topic = "rides_6"
count = 10
key = "fixed:75"
"#;

    #[test]
    fn partition_of_key_is_where_the_producer_actually_put_the_key() {
        let s = summary_of(KEYED);
        for (topic, n) in [("rides", 3u32), ("rides_6", 6)] {
            let e = expectation(&format!("what = \"partition_of_key\"\ntopic = \"{topic}\"\nkey = \"75\""));
            let Value::Number(p) = e.measure(&s).unwrap() else { panic!("not a number") };
            assert_eq!(p as u32, crate::producer::partitioner::partition_for_key(b"75", n));
            // All ten records of key 75 sit in that partition, none elsewhere.
            let leo = |i: u32| s.partition(&format!("{topic}-{i}")).unwrap().leo;
            assert_eq!(leo(p as u32), 10, "{topic}");
            assert_eq!((0..n).map(leo).sum::<u64>(), 10);
        }
    }

    #[test]
    fn partition_of_key_needs_an_existing_topic_and_does_not_confuse_prefixes() {
        let s = summary_of(KEYED);
        let e = expectation("what = \"partition_of_key\"\ntopic = \"ride\"\nkey = \"75\"");
        assert!(e.measure(&s).unwrap_err().contains("no topic 'ride'"));
        let e = expectation("what = \"partition_of_key\"\ntopic = \"rides\"");
        assert!(e.validate_metric().unwrap_err().contains("needs key"));
    }

    #[test]
    fn streams_metrics_are_refused_on_a_cluster_run() {
        let s = summary_of(KEYED);
        let e = expectation("what = \"streams_dropped\"\nequals = 0");
        assert!(e.validate().is_ok());
        assert!(e.measure(&s).unwrap_err().contains("[streams]"));
        assert!(!e.evaluate(&s).passed);
    }
}
