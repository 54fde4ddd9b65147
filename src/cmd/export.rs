//! `kafka-sandbox export SCENARIO --to compose DIR`: the scenario on a real Kafka cluster.
use crate::cli::{out, print_json, CliError, CliResult};
use sandbox_core::export::{compose_export, Predictions};
use sandbox_core::scenario::run::execute;

#[derive(clap::Args)]
pub struct Args {
    /// The scenario file.
    scenario: String,
    /// What to export to (only `compose`: docker compose + Kafka's command-line tools).
    #[arg(long = "to", value_parser = ["compose"], default_value = "compose")]
    target: String,
    /// Directory to write into (created if missing).
    dir: String,
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> CliResult {
    let scenario = super::run::load(&args.scenario)?;
    let mut trace = Vec::new();
    let (_, verdict) = execute(&scenario, scenario.seed, None, |_, ev| {
        if ev.is_interesting() {
            trace.push(ev.clone());
        }
    })
    .map_err(|e| CliError::BadInput(format!("{}: {e}", args.scenario)))?;
    let predictions = Predictions::collect(&trace, &verdict.summary);
    let files = compose_export(&scenario, &predictions);
    let dir = std::path::Path::new(&args.dir);
    std::fs::create_dir_all(dir).map_err(|e| CliError::BadInput(format!("{}: {e}", args.dir)))?;
    let mut written = Vec::new();
    for f in &files {
        let path = dir.join(&f.path);
        std::fs::write(&path, &f.contents).map_err(|e| CliError::BadInput(format!("{}: {e}", path.display())))?;
        #[cfg(unix)]
        if f.path.ends_with(".sh") {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755));
        }
        written.push(path.display().to_string());
    }
    let _ = args.target;
    if args.json {
        print_json(&serde_json::json!({ "files": written }))
    } else {
        for w in &written {
            out(&format!("wrote {w}"));
        }
        out(&format!("start it with: {}/run.sh", args.dir));
        Ok(())
    }
}
