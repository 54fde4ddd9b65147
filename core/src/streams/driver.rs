//! The sandbox's `TopologyTestDriver`: pipes records through the tasks of a topology (one
//! partition, no caching, records written to repartition topics fed straight back) and
//! collects what comes out. `run_json` implements the `kafka-sandbox streams` input format.
use super::error::{StreamsError, TopologyError};
use super::task::{InputRecord, OutputRecord, PeekEvent, Task, TaskConfig};
use super::topology::{JoinKind, Step, TimestampSpec, Topology, TopologySpec};
use super::value::Value;
use super::window::{EmitStrategy, JoinWindowSpec, WindowSpec};
use serde::Serialize;
use serde_json::{Map as JsonMap, Value as Json};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// At most this many input records in one test-driver run.
pub const MAX_INPUT_RECORDS: usize = 1_000_000;
/// At most this many records (inputs plus repartitioned records) processed per piped record.
pub const MAX_RECORDS_PER_PIPE: usize = 100_000;

/// An error with the place in the input where it was found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DriverError {
    pub location: String,
    pub message: String,
}

impl std::fmt::Display for DriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.location.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.location, self.message)
        }
    }
}

impl From<TopologyError> for DriverError {
    fn from(e: TopologyError) -> DriverError {
        DriverError { location: e.location, message: e.message }
    }
}

fn err(location: impl Into<String>, message: impl Into<String>) -> DriverError {
    DriverError { location: location.into(), message: message.into() }
}

/// What one `pipe` produced.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Piped {
    /// Records written to output topics, in the order they were produced.
    pub records: Vec<OutputRecord>,
    /// Records skipped (`dropped-records`).
    pub dropped: usize,
    pub peeks: Vec<PeekEvent>,
}

/// Drives all sub-topologies of a topology on partition 0.
#[derive(Clone, Debug)]
pub struct TestDriver {
    topology: Arc<Topology>,
    tasks: Vec<Task>,
    offsets: BTreeMap<String, i64>,
    now: i64,
}

impl TestDriver {
    /// A driver with the emit throttles off (`TaskConfig::test_driver`).
    pub fn new(topology: Topology) -> TestDriver {
        TestDriver::with_config(topology, TaskConfig::test_driver())
    }

    pub fn with_config(topology: Topology, config: TaskConfig) -> TestDriver {
        let topology = Arc::new(topology);
        let tasks =
            (0..topology.subtopologies.len()).map(|s| Task::new(Arc::clone(&topology), s, 0, config.clone())).collect();
        TestDriver { topology, tasks, offsets: BTreeMap::new(), now: 0 }
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// The task of a sub-topology (for its stores).
    pub fn task(&self, subtopology: usize) -> Option<&Task> {
        self.tasks.get(subtopology)
    }

    /// Moves the simulated wall clock (processing time) forward.
    pub fn advance_wall_clock(&mut self, ms: i64) {
        self.now = self.now.saturating_add(ms.max(0));
    }

    fn next_offset(&mut self, topic: &str) -> i64 {
        let o = self.offsets.entry(topic.to_string()).or_insert(0);
        let offset = *o;
        *o += 1;
        offset
    }

    /// The sub-topologies that read `topic` (several for a global table's topic).
    fn readers(&self, topic: &str) -> Vec<usize> {
        match self.topology.subtopology_of(topic) {
            Some(s) => vec![s],
            None if self.topology.global_sources.contains_key(topic) => self
                .topology
                .subtopologies
                .iter()
                .filter(|s| s.global_stores.values().any(|t| t == topic))
                .map(|s| s.id)
                .collect(),
            None => Vec::new(),
        }
    }

    /// Pipes one record into `topic`.
    pub fn pipe(&mut self, topic: &str, key: Value, value: Value, timestamp: i64) -> Result<Piped, StreamsError> {
        let targets = self.readers(topic);
        if targets.is_empty() && !self.topology.global_sources.contains_key(topic) {
            return Err(StreamsError::UnknownTopic { topic: topic.to_string() });
        }
        let offset = self.next_offset(topic);
        let mut queue: VecDeque<(usize, InputRecord)> = targets
            .into_iter()
            .map(|s| {
                (
                    s,
                    InputRecord {
                        topic: topic.to_string(),
                        partition: 0,
                        offset,
                        key: key.clone(),
                        value: value.clone(),
                        timestamp,
                    },
                )
            })
            .collect();
        let mut piped = Piped::default();
        let mut processed = 0usize;
        while let Some((sub, record)) = queue.pop_front() {
            processed += 1;
            if processed > MAX_RECORDS_PER_PIPE {
                return Err(StreamsError::OutputLimit { limit: MAX_RECORDS_PER_PIPE });
            }
            let Some(task) = self.tasks.get_mut(sub) else {
                continue;
            };
            let out = task.process(&record, self.now)?;
            piped.dropped += out.dropped.len();
            piped.peeks.extend(out.peeks);
            for r in out.records {
                // Like TopologyTestDriver, records written to a topic the topology reads
                // (repartition topics, or a user topic read back) are processed right away.
                let readers = self.readers(&r.topic);
                if !readers.is_empty() {
                    let offset = self.next_offset(&r.topic);
                    for next in readers {
                        queue.push_back((
                            next,
                            InputRecord {
                                topic: r.topic.clone(),
                                partition: 0,
                                offset,
                                key: r.key.clone(),
                                value: r.value.clone(),
                                timestamp: r.timestamp,
                            },
                        ));
                    }
                }
                if !r.internal {
                    piped.records.push(r);
                }
            }
        }
        Ok(piped)
    }
}

// ---------------------------------------------------------------------------------------
// The `kafka-sandbox streams` input format

/// The shape of the test driver's output records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Windowed,
    KeyValue,
    General,
}

fn check_fields(obj: &JsonMap<String, Json>, loc: &str, allowed: &[&str]) -> Result<(), DriverError> {
    for k in obj.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(err(loc, format!("unknown field \"{k}\" (expected: {})", allowed.join(", "))));
        }
    }
    Ok(())
}

fn get_i64(obj: &JsonMap<String, Json>, loc: &str, field: &str, default: Option<i64>) -> Result<i64, DriverError> {
    match obj.get(field) {
        Some(v) => v
            .as_i64()
            .ok_or_else(|| err(format!("{loc}.{field}"), format!("must be an integer (milliseconds), got {v}"))),
        None => default.ok_or_else(|| err(loc, format!("missing field \"{field}\""))),
    }
}

fn join_kind(obj: &JsonMap<String, Json>, loc: &str) -> Result<JoinKind, DriverError> {
    match obj.get("join").and_then(Json::as_str) {
        Some("inner") => Ok(JoinKind::Inner),
        Some("left") => Ok(JoinKind::Left),
        Some("outer") => Ok(JoinKind::Outer),
        Some(other) => {
            Err(err(format!("{loc}.join"), format!("unknown join \"{other}\" (expected inner, left or outer)")))
        }
        None => Err(err(loc, "missing field \"join\" (inner, left or outer)")),
    }
}

const JOINER: &str = "concat(left, \"+\", right)";

/// Builds the topology for one of the driver's ops, or reads a full `TopologySpec`.
fn topology_from_json(t: &Json) -> Result<(TopologySpec, Shape), DriverError> {
    let loc = "topology";
    let Some(obj) = t.as_object() else {
        return Err(err(loc, "must be an object"));
    };
    if !obj.contains_key("op") && obj.contains_key("steps") {
        let spec = TopologySpec::from_json_value(t).map_err(|e| DriverError::from(e.at(loc)))?;
        return Ok((spec, Shape::General));
    }
    let op = match obj.get("op") {
        Some(Json::String(s)) => s.as_str(),
        Some(other) => return Err(err(format!("{loc}.op"), format!("must be a string, got {other}"))),
        None => {
            return Err(err(loc, "missing field \"op\" (windowed_aggregate, stream_stream_join or table_table_join)"))
        }
    };
    let app = "kafka-sandbox-streams".to_string();
    match op {
        "windowed_aggregate" => {
            check_fields(obj, loc, &["op", "window", "aggregate", "emit"])?;
            let window_json = obj.get("window").ok_or_else(|| err(loc, "missing field \"window\""))?;
            let window: WindowSpec =
                serde_json::from_value(window_json.clone()).map_err(|e| err(format!("{loc}.window"), e.to_string()))?;
            window.validate().map_err(|e| DriverError::from(e.at(&format!("{loc}.window"))))?;
            let emit = match obj.get("emit") {
                None => EmitStrategy::OnWindowUpdate,
                Some(Json::String(s)) if s == "on_window_update" => EmitStrategy::OnWindowUpdate,
                Some(Json::String(s)) if s == "on_window_close" => EmitStrategy::OnWindowClose,
                Some(other) => {
                    return Err(err(
                        format!("{loc}.emit"),
                        format!("must be \"on_window_update\" or \"on_window_close\", got {other}"),
                    ))
                }
            };
            let agg_loc = format!("{loc}.aggregate");
            let agg = obj.get("aggregate").and_then(Json::as_object).ok_or_else(|| {
                err(&agg_loc, "must be {\"count\": {}} or {\"concat\": {\"initial\": ..., \"separator\": ...}}")
            })?;
            if agg.len() != 1 {
                return Err(err(&agg_loc, "must have exactly one of \"count\" or \"concat\""));
            }
            let aggregate = if let Some(c) = agg.get("count") {
                let c = c.as_object().ok_or_else(|| err(format!("{agg_loc}.count"), "must be an object ({})"))?;
                check_fields(c, &format!("{agg_loc}.count"), &[])?;
                Step::Count { name: "aggregate".into(), input: "windowed".into(), store: None }
            } else if let Some(c) = agg.get("concat") {
                let cl = format!("{agg_loc}.concat");
                let c = c.as_object().ok_or_else(|| err(&cl, "must be an object"))?;
                check_fields(c, &cl, &["initial", "separator"])?;
                let s = |f: &str| -> Result<String, DriverError> {
                    match c.get(f) {
                        Some(Json::String(s)) => Ok(s.clone()),
                        None => Ok(String::new()),
                        Some(other) => Err(err(format!("{cl}.{f}"), format!("must be a string, got {other}"))),
                    }
                };
                Step::Concat {
                    name: "aggregate".into(),
                    input: "windowed".into(),
                    initial: s("initial")?,
                    separator: s("separator")?,
                    store: None,
                }
            } else {
                let k = agg.keys().next().cloned().unwrap_or_default();
                return Err(err(&agg_loc, format!("unknown aggregate \"{k}\" (expected count or concat)")));
            };
            let spec = TopologySpec {
                application_id: app,
                steps: vec![
                    Step::Stream {
                        name: "input".into(),
                        topics: vec!["input".into()],
                        timestamp: TimestampSpec::Record,
                    },
                    Step::GroupByKey { name: "grouped".into(), input: "input".into() },
                    Step::WindowedBy { name: "windowed".into(), input: "grouped".into(), window, emit },
                    aggregate,
                    Step::ToStream { name: "result".into(), input: "aggregate".into() },
                    Step::To { input: "result".into(), topic: "output".into() },
                ],
            };
            Ok((spec, Shape::Windowed))
        }
        "stream_stream_join" => {
            check_fields(obj, loc, &["op", "join", "before_ms", "after_ms", "grace_ms"])?;
            let kind = join_kind(obj, loc)?;
            let window = JoinWindowSpec {
                before_ms: get_i64(obj, loc, "before_ms", None)?,
                after_ms: get_i64(obj, loc, "after_ms", None)?,
                grace_ms: get_i64(obj, loc, "grace_ms", Some(0))?,
            };
            window.validate().map_err(|e| DriverError::from(e.at(loc)))?;
            let spec = TopologySpec {
                application_id: app,
                steps: vec![
                    Step::Stream { name: "left".into(), topics: vec!["left".into()], timestamp: TimestampSpec::Record },
                    Step::Stream {
                        name: "right".into(),
                        topics: vec!["right".into()],
                        timestamp: TimestampSpec::Record,
                    },
                    Step::Join {
                        name: "joined".into(),
                        left: "left".into(),
                        right: "right".into(),
                        kind,
                        window: Some(window),
                        joiner: Some(JOINER.into()),
                        key: None,
                    },
                    Step::To { input: "joined".into(), topic: "output".into() },
                ],
            };
            Ok((spec, Shape::KeyValue))
        }
        "table_table_join" => {
            check_fields(obj, loc, &["op", "join"])?;
            let kind = join_kind(obj, loc)?;
            let spec = TopologySpec {
                application_id: app,
                steps: vec![
                    Step::Table {
                        name: "left".into(),
                        topic: "left".into(),
                        store: None,
                        timestamp: TimestampSpec::Record,
                    },
                    Step::Table {
                        name: "right".into(),
                        topic: "right".into(),
                        store: None,
                        timestamp: TimestampSpec::Record,
                    },
                    Step::Join {
                        name: "joined".into(),
                        left: "left".into(),
                        right: "right".into(),
                        kind,
                        window: None,
                        joiner: Some(JOINER.into()),
                        key: None,
                    },
                    Step::ToStream { name: "result".into(), input: "joined".into() },
                    Step::To { input: "result".into(), topic: "output".into() },
                ],
            };
            Ok((spec, Shape::KeyValue))
        }
        other => Err(err(
            format!("{loc}.op"),
            format!("unknown op \"{other}\" (expected windowed_aggregate, stream_stream_join or table_table_join)"),
        )),
    }
}

/// One output record of the test driver, fields in the documented order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DriverRecord {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    pub key: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_start: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_end: Option<i64>,
    pub value: Value,
    pub ts: i64,
}

/// What `kafka-sandbox streams` prints.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DriverResult {
    pub output: Vec<DriverRecord>,
    pub dropped: usize,
}

fn output_record(r: OutputRecord, shape: Shape) -> DriverRecord {
    let window = if shape == Shape::KeyValue { None } else { r.window };
    DriverRecord {
        topic: (shape == Shape::General).then_some(r.topic),
        key: r.key,
        window_start: window.map(|w| w.start),
        window_end: window.map(|w| w.end),
        value: r.value,
        ts: r.timestamp,
    }
}

/// Runs the `kafka-sandbox streams` format: `{"topology": ..., "input": [...]}` ->
/// `{"output": [...], "dropped": N}`. `topology` is one of the ops (`windowed_aggregate`,
/// `stream_stream_join`, `table_table_join`) or a full `TopologySpec` (with `steps`).
pub fn run_json(text: &str) -> Result<DriverResult, DriverError> {
    let doc: Json = serde_json::from_str(text)
        .map_err(|e| err(format!("line {} column {}", e.line(), e.column()), format!("invalid JSON: {e}")))?;
    let Some(obj) = doc.as_object() else {
        return Err(err("", "the input must be a JSON object {\"topology\": ..., \"input\": [...]}"));
    };
    check_fields(obj, "", &["topology", "input"])?;
    let topo_json = obj.get("topology").ok_or_else(|| err("", "missing field \"topology\""))?;
    let (spec, shape) = topology_from_json(topo_json)?;
    let topology = spec.compile_for_test_driver().map_err(|e| {
        let mut d = DriverError::from(e);
        d.location = if d.location.is_empty() { "topology".into() } else { format!("topology.{}", d.location) };
        d
    })?;
    let input = match obj.get("input") {
        Some(Json::Array(a)) => a,
        Some(other) => return Err(err("input", format!("must be an array, got {other}"))),
        None => return Err(err("", "missing field \"input\"")),
    };
    if input.len() > MAX_INPUT_RECORDS {
        return Err(err("input", format!("more than {MAX_INPUT_RECORDS} records")));
    }
    let sources = topology.source_topics();
    // Validate every record before running, so a bad record late in the file is reported
    // without partial output.
    let mut records = Vec::with_capacity(input.len());
    for (i, r) in input.iter().enumerate() {
        let loc = format!("input[{i}]");
        let Some(o) = r.as_object() else {
            return Err(err(loc, "must be an object {\"topic\", \"key\", \"value\", \"ts\"}"));
        };
        check_fields(o, &loc, &["topic", "key", "value", "ts"])?;
        let topic = match o.get("topic") {
            Some(Json::String(t)) => t.clone(),
            Some(other) => return Err(err(format!("{loc}.topic"), format!("must be a string, got {other}"))),
            None => return Err(err(loc, "missing field \"topic\"")),
        };
        if !sources.contains(&topic) {
            let list: Vec<&str> = sources.iter().map(String::as_str).collect();
            return Err(err(
                format!("{loc}.topic"),
                format!("\"{topic}\" is not a source topic of this topology (expected one of: {})", list.join(", ")),
            ));
        }
        let ts = match o.get("ts") {
            Some(v) => v
                .as_i64()
                .ok_or_else(|| err(format!("{loc}.ts"), format!("must be an integer (epoch milliseconds), got {v}")))?,
            None => return Err(err(loc, "missing field \"ts\"")),
        };
        let key = o.get("key").map(Value::from_json).unwrap_or(Value::Null);
        let value = o.get("value").map(Value::from_json).unwrap_or(Value::Null);
        records.push((topic, key, value, ts));
    }
    let mut driver = TestDriver::new(topology);
    let mut output = Vec::new();
    let mut dropped = 0usize;
    for (i, (topic, key, value, ts)) in records.into_iter().enumerate() {
        let piped = driver.pipe(&topic, key, value, ts).map_err(|e| err(format!("input[{i}]"), e.to_string()))?;
        dropped += piped.dropped;
        output.extend(piped.records.into_iter().map(|r| output_record(r, shape)));
    }
    Ok(DriverResult { output, dropped })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(text: &str) -> Json {
        serde_json::to_value(run_json(text).unwrap()).unwrap()
    }

    #[test]
    fn tumbling_count_with_a_late_record() {
        let out = run(r#"{"topology": {"op": "windowed_aggregate",
            "window": {"type": "tumbling", "size_ms": 10, "grace_ms": 5},
            "aggregate": {"count": {}}, "emit": "on_window_update"},
          "input": [
            {"topic": "input", "key": "a", "value": "x", "ts": 1},
            {"topic": "input", "key": "a", "value": "y", "ts": 12},
            {"topic": "input", "key": "a", "value": "z", "ts": 3},
            {"topic": "input", "key": "a", "value": "w", "ts": 16},
            {"topic": "input", "key": "a", "value": "v", "ts": 4},
            {"topic": "input", "key": null, "value": "n", "ts": 17}]}"#);
        assert_eq!(
            out,
            json!({"output": [
                {"key": "a", "window_start": 0, "window_end": 10, "value": 1, "ts": 1},
                {"key": "a", "window_start": 10, "window_end": 20, "value": 1, "ts": 12},
                {"key": "a", "window_start": 0, "window_end": 10, "value": 2, "ts": 3},
                {"key": "a", "window_start": 10, "window_end": 20, "value": 2, "ts": 16}],
              "dropped": 2})
        );
    }

    #[test]
    fn records_written_to_a_topic_the_topology_reads_are_processed_and_loops_are_bounded() {
        let spec: TopologySpec = serde_json::from_value(json!({"application_id": "t", "steps": [
            {"op": "stream", "name": "a", "topics": ["a"]},
            {"op": "filter", "name": "small", "input": "a", "predicate": "value < 3"},
            {"op": "map_values", "name": "next", "input": "small", "value": "value + 1"},
            {"op": "to", "input": "next", "topic": "a"}]}))
        .unwrap();
        let mut d = TestDriver::new(spec.compile_for_test_driver().unwrap());
        let p = d.pipe("a", Value::Null, Value::Int(0), 1).unwrap();
        let values: Vec<Value> = p.records.iter().map(|r| r.value.clone()).collect();
        assert_eq!(values, vec![Value::Int(1), Value::Int(2), Value::Int(3)]);
        let spec: TopologySpec = serde_json::from_value(json!({"application_id": "t", "steps": [
            {"op": "stream", "name": "a", "topics": ["a"]},
            {"op": "to", "input": "a", "topic": "a"}]}))
        .unwrap();
        let mut d = TestDriver::new(spec.compile_for_test_driver().unwrap());
        let e = d.pipe("a", Value::Null, Value::Int(0), 1).unwrap_err();
        assert_eq!(e, StreamsError::OutputLimit { limit: MAX_RECORDS_PER_PIPE });
    }

    #[test]
    fn errors_name_the_location() {
        let e = run_json(
            r#"{"topology": {"op": "windowed_aggregate",
            "window": {"type": "tumbling", "size_ms": 0, "grace_ms": 5},
            "aggregate": {"count": {}}}, "input": []}"#,
        )
        .unwrap_err();
        assert_eq!(e.location, "topology.window.size_ms");
        let e = run_json(r#"{"topology": {"op": "nope"}, "input": []}"#).unwrap_err();
        assert_eq!(e.location, "topology.op");
        let e = run_json(
            r#"{"topology": {"op": "table_table_join", "join": "inner"},
            "input": [{"topic": "left", "key": "a", "value": "x", "ts": "soon"}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.location, "input[0].ts");
        let e = run_json(
            r#"{"topology": {"op": "table_table_join", "join": "inner"},
            "input": [{"topic": "input", "key": "a", "value": "x", "ts": 1}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.location, "input[0].topic");
        let e = run_json("{\"topology\": ").unwrap_err();
        assert!(e.location.starts_with("line 1"));
    }
}

/// Helpers for the engine's unit tests: run a spec on records and print outputs compactly.
#[cfg(test)]
pub(crate) mod testkit {
    use super::*;

    /// `(topic, key, value, ts)`; `"~"` stands for null in keys and values.
    pub type In<'a> = (&'a str, &'a str, &'a str, i64);

    fn v(s: &str) -> Value {
        if s == "~" {
            Value::Null
        } else {
            Value::str(s)
        }
    }

    /// Outputs as `key [start,end] value @ts` (window omitted when absent), and the drop count.
    pub fn drive(spec: serde_json::Value, input: &[In<'_>]) -> (Vec<String>, usize) {
        let spec: TopologySpec = serde_json::from_value(spec).unwrap();
        let mut d = TestDriver::new(spec.compile_for_test_driver().unwrap());
        let mut out = Vec::new();
        let mut dropped = 0;
        for (topic, key, value, ts) in input {
            let p = d.pipe(topic, v(key), v(value), *ts).unwrap();
            dropped += p.dropped;
            for r in p.records {
                let w = r.window.map(|w| format!(" [{},{}]", w.start, w.end)).unwrap_or_default();
                out.push(format!("{}{w} {} @{}", r.key.to_java_string(), r.value.to_java_string(), r.timestamp));
            }
        }
        (out, dropped)
    }

    /// A windowed aggregation of topic `in` written to `out`.
    pub fn windowed(window: serde_json::Value, agg: &str, emit: &str) -> serde_json::Value {
        let agg_step = match agg {
            "count" => serde_json::json!({"op": "count", "name": "agg", "input": "w"}),
            _ => {
                serde_json::json!({"op": "concat", "name": "agg", "input": "w", "initial": "", "separator": agg})
            }
        };
        serde_json::json!({"application_id": "t", "steps": [
            {"op": "stream", "name": "s", "topics": ["in"]},
            {"op": "group_by_key", "name": "g", "input": "s"},
            {"op": "windowed_by", "name": "w", "input": "g", "window": window, "emit": emit},
            agg_step,
            {"op": "to_stream", "name": "r", "input": "agg"},
            {"op": "to", "input": "r", "topic": "out"}]})
    }
}
