//! The configuration form: the knobs a learner turns (brokers, partitions, RF, `acks`,
//! `min.insync.replicas`, unclean election, assignor...) read from a scenario and written
//! back into its TOML, which the core then validates like any scenario file.
use sandbox_core::scenario::Scenario;
use toml::{Table, Value};

/// Largest scenario text the app accepts (import, editor, links).
pub const MAX_SCENARIO_BYTES: usize = 256 * 1024;

#[derive(Clone, Debug, PartialEq)]
pub struct TopicKnobs {
    pub name: String,
    pub partitions: u32,
    pub replication_factor: u32,
    pub min_insync_replicas: u32,
    pub unclean_leader_election: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ProducerKnobs {
    pub name: String,
    pub acks: String,
    pub idempotence: bool,
    pub linger_ms: u64,
    pub partitioner: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConsumerKnobs {
    pub name: String,
    pub group_id: String,
    pub assignor: String,
    pub auto_offset_reset: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Knobs {
    pub brokers: u32,
    pub duration_ms: u64,
    pub topics: Vec<TopicKnobs>,
    pub producers: Vec<ProducerKnobs>,
    pub consumers: Vec<ConsumerKnobs>,
}

impl Knobs {
    pub fn of(s: &Scenario) -> Knobs {
        let setup = &s.setup;
        Knobs {
            brokers: setup.brokers,
            duration_ms: setup.end.as_ms(),
            topics: setup
                .topics
                .iter()
                .map(|t| TopicKnobs {
                    name: t.name.clone(),
                    partitions: t.partitions,
                    replication_factor: t.replication_factor,
                    min_insync_replicas: t.config.min_insync_replicas,
                    unclean_leader_election: t.config.unclean_leader_election_enable,
                })
                .collect(),
            producers: setup
                .producers
                .iter()
                .map(|p| ProducerKnobs {
                    name: p.name.clone(),
                    acks: p.config.acks.to_string(),
                    idempotence: p.config.enable_idempotence,
                    linger_ms: p.config.linger_ms,
                    partitioner: p.config.get("partitioner.class").unwrap_or_default(),
                })
                .collect(),
            consumers: setup
                .consumers
                .iter()
                .map(|c| ConsumerKnobs {
                    name: c.name.clone(),
                    group_id: c.config.group_id.clone().unwrap_or_default(),
                    assignor: c.config.partition_assignment_strategy.clone(),
                    auto_offset_reset: c.config.get("auto.offset.reset").unwrap_or_default(),
                })
                .collect(),
        }
    }
}

fn table_mut<'a>(t: &'a mut Table, key: &str) -> &'a mut Table {
    let v = t.entry(key.to_string()).or_insert_with(|| Value::Table(Table::new()));
    if !v.is_table() {
        *v = Value::Table(Table::new());
    }
    match v {
        Value::Table(t) => t,
        _ => unreachable!("just made a table"),
    }
}

/// Entries of an array of tables (`[[topic]]`) whose `name` is `name`.
fn named<'a>(doc: &'a mut Table, array: &str, name: &str) -> Option<&'a mut Table> {
    doc.get_mut(array)?
        .as_array_mut()?
        .iter_mut()
        .filter_map(Value::as_table_mut)
        .find(|t| t.get("name").and_then(Value::as_str) == Some(name))
}

fn acks_value(acks: &str) -> Value {
    match acks {
        "0" => Value::Integer(0),
        "1" => Value::Integer(1),
        other => Value::String(other.to_string()),
    }
}

/// Writes the knobs that differ from `before` into the scenario text and validates the
/// result. The golden digest is dropped (it pins the unedited run). Errors name the knob.
pub fn apply(text: &str, before: &Knobs, after: &Knobs) -> Result<(String, Scenario), String> {
    let mut doc: Table =
        toml::from_str(text).map_err(|e| format!("the scenario text does not parse: {}", e.message()))?;
    doc.remove("golden_digest");
    if after.brokers != before.brokers {
        table_mut(&mut doc, "cluster").insert("brokers".into(), Value::Integer(i64::from(after.brokers)));
    }
    if after.duration_ms != before.duration_ms {
        doc.insert("duration_ms".into(), Value::Integer(after.duration_ms.min(i64::MAX as u64) as i64));
    }
    for (b, a) in before.topics.iter().zip(&after.topics) {
        let t = named(&mut doc, "topic", &b.name).ok_or_else(|| format!("topic '{}' is not in the text", b.name))?;
        if a.partitions != b.partitions || a.replication_factor != b.replication_factor {
            t.insert("partitions".into(), Value::Integer(i64::from(a.partitions)));
            t.insert("replication_factor".into(), Value::Integer(i64::from(a.replication_factor)));
            // An explicit assignment no longer fits: let the placer choose.
            t.remove("assignment");
        }
        if a.min_insync_replicas != b.min_insync_replicas {
            table_mut(t, "config")
                .insert("min.insync.replicas".into(), Value::Integer(i64::from(a.min_insync_replicas)));
        }
        if a.unclean_leader_election != b.unclean_leader_election {
            table_mut(t, "config")
                .insert("unclean.leader.election.enable".into(), Value::Boolean(a.unclean_leader_election));
        }
    }
    for (b, a) in before.producers.iter().zip(&after.producers) {
        let t =
            named(&mut doc, "producer", &b.name).ok_or_else(|| format!("producer '{}' is not in the text", b.name))?;
        let c = table_mut(t, "config");
        if a.acks != b.acks {
            c.insert("acks".into(), acks_value(&a.acks));
        }
        if a.idempotence != b.idempotence {
            c.insert("enable.idempotence".into(), Value::Boolean(a.idempotence));
        }
        if a.linger_ms != b.linger_ms {
            c.insert("linger.ms".into(), Value::Integer(a.linger_ms.min(i64::MAX as u64) as i64));
        }
        if a.partitioner != b.partitioner {
            c.insert("partitioner.class".into(), Value::String(a.partitioner.clone()));
        }
        if c.is_empty() {
            t.remove("config");
        }
    }
    for (b, a) in before.consumers.iter().zip(&after.consumers) {
        let t =
            named(&mut doc, "consumer", &b.name).ok_or_else(|| format!("consumer '{}' is not in the text", b.name))?;
        let c = table_mut(t, "config");
        if a.group_id != b.group_id {
            if a.group_id.is_empty() {
                c.remove("group.id");
            } else {
                c.insert("group.id".into(), Value::String(a.group_id.clone()));
            }
        }
        if a.assignor != b.assignor {
            c.insert("partition.assignment.strategy".into(), Value::String(a.assignor.clone()));
        }
        if a.auto_offset_reset != b.auto_offset_reset {
            c.insert("auto.offset.reset".into(), Value::String(a.auto_offset_reset.clone()));
        }
        if c.is_empty() {
            t.remove("config");
        }
    }
    let out = toml::to_string(&doc).map_err(|e| format!("cannot write the scenario: {e}"))?;
    if out.len() > MAX_SCENARIO_BYTES {
        return Err(format!("the scenario would be larger than {} KiB", MAX_SCENARIO_BYTES / 1024));
    }
    let scenario = Scenario::parse("edited scenario", &out).map_err(|e| e.to_string())?;
    Ok((out, scenario))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios;

    #[test]
    fn knobs_round_trip_through_the_toml_and_the_core_validates_them() {
        let name = "replication/acks-1-leader-crash";
        let text = scenarios::text(name).unwrap();
        let scenario = Scenario::parse(name, text).unwrap();
        let before = Knobs::of(&scenario);
        let mut after = before.clone();
        after.brokers = 5;
        after.topics[0].partitions = 4;
        after.topics[0].min_insync_replicas = 2;
        after.topics[0].unclean_leader_election = true;
        after.producers[0].acks = "all".into();
        let (out, edited) = apply(text, &before, &after).unwrap();
        assert!(!out.contains("golden_digest"));
        let knobs = Knobs::of(&edited);
        assert_eq!(knobs, Knobs { producers: knobs.producers.clone(), ..after.clone() });
        assert_eq!(knobs.producers[0].acks, "all");
        assert!(knobs.producers[0].idempotence, "acks=all turns default idempotence back on");
        // The timeline survives the rewrite.
        assert_eq!(edited.setup.timeline, scenario.setup.timeline);

        let mut bad = before.clone();
        bad.topics[0].replication_factor = 4;
        let e = apply(text, &before, &bad).unwrap_err();
        assert!(e.contains("replication_factor"), "{e}");
        let mut bad = before.clone();
        bad.producers[0].acks = "2".into();
        let e = apply(text, &before, &bad).unwrap_err();
        assert!(e.contains("acks"), "{e}");
    }
}
