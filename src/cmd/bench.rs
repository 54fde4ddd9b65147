//! `kafka-sandbox bench`: how fast the simulator runs, measured on this machine.
use crate::cli::{print_json, CliError, CliResult};
use sandbox_core::bench;
use sandbox_core::config::Acks;
use sandbox_core::world::World;
use serde::Serialize;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// Records to produce, replicate and consume.
    #[arg(long, default_value_t = 1_000_000)]
    records: u64,
    #[arg(long, default_value_t = 12)]
    partitions: u32,
    #[arg(long, default_value_t = 3)]
    replication_factor: u32,
    /// acks: all, 1 or 0.
    #[arg(long, default_value = "all")]
    acks: String,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Report {
    workload: String,
    records: u64,
    partitions: u32,
    replication_factor: u32,
    acks: String,
    steps: u64,
    simulated_ms: f64,
    wall_s: f64,
    records_per_s: f64,
    events_per_s: f64,
    peak_memory_bytes: u64,
    digest: String,
}

/// Peak resident memory of this process (Linux `VmHWM`), 0 where unknown.
pub fn peak_memory_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

pub fn run(args: Args) -> CliResult {
    let acks = match args.acks.as_str() {
        "all" | "-1" => Acks::All,
        "1" => Acks::Leader,
        "0" => Acks::None,
        other => return Err(CliError::BadInput(format!("--acks {other}: use all, 1 or 0"))),
    };
    if args.replication_factor == 0 || args.replication_factor > 3 || args.partitions == 0 || args.records == 0 {
        return Err(CliError::BadInput("need records > 0, partitions > 0 and replication factor 1..=3".into()));
    }
    let setup = bench::pipeline(args.records, args.partitions, args.replication_factor, acks);
    let (mut world, _) = World::new(&setup, args.seed).map_err(|e| CliError::BadInput(e.0))?;
    let start = Instant::now();
    while !bench::pipeline_done(&world, args.records) {
        if world.step().is_none() {
            break;
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let report = Report {
        workload: "produce-replicate-consume".into(),
        records: args.records,
        partitions: args.partitions,
        replication_factor: args.replication_factor,
        acks: args.acks.clone(),
        steps: world.steps,
        simulated_ms: world.now.as_ms_f64(),
        wall_s: wall,
        records_per_s: args.records as f64 / wall,
        events_per_s: world.steps as f64 / wall,
        peak_memory_bytes: peak_memory_bytes(),
        digest: sandbox_core::sim::digest::format_digest(world.digest()),
    };
    if args.json {
        print_json(&report)
    } else {
        crate::cli::out(&format!(
            "{} records, {} partitions, RF {}, acks={}: {:.0} records/s, {:.0} events/s ({} steps, {:.2} s wall, {:.1} s simulated), peak memory {:.1} MiB",
            report.records,
            report.partitions,
            report.replication_factor,
            report.acks,
            report.records_per_s,
            report.events_per_s,
            report.steps,
            report.wall_s,
            report.simulated_ms / 1000.0,
            report.peak_memory_bytes as f64 / 1048576.0
        ));
        Ok(())
    }
}
