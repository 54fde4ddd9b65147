//! Scenario files (TOML): a cluster, topics, clients, a timeline of actions and the
//! expectations checked at the end. Every error names the file, line and column.
//! The format is documented field by field in `scenarios/README.md`.
pub mod expect;
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
                        s.sort_unstable();
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
            });
        }

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
            // Insert before the first table header so it stays a top-level key.
            let idx = out.find("\n[").map(|i| i + 1).unwrap_or(out.len());
            out.insert_str(idx, &format!("{line}\n\n"));
        }
        out
    }
}
