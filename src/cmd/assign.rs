//! `kafka-sandbox assign`: the assignment Kafka's consumer assignors compute for a group.
use crate::cli::{CliError, CliResult};
use sandbox_core::group::assignor::request::{parse_request, AssignResponse};
use sandbox_core::group::assignor::{assign_detailed, Strategy};

#[derive(clap::Args)]
pub struct Args {
    /// Assignor: range, roundrobin, sticky or cooperative-sticky (class names work too).
    #[arg(long, value_parser = parse_strategy)]
    strategy: Strategy,
    /// Request file (JSON), or `-` for standard input:
    /// {"topics": {"<topic>": <partitions>}, "members": [{"member_id": "...",
    /// "group_instance_id": null, "subscription": ["<topic>"], "owned": ["<topic>-<n>"],
    /// "generation": null}]}. Members in JoinGroup response order.
    #[arg(long)]
    input: String,
    /// Also print which partitions cooperative-sticky withheld, and which sticky path ran.
    #[arg(long)]
    details: bool,
}

fn parse_strategy(s: &str) -> Result<Strategy, String> {
    s.parse()
}

pub fn run(args: Args) -> CliResult {
    let name = if args.input == "-" { "<stdin>" } else { args.input.as_str() };
    let text = crate::cli::read_input(&args.input)?;
    let request = parse_request(&text).map_err(|e| CliError::BadInput(format!("{name}: {e}")))?;
    let outcome = assign_detailed(args.strategy, &request.topics, &request.members)
        .map_err(|e| CliError::BadInput(format!("{name}: {e}")))?;
    if args.details {
        crate::cli::print_json(&outcome)
    } else {
        crate::cli::print_json(&AssignResponse::from(&outcome))
    }
}
