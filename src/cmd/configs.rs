//! `kafka-sandbox configs`: every Kafka config the sandbox understands, with its default.
use crate::cli::{out, print_json, CliResult};
use sandbox_core::config::{BrokerConfig, ConfigDoc, ConsumerConfig, ProducerConfig, TopicConfig};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> CliResult {
    let tables: Vec<(&str, Vec<ConfigDoc>)> = vec![
        ("broker ([cluster] config)", BrokerConfig::describe()),
        ("topic ([[topic]] config)", TopicConfig::describe()),
        ("producer ([[producer]] config)", ProducerConfig::describe()),
        ("consumer ([[consumer]] config)", ConsumerConfig::describe()),
    ];
    if args.json {
        let map: serde_json::Map<String, serde_json::Value> = tables
            .iter()
            .map(|(name, docs)| (name.split(' ').next().unwrap_or(name).to_string(), serde_json::json!(docs)))
            .collect();
        return print_json(&map);
    }
    for (name, docs) in tables {
        out(&format!("\n{name}"));
        for d in docs {
            out(&format!("  {:<44} {:<12} default {}\n      {}", d.name, d.type_name, d.default, d.doc));
        }
    }
    Ok(())
}
