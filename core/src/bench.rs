//! Benchmark workloads, defined in the core so the native command line and the WASM build
//! run exactly the same simulation. Timing belongs to the caller (the core has no clock).
use crate::action::Action;
use crate::config::{Acks, BrokerConfig, ConfigValue, ConsumerConfig, ProducerConfig, TopicConfig};
use crate::network::LinkProps;
use crate::record::TopicPartition;
use crate::sim::time::SimTime;
use crate::world::{ConsumerSpec, ProducerSpec, Setup, TopicSpec};

/// The produce-replicate-consume pipeline: one producer sends `records` keyed records
/// (100 000 distinct keys, 100-byte values) as fast as its buffer allows to a topic with
/// `partitions` partitions and replication factor `rf` on 3 brokers; one consumer reads
/// every partition from the start.
pub fn pipeline(records: u64, partitions: u32, rf: u32, acks: Acks) -> Setup {
    let mut p = ProducerConfig::default();
    let acks_value = match acks {
        Acks::All => "all",
        Acks::Leader => "1",
        Acks::None => "0",
    };
    p.set("acks", &ConfigValue::Str(acks_value.into())).expect("valid acks");
    p.validate().expect("valid producer config");
    let mut c = ConsumerConfig::default();
    c.set("auto.offset.reset", &ConfigValue::Str("earliest".into())).expect("valid reset");
    let mut t = TopicConfig::default();
    if rf >= 2 {
        t.set("min.insync.replicas", &ConfigValue::Int(2)).expect("valid min isr");
    }
    Setup {
        brokers: 3,
        broker_config: BrokerConfig::default(),
        link: LinkProps::default(),
        topics: vec![TopicSpec {
            name: "bench".into(),
            partitions,
            replication_factor: rf,
            config: t,
            assignment: None,
        }],
        producers: vec![ProducerSpec { name: "producer".into(), config: p, ..Default::default() }],
        consumers: vec![ConsumerSpec {
            name: "consumer".into(),
            config: c,
            assign: (0..partitions).map(|i| TopicPartition::new("bench", i)).collect(),
            ..Default::default()
        }],
        timeline: vec![(
            SimTime::from_ms(10),
            Action::Produce {
                producer: "producer".into(),
                topic: "bench".into(),
                count: records,
                key: "cycle:100000".into(),
                value: "size:100".into(),
                interval_ms: 0.0,
                partition: None,
            },
        )],
        // Far enough that the run ends when the work is done (see `pipeline_done`).
        end: SimTime::from_ms(24 * 3600 * 1000),
        ..Default::default()
    }
}

/// Whether the pipeline finished: everything produced was answered and consumed.
pub fn pipeline_done(world: &crate::world::World, records: u64) -> bool {
    world.producers.iter().all(|p| p.is_idle())
        && world.consumers.iter().map(|c| c.stats.records_consumed).sum::<u64>() >= records
}

/// The reference for the pipeline: the cost of moving the same records with no simulation.
/// Builds `records` records the way the bench producer does (pooled keys, a shared 100-byte
/// value), appends each to three vectors (three replicas), reads them all back. Returns a
/// checksum so the work cannot be optimised away.
pub fn reference_loop(records: u64) -> u64 {
    use crate::record::{Blob, Record, RecordId};
    let keys: Vec<Blob> = (0..100_000u64).map(|k| Blob::text(&format!("key-{k}"))).collect();
    let value = Blob::from_bytes(&[b'x'; 100]);
    let mut replicas: [Vec<Record>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for i in 0..records {
        let r = Record {
            id: RecordId(i),
            offset_delta: 0,
            timestamp: i as i64,
            key: Some(keys[(i % 100_000) as usize].clone()),
            value: Some(value.clone()),
            headers: Vec::new(),
        };
        replicas[0].push(r.clone());
        replicas[1].push(r.clone());
        replicas[2].push(r);
    }
    let mut sum = 0u64;
    for replica in &replicas {
        for r in replica {
            sum = sum.wrapping_add(r.id.0 ^ r.key.as_ref().map(|k| k.len() as u64).unwrap_or(0));
        }
    }
    sum
}

/// A paced run with many small steps, for seek latency and snapshot size: one producer
/// sending `records` records 1 ms apart (batches of about five records) to 6 partitions,
/// replicated three ways, read by one consumer.
pub fn paced(records: u64) -> Setup {
    let mut s = pipeline(records, 6, 3, Acks::All);
    if let Some((_, Action::Produce { interval_ms, .. })) = s.timeline.first_mut() {
        *interval_ms = 1.0;
    }
    s.end = SimTime::from_ms(records + 5_000);
    s
}

/// The Kafka Streams workload: a 10-second tumbling-window count over `records` records
/// with 1000 keys, 50 ms apart, through the test driver. Returns the output records.
pub fn windowed_count(records: u64) -> Result<u64, String> {
    use crate::streams::{driver::TestDriver, topology::TopologySpec, value::Value};
    let spec = serde_json::json!({"application_id": "bench", "steps": [
        {"op": "stream", "name": "s", "topics": ["in"]},
        {"op": "group_by_key", "name": "g", "input": "s"},
        {"op": "windowed_by", "name": "w", "input": "g",
         "window": {"type": "tumbling", "size_ms": 10000, "grace_ms": 5000}, "emit": "on_window_update"},
        {"op": "count", "name": "c", "input": "w"},
        {"op": "to_stream", "name": "r", "input": "c"},
        {"op": "to", "input": "r", "topic": "out"}]});
    let topology =
        TopologySpec::from_json_value(&spec).and_then(|s| s.compile_for_test_driver()).map_err(|e| e.to_string())?;
    let mut driver = TestDriver::new(topology);
    let keys: Vec<Value> = (0..1000).map(|k| Value::str(format!("k{k}"))).collect();
    let mut outputs = 0u64;
    for i in 0..records {
        let piped = driver
            .pipe("in", keys[(i % 1000) as usize].clone(), Value::Int(i as i64), (i * 50) as i64)
            .map_err(|e| e.to_string())?;
        outputs += piped.records.len() as u64;
    }
    Ok(outputs)
}

/// Schema Registry work: `n` compatibility checks of the course's ride value v2 (a new
/// field with a default) against v1, in both directions. Returns how many were compatible.
pub fn schema_checks(n: u64) -> Result<u64, String> {
    use crate::schema::{check_compatibility, taxi, AvroSchema};
    let v1 = AvroSchema::parse(taxi::RIDE_VALUE_V1).map_err(|e| e.to_string())?;
    let v2 = AvroSchema::parse(taxi::RIDE_VALUE_V2_ADD_TIP_AMOUNT).map_err(|e| e.to_string())?;
    let mut ok = 0;
    for i in 0..n {
        let (reader, writer) = if i % 2 == 0 { (&v2, &v1) } else { (&v1, &v2) };
        if check_compatibility(reader, writer).compatible {
            ok += 1;
        }
    }
    Ok(ok)
}

/// The group rebalance workload: `members` consumers of one group subscribe at start to a
/// topic with `2 × members` partitions (one leader-only replica each, 3 brokers), so the
/// coordinator runs a join of all of them; at 30 s one member crashes and, after its
/// session timeout, the group rebalances again without it. Nothing is produced: the run
/// measures the group protocol alone (join, sync, heartbeats, offset commits).
pub fn rebalance(members: u32) -> Setup {
    let partitions = members.saturating_mul(2).max(1);
    let mut c = ConsumerConfig::default();
    c.set("group.id", &ConfigValue::Str("bench-group".into())).expect("valid group id");
    c.set("auto.offset.reset", &ConfigValue::Str("earliest".into())).expect("valid reset");
    c.validate().expect("valid consumer config");
    Setup {
        brokers: 3,
        broker_config: BrokerConfig::default(),
        link: LinkProps::default(),
        topics: vec![TopicSpec {
            name: "bench".into(),
            partitions,
            replication_factor: 1,
            config: TopicConfig::default(),
            assignment: None,
        }],
        consumers: (0..members)
            .map(|i| ConsumerSpec {
                name: format!("member-{i:03}"),
                config: c.clone(),
                subscribe: vec!["bench".into()],
                ..Default::default()
            })
            .collect(),
        timeline: vec![(SimTime::from_ms(30_000), Action::CrashClient { client: "member-000".into() })],
        end: SimTime::from_ms(90_000),
        ..Default::default()
    }
}

/// Where the rebalance workload stands: (live members that own at least one partition,
/// partitions owned by a live member, the highest rebalance count any member saw).
pub fn rebalance_progress(world: &crate::world::World) -> (u32, u32, u64) {
    let live = world.consumers.iter().filter(|c| c.alive);
    let mut owning = 0;
    let mut owned = 0;
    for c in live {
        if !c.assignment.is_empty() {
            owning += 1;
        }
        owned += c.assignment.len() as u32;
    }
    let rebalances = world.consumers.iter().filter_map(|c| c.group.as_ref()).map(|g| g.stats.rebalances).max();
    (owning, owned, rebalances.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::World;

    #[test]
    fn rebalance_workload_ends_with_every_partition_owned_by_the_survivors() {
        let members = 10;
        let setup = rebalance(members);
        let (mut world, _) = World::new(&setup, 1).expect("bench setup is valid");
        while world.step().is_some() && world.now <= setup.end {}
        let (owning, owned, rebalances) = rebalance_progress(&world);
        // 20 partitions over the 9 survivors: each owns two or three.
        assert_eq!(owning, members - 1);
        assert_eq!(owned, members * 2);
        assert!(rebalances >= 2, "the join and the crash each rebalance, saw {rebalances}");
    }
}
