//! `kafka-sandbox streams`: the sandbox's TopologyTestDriver on the command line.
//!
//! `--input FILE|-` reads `{"topology": ..., "input": [...]}`, pipes the records in order
//! through one task per sub-topology (no caching) and prints
//! `{"output": [...], "dropped": N}`. `--taxi-rides N --seed S` prints N synthetic rides.
use crate::cli::{CliError, CliResult};
use sandbox_core::streams::driver;
use sandbox_core::streams::taxi::{generate_rides, TaxiConfig};
use std::io::Read;

/// Largest input accepted, in bytes.
const MAX_INPUT_BYTES: u64 = 64 << 20;
/// Most taxi rides printed at once.
const MAX_TAXI_RIDES: usize = 1_000_000;

#[derive(clap::Args)]
pub struct Args {
    /// The test-driver input, `{"topology": ..., "input": [...]}`, or `-` for stdin.
    #[arg(long, required_unless_present = "taxi_rides", conflicts_with = "taxi_rides")]
    input: Option<String>,
    /// Print this many synthetic NYC taxi rides (a JSON array) instead.
    #[arg(long)]
    taxi_rides: Option<usize>,
    /// Seed of the taxi-rides generator.
    #[arg(long, default_value_t = 0, requires = "taxi_rides")]
    seed: u64,
    /// Print JSON (the default; kept for symmetry with the other commands).
    #[arg(long)]
    json: bool,
}

fn read_bounded(path: &str) -> Result<String, CliError> {
    let mut bytes = Vec::new();
    let too_big = || CliError::BadInput(format!("{path}: input is larger than {} MiB", MAX_INPUT_BYTES >> 20));
    if path == "-" {
        std::io::stdin()
            .take(MAX_INPUT_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| CliError::BadInput(format!("<stdin>: {e}")))?;
    } else {
        let file = std::fs::File::open(path).map_err(|e| CliError::BadInput(format!("{path}: {e}")))?;
        file.take(MAX_INPUT_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| CliError::BadInput(format!("{path}: {e}")))?;
    }
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(too_big());
    }
    String::from_utf8(bytes)
        .map_err(|e| CliError::BadInput(format!("{path}: not UTF-8 (byte {})", e.utf8_error().valid_up_to())))
}

pub fn run(args: Args) -> CliResult {
    let _ = args.json;
    if let Some(n) = args.taxi_rides {
        if n > MAX_TAXI_RIDES {
            return Err(CliError::BadInput(format!("--taxi-rides: at most {MAX_TAXI_RIDES} rides")));
        }
        return crate::cli::print_json(&generate_rides(args.seed, n, TaxiConfig::default()));
    }
    let path = args.input.unwrap_or_else(|| "-".to_string());
    let name = if path == "-" { "<stdin>" } else { path.as_str() };
    let text = read_bounded(&path)?;
    match driver::run_json(&text) {
        Ok(out) => crate::cli::print_json(&out),
        Err(e) => Err(CliError::BadInput(format!("{name}: {e}"))),
    }
}
