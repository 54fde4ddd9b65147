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
