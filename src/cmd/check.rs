//! `kafka-sandbox check [DIR]`: runs every scenario with its own seed, checks its
//! expectations and compares its golden digest.
use crate::cli::{print_json, CliError, CliResult};
use sandbox_core::scenario::run::execute;
use serde::Serialize;

#[derive(clap::Args)]
pub struct Args {
    /// Directory of scenario files (searched recursively for *.toml).
    #[arg(default_value = "scenarios")]
    dir: String,
    /// Rewrite each scenario's golden_digest with the digest of this run.
    #[arg(long)]
    bless: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Row {
    file: String,
    scenario: String,
    passed: bool,
    digest: String,
    golden_digest: Option<String>,
    digest_matches: Option<bool>,
    failures: Vec<String>,
}

pub fn scenario_files(dir: &str) -> Result<Vec<std::path::PathBuf>, CliError> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                walk(&path, out)?;
            } else if path.extension().map(|e| e == "toml").unwrap_or(false) {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(std::path::Path::new(dir), &mut files).map_err(|e| CliError::BadInput(format!("{dir}: {e}")))?;
    files.sort();
    Ok(files)
}

pub fn run(args: Args) -> CliResult {
    let files = scenario_files(&args.dir)?;
    if files.is_empty() {
        return Err(CliError::BadInput(format!("{}: no scenario files (*.toml)", args.dir)));
    }
    let mut rows = Vec::new();
    for path in files {
        let file = path.display().to_string();
        // Lesson files live next to scenarios but are not scenarios.
        let text = std::fs::read_to_string(&path).map_err(|e| CliError::BadInput(format!("{file}: {e}")))?;
        if !text.lines().any(|l| l.trim_start().starts_with("[cluster]")) {
            continue;
        }
        let scenario = super::run::load(&file)?;
        let (_, verdict) = execute(&scenario, scenario.seed, None, |_, _| {})
            .map_err(|e| CliError::BadInput(format!("{file}: {e}")))?;
        let mut failures: Vec<String> = verdict
            .expectations
            .iter()
            .filter(|r| !r.passed)
            .map(|r| format!("line {}: {} expected {} got {}", r.line, r.what, r.expected, r.actual))
            .collect();
        failures.extend(verdict.undeclared_violations.iter().map(|v| format!("invariant {v}")));
        if args.bless {
            let digest = sandbox_core::sim::digest::parse_digest(&verdict.digest).unwrap_or(0);
            std::fs::write(&path, scenario.with_golden_digest(digest))
                .map_err(|e| CliError::BadInput(format!("{file}: {e}")))?;
        } else {
            match verdict.digest_matches {
                Some(false) => failures.push(format!(
                    "digest {} differs from golden {}",
                    verdict.digest,
                    verdict.golden_digest.clone().unwrap_or_default()
                )),
                None => failures.push("no golden_digest (run `check --bless`)".into()),
                Some(true) => {}
            }
        }
        rows.push(Row {
            file,
            scenario: verdict.scenario.clone(),
            passed: failures.is_empty(),
            digest: verdict.digest.clone(),
            golden_digest: verdict.golden_digest.clone(),
            digest_matches: verdict.digest_matches,
            failures,
        });
    }
    let failed = rows.iter().filter(|r| !r.passed).count();
    if args.json {
        print_json(&serde_json::json!({ "scenarios": rows, "failed": failed, "passed": rows.len() - failed }))?;
    } else {
        for r in &rows {
            crate::cli::out(&format!("{} {:<48} {}", if r.passed { "ok  " } else { "FAIL" }, r.file, r.digest));
            for f in &r.failures {
                crate::cli::out(&format!("       {f}"));
            }
        }
        crate::cli::out(&format!("{} scenarios, {} failed", rows.len(), failed));
    }
    if failed == 0 {
        Ok(())
    } else {
        Err(CliError::CheckFailed(String::new()))
    }
}
