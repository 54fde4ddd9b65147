//! Lessons: a course part told around a scenario the learner runs, predicts and breaks.
//!
//! A lesson is a TOML file next to the scenarios (`scenarios/lessons/*.toml`), so an
//! instructor adds one without touching Rust. Each question's right answer is not written in
//! the file: it is a metric measured on the scenario's run (the same metrics scenario
//! expectations use), so the answer is whatever the simulation actually does. A "break it"
//! exercise adds fault actions to the scenario and states what must then be observed. The
//! lint checks all of it: goals present, scenario loads, every answer computes, every
//! choice question's answer is among its choices, the break-it expectations hold.
//!
//! A lesson may also carry Kafka Streams test-driver runs (`[streams.NAME]`: a topology, or
//! ksqlDB statements, and its input, literal or generated taxi rides); questions with a
//! `streams_*` metric are answered by that run's output, the way `TopologyTestDriver` would
//! show it (for ksqlDB: the output of the run's last persistent query, or of `query`).
use crate::action::Action;
use crate::scenario::expect::{is_streams_metric, Expectation, Value};
use crate::scenario::run::{execute, judge, Verdict};
use crate::scenario::{Scenario, ScenarioError};
use crate::sim::time::SimTime;
use crate::streams::driver::{run_json, DriverResult};
use crate::streams::ksql;
use crate::streams::taxi::{generate_rides, TaxiConfig};
use crate::summary::RunSummary;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// At most this many generated taxi rides per streams run (keeps lint and grading fast).
pub const MAX_TAXI_RIDES: usize = 10_000;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LessonMeta {
    /// Short identifier, unique among lessons.
    pub id: String,
    /// The course part it follows, e.g. `6.6` (or `extra` for lessons beyond the course).
    pub module: String,
    /// Position in the lesson list.
    pub order: u32,
    pub title: String,
    /// Scenario file, relative to `scenarios/`.
    pub scenario: String,
    pub goals: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub heading: String,
    /// Markdown (rendered as text by the app: no HTML).
    pub text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    Number,
    Choice,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub id: String,
    pub prompt: String,
    pub kind: QuestionKind,
    #[serde(default)]
    pub choices: Vec<String>,
    /// The metric whose value on the scenario's run is the right answer.
    pub answer: Expectation,
    /// Accepted distance from the right number (number questions).
    #[serde(default)]
    pub tolerance: f64,
    /// Shown after answering: why the simulation did what it did.
    pub explain: String,
}

// No deny_unknown_fields here: serde's flatten cannot combine with it; the flattened
// `Action` still refuses unknown fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimedAction {
    pub at_ms: f64,
    #[serde(flatten)]
    pub action: Action,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakIt {
    /// What to do, in words.
    pub prompt: String,
    /// The faults to inject (added to the scenario's timeline).
    pub actions: Vec<TimedAction>,
    /// What must then be observed.
    pub expect: Vec<Expectation>,
    /// What the learner should notice, in words.
    pub observe: String,
}

/// Generated taxi rides as test-driver input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxiInput {
    /// Seed of the generator (`kafka-sandbox streams --taxi-rides N --seed S` prints them).
    pub seed: u64,
    /// Number of rides, 1..=MAX_TAXI_RIDES.
    pub count: usize,
    /// The topic the rides are piped into.
    pub topic: String,
    /// The ride column used as the record key (e.g. `DOLocationID`); none: null keys.
    #[serde(default)]
    pub key: Option<String>,
}

/// A Kafka Streams topology run in the test driver; questions ask for its output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamsRun {
    /// What the run shows, in words.
    #[serde(default)]
    pub description: String,
    /// The topology as JSON, in the form `kafka-sandbox streams` takes (an `op` or `steps`).
    /// A run has either `topology` or `ksql`.
    #[serde(default)]
    pub topology: Option<String>,
    /// ksqlDB statements (`kafka-sandbox ksql`); the run's output is that of the last
    /// persistent query (`CREATE ... AS SELECT`), or of the one named by `query`.
    #[serde(default)]
    pub ksql: Option<String>,
    /// With `ksql`: the sink name (e.g. `PAYMENT_TYPE_SESSIONS`) or query id whose output
    /// answers the questions.
    #[serde(default)]
    pub query: Option<String>,
    /// With `ksql`: the value column questions read (e.g. `KSQL_COL_0`, ksqlDB's name for an
    /// unaliased `COUNT(*)`); without it they see the whole row.
    #[serde(default)]
    pub column: Option<String>,
    /// Input records as a JSON array of `{"topic", "key", "value", "ts"}`, piped first.
    #[serde(default)]
    pub input: Option<String>,
    /// Generated taxi rides piped after `input`, timestamped with their pickup time.
    #[serde(default)]
    pub taxi: Option<TaxiInput>,
}

impl StreamsRun {
    /// Runs the topology on the input in the test driver. `name` is for messages.
    pub fn execute(&self, name: &str) -> Result<DriverResult, String> {
        let at = |field: &str, e: &dyn fmt::Display| format!("streams.{name}.{field}: {e}");
        let topology: Option<serde_json::Value> = match (&self.topology, &self.ksql) {
            (Some(t), None) => {
                Some(serde_json::from_str(t).map_err(|e| at("topology", &format!("invalid JSON: {e}")))?)
            }
            (None, Some(_)) => None,
            _ => return Err(format!("streams.{name}: give either topology or ksql")),
        };
        if self.ksql.is_none() && (self.query.is_some() || self.column.is_some()) {
            return Err(format!("streams.{name}: query and column go with ksql"));
        }
        let mut input: Vec<serde_json::Value> = match &self.input {
            None => Vec::new(),
            Some(text) => match serde_json::from_str(text).map_err(|e| at("input", &format!("invalid JSON: {e}")))? {
                serde_json::Value::Array(a) => a,
                _ => return Err(at("input", &"must be a JSON array of records")),
            },
        };
        if let Some(t) = &self.taxi {
            if t.count == 0 || t.count > MAX_TAXI_RIDES {
                return Err(at("taxi.count", &format!("must be 1..={MAX_TAXI_RIDES}, got {}", t.count)));
            }
            for ride in generate_rides(t.seed, t.count, TaxiConfig::default()) {
                let ts = ride.pickup_ms();
                let value = serde_json::to_value(&ride).map_err(|e| at("taxi", &e))?;
                let key = match &t.key {
                    None => serde_json::Value::Null,
                    Some(column) => value
                        .get(column)
                        .cloned()
                        .ok_or_else(|| at("taxi.key", &format!("rides have no column '{column}'")))?,
                };
                input.push(serde_json::json!({ "topic": t.topic, "key": key, "value": value, "ts": ts }));
            }
        }
        if input.is_empty() {
            return Err(format!("streams.{name}: needs input records or taxi rides"));
        }
        let Some(topology) = topology else {
            return self.execute_ksql(name, input);
        };
        let doc = serde_json::json!({ "topology": topology, "input": input });
        run_json(&doc.to_string()).map_err(|e| format!("streams.{name}: {e}"))
    }

    fn execute_ksql(&self, name: &str, input: Vec<serde_json::Value>) -> Result<DriverResult, String> {
        let statements = self.ksql.as_deref().unwrap_or_default();
        let doc = serde_json::json!({ "statements": statements, "input": input });
        let result = ksql::run_json(&doc.to_string()).map_err(|e| format!("streams.{name}.ksql: {e}"))?;
        let chosen = match &self.query {
            Some(q) => result.queries.into_iter().find(|o| o.id == *q || o.sink == *q).ok_or_else(|| {
                format!("streams.{name}.query: no persistent query {q} (name its sink or its query id)")
            })?,
            None => result
                .queries
                .into_iter()
                .last()
                .ok_or_else(|| format!("streams.{name}.ksql: no persistent query (CREATE ... AS SELECT)"))?,
        };
        let mut output = chosen.output;
        if let Some(column) = &self.column {
            for r in &mut output {
                if r.value.is_null() {
                    continue; // a tombstone stays one
                }
                let v = r.value.field(column).clone();
                if !matches!(&r.value, crate::streams::Value::Map(m) if m.contains_key(column)) {
                    return Err(format!("streams.{name}.column: {} rows have no column {column}", chosen.sink));
                }
                r.value = v;
            }
        }
        Ok(DriverResult { output, dropped: chosen.dropped })
    }
}

/// A record key as a learner writes it: strings bare, anything else as JSON.
fn key_text(key: &crate::streams::Value) -> String {
    match key {
        crate::streams::Value::Str(s) => s.clone(),
        other => other.to_json_string(),
    }
}

fn streams_value(v: &crate::streams::Value) -> Value {
    match v {
        crate::streams::Value::Int(i) => Value::Number(*i as f64),
        crate::streams::Value::Float(f) => Value::Number(*f),
        crate::streams::Value::Bool(b) => Value::Bool(*b),
        other => Value::Text(key_text(other)),
    }
}

/// A `streams_*` metric measured on a test-driver result.
pub fn measure_streams(e: &Expectation, result: &DriverResult) -> Result<Value, String> {
    let matching = || {
        result.output.iter().filter(|r| {
            e.key.as_deref().is_none_or(|k| key_text(&r.key) == k)
                && e.window_start.is_none_or(|w| r.window_start == Some(w))
        })
    };
    Ok(match e.what.as_str() {
        "streams_dropped" => Value::Number(result.dropped as f64),
        "streams_outputs" => Value::Number(matching().count() as f64),
        "streams_result" => {
            // The last update for the key (and window) is the aggregate's final value.
            let last = matching().next_back().ok_or_else(|| {
                let w = e.window_start.map(|w| format!(" in the window starting at {w}")).unwrap_or_default();
                format!("the topology output nothing for key '{}'{w}", e.key.as_deref().unwrap_or(""))
            })?;
            streams_value(&last.value)
        }
        "streams_top_key" => {
            // Final numeric value per (key, window); the key with the largest one wins, ties
            // going to the key that sorts first, so the answer is one well-defined key.
            let mut latest: BTreeMap<(String, Option<i64>), f64> = BTreeMap::new();
            for r in matching() {
                if let Some(n) = r.value.as_f64() {
                    latest.insert((key_text(&r.key), r.window_start), n);
                }
            }
            let mut best: Option<(&str, f64)> = None;
            for ((k, _), n) in &latest {
                if best.is_none_or(|(bk, bn)| *n > bn || (*n == bn && k.as_str() < bk)) {
                    best = Some((k.as_str(), *n));
                }
            }
            Value::Text(best.map(|(k, _)| k.to_string()).ok_or("the topology output no numeric values")?)
        }
        other => return Err(format!("'{other}' is not a streams metric")),
    })
}

/// A parsed lesson.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lesson {
    pub lesson: LessonMeta,
    #[serde(default, rename = "section")]
    pub sections: Vec<Section>,
    #[serde(default, rename = "question")]
    pub questions: Vec<Question>,
    pub break_it: BreakIt,
    pub recap: String,
    /// Kafka Streams test-driver runs by name, for `streams_*` questions.
    #[serde(default)]
    pub streams: BTreeMap<String, StreamsRun>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LessonError {
    pub file: String,
    pub message: String,
}

impl fmt::Display for LessonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.message)
    }
}

impl From<ScenarioError> for LessonError {
    fn from(e: ScenarioError) -> Self {
        LessonError { file: e.file.clone(), message: e.to_string() }
    }
}

/// Whether a learner's answer was right, and the right one.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Graded {
    pub correct: bool,
    pub expected: String,
    pub explain: String,
}

impl Lesson {
    /// Parses a lesson file (TOML). `file` is for messages.
    pub fn parse(file: &str, text: &str) -> Result<Lesson, LessonError> {
        let lesson: Lesson = toml::from_str(text).map_err(|e| {
            let (line, col) = e
                .span()
                .map(|s| {
                    let before = &text[..s.start.min(text.len())];
                    (
                        before.matches('\n').count() + 1,
                        before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1,
                    )
                })
                .unwrap_or((1, 1));
            LessonError { file: format!("{file}:{line}:{col}"), message: e.message().to_string() }
        })?;
        Ok(lesson)
    }

    /// Runs the lesson's scenario as written (its own seed).
    pub fn run(&self, scenario: &Scenario) -> Result<Verdict, LessonError> {
        execute(scenario, scenario.seed, None, |_, _| {})
            .map(|(_, v)| v)
            .map_err(|e| LessonError { file: self.lesson.scenario.clone(), message: e.0 })
    }

    /// The right answer to a question, measured on a run's summary.
    pub fn answer(&self, question: &Question, summary: &RunSummary) -> Result<Value, String> {
        if is_streams_metric(&question.answer.what) {
            let result = self.run_streams(question.answer.run.as_deref())?;
            return measure_streams(&question.answer, &result);
        }
        question.answer.measure(summary)
    }

    /// Runs one of the lesson's streams test-driver runs (`None`: the only one).
    pub fn run_streams(&self, name: Option<&str>) -> Result<DriverResult, String> {
        let (name, run) = match name {
            Some(n) => (n, self.streams.get(n).ok_or_else(|| format!("no [streams.{n}] run in this lesson"))?),
            None => {
                let mut runs = self.streams.iter();
                match (runs.next(), runs.next()) {
                    (Some((n, r)), None) => (n.as_str(), r),
                    (None, _) => return Err("this lesson has no [streams] run".into()),
                    (Some(_), Some(_)) => {
                        return Err("this lesson has several [streams] runs: name one with run = ...".into())
                    }
                }
            }
        };
        run.execute(name)
    }

    /// Grades a learner's answer against the run.
    pub fn grade(&self, question_id: &str, given: &str, summary: &RunSummary) -> Result<Graded, String> {
        let q = self
            .questions
            .iter()
            .find(|q| q.id == question_id)
            .ok_or_else(|| format!("no question '{question_id}'"))?;
        let expected = self.answer(q, summary)?;
        let correct = match (&expected, q.kind) {
            (Value::Number(n), QuestionKind::Number) => {
                given.trim().parse::<f64>().map(|g| (g - n).abs() <= q.tolerance).unwrap_or(false)
            }
            (v, _) => given.trim().eq_ignore_ascii_case(&v.to_string()),
        };
        Ok(Graded { correct, expected: expected.to_string(), explain: q.explain.clone() })
    }

    /// The scenario with the break-it faults added to its timeline.
    pub fn broken(&self, scenario: &Scenario) -> Result<Scenario, String> {
        let mut s = scenario.clone();
        for a in &self.break_it.actions {
            if !a.at_ms.is_finite() || a.at_ms < 0.0 {
                return Err(format!("break_it: at_ms {} is not a valid time", a.at_ms));
            }
            s.setup.timeline.push((SimTime((a.at_ms * 1000.0) as u64), a.action.clone()));
        }
        crate::collect::sort_by_key(&mut s.setup.timeline, |(t, _)| *t);
        s.expectations = self.break_it.expect.clone();
        Ok(s)
    }

    /// Checks the lesson is complete and consistent with the simulation. Returns every
    /// problem found (empty: the lesson is fine).
    pub fn lint(&self, scenario: &Scenario) -> Vec<String> {
        let mut problems = Vec::new();
        let meta = &self.lesson;
        if meta.goals.is_empty() || meta.goals.iter().any(|g| g.trim().is_empty()) {
            problems.push("needs learning goals".into());
        }
        if self.sections.is_empty() {
            problems.push("needs at least one section of explanation".into());
        }
        if self.questions.len() < 2 {
            problems.push(format!("needs at least two predict-then-run questions (has {})", self.questions.len()));
        }
        if self.recap.trim().is_empty() {
            problems.push("needs a recap".into());
        }
        let mut ids: Vec<&str> = self.questions.iter().map(|q| q.id.as_str()).collect();
        crate::collect::sort(&mut ids);
        if ids.windows(2).any(|w| w[0] == w[1]) {
            problems.push("question ids must be unique".into());
        }
        let verdict = match self.run(scenario) {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("scenario does not run: {e}"));
                return problems;
            }
        };
        if !verdict.passed {
            problems.push(format!("scenario '{}' fails its own expectations", meta.scenario));
        }
        for q in &self.questions {
            if let Err(e) = q.answer.validate_metric() {
                problems.push(format!("question {}: answer: {e}", q.id));
                continue;
            }
            match self.answer(q, &verdict.summary) {
                Err(e) => problems.push(format!("question {}: the answer does not compute: {e}", q.id)),
                Ok(v) => match q.kind {
                    QuestionKind::Choice => {
                        if q.choices.len() < 2 {
                            problems.push(format!("question {}: a choice question needs choices", q.id));
                        } else if !q.choices.iter().any(|c| c.eq_ignore_ascii_case(&v.to_string())) {
                            problems
                                .push(format!("question {}: the right answer '{v}' is not among the choices", q.id));
                        }
                    }
                    QuestionKind::Number => {
                        if !matches!(v, Value::Number(_)) {
                            problems.push(format!("question {}: a number question's answer is '{v}'", q.id));
                        }
                    }
                },
            }
            if q.explain.trim().is_empty() {
                problems.push(format!("question {} needs an explanation", q.id));
            }
        }
        for (name, run) in &self.streams {
            if let Err(e) = run.execute(name) {
                problems.push(format!("streams run does not run: {e}"));
            }
        }
        if self.break_it.actions.is_empty() || self.break_it.expect.is_empty() {
            problems.push("break_it needs actions and expectations".into());
        }
        if self.break_it.expect.iter().any(|e| is_streams_metric(&e.what)) {
            problems.push("break_it expectations are checked on the scenario's run: no streams_* metrics".into());
        }
        match self.broken(scenario) {
            Err(e) => problems.push(e),
            Ok(broken) => match execute(&broken, broken.seed, None, |_, _| {}) {
                Err(e) => problems.push(format!("break_it does not run: {}", e.0)),
                Ok((world, _)) => {
                    let v = judge(&broken, &world, true);
                    for r in v.expectations.iter().filter(|r| !r.passed) {
                        problems.push(format!("break_it: {} expected {} got {}", r.what, r.expected, r.actual));
                    }
                }
            },
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCENARIO: &str = r#"
name = "t"
duration_ms = 2000
[cluster]
brokers = 1
[[topic]]
name = "rides"
partitions = 3
[[producer]]
name = "p"
[[at]]
at_ms = 100
action = "produce"
producer = "p"
topic = "rides"
count = 5
key = "fixed:75"
"#;

    /// A lesson around SCENARIO with the given streams runs and questions.
    fn lesson(extra: &str) -> (Lesson, Scenario) {
        let text = format!(
            r#"recap = "r"
[lesson]
id = "t"
module = "6.7"
order = 1
title = "t"
scenario = "t.toml"
goals = ["g"]
[[section]]
heading = "h"
text = "t"
[[question]]
id = "where"
prompt = "p"
kind = "choice"
choices = ["0", "1", "2"]
answer = {{ what = "partition_of_key", topic = "rides", key = "75" }}
explain = "e"
[break_it]
prompt = "p"
actions = [{{ at_ms = 50, action = "crash", broker = 1 }}]
expect = [{{ what = "acked", equals = 0 }}]
observe = "o"
{extra}"#
        );
        (Lesson::parse("l.toml", &text).unwrap(), Scenario::parse("t.toml", SCENARIO).unwrap())
    }

    const COUNT: &str = r#"
[streams.counts]
topology = '''{"application_id": "a", "steps": [
  {"op": "stream", "name": "rides", "topics": ["rides"]},
  {"op": "filter", "name": "long", "input": "rides", "predicate": "trip_distance > 5"},
  {"op": "group_by_key", "name": "g", "input": "long"},
  {"op": "count", "name": "c", "input": "g"},
  {"op": "to_stream", "name": "s", "input": "c"},
  {"op": "to", "input": "s", "topic": "out"}]}'''
input = '''[
  {"topic": "rides", "key": "a", "value": {"trip_distance": 7.5}, "ts": 1},
  {"topic": "rides", "key": "b", "value": {"trip_distance": 9}, "ts": 2},
  {"topic": "rides", "key": "a", "value": {"trip_distance": 2}, "ts": 3},
  {"topic": "rides", "key": "a", "value": {"trip_distance": 6}, "ts": 4}]'''
[[question]]
id = "count_a"
prompt = "p"
kind = "number"
answer = { what = "streams_result", key = "a" }
explain = "e"
[[question]]
id = "top"
prompt = "p"
kind = "choice"
choices = ["a", "b"]
answer = { what = "streams_top_key" }
explain = "e"
"#;

    #[test]
    fn streams_questions_are_answered_by_the_test_driver_run() {
        let (l, s) = lesson(COUNT);
        assert_eq!(l.lint(&s), Vec::<String>::new());
        let summary = l.run(&s).unwrap().summary;
        // Key a has two rides over 5 miles (the 2-mile one is filtered out), b one.
        assert!(l.grade("count_a", "2", &summary).unwrap().correct);
        assert!(!l.grade("count_a", "3", &summary).unwrap().correct);
        assert_eq!(l.grade("top", "a", &summary).unwrap().expected, "a");
        let out = l.run_streams(None).unwrap();
        let q = |what: &str, key: Option<&str>| {
            let mut e: Expectation = toml::from_str(&format!("what = \"{what}\"")).unwrap();
            e.key = key.map(str::to_string);
            measure_streams(&e, &out).unwrap()
        };
        assert_eq!(q("streams_outputs", None), Value::Number(3.0));
        assert_eq!(q("streams_outputs", Some("b")), Value::Number(1.0));
        assert_eq!(q("streams_dropped", None), Value::Number(0.0));
        let mut missing: Expectation = toml::from_str("what = \"streams_result\"\nkey = \"zzz\"").unwrap();
        assert!(measure_streams(&missing, &out).unwrap_err().contains("nothing for key 'zzz'"));
        missing.window_start = Some(0);
        assert!(measure_streams(&missing, &out).unwrap_err().contains("window starting at 0"));
    }

    #[test]
    fn a_ksql_run_answers_streams_questions_from_its_persistent_query() {
        let extra = r#"
[streams.sessions]
ksql = '''
CREATE STREAM rides (payment_type VARCHAR, trip_distance DOUBLE)
  WITH (KAFKA_TOPIC='rides', VALUE_FORMAT='JSON');
CREATE TABLE sessions AS SELECT payment_type, COUNT(*) FROM rides
  WINDOW SESSION (60 SECONDS) GROUP BY payment_type EMIT CHANGES;
'''
column = "KSQL_COL_0"
input = '''[
  {"topic": "rides", "key": null, "value": {"payment_type": 1, "trip_distance": 1.0}, "ts": 0},
  {"topic": "rides", "key": null, "value": {"payment_type": 1, "trip_distance": 2.0}, "ts": 50000},
  {"topic": "rides", "key": null, "value": {"payment_type": 2, "trip_distance": 2.0}, "ts": 60000}]'''
[[question]]
id = "session"
prompt = "p"
kind = "number"
answer = { what = "streams_result", key = "1", window_start = 0 }
explain = "e"
"#;
        let (l, s) = lesson(extra);
        assert_eq!(l.lint(&s), Vec::<String>::new());
        let summary = l.run(&s).unwrap().summary;
        assert!(l.grade("session", "2", &summary).unwrap().correct);
        // The merge retracted the one-ride session: 3 changes for payment type 1.
        let out = l.run_streams(None).unwrap();
        assert_eq!(out.output.iter().filter(|r| r.key == crate::streams::Value::str("1")).count(), 3);
        let (l, s) = lesson(&extra.replace("COUNT(*) FROM rides", "COUNT(*) FROM ridez"));
        assert!(
            l.lint(&s).iter().any(|p| p.contains("streams.sessions.ksql: statements: line 3:61: RIDEZ does not exist")),
            "{:?}",
            l.lint(&s)
        );
        let (l, s) = lesson(&extra.replace("column = \"KSQL_COL_0\"", "column = \"N\""));
        assert!(l.lint(&s).iter().any(|p| p.contains("streams.sessions.column: SESSIONS rows have no column N")));
        let (l, s) = lesson(&extra.replace("ksql = '''", "topology = '{}'\nksql = '''"));
        assert!(l.lint(&s).iter().any(|p| p.contains("give either topology or ksql")));
    }

    #[test]
    fn generated_taxi_rides_count_like_a_hand_count_over_the_same_rides() {
        let extra = r#"
[streams.trips]
topology = '''{"application_id": "a", "steps": [
  {"op": "stream", "name": "rides", "topics": ["rides"]},
  {"op": "filter", "name": "long", "input": "rides", "predicate": "trip_distance > 5"},
  {"op": "group_by", "name": "g", "input": "long", "key": "'all'"},
  {"op": "count", "name": "c", "input": "g"},
  {"op": "to_stream", "name": "s", "input": "c"},
  {"op": "to", "input": "s", "topic": "out"}]}'''
taxi = { seed = 7, count = 400, topic = "rides", key = "DOLocationID" }
[[question]]
id = "long"
prompt = "p"
kind = "number"
answer = { what = "streams_result", key = "all" }
explain = "e"
"#;
        let (l, s) = lesson(extra);
        assert_eq!(l.lint(&s), Vec::<String>::new());
        let by_hand = generate_rides(7, 400, TaxiConfig::default()).iter().filter(|r| r.trip_distance > 5.0).count();
        assert!(by_hand > 0 && by_hand < 400, "the generator makes some long trips, not only long ones");
        let summary = l.run(&s).unwrap().summary;
        let g = l.grade("long", &by_hand.to_string(), &summary).unwrap();
        assert!(g.correct, "expected {}", g.expected);
    }

    #[test]
    fn bad_streams_runs_are_lint_problems_naming_the_run() {
        let bad = COUNT.replace(r#""predicate": "trip_distance > 5""#, r#""predicate": "trip_distance >""#);
        let (l, s) = lesson(&bad);
        let problems = l.lint(&s);
        assert!(problems.iter().any(|p| p.contains("streams.counts")), "{problems:?}");
        let (l, s) = lesson(&COUNT.replace("topology = '''{", "topology = '''{{"));
        assert!(l.lint(&s).iter().any(|p| p.contains("streams.counts.topology: invalid JSON")));
        let (l, s) = lesson(&format!("{COUNT}\n[streams.other]\ntopology = '{{}}'\ninput = '[]'\n"));
        assert!(l.lint(&s).iter().any(|p| p.contains("several [streams] runs")));
        let (l, s) = lesson(
            &COUNT.replace("input = '''[", "taxi = { seed = 1, count = 0, topic = \"rides\" }\ndescription = '''["),
        );
        assert!(l.lint(&s).iter().any(|p| p.contains("streams.counts.taxi.count: must be 1..=")));
    }

    #[test]
    fn too_many_taxi_rides_are_refused_before_generating_them() {
        let run = StreamsRun {
            description: String::new(),
            topology: Some("{}".into()),
            ksql: None,
            query: None,
            column: None,
            input: None,
            taxi: Some(TaxiInput { seed: 1, count: MAX_TAXI_RIDES + 1, topic: "rides".into(), key: None }),
        };
        assert!(run.execute("big").unwrap_err().contains("streams.big.taxi.count"));
    }

    #[test]
    fn break_it_cannot_expect_streams_metrics() {
        let (mut l, s) = lesson(COUNT);
        l.break_it.expect = vec![toml::from_str("what = \"streams_dropped\"\nequals = 0").unwrap()];
        assert!(l.lint(&s).iter().any(|p| p.contains("no streams_* metrics")));
    }
}
