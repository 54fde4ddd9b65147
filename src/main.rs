//! `kafka-sandbox`: a thin command line over `sandbox-core`.
//!
//! Every command reads its input, calls the core, and prints text or `--json`.
//! Exit codes: 0 ok, 1 an expectation or invariant failed, 2 bad input (message on stderr).
use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[allow(dead_code)]
// read_input and CheckFailed serve the commands that read files (run, assign, schema...)
mod cli;
mod cmd;

#[derive(Parser)]
#[command(name = "kafka-sandbox", version, about = "A deterministic simulator of Apache Kafka")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario and print a summary (exit 1 if an expectation or invariant fails).
    Run(cmd::run::Args),
    /// Replay a web share link (scenario, seed, clicked actions) to its step; prints the
    /// trace digest the page shows there and the summary.
    Replay(cmd::replay::Args),
    /// Run every scenario in a directory and compare golden digests.
    Check(cmd::check::Args),
    /// Run random fault schedules on many seeds; shrink the first invariant violation found.
    Sweep(cmd::sweep::Args),
    /// Write a docker-compose KRaft cluster and a script that replays the scenario on it.
    Export(cmd::export::Args),
    /// Lessons: lint them, show one, grade an answer.
    Lesson(cmd::lesson::Args),
    /// List every Kafka config the sandbox understands, with defaults.
    Configs(cmd::configs::Args),
    /// Measure how fast the simulator runs (produce-replicate-consume pipeline).
    Bench(cmd::bench::Args),
    /// Print the partition assignment Kafka's consumer assignor computes for a group.
    Assign(cmd::assign::Args),
    /// Print `{"murmur2": <i32>, "partition": <n>}` for a key, as Kafka's producer picks it.
    Partition(cmd::partition::Args),
    /// Run a Kafka Streams topology on records, like TopologyTestDriver: prints
    /// `{"output": [...], "dropped": N}`.
    Streams(cmd::streams::Args),
    /// Run ksqlDB statements on records: each persistent query's output and each push
    /// query's rows (`--plan`: the Kafka Streams topologies they translate into).
    Ksql(cmd::ksql::Args),
    /// Avro schemas: compatibility checks (`check`) and Confluent wire bytes (`encode`, `decode`).
    Schema(cmd::schema::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => cmd::run::run(args),
        Command::Replay(args) => cmd::replay::run(args),
        Command::Bench(args) => cmd::bench::run(args),
        Command::Configs(args) => cmd::configs::run(args),
        Command::Export(args) => cmd::export::run(args),
        Command::Lesson(args) => cmd::lesson::run(args),
        Command::Sweep(args) => cmd::sweep::run(args),
        Command::Check(args) => cmd::check::run(args),
        Command::Assign(args) => cmd::assign::run(args),
        Command::Partition(args) => cmd::partition::run(args),
        Command::Streams(args) => cmd::streams::run(args),
        Command::Ksql(args) => cmd::ksql::run(args),
        Command::Schema(args) => cmd::schema::run(args),
    };
    cli::finish(result)
}
