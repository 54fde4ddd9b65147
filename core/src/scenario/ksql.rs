//! `[[ksql]]`: a ksqlDB cluster in a scenario. Its statements run when the cluster boots, as
//! a ksqlDB server runs what its command topic holds: CREATE STREAM/TABLE register sources
//! (creating the topic when PARTITIONS is given), and every persistent query (CREATE ... AS
//! SELECT) becomes a Kafka Streams application of the runtime, named as ksqlDB names it.
use super::{Locator, NameCheck, RawStreamsApp, ScenarioError};
use crate::config::{ConfigValue, TopicConfig};
use crate::limits;
use crate::streams::ksql::{self, KsqlServerSpec, QuerySerde, ServerQuery};
use crate::streams::runtime::StreamsAppSpec;
use crate::world::{ConsumerSpec, ProducerSpec, TopicSpec};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

/// Most `[[ksql]]` clusters in one scenario.
pub(super) const MAX_KSQL_CLUSTERS: usize = 4;
/// Longest `service_id` accepted (it becomes part of topic and group names).
const MAX_SERVICE_ID_LEN: usize = 64;
/// Most servers in one ksqlDB cluster (each runs every persistent query).
const MAX_SERVERS: u32 = 8;
/// ksqlDB's `commit.interval.ms` default for its queries (`KsqlConstants`).
const KSQL_COMMIT_INTERVAL_MS: u64 = 2_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawKsql {
    /// `ksql.service.id`: the prefix of the command topic and of query application ids.
    #[serde(default = "default_service_id")]
    service_id: String,
    /// Servers in the cluster (default 1); every server runs every persistent query.
    #[serde(default = "one")]
    instances: u32,
    /// The SQL script, as `kafka-sandbox ksql` reads it.
    statements: String,
}

fn default_service_id() -> String {
    ksql::DEFAULT_SERVICE_ID.to_string()
}

fn one() -> u32 {
    1
}

/// Byte offset in the scenario text where the value of `statements` starts (after a
/// triple quote and the newline TOML drops right after it).
fn statements_offset(loc: &Locator, span: &Range<usize>) -> Option<usize> {
    let start = span.start.min(loc.text.len());
    let rest = &loc.text[start..];
    let key = rest.find("statements")?;
    let after = &rest[key..];
    let eq = after.find('=')?;
    let value = &after[eq + 1..];
    let trimmed = value.trim_start_matches([' ', '\t']);
    let lead = value.len() - trimmed.len();
    let delim = ["\"\"\"", "'''", "\"", "'"].into_iter().find(|d| trimmed.starts_with(d))?;
    let mut off = start + key + eq + 1 + lead + delim.len();
    if delim.len() == 3 {
        if loc.text[off..].starts_with("\r\n") {
            off += 2;
        } else if loc.text[off..].starts_with('\n') {
            off += 1;
        }
    }
    Some(off)
}

/// Byte offset of 1-based `line`:`column` in `text`.
fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let mut off = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            return off + l.char_indices().nth(column.saturating_sub(1)).map(|(b, _)| b).unwrap_or(l.len());
        }
        off += l.len();
    }
    text.len()
}

/// Validates a `[[ksql]]` cluster: runs its statements against the scenario's topics,
/// creates the topics ksqlDB would create, and adds one Streams application per persistent
/// query to `streams` (its clients to `producers`/`consumers`).
#[allow(clippy::too_many_arguments)]
pub(super) fn ksql_cluster(
    loc: &Locator,
    span: &Range<usize>,
    r: &RawKsql,
    topics: &mut Vec<TopicSpec>,
    producers: &mut Vec<ProducerSpec>,
    consumers: &mut Vec<ConsumerSpec>,
    check_name: &mut NameCheck<'_>,
    streams: &mut Vec<StreamsAppSpec>,
) -> Result<KsqlServerSpec, ScenarioError> {
    let sid = &r.service_id;
    let err = |field: &str, m: String| loc.key_in(span, field, format!("ksql '{sid}': {m}"));
    if sid.is_empty()
        || sid.len() > MAX_SERVICE_ID_LEN
        || !sid.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        return Err(err(
            "service_id",
            format!("service_id must be 1..={MAX_SERVICE_ID_LEN} letters, digits, '.', '_' or '-'"),
        ));
    }
    if r.instances == 0 || r.instances > MAX_SERVERS {
        return Err(err("instances", format!("instances (servers) must be 1..={MAX_SERVERS}")));
    }
    let text = &r.statements;
    let script = ksql::parse_script(text).map_err(|e| {
        let n = ksql::statement_at(text, e.line, e.column);
        let message =
            format!("ksql '{sid}': statement {n} (line {}, column {} of statements): {}", e.line, e.column, e.message);
        match statements_offset(loc, span) {
            Some(base) => loc.at(base + offset_of(text, e.line, e.column), message),
            None => loc.key_in(span, "statements", message),
        }
    })?;
    let stmt_err = |n: usize, m: String| err("statements", format!("statement {n}: {m}"));

    // The command topic: one partition, kept forever (ksqlDB replays it at every start).
    let command_topic = ksql::command_topic(sid);
    if topics.iter().any(|t| t.name == command_topic) {
        return Err(err(
            "service_id",
            format!("topic '{command_topic}' already exists (two ksql clusters with one service_id?)"),
        ));
    }
    let rf_default = topics.iter().map(|t| t.replication_factor).max().unwrap_or(1);
    let topic_config = |retention: Option<i64>| -> Result<TopicConfig, ScenarioError> {
        let mut c = TopicConfig::default();
        if let Some(ms) = retention {
            c.set("retention.ms", &ConfigValue::Int(ms)).map_err(|e| err("service_id", e.to_string()))?;
        }
        Ok(c)
    };
    let create = |topics: &mut Vec<TopicSpec>, name: &str, partitions: u32, rf: u32, config: TopicConfig| {
        if topics.len() >= limits::MAX_TOPICS {
            return Err(err("statements", format!("at most {} topics", limits::MAX_TOPICS)));
        }
        topics.push(TopicSpec { name: name.to_string(), partitions, replication_factor: rf, config, assignment: None });
        Ok(())
    };
    let command_config = topic_config(Some(-1))?;
    create(topics, &command_topic, 1, 1, command_config)?;

    // Sources and sinks: the topic each reads or writes, created as ksqlDB creates it.
    let mut partitions_of: BTreeMap<&str, u32> = BTreeMap::new();
    for src in &script.sources {
        let n = src.statement;
        let existing = topics.iter().find(|t| t.name == src.topic).map(|t| (t.partitions, t.replication_factor));
        let (wanted, rf) = match &src.query {
            None => (src.partitions, rf_default),
            Some(id) => {
                let from = script.queries.iter().find(|q| &q.id == id).and_then(|q| q.sources.first());
                let from_topic = from.and_then(|f| script.source(f)).map(|f| f.topic.as_str());
                let from_rf = topics.iter().find(|t| Some(t.name.as_str()) == from_topic).map(|t| t.replication_factor);
                // A sink gets the partitions of its (first) source unless PARTITIONS says.
                let p = src.partitions.or_else(|| from.and_then(|f| partitions_of.get(f.as_str()).copied()));
                (p, from_rf.unwrap_or(rf_default))
            }
        };
        let partitions = match (existing, wanted) {
            (Some((have, _)), Some(want)) if have != want => {
                return Err(stmt_err(
                    n,
                    format!(
                        "topic '{}' already exists with {have} partitions, not the {want} the statement needs",
                        src.topic
                    ),
                ))
            }
            (Some((have, _)), _) => have,
            (None, Some(want)) => {
                if want == 0 || want > limits::MAX_PARTITIONS_PER_TOPIC {
                    return Err(stmt_err(
                        n,
                        format!("PARTITIONS must be 1..={}", limits::MAX_PARTITIONS_PER_TOPIC),
                    ));
                }
                let config = topic_config(None)?;
                create(topics, &src.topic, want, rf, config)?;
                want
            }
            (None, None) => {
                return Err(stmt_err(
                    n,
                    format!(
                        "topic '{}' does not exist; ksqlDB creates it only when the WITH clause gives PARTITIONS (and optionally REPLICAS)",
                        src.topic
                    ),
                ))
            }
        };
        partitions_of.insert(src.name.as_str(), partitions);
    }

    // Persistent queries: Kafka Streams applications with ksqlDB's application ids.
    let mut queries = Vec::new();
    for q in &script.queries {
        let application_id = ksql::query_application_id(sid, &q.id);
        let mut topology = q.topology.clone();
        topology.application_id = application_id.clone();
        let json = serde_json::to_string(&topology)
            .map_err(|e| stmt_err(q.statement, format!("{}: the topology does not serialize: {e}", q.id)))?;
        // ksqlDB defaults to `latest`, but Kafka Streams reads its repartition topics from
        // `earliest` whatever the setting, and the sandbox's consumer has one policy for all
        // topics: without a SET, `earliest` (the queries start at boot, on empty topics, so
        // for the source topics the two differ only for a partition that has records and no
        // committed offset, e.g. after a crash before the first commit).
        let reset = ksql::offset_reset_at(&script, q.statement).unwrap_or("earliest");
        let mut consumer_config = BTreeMap::new();
        consumer_config.insert("auto.offset.reset".to_string(), toml::Value::String(reset.to_string()));
        let raw = RawStreamsApp {
            application_id: application_id.clone(),
            topology: json,
            instances: r.instances,
            start_instances: None,
            processing_guarantee: None,
            commit_interval_ms: Some(KSQL_COMMIT_INTERVAL_MS),
            consumer_config,
        };
        let mut spec = super::streams_app(loc, span, &raw, topics, producers, consumers, check_name).map_err(|e| {
            let message = format!("ksql '{sid}': statement {} ({}): {}", q.statement, q.id, e.message);
            ScenarioError { message, ..e }
        })?;
        spec.ksql = Some(Arc::new(QuerySerde::of(&script, q)));
        streams.push(spec);
        queries.push(ServerQuery {
            id: q.id.clone(),
            application_id,
            sink: q.sink.clone(),
            sink_topic: q.sink_topic.clone(),
            statement: q.statement,
        });
    }
    Ok(KsqlServerSpec {
        service_id: sid.clone(),
        servers: r.instances,
        statements: text.clone(),
        command_topic,
        queries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_of_lines_and_columns_count_characters() {
        let t = "ab\ncdé f\n";
        assert_eq!(offset_of(t, 1, 1), 0);
        assert_eq!(offset_of(t, 2, 1), 3);
        assert_eq!(offset_of(t, 2, 5), 3 + "cdé ".len());
        assert_eq!(offset_of(t, 9, 1), t.len());
    }

    #[test]
    fn the_statements_value_starts_after_the_triple_quote_and_its_newline() {
        let text = "[[ksql]]\nstatements = \"\"\"\nSELECT 1;\n\"\"\"\n";
        let loc = Locator { file: "f", text };
        let off = statements_offset(&loc, &(0..8)).unwrap();
        assert!(text[off..].starts_with("SELECT"));
    }
}
