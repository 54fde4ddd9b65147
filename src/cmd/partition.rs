//! `kafka-sandbox partition`: which partition Kafka's producer picks for a key.
use crate::cli::{CliError, CliResult};
use sandbox_core::producer::partitioner;

#[derive(clap::Args)]
pub struct Args {
    /// Number of partitions of the topic (all of them, available or not).
    #[arg(long)]
    partitions: u32,
    /// The key as UTF-8 text.
    #[arg(long, conflicts_with_all = ["key_hex", "null_key"])]
    key: Option<String>,
    /// The key as hexadecimal bytes.
    #[arg(long, conflicts_with = "null_key")]
    key_hex: Option<String>,
    /// A null key (the sticky partitioner chooses).
    #[arg(long)]
    null_key: bool,
    /// Seed of the simulated producer (null keys only).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print JSON (the default; kept for symmetry with the other commands).
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> CliResult {
    if args.partitions == 0 {
        return Err(CliError::BadInput("--partitions must be at least 1".into()));
    }
    let key: Vec<u8> = match (&args.key, &args.key_hex, args.null_key) {
        (Some(text), None, false) => text.as_bytes().to_vec(),
        (None, Some(hex), false) => parse_hex(hex)?,
        (None, None, true) => {
            let partition = partitioner::sticky_first_choice(args.seed, args.partitions);
            return crate::cli::print_json(&serde_json::json!({
                "murmur2": null,
                "partition": partition,
                "sticky": true,
                "seed": args.seed,
            }));
        }
        _ => return Err(CliError::BadInput("give exactly one of --key TEXT, --key-hex HEX, --null-key".into())),
    };
    let _ = args.json;
    let hash = partitioner::murmur2(&key);
    crate::cli::print_json(&serde_json::json!({
        "murmur2": hash,
        "partition": partitioner::partition_for_key(&key, args.partitions),
    }))
}

fn parse_hex(text: &str) -> Result<Vec<u8>, CliError> {
    let digits: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return Err(CliError::BadInput(format!("--key-hex: odd number of hex digits ({})", digits.len())));
    }
    digits
        .chunks(2)
        .enumerate()
        .map(|(i, pair)| {
            let s: String = pair.iter().collect();
            u8::from_str_radix(&s, 16)
                .map_err(|_| CliError::BadInput(format!("--key-hex: '{s}' at position {} is not hex", i * 2)))
        })
        .collect()
}
