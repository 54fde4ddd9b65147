//! The produce-replicate-consume pipeline of `kafka-sandbox bench`, exported to JavaScript so
//! `scripts/bench-wasm.sh` can time it under Node and compare it with the native figure.
//! Timing is the caller's (the core has no clock); the digest proves both ran the same run.
use sandbox_core::bench;
use sandbox_core::config::Acks;
use sandbox_core::world::World;
use wasm_bindgen::prelude::*;

/// Runs the pipeline to completion. Returns `"<steps> <digest hex>"`, or an error message.
#[wasm_bindgen]
pub fn pipeline(
    records: u32,
    partitions: u32,
    replication_factor: u32,
    acks: &str,
    seed: u32,
) -> Result<String, String> {
    run(u64::from(records), partitions, replication_factor, acks, u64::from(seed))
}

pub fn run(records: u64, partitions: u32, replication_factor: u32, acks: &str, seed: u64) -> Result<String, String> {
    let acks = match acks {
        "all" | "-1" => Acks::All,
        "1" => Acks::Leader,
        "0" => Acks::None,
        other => return Err(format!("acks must be all, 1 or 0, not {other:?}")),
    };
    let setup = bench::pipeline(records, partitions.max(1), replication_factor.clamp(1, 3), acks);
    let (mut world, _) = World::new(&setup, seed).map_err(|e| e.0)?;
    while !bench::pipeline_done(&world, records) {
        if world.step().is_none() {
            break;
        }
    }
    Ok(format!("{} {:016x}", world.steps, world.digest()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_pipeline_finishes_and_bad_acks_are_refused() {
        let out = super::run(2_000, 3, 3, "all", 1).expect("runs");
        let steps: u64 = out.split(' ').next().and_then(|s| s.parse().ok()).expect("steps first");
        assert!(steps > 0);
        assert!(super::run(10, 1, 1, "2", 1).is_err());
    }
}
