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
    /// `pipeline` (the headline figure) or `all` (every workload, with references).
    #[arg(long, default_value = "pipeline", value_parser = ["pipeline", "all"])]
    suite: String,
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
    if args.suite == "all" {
        return suite(&args);
    }
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

/// One measured figure.
#[derive(Serialize)]
struct Figure {
    name: String,
    value: f64,
    unit: String,
    /// The same work without the simulation (when there is a meaningful one).
    reference: Option<f64>,
    /// value / reference.
    ratio: Option<f64>,
    note: String,
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start = Instant::now();
    let v = f();
    (v, start.elapsed().as_secs_f64())
}

/// Runs a pipeline to completion; returns (steps, wall seconds).
fn pipeline_run(records: u64, partitions: u32, rf: u32, acks: Acks, seed: u64) -> Result<(u64, f64), CliError> {
    let setup = bench::pipeline(records, partitions, rf, acks);
    let (mut world, _) = World::new(&setup, seed).map_err(|e| CliError::BadInput(e.0))?;
    let (_, wall) = timed(|| {
        while !bench::pipeline_done(&world, records) {
            if world.step().is_none() {
                break;
            }
        }
    });
    Ok((world.steps, wall))
}

fn machine() -> serde_json::Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    serde_json::json!({ "cpu": cpu, "cores": cores, "os": std::env::consts::OS, "arch": std::env::consts::ARCH })
}

fn suite(args: &Args) -> CliResult {
    let mut figures: Vec<Figure> = Vec::new();
    let records = args.records.max(1);
    // The reference: move the same records into three vectors and back, no simulation.
    let (_, ref_wall) = timed(|| std::hint::black_box(bench::reference_loop(records)));
    let reference = records as f64 / ref_wall;
    figures.push(Figure {
        name: "reference_loop_records_per_s".into(),
        value: reference,
        unit: "records/s".into(),
        reference: None,
        ratio: None,
        note: "the same records appended to three vectors and read back: the cost of moving the data".into(),
    });
    for (acks, acks_name) in [(Acks::All, "all"), (Acks::Leader, "1"), (Acks::None, "0")] {
        for rf in [1u32, 3] {
            let (steps, wall) = pipeline_run(records, 12, rf, acks, args.seed)?;
            let rate = records as f64 / wall;
            figures.push(Figure {
                name: format!("pipeline_acks_{acks_name}_rf_{rf}_records_per_s"),
                value: rate,
                unit: "records/s".into(),
                reference: Some(reference),
                ratio: Some(rate / reference),
                note: format!(
                    "{records} keyed records, 12 partitions, 3 brokers; {steps} steps, {:.0} events/s",
                    steps as f64 / wall
                ),
            });
        }
    }
    let agg_records = (records / 5).max(1000);
    let (outputs, wall) = timed(|| bench::windowed_count(agg_records));
    outputs.map_err(CliError::BadInput)?;
    figures.push(Figure {
        name: "streams_windowed_count_records_per_s".into(),
        value: agg_records as f64 / wall,
        unit: "records/s".into(),
        reference: None,
        ratio: None,
        note: "10 s tumbling-window count, 1000 keys, emit on update, one task (test driver)".into(),
    });
    let checks = 20_000u64;
    let (ok, wall) = timed(|| bench::schema_checks(checks));
    ok.map_err(CliError::BadInput)?;
    figures.push(Figure {
        name: "schema_compatibility_checks_per_s".into(),
        value: checks as f64 / wall,
        unit: "checks/s".into(),
        reference: None,
        ratio: None,
        note: "ride value v2 against v1, both directions (Avro Java's SchemaCompatibility rules)".into(),
    });
    // The group protocol alone: 100 members join, one crashes, the survivors rebalance.
    let members = 100u32;
    let setup = bench::rebalance(members);
    let (mut world, _) = World::new(&setup, args.seed).map_err(|e| CliError::BadInput(e.0))?;
    let (_, wall) = timed(|| while world.step().is_some() && world.now <= setup.end {});
    let (owning, owned, rebalances) = bench::rebalance_progress(&world);
    let latency_max_ms = world
        .consumers
        .iter()
        .filter_map(|c| c.group.as_ref())
        .map(|g| g.stats.rebalance_latency_max.as_ms_f64())
        .fold(0.0, f64::max);
    figures.push(Figure {
        name: "group_rebalance_100_members_wall_ms".into(),
        value: wall * 1000.0,
        unit: "ms".into(),
        reference: None,
        ratio: None,
        note: format!(
            "{members} members join a {}-partition topic, one crashes at 30 s, 90 simulated s; {} steps ({:.0} events/s); \
             {rebalances} rebalances, simulated rebalance latency max {latency_max_ms:.0} ms; at the end {owning} members own {owned} partitions",
            members * 2,
            world.steps,
            world.steps as f64 / wall
        ),
    });
    // Seek: snapshots every 1000 steps, then restore the nearest one and replay forward.
    let setup = bench::paced(20_000);
    let (mut world, _) = World::new(&setup, args.seed).map_err(|e| CliError::BadInput(e.0))?;
    let mut snapshots = vec![world.clone()];
    let (_, record_wall) = timed(|| {
        while world.step().is_some() && world.now <= setup.end {
            if world.steps % 1000 == 0 {
                snapshots.push(world.clone());
            }
        }
    });
    let total_steps = world.steps;
    let mut rng = sandbox_core::sim::rng::SimRng::new(args.seed, sandbox_core::sim::rng::Stream::Data);
    let mut seeks = Vec::new();
    for _ in 0..50 {
        let target = rng.below(total_steps);
        let (_, wall) = timed(|| {
            let base = snapshots.iter().rev().find(|s| s.steps <= target).expect("snapshot 0 exists");
            let mut w = base.clone();
            while w.steps < target && w.step().is_some() {}
            std::hint::black_box(w.digest())
        });
        seeks.push(wall * 1000.0);
    }
    seeks.sort_by(|a, b| a.total_cmp(b));
    let mean = seeks.iter().sum::<f64>() / seeks.len() as f64;
    figures.push(Figure {
        name: "seek_latency_mean_ms".into(),
        value: mean,
        unit: "ms".into(),
        reference: None,
        ratio: None,
        note: format!(
            "{total_steps}-step run, snapshots every 1000 steps, 50 random targets; p95 {:.2} ms, max {:.2} ms; recording took {:.2} s",
            seeks[seeks.len() * 95 / 100],
            seeks[seeks.len() - 1],
            record_wall
        ),
    });
    // The run summary (with its audit of every record against the logs): the web app
    // recomputes it once a second while playing, so its cost grows with the run.
    let (summary, wall) = timed(|| sandbox_core::summary::RunSummary::of(&world));
    figures.push(Figure {
        name: "run_summary_ms".into(),
        value: wall * 1000.0,
        unit: "ms".into(),
        reference: None,
        ratio: None,
        note: format!(
            "RunSummary::of at the end of the {total_steps}-step run ({} records sent, {} acked)",
            world.ledger.records.len(),
            summary.producers.iter().map(|p| p.acked).sum::<u64>()
        ),
    });
    // The client history check (Jepsen's checks over every send and read): the web app
    // runs it after a pause or a seek.
    let (mut recorded, _) = World::new(&setup, args.seed).map_err(|e| CliError::BadInput(e.0))?;
    let history = sandbox_core::history::run_recorded(&mut recorded).map_err(|e| CliError::BadInput(e.0))?;
    let allow = sandbox_core::history::Allowances::of(&recorded);
    let (report, wall) = timed(|| sandbox_core::history::check(&history, &allow));
    figures.push(Figure {
        name: "history_check_ms".into(),
        value: wall * 1000.0,
        unit: "ms".into(),
        reference: None,
        ratio: None,
        note: format!("history::check over {} sends and {} reads", report.sends, report.reads),
    });
    let json_bytes = serde_json::to_vec(&world).map(|v| v.len()).unwrap_or(0);
    let produced = world.ledger.records.len().max(1);
    figures.push(Figure {
        name: "snapshot_bytes_per_1000_records".into(),
        value: json_bytes as f64 / produced as f64 * 1000.0,
        unit: "bytes".into(),
        reference: None,
        ratio: None,
        note: format!("JSON snapshot of the world after {produced} records ({json_bytes} bytes); in-memory snapshots share record data"),
    });
    let report = serde_json::json!({
        "machine": machine(),
        "records": records,
        "seed": args.seed,
        "peak_memory_bytes": peak_memory_bytes(),
        "figures": figures,
    });
    if args.json {
        print_json(&report)
    } else {
        for f in &figures {
            crate::cli::out(&format!(
                "{:<46} {:>14.2} {:<10}{}  {}",
                f.name,
                f.value,
                f.unit,
                f.ratio.map(|r| format!(" ({:.2}x reference)", r)).unwrap_or_default(),
                f.note
            ));
        }
        Ok(())
    }
}
