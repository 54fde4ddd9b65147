//! `kafka-sandbox ksql`: ksqlDB statements run on the sandbox's Kafka Streams engine.
//!
//! `--input FILE|-` reads `{"statements": "...SQL...", "input": [{"topic", "key", "value",
//! "ts"}, ...]}`, translates every `CREATE ... AS SELECT` into a Kafka Streams topology (a
//! persistent query), pipes the records through them in order and prints each query's
//! output and each push query's rows. `--plan` prints the translation instead: the sources
//! and every query's `TopologySpec` (which `kafka-sandbox streams` also runs).
use crate::cli::{CliError, CliResult};
use sandbox_core::streams::ksql;
use std::io::Read;

/// Largest input accepted, in bytes.
const MAX_INPUT_BYTES: u64 = 64 << 20;

#[derive(clap::Args)]
pub struct Args {
    /// The input, `{"statements": "...", "input": [...]}`, or `-` for stdin.
    #[arg(long)]
    input: String,
    /// Print the translated queries (sources, query ids, topologies) instead of running.
    #[arg(long)]
    plan: bool,
    /// Print JSON (the default; kept for symmetry with the other commands).
    #[arg(long)]
    json: bool,
}

fn read_bounded(path: &str) -> Result<String, CliError> {
    let mut bytes = Vec::new();
    let name = if path == "-" { "<stdin>" } else { path };
    let io = |e: std::io::Error| CliError::BadInput(format!("{name}: {e}"));
    if path == "-" {
        std::io::stdin().take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes).map_err(io)?;
    } else {
        std::fs::File::open(path).map_err(io)?.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes).map_err(io)?;
    }
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(CliError::BadInput(format!("{name}: input is larger than {} MiB", MAX_INPUT_BYTES >> 20)));
    }
    String::from_utf8(bytes)
        .map_err(|e| CliError::BadInput(format!("{name}: not UTF-8 (byte {})", e.utf8_error().valid_up_to())))
}

pub fn run(args: Args) -> CliResult {
    let _ = args.json;
    let name = if args.input == "-" { "<stdin>" } else { args.input.as_str() };
    let text = read_bounded(&args.input)?;
    let bad = |e: ksql::RunError| CliError::BadInput(format!("{name}: {e}"));
    if args.plan {
        return crate::cli::print_json(&ksql::plan_json(&text).map_err(bad)?);
    }
    crate::cli::print_json(&ksql::run_json(&text).map_err(bad)?)
}
